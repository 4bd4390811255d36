"""``vsgrpo data annotate VIDEOS --out ROOT``: write spatial questions about your own videos.

A team with phone videos of its own floor or site and no 3D scan writes its questions by hand:
this module holds what the annotation page saves and the rules every saved question obeys, so a
file that leaves this page always imports (``vsgrpo data import --format jsonl``) and scores.

``ROOT/questions.jsonl`` holds one question per line, rewritten atomically after every save and
delete (closing the tab loses nothing)::

    {"id": 3, "video": "floor2/walk.mp4", "question_type": "site_distance", "question_kind": "numeric",
     "question": "How far is the forklift bay from the door (in meters)?", "answer": "12.5", "unit": "m"}
    {"id": 4, "video": "floor2/walk.mp4", "question_type": "site_nearest", "question_kind": "choice",
     "question": "Which shelf is nearest the exit?", "options": ["A. red", "B. blue"], "answer": "B"}

``video`` is relative to VIDEOS (``--videos`` of ``data import``). ``question_kind`` says how a
question of a team's own type is scored: ``numeric`` by Mean Relative Accuracy, ``choice`` by
accuracy; VSI-Bench's eight types keep their own kind.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
from pathlib import Path

from .errors import VsgrpoError

ANNOTATIONS_FILE = "questions.jsonl"
KINDS = ("numeric", "choice")
MAX_QUESTION_CHARS = 2000
MAX_OPTION_CHARS = 200
MIN_OPTIONS, MAX_OPTIONS = 2, 6
VIDEO_SUFFIXES = (".mp4", ".webm", ".mov", ".m4v")
_OWN_TYPE = re.compile(r"^[a-z][a-z0-9_]{1,47}$")


class AnnotationError(VsgrpoError):
    """A question that cannot be saved; ``field`` names the form field to fix."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def question_templates() -> list[dict]:
    """The page's templates: VSI-Bench's wording for its types, then a team's own numeric / choice type."""
    from .questions import templates as t
    from .questions.appearance import TEMPLATE as APPEARANCE
    from .questions.route import HEAD as ROUTE_HEAD

    vsi = [("object_counting", "numeric", t.COUNTING, ""),
           ("object_abs_distance", "numeric", t.ABS_DISTANCE, "m"),
           ("object_size_estimation", "numeric", t.OBJECT_SIZE, "cm"),
           ("room_size_estimation", "numeric", t.ROOM_SIZE, "m²"),
           ("object_rel_distance", "choice", t.REL_DISTANCE, ""),
           ("object_rel_direction_hard", "choice", t.REL_DIRECTION_HARD, ""),
           ("route_planning", "choice", ROUTE_HEAD, ""),
           ("obj_appearance_order", "choice", APPEARANCE.replace("{}", "{a}, {b}, {c}, {d}"), "")]
    out = [{"question_type": qt, "kind": kind, "text": text, "unit": unit, "own": False}
           for qt, kind, text, unit in vsi]
    out += [{"question_type": "", "kind": "numeric", "text": "", "unit": "m", "own": True},
            {"question_type": "", "kind": "choice", "text": "", "unit": "", "own": True}]
    return out


def list_videos(videos: str | os.PathLike) -> list[str]:
    """Video files under ``videos`` (recursively), as sorted POSIX paths relative to it."""
    root = Path(videos)
    if not root.is_dir():
        raise VsgrpoError(f"videos folder not found: {root}")
    found = sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                   if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file() and not p.name.startswith("."))
    if not found:
        raise VsgrpoError(f"no videos ({', '.join(VIDEO_SUFFIXES)}) under {root}")
    return found


def _kind_of_registered(question_type: str) -> str | None:
    """``numeric`` / ``choice`` for a registered question type (the light table), else ``None``."""
    from .question_types import TYPES

    known = TYPES.get(question_type)
    return None if known is None else ("numeric" if known.kind == "NA" else "choice")


def _text(value, field: str, *, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise AnnotationError(field, f"{field} is empty")
    value = " ".join(value.split()) if field != "question" else value.strip()
    if len(value) > limit:
        raise AnnotationError(field, f"{field} is longer than {limit} characters")
    return value


def validate(record: dict, videos: list[str]) -> dict:
    """The row to store for a submitted question, or :class:`AnnotationError` naming the field to fix."""
    if not isinstance(record, dict):
        raise AnnotationError("question", "a question must be a JSON object")
    video = record.get("video")
    if video not in videos:
        raise AnnotationError("video", f"unknown video {video!r}")
    question = _text(record.get("question"), "question", limit=MAX_QUESTION_CHARS)
    qtype = record.get("question_type")
    if not isinstance(qtype, str) or not qtype.strip():
        raise AnnotationError("question_type", "give the question a type (e.g. site_distance)")
    qtype = qtype.strip()
    kind = record.get("question_kind")
    registered = _kind_of_registered(qtype)
    if registered is not None:
        if kind not in (None, registered):
            raise AnnotationError("question_kind", f"{qtype} questions are {registered}, not {kind}")
        kind = registered
    elif not _OWN_TYPE.match(qtype):
        raise AnnotationError("question_type", "a type of your own is 2-48 characters: lower-case letters, digits "
                                               "and _, starting with a letter (e.g. site_distance)")
    if kind not in KINDS:
        raise AnnotationError("question_kind", f"question kind must be one of {', '.join(KINDS)}")
    row = {"video": video, "question_type": qtype, "question_kind": kind, "question": question}
    if kind == "numeric":
        answer = record.get("answer")
        try:
            value = float(str(answer).strip().replace(",", "."))
        except ValueError:
            raise AnnotationError("answer", f"the answer {answer!r} is not a number") from None
        if not math.isfinite(value) or value <= 0:
            raise AnnotationError("answer", "a numeric answer must be a positive number (it is scored by its "
                                            "relative error)")
        row["answer"] = f"{value:g}" if abs(value) < 1e15 else str(value)
        unit = record.get("unit") or ""
        if not isinstance(unit, str) or len(unit) > 16:
            raise AnnotationError("unit", "a unit is at most 16 characters")
        if unit.strip():
            row["unit"] = unit.strip()
        return row
    options = record.get("options")
    if not isinstance(options, list) or not MIN_OPTIONS <= len(options) <= MAX_OPTIONS:
        raise AnnotationError("options", f"a choice question has {MIN_OPTIONS} to {MAX_OPTIONS} options")
    texts = [_text(o, "options", limit=MAX_OPTION_CHARS) for o in options]
    if len({t.casefold() for t in texts}) != len(texts):
        raise AnnotationError("options", "two options are the same")
    correct = record.get("answer")
    letters = [chr(ord("A") + i) for i in range(len(texts))]
    if isinstance(correct, int) and not isinstance(correct, bool) and 0 <= correct < len(texts):
        correct = letters[correct]
    if correct not in letters:
        raise AnnotationError("answer", "mark which option is correct")
    row["options"] = [f"{letter}. {text}" for letter, text in zip(letters, texts)]
    row["answer"] = correct
    return row


def _same_question(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


class AnnotationStore:
    """The questions of one annotation folder; every change rewrites ``ROOT/questions.jsonl`` atomically."""

    def __init__(self, root: str | os.PathLike, videos: str | os.PathLike):
        from .io import ensure_writable_dir

        self.videos_dir = Path(videos).resolve()
        self.videos = list_videos(self.videos_dir)
        self.root = ensure_writable_dir(root)
        self.path = self.root / ANNOTATIONS_FILE
        self._lock = threading.Lock()
        self.rows: list[dict] = self._load()

    def _load(self) -> list[dict]:
        if not self.path.exists():
            return []
        rows = []
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise VsgrpoError(f"{self.path} cannot be read ({e})") from None
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                row = validate(rec, self.videos)
                row = {"id": int(rec["id"]), **row}
            except (ValueError, KeyError, TypeError, AnnotationError) as e:
                raise VsgrpoError(f"{self.path} line {n} is not a saved question ({e}); fix or remove that line") from None
            rows.append(row)
        return rows

    def _write(self) -> None:
        from .io import atomic_path

        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in self.rows)
        with atomic_path(self.path) as tmp:
            tmp.write_text(text, encoding="utf-8")

    def save(self, record: dict) -> dict:
        """Add a question (no ``id``) or replace the one with ``record["id"]``; returns the stored row."""
        row = validate(record, self.videos)
        with self._lock:
            qid = record.get("id")
            if qid is not None and (isinstance(qid, bool) or not isinstance(qid, int)
                                    or not any(r["id"] == qid for r in self.rows)):
                raise AnnotationError("id", f"no saved question with id {qid!r}")
            for r in self.rows:
                if r["id"] != qid and r["video"] == row["video"] and _same_question(r["question"], row["question"]):
                    raise AnnotationError("question", f"this video already has that question (id {r['id']})")
            if qid is None:
                qid = max((r["id"] for r in self.rows), default=0) + 1
                self.rows.append({"id": qid, **row})
            else:
                self.rows = [{"id": qid, **row} if r["id"] == qid else r for r in self.rows]
            self._write()
        return {"id": qid, **row}

    def delete(self, qid) -> None:
        with self._lock:
            if isinstance(qid, bool) or not any(r["id"] == qid for r in self.rows):
                raise AnnotationError("id", f"no saved question with id {qid!r}")
            self.rows = [r for r in self.rows if r["id"] != qid]
            self._write()

    def state(self) -> dict:
        from collections import Counter

        per_video = Counter(r["video"] for r in self.rows)
        return {"videos": [{"path": v, "questions": per_video[v]} for v in self.videos],
                "templates": question_templates(), "questions": self.rows, "file": str(self.path)}
