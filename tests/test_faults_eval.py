"""Fault suite, `eval run`: kills at chosen moments, a second writer, lost settings, a full disk, read-only output.

A tiny random Qwen2-VL answers 8 real VSI-Bench questions from real mp4s. Greedy decoding with
batch size 1 is deterministic, so a resumed run must end with exactly the samples (timings
aside) and results of an uninterrupted one, each id once.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess

import numpy as np
import pandas as pd
import pytest

from fault_harness import (
    error_line,
    file_size_limit,
    read_only,
    run_cli,
    run_killed,
    small_disk,
    start_paused,
    temp_files,
)

N = 8


@pytest.fixture(scope="module")
def bench(tmp_path_factory, vsibench_dir, tiny_model):
    from vsgrpo.video import write_video

    root = tmp_path_factory.mktemp("eval-faults")
    df = pd.read_parquet(vsibench_dir / "test-dev.parquet")
    sub = pd.concat([df[df.question_type == t].head(1) for t in sorted(df.question_type.unique())]).head(N)
    questions = root / "questions.parquet"
    sub.to_parquet(questions)
    rng = np.random.default_rng(0)
    for ds, scene in sorted({(r.dataset, r.scene_name) for r in sub.itertuples()}):
        write_video(root / "videos" / ds / f"{scene}.mp4", rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8), fps=3)
    return {"root": root, "model": tiny_model, "questions": questions, "videos": root / "videos",
            "ids": [int(i) for i in sub.id]}


def _args(b, out, *extra, frames=2, videos=None):
    return ["eval", "run", "--model", b["model"], "--questions", b["questions"], "--videos", videos or b["videos"],
            "--frames", str(frames), "--max-new-tokens", "4", "--batch-size", "1", "--out", out, *extra]


def _state(out):
    """What a run leaves: samples (without timings) in file order and the results."""
    rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    for r in rows:
        r.pop("seconds")
    return rows, json.loads((out / "results.json").read_text())


@pytest.fixture(scope="module")
def reference(bench):
    out = bench["root"] / "ref"
    r = run_cli(*_args(bench, out))
    assert r.returncode == 0, r.stderr
    return _state(out)


def _assert_complete(out, reference, bench):
    assert temp_files(out) == []
    rows, results = _state(out)
    assert [r["id"] for r in rows] == bench["ids"]  # each id once, none missing, question order
    assert (rows, results) == reference


KILLS = [
    ("after the first sample", "vsgrpo.eval.samples:SampleWriter.write:1:after"),
    ("after five samples", "vsgrpo.eval.samples:SampleWriter.write:5:after"),
    ("all samples written, not yet rescored", "vsgrpo.eval.runner:finish_run:1:before"),
    ("compacted samples written, not renamed", "vsgrpo.io:commit:3:before"),
]


@pytest.mark.parametrize("moment,spec", KILLS, ids=[k[0] for k in KILLS])
def test_kill_then_rerun_equals_uninterrupted(moment, spec, bench, reference, tmp_path):
    out = tmp_path / "run"
    run_killed(spec, *_args(bench, out))
    r = run_cli(*_args(bench, out))
    assert r.returncode == 0, r.stderr
    _assert_complete(out, reference, bench)


@pytest.mark.slow
def test_killed_three_times_then_finished(bench, reference, tmp_path):
    out = tmp_path / "run"
    for n in (2, 2, 3):  # each rerun makes progress before it is killed again
        run_killed(f"vsgrpo.eval.samples:SampleWriter.write:{n}:after", *_args(bench, out))
    r = run_cli(*_args(bench, out))
    assert r.returncode == 0, r.stderr
    _assert_complete(out, reference, bench)


def test_concurrent_run_with_other_settings_is_refused(bench, reference, tmp_path):
    """Issue 14 item 2: `--frames 16` and `--frames 8` into one folder mixed silently; now the second is refused."""
    out = tmp_path / "run"
    first = start_paused("vsgrpo.eval.samples:SampleWriter.write:2:stop", *_args(bench, out))
    try:
        for frames in (2, 3):  # same settings (work done twice) or other settings (mixed): both refused
            line = error_line(run_cli(*_args(bench, out, frames=frames)))
            assert f"PID {first.pid}" in line
    finally:
        first.send_signal(signal.SIGCONT)
        first.wait(timeout=300)
    assert first.returncode == 0, first.stderr.read()
    _assert_complete(out, reference, bench)


@pytest.fixture(scope="module")
def killed(bench):
    """A run killed after 3 of 8 samples."""
    out = bench["root"] / "killed"
    run_killed("vsgrpo.eval.samples:SampleWriter.write:3:after", *_args(bench, out))
    return out


@pytest.mark.parametrize("damage", ["missing", "truncated", "empty object"])
def test_lost_config_does_not_disable_the_resume_check(damage, bench, killed, tmp_path):
    """Issue 14 item 3: without a readable config.json a rerun with other settings relabelled old samples."""
    out = tmp_path / "run"
    shutil.copytree(killed, out)
    cfg = out / "config.json"
    if damage == "missing":
        cfg.unlink()
    elif damage == "truncated":
        cfg.write_text(cfg.read_text()[:25])
    else:
        cfg.write_text("{}")
    line = error_line(run_cli(*_args(bench, out, frames=3)))
    assert "--overwrite" in line and "config.json" in line
    if damage == "missing":
        r = run_cli(*_args(bench, out, "--overwrite", frames=3))
        assert r.returncode == 0, r.stderr
        assert json.loads(cfg.read_text())["frames"] == 3
        rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
        assert [r["id"] for r in rows] == bench["ids"]


def test_other_settings_are_refused(bench, killed, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(killed, out)
    before = (out / "samples.jsonl").read_bytes()
    assert "frames=2" in error_line(run_cli(*_args(bench, out, frames=3)))
    assert (out / "samples.jsonl").read_bytes() == before


def test_disk_full_then_rerun(bench, reference, tmp_path):
    with small_disk(0.008) as disk:
        if disk is None:
            out = tmp_path / "run"
            r = run_cli(*_args(bench, out), preexec_fn=file_size_limit(2500))
        else:
            out = disk / "run"
            r = run_cli(*_args(bench, out))
        assert "cannot write output" in error_line(r)
        assert temp_files(out) == []
        if disk is not None:
            assert subprocess.run(["mount", "-o", "remount,size=2m", str(disk)]).returncode == 0
        r = run_cli(*_args(bench, out))
        assert r.returncode == 0, r.stderr
        _assert_complete(out, reference, bench)


def test_score_out_on_read_only_folder(bench, reference, tmp_path):
    ro = tmp_path / "ro"
    with read_only(ro):
        r = run_cli("eval", "score", "--questions", bench["questions"], "--predictions",
                    bench["root"] / "ref" / "samples.jsonl", "--out", ro / "results.json")
        assert "cannot write output" in error_line(r)


def test_every_sample_failing_exits_nonzero(bench, tmp_path):
    """Issue 14 item 11: an empty videos folder failed every sample and still exited 0."""
    empty = tmp_path / "no-videos"
    empty.mkdir()
    r = run_cli(*_args(bench, tmp_path / "run", videos=empty))
    assert "every sample failed" in error_line(r, code=1)


def test_symlinked_videos_are_read(bench, reference, tmp_path):
    """Issue 14 item 6: a dataset folder linked into the videos root was refused as an escape."""
    videos = tmp_path / "videos"
    videos.mkdir()
    for d in bench["videos"].iterdir():
        os.symlink(d, videos / d.name)
    out = tmp_path / "run"
    r = run_cli(*_args(bench, out, videos=videos))
    assert r.returncode == 0, r.stderr
    rows, results = _state(out)
    assert results["errors"] == 0 and results == reference[1]
