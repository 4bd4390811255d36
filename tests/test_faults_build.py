"""Fault suite, `data build`: kills at chosen moments, a full disk, a read-only folder, a second writer.

An earlier build (other seed) sits in the folder first, so each case also checks that a kill
never leaves a new questions.parquet beside an old summary.json.
"""

from __future__ import annotations

import json
import signal
import subprocess

import pandas as pd
import pytest

from fault_harness import error_line, file_size_limit, run_cli, run_killed, small_disk, start_paused, temp_files, tree

# (commit 1 is build_config.json, the settings, stored before the work)
KILLS = [
    ("while making questions", "vsgrpo.dataset:_apply_style:5:after", "old"),
    ("questions made, nothing written", "vsgrpo.dataset:write_dataset:1:before", "old"),
    ("both files written, none renamed", "vsgrpo.io:commit:2:before", "old parquet only"),
    ("between the two renames", "vsgrpo.io:commit:2:after", "new parquet only"),
]
SETTINGS = "build_config.json"


@pytest.fixture(scope="module")
def meta(example_meta):
    return example_meta


def _build(meta, out, *extra, **kw):
    return run_cli("data", "build", "--meta", meta, "--out", out, "--tasks", "object_counting,object_size_estimation",
                   *extra, **kw)


@pytest.fixture(scope="module")
def reference(meta, tmp_path_factory):
    out = tmp_path_factory.mktemp("build-ref")
    assert _build(meta, out).returncode == 0
    return tree(out)


@pytest.fixture(scope="module")
def earlier(meta, tmp_path_factory):
    out = tmp_path_factory.mktemp("build-seed1")
    assert _build(meta, out, "--seed", "1").returncode == 0
    return tree(out)


def _prefilled(meta, tmp_path):
    out = tmp_path / "ds"
    assert _build(meta, out, "--seed", "1").returncode == 0
    return out


def _assert_complete(out, reference):
    assert temp_files(out) == [] and not list(out.glob(".*.tmp"))
    assert tree(out) == reference
    ids = pd.read_parquet(out / "questions.parquet")["id"].tolist()
    assert ids == list(range(len(ids)))  # no id missing or duplicated
    assert json.loads((out / "summary.json").read_text())["questions"] == len(ids)


def _hidden_temps(out):
    return sorted(p.name for p in out.glob(".*.tmp"))


@pytest.mark.parametrize("moment,spec,after_kill", KILLS, ids=[k[0] for k in KILLS])
def test_kill_then_rerun_equals_uninterrupted(moment, spec, after_kill, meta, reference, earlier, tmp_path):
    out = _prefilled(meta, tmp_path)
    run_killed(spec, "data", "build", "--meta", meta, "--out", out, "--tasks",
               "object_counting,object_size_estimation", "--overwrite")  # the earlier build has another seed
    files = {k: v for k, v in tree(out).items() if not k.endswith(".tmp")}
    # the new settings were stored before the work: a plain rerun of the killed command is accepted
    assert files.pop(SETTINGS) == reference[SETTINGS]
    earlier = {k: v for k, v in earlier.items() if k != SETTINGS}
    # Never a new parquet beside an old summary: the old summary goes before the new parquet comes.
    if after_kill == "old":
        assert files == earlier  # the earlier build is untouched
    elif after_kill == "old parquet only":
        assert files == {"questions.parquet": earlier["questions.parquet"]}
    else:
        assert files == {"questions.parquet": reference["questions.parquet"]}
    r = _build(meta, out)
    assert r.returncode == 0, r.stderr
    _assert_complete(out, reference)


def test_second_writer_is_refused_with_the_holders_pid(meta, reference, tmp_path):
    out = tmp_path / "ds"
    first = start_paused("vsgrpo.dataset:write_dataset:1:stop", "data", "build", "--meta", meta, "--out", out,
                         "--tasks", "object_counting,object_size_estimation")
    try:
        assert f"PID {first.pid}" in error_line(_build(meta, out))
    finally:
        first.send_signal(signal.SIGCONT)
        first.wait(timeout=300)
    assert first.returncode == 0
    _assert_complete(out, reference)


def test_disk_full_then_rerun(meta, reference, tmp_path):
    with small_disk(0.012) as disk:
        if disk is None:
            out = tmp_path / "ds"
            r = _build(meta, out, preexec_fn=file_size_limit(4000))
        else:
            out = disk / "ds"
            r = _build(meta, out)
        assert "cannot write output" in error_line(r)
        assert not (out / "questions.parquet").exists() and _hidden_temps(out) == []
        if disk is not None:
            assert subprocess.run(["mount", "-o", "remount,size=1m", str(disk)]).returncode == 0
        r = _build(meta, out)
        assert r.returncode == 0, r.stderr
        _assert_complete(out, reference)


# --- settings: one folder, one set of build settings (issue 14) ------------------------------


def test_rerun_with_other_settings_is_refused_unless_overwrite(meta, reference, earlier, tmp_path):
    out = _prefilled(meta, tmp_path)  # built with --seed 1
    before = tree(out)
    line = error_line(_build(meta, out))  # --seed 0
    assert "--seed 1, not 0" in line and "--overwrite" in line
    assert tree(out) == before  # nothing touched
    line = error_line(_build(meta, out, "--seed", "1", "--style", "train"))
    assert "--style bench, not train" in line
    r = _build(meta, out, "--seed", "1")  # the same settings: rebuilds in place
    assert r.returncode == 0, r.stderr
    assert tree(out) == before
    r = _build(meta, out, "--overwrite")
    assert r.returncode == 0, r.stderr
    _assert_complete(out, reference)


def test_task_order_is_not_a_setting(meta, reference, tmp_path):
    out = tmp_path / "ds"
    assert _build(meta, out).returncode == 0
    r = run_cli("data", "build", "--meta", meta, "--out", out, "--tasks", "object_size_estimation,object_counting")
    assert r.returncode == 0, r.stderr  # the same tasks in another order build the same questions
    files = tree(out)
    assert files["questions.parquet"] == reference["questions.parquet"] and files[SETTINGS] == reference[SETTINGS]
    line = error_line(run_cli("data", "build", "--meta", meta, "--out", out, "--tasks", "object_counting"))
    assert "--tasks object_counting,object_size_estimation, not object_counting" in line


def test_older_build_without_settings_is_accepted_and_labelled(meta, reference, tmp_path):
    out = _prefilled(meta, tmp_path)
    (out / SETTINGS).unlink()  # made before settings were stored: unknown, accepted
    r = _build(meta, out)
    assert r.returncode == 0, r.stderr
    _assert_complete(out, reference)


def test_unreadable_settings_are_refused(meta, tmp_path):
    out = _prefilled(meta, tmp_path)
    (out / SETTINGS).write_text("{\"seed\": ")
    assert "cannot be read" in error_line(_build(meta, out, "--seed", "1"))
    assert _build(meta, out, "--seed", "1", "--overwrite").returncode == 0
