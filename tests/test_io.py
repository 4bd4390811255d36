import os
import stat

import pytest

from vsgrpo.errors import VsgrpoError
from vsgrpo.io import atomic_path, safe_join, write_json


def test_atomic_write_replaces_only_on_success(tmp_path):
    target = tmp_path / "out.json"
    write_json(target, {"a": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert target.read_text().strip() == '{\n  "a": 1\n}'
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_atomic_files_get_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        write_json(tmp_path / "r.json", {})
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "r.json").stat().st_mode) == 0o644


def test_safe_join_refuses_escapes(tmp_path):
    assert safe_join(tmp_path, "scannet", "a.mp4") == (tmp_path / "scannet" / "a.mp4").resolve()
    for bad in ("../x.mp4", "scannet/../../x", "/etc/passwd"):
        with pytest.raises(VsgrpoError, match="escapes"):
            safe_join(tmp_path, bad)


def test_lock_file_symlink_is_refused_and_its_target_untouched(tmp_path):
    """A link planted as OUT/.vsgrpo.lock must not make the lock's PID line overwrite what it points at."""
    import os

    import pytest

    from vsgrpo.errors import VsgrpoError
    from vsgrpo.io import LOCK_FILE, run_lock

    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    out = tmp_path / "L"
    out.mkdir()
    os.symlink(victim, out / LOCK_FILE)
    with pytest.raises(VsgrpoError, match="symbolic link"):
        with run_lock(out, "test"):
            pass
    assert victim.read_text() == "precious\n"
    os.symlink(tmp_path / "nowhere", out / "dangling")
    os.replace(out / "dangling", out / LOCK_FILE)  # a dangling link would be created through: refused too
    with pytest.raises(VsgrpoError, match="symbolic link"):
        with run_lock(out, "test"):
            pass
    assert not (tmp_path / "nowhere").exists()


def test_lock_file_that_is_a_fifo_is_refused_without_blocking(tmp_path):
    import os

    import pytest

    from vsgrpo.errors import VsgrpoError
    from vsgrpo.io import LOCK_FILE, run_lock

    os.mkfifo(tmp_path / LOCK_FILE)
    with pytest.raises(VsgrpoError, match="not a regular file"):
        with run_lock(tmp_path, "test"):
            pass


def test_cli_with_a_symlinked_lock_is_one_line(tmp_path):
    import os
    import subprocess
    import sys

    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    out = tmp_path / "L"
    out.mkdir()
    os.symlink(victim, out / ".vsgrpo.lock")
    r = subprocess.run([sys.executable, "-m", "vsgrpo.cli", "data", "synth", "--scenes", "1", "--frames", "4",
                        "--size", "64x48", "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "symbolic link" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert victim.read_text() == "precious\n"
