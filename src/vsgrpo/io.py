"""Crash-safe file output: nothing half-written is ever left under a user's --out."""

from __future__ import annotations

import contextlib
import errno
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
    tmp_path.chmod(0o666 & ~umask())
    try:
        yield tmp_path
        commit(tmp_path, target)
    except BaseException:
        if tmp_path.is_dir():
            shutil.rmtree(tmp_path, ignore_errors=True)
        else:
            tmp_path.unlink(missing_ok=True)
        raise


def commit(tmp: str | os.PathLike, target: str | os.PathLike) -> None:
    """Rename a finished temporary file over its target (atomic on POSIX). The one place output appears."""
    os.replace(tmp, target)


def umask() -> int:
    """The process's umask, read without changing it: a plain open() creates files 0o666 & ~umask()."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(target: str | os.PathLike, obj: object, *, indent: int | None = 2) -> None:
    """Atomically write ``obj`` as JSON (UTF-8, keys in insertion order)."""
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(obj, indent=indent, ensure_ascii=False) + "\n", encoding="utf-8")


def safe_join(root: str | os.PathLike, *parts: str) -> Path:
    """Join ``parts`` under ``root`` and refuse any part that could leave ``root``.

    Used wherever a path comes from data (a parquet row, a meta file, a custom scan), so a
    crafted ``../../etc/passwd`` scene name or an absolute path cannot read or write outside the
    dataset root. The check is lexical: ``..`` components and absolute parts are refused, while
    symbolic links *inside* the root are followed (a link placed by the owner of the root, e.g.
    ``videos/scannet -> /mnt/big/scannet``, is how datasets are shared, not an attack).
    """
    base = Path(os.path.abspath(root))
    for part in parts:
        text = os.fspath(part)
        pieces = text.replace("\\", "/").split("/")
        if "\x00" in text or os.path.isabs(text) or text.startswith(("/", "\\")) or ".." in pieces:
            raise VsgrpoError(f"path {os.path.join(*map(os.fspath, parts))!r} escapes the dataset root {base}")
    return base.joinpath(*parts)


# ---------------------------------------------------------------------------------------------
# one writer per output folder


LOCK_FILE = ".vsgrpo.lock"


@contextlib.contextmanager
def run_lock(folder: str | os.PathLike, command: str = "vsgrpo") -> Iterator[Path]:
    """Hold an exclusive advisory lock on ``folder`` (``folder/.vsgrpo.lock``) while writing it.

    A second process that tries to write the same folder fails at once with a
    :class:`VsgrpoError` naming the holder's PID. The lock is ``flock``-based, so the operating
    system releases it when the holder exits for any reason (``kill -9`` included); a stale lock
    file left by a killed run never blocks a rerun. The lock file itself stays (removing it
    would let two processes lock two different files of the same name).
    """
    import fcntl

    out = ensure_writable_dir(folder)
    path = out / LOCK_FILE
    fd = _open_lock_file(path)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise VsgrpoError(f"cannot lock {path}: {e.strerror or e}") from None
            holder = ""
            with contextlib.suppress(OSError, ValueError):
                holder = os.pread(fd, 200, 0).decode("ascii", "replace").split()[0]
            who = f"PID {holder}" if holder else "another process"
            raise VsgrpoError(f"{out} is being written by another vsgrpo process ({who}); wait for it to "
                              "finish or choose another output folder") from None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()} {command}\n".encode(), 0)
        yield out
    finally:
        os.close(fd)  # releases the lock


# The lock file is opened without following a symbolic link (a link planted as OUT/.vsgrpo.lock would
# make the lock's PID line overwrite whatever it points at) and without blocking on a FIFO.
_LOCK_OPEN = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def _open_lock_file(path: Path) -> int:
    import stat

    try:
        fd = os.open(path, _LOCK_OPEN, 0o644)
    except OSError as e:
        if e.errno == errno.ELOOP or path.is_symlink():
            raise VsgrpoError(f"{path} is a symbolic link; vsgrpo does not follow it (remove it and rerun)") from None
        raise VsgrpoError(f"cannot create lock file {path}: {e.strerror or e}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise VsgrpoError(f"{path} is not a regular file; remove it and rerun")
    return fd


@contextlib.contextmanager
def file_lock(path: str | os.PathLike) -> Iterator[None]:
    """Wait for and hold an exclusive ``flock`` on ``path`` (created; never through a link).

    For short read-modify-write sections that several processes may run on one file (e.g. two
    ``data browse`` servers flagging questions of one root): unlike :func:`run_lock` it waits.
    """
    import fcntl

    fd = _open_lock_file(Path(path))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def remove_stale_temps(folder: str | os.PathLike, *, recursive: bool = True,
                       subdirs: tuple[str, ...] | None = None) -> int:
    """Delete the temporary files (``.NAME.*.tmp``, as :func:`atomic_path` names them) a killed run left.

    Call only while holding :func:`run_lock` on ``folder``: then no other writer can own them.
    ``subdirs``: search only ``folder`` itself and these sub-folders (recursively), so a data root
    that also holds other commands' output folders is not touched there. Returns how many were removed.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    if subdirs is not None:
        return remove_stale_temps(folder, recursive=False) + sum(
            remove_stale_temps(folder / d, recursive=True) for d in subdirs)
    n = 0
    for tmp in list(folder.rglob(".*.tmp") if recursive else folder.glob(".*.tmp")):
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        n += 1
    return n


# ---------------------------------------------------------------------------------------------
# the settings an output folder was made with


def read_settings(path: str | os.PathLike) -> dict | None:
    """The settings stored by :func:`check_settings` at ``path``; ``None`` when there is no file.

    Raises ``ValueError`` (or ``OSError``) when the file exists but is not a readable JSON object
    (edited, damaged): the caller decides what unknown settings mean.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data


def check_settings(path: str | os.PathLike, settings: dict, *, overwrite: bool = False, old: dict | None = None,
                   section: str | None = None, what: str = "output", flags: dict[str, str] | None = None,
                   store: bool = True) -> None:
    """Refuse to write into a folder made with other settings; then store ``settings`` at ``path``.

    ``settings``: only what changes the output (never workers, progress, ...). They are compared
    key by key with the stored file (or with ``old`` when the file does not exist: settings known
    another way, e.g. from an older output's markers); keys the stored settings lack (a setting
    added later) are not compared. No file and no ``old`` means an older output whose settings
    are unknown: accepted. A file that exists but cannot be read is refused (it cannot be
    matched). ``overwrite`` (``--overwrite``) skips the check. ``section``: the file holds one
    entry per section (e.g. per ingest source) and only this one is compared and replaced.
    ``flags`` maps a key to the flag that sets it, for the message. The file is written
    atomically before any work, so a crash cannot lose it.
    """
    path = Path(path)
    folder = path.parent
    try:
        stored = read_settings(path)
    except (OSError, ValueError) as e:
        if not overwrite:
            raise VsgrpoError(f"{path} cannot be read ({e}), so the settings {folder} was made with are "
                              "unknown; pass --overwrite to start over (or choose another --out)") from None
        stored = None
    mine = stored if section is None else (stored or {}).get(section)
    if mine is None:
        mine = old
    if not overwrite and isinstance(mine, dict):
        for key, new in settings.items():
            if key in mine and mine[key] != new:
                flag = (flags or {}).get(key, key)
                raise VsgrpoError(f"{folder} holds {what} made with other settings: {flag} {_shown(mine[key])}, "
                                  f"not {_shown(new)}; "
                                  "use the same settings, choose another --out, or pass --overwrite to replace it")
    if store:  # store=False: only compare (a command that refuses bad input before writing anything)
        write_json(path, settings if section is None else {**(stored or {}), section: settings})


def _shown(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value)) or "(none)"
    if value is None:
        return "(default)"
    return json.dumps(value) if isinstance(value, str) and not value else str(value)


# ---------------------------------------------------------------------------------------------
# full disks, read-only folders

#: errno values that mean "the output cannot be written": the CLI turns them into one line
WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM}


def write_error_message(e: OSError) -> str:
    """One line for an :class:`OSError` raised while writing output (disk full, read-only, ...)."""
    where = f" ({e.filename})" if getattr(e, "filename", None) else ""
    text = e.strerror or str(e) or type(e).__name__
    hint = ""
    if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        hint = "; free some space and rerun the same command: finished work is kept"
    elif e.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        hint = "; choose a writable output folder"
    return f"cannot write output: {text}{where}{hint}"


def is_write_error(e: BaseException) -> bool:
    return isinstance(e, OSError) and getattr(e, "errno", None) in WRITE_ERRNOS
