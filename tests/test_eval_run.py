"""`vsgrpo eval run/score/report` end to end with a tiny random Qwen2-VL (real Qwen tokenizer) on CPU."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vsgrpo.cli import main
from vsgrpo.models.families import names

FRAMES = 4


@pytest.fixture(scope="module")
def bench(tmp_path_factory, vsibench_dir):
    """A tiny model, 10 real VSI-Bench questions (1 per type) and real mp4s; one scene's video is
    missing and one is corrupt."""
    from vsgrpo.models.tiny import build_tiny_model
    from vsgrpo.video import write_video

    root = tmp_path_factory.mktemp("evalbench")
    model = build_tiny_model("qwen2_vl", root / "tiny-qwen2-vl", tokenizer="qwen")
    df = pd.read_parquet(vsibench_dir / "test-dev.parquet")
    sub = pd.concat([df[df.question_type == t].head(1) for t in sorted(df.question_type.unique())])
    questions = root / "questions.parquet"
    sub.to_parquet(questions)
    per_scene = sub.groupby(["dataset", "scene_name"]).size().sort_values(kind="stable")
    scenes = list(per_scene.index)
    missing, corrupt = scenes[0], scenes[1]  # the scenes with fewest questions: most samples still run
    rng = np.random.default_rng(0)
    videos = root / "videos"
    for ds, scene in scenes:
        path = videos / ds / f"{scene}.mp4"
        if (ds, scene) == missing:
            continue
        if (ds, scene) == corrupt:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"this is not an mp4 file")
            continue
        write_video(path, rng.integers(0, 256, (12, 48, 64, 3), dtype=np.uint8), fps=6)
    bad = {tuple(s) for s in (missing, corrupt)}
    bad_ids = {int(r.id) for r in sub.itertuples() if (r.dataset, r.scene_name) in bad}
    return {"root": root, "model": model, "questions": questions, "videos": videos, "df": sub, "bad_ids": bad_ids}


def _run_args(b, out, *extra):
    return ["eval", "run", "--model", str(b["model"]), "--questions", str(b["questions"]), "--videos",
            str(b["videos"]), "--frames", str(FRAMES), "--out", str(out), *extra]


def _samples(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def finished_run(bench):
    out = bench["root"] / "run"
    assert main(_run_args(bench, out, "--batch-size", "4", "--max-new-tokens", "8")) == 0
    return out


def test_run_end_to_end(bench, finished_run, capsys, lmms_vsibench):
    out = finished_run
    rows = _samples(out / "samples.jsonl")
    df = bench["df"]
    assert [r["id"] for r in rows] == [int(i) for i in df.id]  # every question once, in file order
    for r, q in zip(rows, df.itertuples()):
        doc = {"question": q.question, "question_type": q.question_type,
               "options": list(q.options) if q.options is not None else None}
        assert r["prompt"] == lmms_vsibench.vsibench_doc_to_text(doc)  # the text VSI-Bench's harness sends
        assert r["question_type"] == q.question_type and r["ground_truth"] == q.ground_truth
        if r["id"] in bench["bad_ids"]:
            assert r["error"].startswith("video:") and r["prediction"] is None and r["score"] is None
        else:
            assert r["error"] is None and isinstance(r["prediction"], str) and 0.0 <= r["score"] <= 1.0
    results = json.loads((out / "results.json").read_text())
    assert results["errors"] == len(bench["bad_ids"]) > 0
    assert results["count"] == len(df) - len(bench["bad_ids"])
    assert set(results) >= {"scores", "overall", "count", "errors", "missing_tasks"}
    assert (out / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = (out / "results.md").read_text()
    assert "| run |" in table and "RelDir" in table
    config = json.loads((out / "config.json").read_text())
    assert config["max_new_tokens"] == 8 and config["backend_info"]["backend"] == "hf"

    # `eval score` on the run's own samples gives the same results.
    capsys.readouterr()
    assert main(["eval", "score", "--questions", str(bench["questions"]), "--predictions",
                 str(out / "samples.jsonl")]) == 0
    rescored = json.loads(capsys.readouterr().out)
    assert rescored["scores"] == results["scores"] and rescored["errors"] == results["errors"]

    # Same settings again: nothing to do, same results; other settings: refused.
    assert main(_run_args(bench, out, "--batch-size", "2", "--max-new-tokens", "8")) == 0
    assert _samples(out / "samples.jsonl") == rows
    assert main(_run_args(bench, out, "--max-new-tokens", "8", "--mode", "think")) == 2
    assert "mode" in capsys.readouterr().err


def test_batched_generation_matches_one_by_one(bench, tmp_path):
    from vsgrpo.eval import run_eval

    common = dict(model=str(bench["model"]), questions=str(bench["questions"]), videos=str(bench["videos"]),
                  frames=FRAMES, limit=4, max_new_tokens=6)
    run_eval(out=str(tmp_path / "b1"), batch_size=1, **common)
    run_eval(out=str(tmp_path / "b4"), batch_size=4, **common)
    one = [r["prediction"] for r in _samples(tmp_path / "b1" / "samples.jsonl")]
    four = [r["prediction"] for r in _samples(tmp_path / "b4" / "samples.jsonl")]
    assert one == four and any(p for p in one)


def test_resume_after_kill(bench, tmp_path):
    out = tmp_path / "killed"
    args = _run_args(bench, out, "--limit", "8", "--max-new-tokens", "8")
    cmd = [sys.executable, "-m", "vsgrpo.cli", *args, "--batch-size", "1"]
    env = {**os.environ, "VSGRPO_PROGRESS": "0"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    samples = out / "samples.jsonl"
    deadline = time.time() + 120
    try:
        while time.time() < deadline and proc.poll() is None:
            if samples.exists() and samples.read_bytes().count(b"\n") >= 2:
                break
            time.sleep(0.01)
        assert proc.poll() is None, f"run ended before it could be killed: {proc.stderr.read().decode()[-500:]}"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    before = {r["id"]: r for r in _samples(samples)}
    total = 8
    assert 2 <= len(before) < total
    with open(samples, "ab") as f:  # a line torn by the crash, as a kill during write() leaves it
        f.write(b'{"id": 99999, "prediction": "hal')

    assert main([*args, "--batch-size", "4"]) == 0
    rows = _samples(samples)
    ids = [r["id"] for r in rows]
    assert ids == [int(i) for i in bench["df"].id[:total]]  # each id once, in question order
    after = {r["id"]: r for r in rows}
    for qid, row in before.items():  # finished samples were kept, not generated again
        assert after[qid]["prediction"] == row["prediction"] and after[qid]["seconds"] == row["seconds"]
    results = json.loads((out / "results.json").read_text())
    assert results["count"] + results["errors"] == total


def test_report_puts_runs_side_by_side(bench, finished_run, tmp_path, capsys):
    import shutil

    shutil.copytree(finished_run, tmp_path / "base")
    shutil.copytree(finished_run, tmp_path / "lenient")
    # A finished run rerun with other scoring settings is only rescored (nothing generated).
    assert main(_run_args(bench, tmp_path / "lenient", "--max-new-tokens", "8", "--parser", "lmms-eval")) == 0
    lenient = json.loads((tmp_path / "lenient" / "results.json").read_text())
    assert lenient["scoring"]["parser"] == "lmms-eval"
    capsys.readouterr()
    assert main(["eval", "report", str(tmp_path / "base"), str(tmp_path / "lenient"),
                 "--out", str(tmp_path / "cmp")]) == 0
    table = capsys.readouterr().out
    assert "| base |" in table and "| lenient |" in table
    assert (tmp_path / "cmp" / "report.md").read_text() == table
    assert (tmp_path / "cmp" / "report.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["eval", "report", str(tmp_path / "nothing-here")]) == 2


@pytest.mark.parametrize("family", [f for f in names() if f != "qwen2_vl"])
def test_other_families_batched_equals_one_by_one(family, bench, tmp_path):
    from vsgrpo.eval import run_eval
    from vsgrpo.models.tiny import build_tiny_model

    model = build_tiny_model(family, tmp_path / family, tokenizer="small")
    common = dict(model=str(model), questions=str(bench["questions"]), videos=str(bench["videos"]),
                  frames=FRAMES, limit=3, max_new_tokens=4)
    one = run_eval(out=str(tmp_path / "b1"), batch_size=1, **common)
    three = run_eval(out=str(tmp_path / "b3"), batch_size=3, **common)
    assert one["count"] + one["errors"] == 3 and one["scores"] == three["scores"]
    preds = [[r["prediction"] for r in _samples(tmp_path / d / "samples.jsonl")] for d in ("b1", "b3")]
    assert preds[0] == preds[1]
