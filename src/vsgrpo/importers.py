"""``vsgrpo data import``: question sets in other formats -> a vsgrpo questions parquet.

The output is the parquet ``data build`` writes (VSI-Bench's columns plus ``answer``,
``answer_value``, ``video``, ``extra``), so ``data verify``, ``eval run`` and ``train`` take it
unchanged. Formats (what each reads, by default; ``--map field=column`` renames any of them):

``video-r1``
    Video-R1's JSON list: ``problem`` (question), ``problem_type`` ("multiple choice",
    "numerical", "regression"; "OCR" and "free-form" cannot be scored and are skipped),
    ``options`` (``["A. left", ...]``), ``solution`` (``"<answer>B</answer>"``), ``path`` (the
    video, relative to ``--videos``), ``problem_id``.
``llava``
    LLaVA-style JSON list (or JSONL): ``id``, ``video``, ``conversations`` with a ``human`` turn
    (``"<video>\\nquestion"``, options as ``A. ...`` lines after it) and a ``gpt`` turn (the answer).
``jsonl``
    One JSON object per line: ``question``, ``answer`` (or ``ground_truth``), ``video``, and
    optionally ``options``, ``question_type``, ``id``.

The question type (which decides numeric vs multiple choice and how the row is scored) comes
from a ``question_type`` field, else ``--question-type``, else the VSI-Bench template the
question was written from. A format's own kind (Video-R1's ``problem_type``) must agree with it.
Every row that cannot be used (no video under ``--videos``, a path leaving it, an answer that
its own reward would not score 1, an unknown type) is listed in ``OUT/skipped.jsonl`` with the
reason: nothing is dropped silently. ``OUT/videos`` links to ``--videos`` so training finds the
videos without a ``video_root`` setting.

Writing (docs/reliability.md): the settings go to ``OUT/import_config.json`` before any work, and a
rerun with other settings (``--format``, ``--input``, ``--videos``, ``--map``, ``--question-type``)
is refused unless ``--overwrite``. The three files are written to temporary files first; then the
old ``questions.parquet`` is removed, ``skipped.jsonl`` and ``summary.json`` renamed into place and
the parquet last, as the commit marker: a parquet is always beside the skipped list and summary it
was made with (``summary.json`` records its sha256). A failed or killed conversion leaves the previous
output as it was; a kill between the renames leaves no parquet (rerun the same command).
"""

from __future__ import annotations

import json
import math
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from .data_configs import IMPORT_FIELDS, IMPORT_FORMATS, ImportConfig  # noqa: F401 (re-exported)
from .errors import VsgrpoError

FORMATS, FIELDS = IMPORT_FORMATS, IMPORT_FIELDS
PROBLEM_KINDS = {"multiple choice": "MCA", "numerical": "NA", "regression": "NA"}
_OPTION = re.compile(r"^\(?([A-Z])[.):]\s*(.*)$", re.S)


def parse_map(items: list[str] | None) -> dict[str, str]:
    """``["question=prompt", "answer=label"]`` -> ``{"question": "prompt", "answer": "label"}``."""
    out = {}
    for item in items or []:
        name, sep, column = item.partition("=")
        if not sep or not name.strip() or not column.strip():
            raise VsgrpoError(f"--map takes field=column, got {item!r}")
        out[name.strip()] = column.strip()
    return out


class Skip(Exception):
    """A row that cannot be imported; the message is the reason written to skipped.jsonl."""


# ---------------------------------------------------------------------------------------------
# reading each format into plain records: {field: value} with FIELDS as keys


def _load_json_or_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    """``(position, record)`` of a JSON list or a JSONL file; a broken JSONL line is yielded as
    a :class:`Skip` so it is reported, not fatal."""
    text = path.read_text(encoding="utf-8", errors="replace")
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise VsgrpoError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from None
        except RecursionError:
            raise VsgrpoError(f"{path}: JSON nested too deeply to be a question list") from None
        yield from enumerate(data)
        return
    for i, line in enumerate(text.splitlines()):
        if not line.strip():
            continue
        try:
            yield i, json.loads(line)
        except json.JSONDecodeError as e:
            yield i, Skip(f"line {i + 1} is not valid JSON ({e.msg})")
        except RecursionError:
            yield i, Skip(f"line {i + 1} is JSON nested too deeply to be a question")


def _get(rec: Mapping, mapping: Mapping[str, str], name: str, *defaults: str):
    for key in ([mapping[name]] if name in mapping else [name, *defaults]):
        if key in rec and rec[key] is not None:
            return rec[key]
    return None


def _answer_span(text: str) -> str:
    """The content of the last ``<answer>...</answer>`` (Video-R1 solutions), else the text."""
    from .answers import extract_answer_span

    return extract_answer_span(str(text))


def read_video_r1(rec: Mapping, mapping: Mapping[str, str]) -> dict:
    problem_type = _get(rec, mapping, "problem_type")
    if problem_type is not None and str(problem_type).strip().lower() not in PROBLEM_KINDS:
        raise Skip(f"problem_type {problem_type!r} cannot be scored (vsgrpo scores "
                   f"{', '.join(PROBLEM_KINDS)})")
    answer = _get(rec, mapping, "answer", "solution")
    return {"id": _get(rec, mapping, "id", "problem_id"), "question": _get(rec, mapping, "question", "problem"),
            "answer": None if answer is None else _answer_span(answer), "video": _get(rec, mapping, "video", "path"),
            "options": _get(rec, mapping, "options"), "question_type": _get(rec, mapping, "question_type"),
            "kind": PROBLEM_KINDS.get(str(problem_type).strip().lower()) if problem_type is not None else None}


_BENCH_LINES = ("Answer with the option's letter from the given choices directly.",
                "Please answer the question using a single word or phrase.", "These are frames of a video.",
                "Options:")


def read_llava(rec: Mapping, mapping: Mapping[str, str]) -> dict:
    turns = rec.get("conversations")
    if not isinstance(turns, list):
        raise Skip("no 'conversations' list")
    human = next((t.get("value") for t in turns if isinstance(t, Mapping) and t.get("from") == "human"), None)
    gpt = next((t.get("value") for t in turns if isinstance(t, Mapping) and t.get("from") == "gpt"), None)
    if human is None or gpt is None:
        raise Skip("conversations need a 'human' and a 'gpt' turn")
    question_lines, options = [], []
    for line in str(human).replace("<video>", "").splitlines():
        text = line.strip()
        if not text or text in _BENCH_LINES:
            continue
        if _OPTION.match(text) and question_lines:
            options.append(text)
        elif options:
            raise Skip("text after the options in the human turn")
        else:
            question_lines.append(line.rstrip("\r"))  # keep inner spaces: templates end lines with ' '
    return {"id": _get(rec, mapping, "id"), "question": "\n".join(question_lines).strip() or None,
            "answer": _answer_span(gpt), "video": _get(rec, mapping, "video"),
            "options": _get(rec, mapping, "options") or (options or None),
            "question_type": _get(rec, mapping, "question_type"), "kind": None}


def read_jsonl(rec: Mapping, mapping: Mapping[str, str]) -> dict:
    return {"id": _get(rec, mapping, "id"), "question": _get(rec, mapping, "question"),
            "answer": _get(rec, mapping, "answer", "ground_truth"), "video": _get(rec, mapping, "video"),
            "options": _get(rec, mapping, "options"), "question_type": _get(rec, mapping, "question_type"),
            "question_kind": _get(rec, mapping, "question_kind"), "kind": None}


READERS: dict[str, Callable[[Mapping, Mapping[str, str]], dict]] = {
    "video-r1": read_video_r1, "llava": read_llava, "jsonl": read_jsonl}


# ---------------------------------------------------------------------------------------------
# one record -> one questions row


def infer_question_type(question: str) -> str | None:
    """The registered question type whose templates wrote ``question`` (:meth:`Task.matches`; None if none did)."""
    from .questions import TASK_REGISTRY

    return next((name for name, task in TASK_REGISTRY.items() if task.matches(question)), None)


def _options(value) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        raise Skip("options must be a list of strings")
    opts = [str(o).strip() for o in value]
    if not opts:
        return None
    out = []
    for i, opt in enumerate(opts):
        m = _OPTION.match(opt)
        letter = chr(ord("A") + i)
        if m is None:
            out.append(f"{letter}. {opt}")  # bare option texts: letter them in order
        elif m.group(1) != letter:
            raise Skip(f"option {i + 1} is lettered {m.group(1)!r}, expected {letter!r}")
        else:
            out.append(f"{letter}. {m.group(2).strip()}")
    return out


def _mca_answer(answer: str, options: list[str] | None) -> tuple[str, str]:
    """(ground truth, answer word) of a multiple-choice answer: the letter when there are options."""
    if not options:
        return answer, answer
    texts = {o[0]: o[3:] for o in options}
    m = _OPTION.match(answer)
    letter = answer.upper() if len(answer) == 1 else (m.group(1) if m else None)
    if letter in texts:
        return letter, texts[letter]
    for letter, text in texts.items():
        if text.strip().lower() == answer.strip().lower():
            return letter, text
    raise Skip(f"answer {answer!r} is not one of the options ({', '.join(options)})")


def to_row(rec: dict, videos: Path, default_type: str | None, default_kind: str | None = None) -> dict:
    """A questions-parquet row from a read record (raises :class:`Skip` with the reason).

    A question type outside the registered ones is a team's own type when the record (or
    ``--question-kind``) gives its ``question_kind``: ``numeric`` or ``choice``.
    """
    from .io import safe_join
    from .question_types import QUESTION_KINDS, TYPES, declare_own_type, own_kind

    question = rec.get("question")
    if not isinstance(question, str) or not question.strip():
        raise Skip("no question text")
    answer = rec.get("answer")
    if answer is None or not str(answer).strip():
        raise Skip("no answer")
    answer = str(answer).strip()
    qt = rec.get("question_type") or default_type or infer_question_type(question)
    if qt is None:
        raise Skip("cannot tell the question type from the text; pass --question-type or "
                   "--map question_type=COLUMN")
    qt = str(qt)
    row_kind = rec.get("question_kind") or (default_kind if qt not in TYPES else None)
    if row_kind is not None and not (isinstance(row_kind, str) and row_kind.strip().lower() in QUESTION_KINDS):
        raise Skip(f"question_kind must be one of {', '.join(QUESTION_KINDS)}, not {row_kind!r}")
    if qt not in TYPES and row_kind is None:
        raise Skip(f"unknown question type {qt!r}: give its question_kind (numeric or choice) to import it as a "
                   "type of your own")
    try:
        facts = declare_own_type(qt, row_kind.strip().lower()) if row_kind is not None else TYPES[qt]
    except VsgrpoError as e:
        raise Skip(str(e)) from None
    if rec.get("kind") and rec["kind"] != facts.kind:
        raise Skip(f"the format says {rec['kind']} but question type {facts.name} is {facts.kind}")
    video = rec.get("video")
    if not isinstance(video, str) or not video.strip():
        raise Skip("no video path")
    rel = video.strip()
    if os.path.isabs(rel):
        absolute = Path(os.path.abspath(rel))
        if not absolute.is_relative_to(videos):
            raise Skip(f"video {rel} is outside --videos {videos}")
        rel = absolute.relative_to(videos).as_posix()
    rel = rel.removeprefix("./")
    try:
        path = safe_join(videos, rel)
    except VsgrpoError as e:
        raise Skip(str(e)) from None
    if not path.is_file():
        raise Skip(f"video {rel} not found under {videos}")
    options = _options(rec.get("options"))
    ground_truth, word = _mca_answer(answer, options)  # the letter and its option text, or the answer itself
    value = None
    if facts.kind == "NA":
        # Numeric questions are scored by MRA on the number (VSI-Bench's NA rows carry no options):
        # an answer given as an option letter becomes that option's number.
        try:
            value = float(word)
        except ValueError:
            raise Skip(f"numeric question with non-numeric answer {word!r}") from None
        if not math.isfinite(value) or value <= 0:
            raise Skip(f"numeric answer {word!r} is not a positive number (every prediction would score 0)")
        ground_truth, options = word, None
    parts = Path(rel).parts
    row = {"dataset": parts[0] if len(parts) > 1 else "imported", "scene_name": Path(rel).stem,
           "question_type": facts.name, "question": question.strip(), "ground_truth": ground_truth,
           "options": options, "answer": word, "answer_value": value, "objects": [], "video": rel,
           "question_kind": own_kind(facts.name)}
    from .train.data import row_problem

    problem = row_problem(row)
    if problem:
        raise Skip(problem)
    return row


# ---------------------------------------------------------------------------------------------
# the command


def _table(rows: list[dict]):
    import pyarrow as pa

    from .questions_parquet import questions_schema

    schema = questions_schema()
    return pa.table({f.name: [r.get(f.name) for r in rows] for f in schema}, schema=schema)


def _int_id(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if -2**63 <= value < 2**63 else None  # the parquet's id column is int64
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,18}", value.strip()):
        return int(value)
    return None


IMPORT_CONFIG_FILE = "import_config.json"
OUTPUT_FILES = ("skipped.jsonl", "summary.json", "questions.parquet")  # in commit order: the parquet last
_FLAGS = {"format": "--format", "input": "--input", "videos": "--videos", "mapping": "--map",
          "question_type": "--question-type", "question_kind": "--question-kind"}


def import_settings(config: ImportConfig) -> dict:
    """What changes an import's output (stored in ``OUT/import_config.json``)."""
    return {"format": config.format, "input": os.path.abspath(config.input), "videos": os.path.abspath(config.videos),
            "mapping": [f"{k}={v}" for k, v in sorted(config.mapping.items())], "question_type": config.question_type,
            "question_kind": config.question_kind}


def import_questions(config: ImportConfig, *, overwrite: bool = False) -> dict:
    """Convert ``config.input`` and write ``questions.parquet``, ``skipped.jsonl`` and
    ``summary.json`` into ``config.out``; returns the summary. See the module doc for how."""
    from .io import check_settings, remove_stale_temps, run_lock

    src = Path(config.input)
    if not src.is_file():
        raise VsgrpoError(f"--input not found: {src}")
    videos = Path(os.path.abspath(config.videos))
    if not videos.is_dir():
        raise VsgrpoError(f"--videos folder not found: {videos}")
    if Path(config.out).is_dir():  # other settings are refused before the conversion, which may fail too
        check_settings(Path(config.out) / IMPORT_CONFIG_FILE, import_settings(config), overwrite=overwrite,
                       what="an imported question set", flags=_FLAGS, store=False)
    reader = READERS[config.format]
    rows, skipped = [], []
    for pos, rec in _load_json_or_jsonl(src):
        source_id = _get(rec, config.mapping, "id", "problem_id") if isinstance(rec, Mapping) else None
        try:
            if isinstance(rec, Skip):
                raise rec
            if not isinstance(rec, Mapping):
                raise Skip(f"a record must be a JSON object, got {type(rec).__name__}")
            row = to_row(reader(rec, config.mapping), videos, config.question_type, config.question_kind)
        except Skip as e:
            skipped.append({"position": pos, "id": source_id if _jsonable(source_id) else repr(source_id),
                            "reason": str(e)})
            continue
        row["source_id"] = source_id
        rows.append(row)
    if not rows:  # an empty parquet would look like a finished import
        reasons = "; ".join(f"{n} x {r}" for r, n in Counter(s["reason"] for s in skipped).most_common(2))
        raise VsgrpoError(f"no question could be imported from {src}" +
                          (f": {len(skipped)} record(s) skipped ({reasons})" if skipped else ": it holds no record"))
    # Keep the source's ids when they are unique integers (users match predictions by id), else number 0..n-1.
    ids = [_int_id(r["source_id"]) for r in rows]
    keep = all(i is not None for i in ids) and len(set(ids)) == len(ids)
    for n, (row, i) in enumerate(zip(rows, ids)):
        row["id"] = i if keep else n
        extra = {"source_format": config.format}
        if row["source_id"] is not None and not keep:
            extra["source_id"] = row["source_id"] if _jsonable(row["source_id"]) else repr(row["source_id"])
        row["extra"] = json.dumps(extra, sort_keys=True)
    summary = {"input": str(src), "format": config.format, "videos": str(videos), "questions": len(rows),
               "skipped": len(skipped), "counts": dict(sorted(Counter(r["question_type"] for r in rows).items())),
               "skip_reasons": dict(Counter(s["reason"].split(" (")[0][:80] for s in skipped).most_common(10))}
    with run_lock(config.out, "data import") as out:
        remove_stale_temps(out, recursive=False)
        check_settings(out / IMPORT_CONFIG_FILE, import_settings(config), overwrite=overwrite,
                       what="an imported question set", flags=_FLAGS)
        _write_together(out, rows, skipped, summary)
        link = out / "videos"
        if link.is_symlink() and Path(os.readlink(link)) != videos:
            link.unlink()
        if not link.exists() and not link.is_symlink():
            link.symlink_to(videos, target_is_directory=True)
    return summary


def _write_together(out: Path, rows: list[dict], skipped: list[dict], summary: dict) -> None:
    """Write the three files so that a parquet never sits beside another import's skipped list or summary."""
    import hashlib
    import tempfile

    import pyarrow.parquet as pq

    from .io import commit, umask

    temps: dict[str, Path] = {}
    try:
        for name in OUTPUT_FILES:
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=out)
            os.close(fd)
            temps[name] = Path(tmp)
        pq.write_table(_table(rows), temps["questions.parquet"])
        summary["questions_sha256"] = hashlib.sha256(temps["questions.parquet"].read_bytes()).hexdigest()
        temps["skipped.jsonl"].write_text("".join(json.dumps(s, ensure_ascii=False) + "\n" for s in skipped),
                                          encoding="utf-8")
        temps["summary.json"].write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        for tmp in temps.values():
            tmp.chmod(0o666 & ~umask())
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
        (out / "questions.parquet").unlink(missing_ok=True)  # from here until the last rename: no parquet
        for name in OUTPUT_FILES:
            commit(temps[name], out / name)
    except BaseException:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
        raise


def _jsonable(value) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))
