"""`vsgrpo model tiny --out DIR` never deletes what it did not write (issue: it used to remove DIR whole)."""

from __future__ import annotations

import contextlib
import io

from vsgrpo.cli import main
from vsgrpo.models.tiny import MANIFEST


def _tiny(*argv: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main(["model", "tiny", "--tokenizer", "small", "--hidden-size", "32", "--layers", "1", *argv])
    return rc, err.getvalue()


def test_a_folder_holding_other_files_is_refused_then_written_beside_them(tmp_path):
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work\n", encoding="utf-8")
    rc, err = _tiny("--out", str(out))
    assert rc == 2 and err.startswith("vsgrpo: error:") and "--overwrite" in err
    assert sorted(p.name for p in out.iterdir()) == ["thesis.tex"]  # nothing added, nothing removed

    rc, err = _tiny("--out", str(out), "--overwrite")
    assert rc == 0, err
    assert (out / "thesis.tex").read_text(encoding="utf-8") == "years of work\n"
    assert (out / "model.safetensors").is_file() and (out / "config.json").is_file()

    # A folder this command built is rebuilt in place without --overwrite; the user's file stays.
    first = (out / "model.safetensors").read_bytes()
    rc, err = _tiny("--out", str(out), "--seed", "1")
    assert rc == 0, err
    assert (out / "model.safetensors").read_bytes() != first
    assert (out / "thesis.tex").is_file()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".thesis.")]  # its temporary folder is gone


def test_the_current_folder_and_a_file_are_never_emptied(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "canary").write_text("alive\n", encoding="utf-8")
    rc, err = _tiny("--out", ".")
    assert rc == 2 and len(err.strip().splitlines()) == 1
    rc, err = _tiny("--out", "canary")
    assert rc == 2 and "is a file" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["canary"]
    assert (tmp_path / "canary").read_text(encoding="utf-8") == "alive\n"


def test_a_rebuild_removes_only_the_files_its_manifest_lists(tmp_path):
    out = tmp_path / "m"
    assert _tiny("--out", str(out))[0] == 0
    import json

    listed = json.loads((out / MANIFEST).read_text(encoding="utf-8"))["files"]
    assert "model.safetensors" in listed and MANIFEST not in listed
    (out / "notes.txt").write_text("mine\n", encoding="utf-8")  # added by the user after the build
    assert _tiny("--out", str(out))[0] == 0
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine\n"
