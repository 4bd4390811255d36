"""Questions a person flagged as wrong (``vsgrpo data browse``), left out by ``data build`` and ``train``.

The flags live in ``ROOT/flags.json`` beside the data root's ``meta/`` and ``videos/``::

    {"version": 1, "flags": {"<key>": {"id": 17, "dataset": "synthetic", "scene_name": "...",
                                      "question_type": "...", "question": "...", "answer": "...",
                                      "note": "...", "flagged_at": "2026-12-01T07:00:00+00:00"}}}

A flag is keyed by what the question *is*, not by its row id, because ``data build`` numbers
rows afresh on every build: :func:`question_key` = dataset, scene, question type, the objects
the question is about (in order) and the answer (a question file without ``objects`` /
``answer`` columns, e.g. VSI-Bench's release, is keyed by question text and ground truth
instead). So a flag made while browsing one build leaves the same question out of the next
build, and out of training on any parquet that holds it. The file is replaced atomically, and
each change is a read-modify-write under a lock (``ROOT/.flags.lock``, ``flock``) shared by every
process, so two ``data browse`` servers on one root never lose each other's flags.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .errors import VsgrpoError
from .io import file_lock, write_json

FLAGS_FILE = "flags.json"
FLAGS_LOCK = ".flags.lock"
_LOCK = threading.Lock()  # (flock locks an open file, not a thread: threads take this one first)


def _plain_list(value) -> list[str]:
    if value is None or isinstance(value, float):
        return []
    return [str(v) for v in list(value)]


def question_key(dataset: str, scene_name: str, question_type: str, *, objects: Iterable[str] | None = None,
                 answer: str | None = None, question: str | None = None, ground_truth: str | None = None) -> str:
    """Stable identity of a question across builds (see the module doc)."""
    objs = _plain_list(objects)
    if objs and answer is not None:
        what = ["objects", objs, str(answer)]
    else:
        what = ["text", str(question), str(ground_truth if answer is None else answer)]
    return f"{dataset}/{scene_name}/{question_type}|" + json.dumps(what, ensure_ascii=False, separators=(",", ":"))


def row_key(row: Mapping[str, Any]) -> str:
    """:func:`question_key` of a questions-parquet row (a dict)."""
    answer = row.get("answer")
    if isinstance(answer, float):  # NaN from pandas for a missing value
        answer = None
    return question_key(row["dataset"], row["scene_name"], row["question_type"], objects=row.get("objects"),
                        answer=answer, question=row.get("question"), ground_truth=row.get("ground_truth"))


def built_key(q) -> str:
    """:func:`question_key` of a :class:`vsgrpo.questions.Question` being built (before lettering)."""
    return question_key(q.dataset, q.scene_name, q.question_type, objects=q.objects, answer=q.answer,
                        question=q.question, ground_truth=q.answer)


def flags_path(root: str | os.PathLike) -> Path:
    return Path(root) / FLAGS_FILE


def load_flags(root: str | os.PathLike) -> dict[str, dict]:
    """``{key: flag}`` of ``ROOT/flags.json``; empty when there is none. A damaged file is an error."""
    path = flags_path(root)
    if not path.exists() and not path.is_symlink():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        flags = data["flags"]
        if not isinstance(flags, dict):
            raise TypeError
    except (OSError, ValueError, KeyError, TypeError):
        raise VsgrpoError(f"{path} is not a flags file written by `vsgrpo data browse` "
                          "(expected {\"version\": 1, \"flags\": {...}}); fix or delete it") from None
    return flags


def set_flag(root: str | os.PathLike, row: Mapping[str, Any], flagged: bool, note: str = "") -> dict[str, dict]:
    """Flag (or unflag) one question row; rewrites ``ROOT/flags.json`` atomically. Returns all flags."""
    key = row_key(row)
    with _LOCK, file_lock(Path(root) / FLAGS_LOCK):
        flags = load_flags(root)
        if flagged:
            answer = row.get("answer")
            flags[key] = {"id": int(row["id"]) if row.get("id") is not None else None,
                          "dataset": str(row["dataset"]), "scene_name": str(row["scene_name"]),
                          "question_type": str(row["question_type"]), "question": str(row.get("question", "")),
                          "answer": None if answer is None or isinstance(answer, float) else str(answer),
                          "ground_truth": str(row.get("ground_truth", "")), "note": str(note or ""),
                          "flagged_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        else:
            flags.pop(key, None)
        write_json(flags_path(root), {"version": 1, "flags": flags})
    return flags


def root_of_meta(meta: str | os.PathLike) -> Path | None:
    """The data root of ``--meta ROOT/meta`` (``None`` for a bare meta folder or file)."""
    path = Path(meta)
    return path.parent if path.is_dir() and path.name == "meta" else None


def root_of_videos(video_root: str | os.PathLike) -> Path | None:
    """The data root of a ``ROOT/videos`` folder (``None`` for a videos folder elsewhere)."""
    path = Path(video_root)
    return path.parent if path.name == "videos" else None
