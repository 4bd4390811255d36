"""Crash-safe file output: nothing half-written is ever left under a user's --out."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import VsgrpoError


def ensure_writable_dir(path: str | os.PathLike) -> Path:
    """Create ``path`` (and parents) or fail with a clear message before any work starts."""
    p = Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise VsgrpoError(f"cannot create output directory {p}: {e.strerror or e}") from None
    if not os.access(p, os.W_OK | os.X_OK):
        raise VsgrpoError(f"output directory {p} is not writable; choose another --out")
    return p


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it is renamed over ``target``.

    On any exception the temporary file is removed and ``target`` is untouched, so a crash
    or Ctrl-C never leaves a truncated file under the final name.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    # mkstemp makes 0600 files; give the result the permissions a plain open() would have.
    tmp_path.chmod(0o666 & ~_umask())
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    except BaseException:
        if tmp_path.is_dir():
            shutil.rmtree(tmp_path, ignore_errors=True)
        else:
            tmp_path.unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(target: str | os.PathLike, obj: object, *, indent: int | None = 2) -> None:
    """Atomically write ``obj`` as JSON (UTF-8, keys in insertion order)."""
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(obj, indent=indent, ensure_ascii=False) + "\n", encoding="utf-8")


def safe_join(root: str | os.PathLike, *parts: str) -> Path:
    """Join ``parts`` under ``root`` and refuse any result that escapes ``root``.

    Used wherever a path comes from data (a parquet row, a meta file, a custom scan), so a
    crafted ``../../etc/passwd`` scene name cannot read or write outside the dataset root.
    """
    base = Path(root).resolve()
    candidate = base.joinpath(*parts).resolve()
    if candidate != base and base not in candidate.parents:
        raise VsgrpoError(f"path {os.path.join(*parts)!r} escapes the dataset root {base}")
    return candidate
