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
