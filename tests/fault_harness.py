"""Fault injection for the fault suite (tests/test_faults_*.py): real kills, full disks, read-only folders.

Kills are chosen from the command's own progress, not from the clock: the command runs in a
subprocess through this file, which wraps one function of vsgrpo (or the standard library) and
sends the process ``SIGKILL`` when that function is called the N-th time, before or after the
call. So "killed after the 3rd sample was written" or "killed just before the 2nd rename" is the
same moment on every machine, however slow. Nothing is mocked: the command runs its real code
until the kernel ends it.

Command line (used by :func:`run_killed`)::

    python tests/fault_harness.py MODULE:ATTR.PATH:N:before|after|stop -- ARGS...   (as after `vsgrpo`)
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve()
LOCK_NAME = ".vsgrpo.lock"


def _env() -> dict:
    env = {**os.environ, "VSGRPO_PROGRESS": "0", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    return env


def run_cli(*args, timeout: float = 600, preexec_fn=None) -> subprocess.CompletedProcess:
    """``vsgrpo ARGS`` in a fresh process (text output captured)."""
    return subprocess.run([sys.executable, "-m", "vsgrpo.cli", *map(str, args)], env=_env(), capture_output=True,
                          text=True, timeout=timeout, preexec_fn=preexec_fn)


def run_killed(spec: str, *args, timeout: float = 600) -> subprocess.CompletedProcess:
    """``vsgrpo ARGS``, SIGKILLed at ``spec`` (``module:attr.path:N:before|after``). Asserts it was killed."""
    proc = subprocess.run([sys.executable, str(HERE), spec, "--", *map(str, args)], env=_env(), capture_output=True,
                          text=True, timeout=timeout, start_new_session=True)
    assert proc.returncode == -signal.SIGKILL, (
        f"expected a SIGKILL at {spec}, got exit {proc.returncode}: {proc.stderr[-1500:]}")
    return proc


def start_paused(spec: str, *args) -> subprocess.Popen:
    """``vsgrpo ARGS`` stopped (SIGSTOP) at ``spec`` (``module:attr.path:N:stop``), holding its locks.

    Returns once the process is stopped; ``proc.send_signal(signal.SIGCONT)`` lets it finish.
    """
    proc = subprocess.Popen([sys.executable, str(HERE), spec, "--", *map(str, args)], env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status = os.waitpid(proc.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status), f"{spec}: the command ended before it reached its pause point"
    return proc


def error_line(r: subprocess.CompletedProcess, code: int = 2) -> str:
    """The one ``vsgrpo: error:`` line of a failed command (warnings may precede it; a traceback may not)."""
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("vsgrpo: error:")]
    assert r.returncode == code and len(errors) == 1 and "Traceback" not in r.stderr, \
        f"exit {r.returncode}: {r.stderr[-3000:]}"
    return errors[0]


def tree(root: Path, *, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """``{relative path: sha256}`` of every file under ``root`` (the lock file and ``skip`` names excluded)."""
    out = {}
    for p in sorted(Path(root).rglob("*")):
        if p.is_file() and p.name != LOCK_NAME and p.name not in skip:
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def temp_files(root: Path) -> list[str]:
    """Temporary files (``.NAME.*.tmp``) anywhere under ``root``: there must be none after a rerun."""
    return sorted(str(p.relative_to(root)) for p in Path(root).rglob("*.tmp"))


# ----------------------------------------------------------------------------------------------
# full disk and read-only folders


@contextlib.contextmanager
def small_disk(megabytes: float):
    """A tmpfs of ``megabytes`` (yields its path), or ``None`` when it cannot be mounted."""
    d = Path(tempfile.mkdtemp(prefix="vsgrpo-disk-"))
    ok = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={int(megabytes * 1024)}k", "tmpfs", str(d)],
        capture_output=True).returncode == 0
    try:
        yield d if ok else None
    finally:
        if ok:
            subprocess.run(["umount", "-l", str(d)], capture_output=True)
        shutil.rmtree(d, ignore_errors=True)


def file_size_limit(nbytes: int):
    """``preexec_fn`` capping every file the command writes at ``nbytes`` (RLIMIT_FSIZE).

    Writes past the cap fail with EFBIG, as a full disk fails them with ENOSPC: the fallback
    where no tmpfs can be mounted (an unprivileged CI runner).
    """
    def limit():
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, nbytes))

    return limit


@contextlib.contextmanager
def read_only(path: Path):
    """Make ``path`` (a folder, recursively) read-only; a read-only bind mount when root (root ignores modes)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        if subprocess.run(["mount", "--bind", str(path), str(path)], capture_output=True).returncode == 0:
            try:
                r = subprocess.run(["mount", "-o", "remount,bind,ro", str(path)], capture_output=True)
                assert r.returncode == 0, r.stderr
                yield path
            finally:
                subprocess.run(["umount", "-l", str(path)], capture_output=True)
            return
    modes = {}
    for p in [path, *path.rglob("*")]:
        modes[p] = p.stat().st_mode
        p.chmod(modes[p] & ~0o222)
    try:
        yield path
    finally:
        for p, m in modes.items():
            p.chmod(m)


# ----------------------------------------------------------------------------------------------
# the kill switch (this file run as a script)


def _install(spec: str) -> None:
    import importlib

    module, attr, n, when = spec.split(":")
    n = int(n)
    owner = importlib.import_module(module)
    parts = attr.split(".")
    for p in parts[:-1]:
        owner = getattr(owner, p)
    original = getattr(owner, parts[-1])
    calls = [0]

    def wrapped(*args, **kwargs):
        calls[0] += 1
        if calls[0] == n and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        if calls[0] == n and when == "stop":
            os.kill(os.getpid(), signal.SIGSTOP)
        result = original(*args, **kwargs)
        if calls[0] == n and when == "after":
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(owner, parts[-1], wrapped)


if __name__ == "__main__":
    spec, sep, *argv = sys.argv[1:]
    assert sep == "--", sys.argv
    _install(spec)
    from vsgrpo.cli import main

    sys.exit(main(argv))
