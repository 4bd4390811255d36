"""Per-sample JSONL of a run: appended as it goes, durable line by line, resumable.

Each finished sample is one JSON line, written with a single ``write`` then ``flush`` +
``fsync``, so after a crash or ``kill -9`` the file holds every finished sample and at most one
torn last line. :func:`load_samples` drops that torn tail (and truncates it away before a
resumed run appends), so no sample is lost and none is recorded twice. :func:`compact` rewrites
the file (atomically) with exactly one line per id, the last one written winning.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Iterable
from pathlib import Path

from ..io import atomic_path


def as_id(value) -> int:
    """A question id from JSON: an integer (``3``, ``3.0``, ``"3"``); ``1.9``, ``1e400``, ``true`` raise ValueError."""
    if isinstance(value, bool):
        raise ValueError(f"id {value!r} is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit() and value.strip().isascii():
        return int(value)
    raise ValueError(f"id {value!r} is not an integer")


def load_samples(path: str | os.PathLike, *, repair: bool = False) -> dict[int, dict]:
    """Samples by id (last line per id wins). A torn last line is ignored (and cut off if ``repair``)."""
    path = Path(path)
    if not path.exists():
        return {}
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1  # bytes after the last newline are a line torn by a crash
    if end < len(data):
        tail = data[end:]
        try:
            json.loads(tail)
            end = len(data)  # complete JSON written without its newline: keep it
            if repair:
                with open(path, "ab") as f:
                    f.write(b"\n")
                    f.flush()
                    os.fsync(f.fileno())
        except ValueError:
            if repair:
                with open(path, "r+b") as f:
                    f.truncate(end)
                    f.flush()
                    os.fsync(f.fileno())
    out: dict[int, dict] = {}
    for n, line in enumerate(data[:end].splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            out[as_id(row["id"])] = row
        except (ValueError, KeyError, TypeError, AttributeError):
            warnings.warn(f"{path}: line {n} is not a sample record; ignored", stacklevel=2)
    return out


class SampleWriter:
    """Append-only JSONL writer; every :meth:`write` is on disk before it returns."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._f = open(self.path, "a", encoding="utf-8")

    def write(self, row: dict) -> None:
        self._f.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> SampleWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def rewrite(path: str | os.PathLike, rows: dict[int, dict], order: Iterable[int]) -> None:
    """Atomically replace ``path`` with one line per id of ``rows``: ids in ``order`` first, then the rest."""
    ids = [i for i in order if i in rows]
    seen = set(ids)
    ids += [i for i in rows if i not in seen]
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            for i in ids:
                f.write(json.dumps(rows[i], ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())


def compact(path: str | os.PathLike, order: Iterable[int]) -> None:
    """Rewrite ``path`` with one line per id (the last line written wins), ids in ``order`` first."""
    rewrite(path, load_samples(path), order)
