"""`data import` writes its three files together or not at all, stores its settings and has `--overwrite`.

Kills come from the fault harness (a real SIGKILL at the N-th call of a function): after any of
them, a parquet in OUT is always beside the skipped list and summary it was made with, and the
rerun equals an uninterrupted import.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from fault_harness import error_line, file_size_limit, run_cli, run_killed, temp_files, tree
from vsgrpo.video import write_video


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("import-videos")
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        write_video(root / f"{name}.mp4", rng.integers(0, 255, (4, 32, 32, 3), dtype=np.uint8), fps=2)
    return root


def _jsonl(path, good: int, bad: int):
    """``good`` counting questions with a video, ``bad`` rows whose video is missing."""
    rows = [{"question": f"How many chair(s) are in this room? ({i})", "answer": str(i + 1), "video": "a.mp4",
             "question_type": "object_counting"} for i in range(good)]
    rows += [{"question": f"How many table(s) are in this room? ({i})", "answer": "2", "video": "missing.mp4",
              "question_type": "object_counting"} for i in range(bad)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _import(inp, videos, out, *extra):
    return run_cli("data", "import", "--format", "jsonl", "--input", inp, "--videos", videos, "--out", out, *extra)


def _consistent(out) -> bool:
    """No parquet, or a parquet whose summary and skipped list are its own."""
    q = out / "questions.parquet"
    if not q.exists():
        return True
    summary = json.loads((out / "summary.json").read_text())
    skipped = (out / "skipped.jsonl").read_text().splitlines()
    return (summary["questions"] == pq.read_table(q).num_rows and summary["skipped"] == len(skipped)
            and summary.get("questions_sha256") == hashlib.sha256(q.read_bytes()).hexdigest())


MOMENTS = [("after the first rename", "vsgrpo.io:commit:1:after"),
           ("after the second rename", "vsgrpo.io:commit:2:after"),
           ("before the last rename", "vsgrpo.io:commit:3:before"),
           ("while writing the parquet", "pyarrow.parquet:write_table:1:after")]


@pytest.mark.parametrize("moment,spec", MOMENTS, ids=[m[0] for m in MOMENTS])
def test_killed_import_never_leaves_a_mixed_set(moment, spec, videos, tmp_path):
    inp, out, fresh = tmp_path / "in.jsonl", tmp_path / "out", tmp_path / "fresh"
    assert _import(_jsonl(inp, 3, 1), videos, out).returncode == 0  # the previous, complete import
    old = tree(out)
    _jsonl(inp, 2, 2)  # the same file, edited: another set
    run_killed(spec, "data", "import", "--format", "jsonl", "--input", inp, "--videos", videos, "--out", out)
    assert _consistent(out), {p.name: p.read_text()[:200] for p in out.iterdir() if p.suffix != ".parquet"}
    if spec.startswith("pyarrow"):  # killed before any rename: the old set as it was
        assert {k: v for k, v in tree(out).items() if not k.endswith(".tmp")} == old
    r = _import(inp, videos, out)
    assert r.returncode == 0, r.stderr
    assert temp_files(out) == []
    assert _import(inp, videos, fresh).returncode == 0
    assert tree(out, skip=("import_config.json",)) == tree(fresh, skip=("import_config.json",))


def test_failed_import_leaves_the_previous_output(videos, tmp_path):
    """A write that fails part way (file size limit: EFBIG, as a full disk) changes nothing."""
    inp, out = tmp_path / "in.jsonl", tmp_path / "out"
    assert _import(_jsonl(inp, 3, 1), videos, out).returncode == 0
    old = tree(out)
    _jsonl(inp, 40, 2)
    r = run_cli("data", "import", "--format", "jsonl", "--input", inp, "--videos", videos, "--out", out,
                preexec_fn=file_size_limit(2000))
    assert "cannot write output" in error_line(r)
    assert tree(out) == old and temp_files(out) == []


def test_settings_are_stored_and_other_settings_refused(videos, tmp_path):
    inp, out = _jsonl(tmp_path / "in.jsonl", 3, 1), tmp_path / "out"
    assert _import(inp, videos, out).returncode == 0
    stored = json.loads((out / "import_config.json").read_text())
    assert stored["format"] == "jsonl" and stored["input"] == str(inp) and stored["question_type"] is None
    old = tree(out)
    line = error_line(_import(inp, videos, out, "--question-type", "object_size_estimation"))
    assert "--question-type" in line and "--overwrite" in line
    line = error_line(_import(inp, videos, out, "--map", "id=problem_id"))
    assert "--map" in line
    assert tree(out) == old  # nothing touched
    assert _import(inp, videos, out).returncode == 0  # the same settings: imports again in place
    r = _import(inp, videos, out, "--map", "id=problem_id", "--overwrite")
    assert r.returncode == 0, r.stderr
    assert json.loads((out / "import_config.json").read_text())["mapping"] == ["id=problem_id"]
