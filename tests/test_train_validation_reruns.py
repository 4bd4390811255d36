"""Validation while training under rerun, kill and ``--overwrite`` (issue 23): step N exactly once, always this model's.

Before: ``--overwrite`` kept ``eval/``, so the new run's step 0 reused the old model's predictions
(run_eval resumed the old step-0 folder), and a run killed before its first checkpoint and started
again logged step 0 twice (``[0, 0, 1, 2]``).
"""

from __future__ import annotations

import json

import pytest

from fault_harness import run_cli, run_killed
from test_train_paper import _cfg, _eval_parquet, _two_videos

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("val-reruns")
    data = _two_videos(root / "data")
    return data, _eval_parquet(root / "heldout", data.parent)


def _scores(out):
    return [json.loads(x) for x in (out / "eval" / "scores.jsonl").read_text().splitlines()]


def _preds(folder):
    return [json.loads(x)["prediction"] for x in (folder / "samples.jsonl").read_text().splitlines()]


EVAL = ("eval_every=1", "eval_max_new_tokens=4", "eval_batch_size=3")


def test_overwrite_evaluates_the_new_model_not_the_old_one(setup, tmp_path):
    from vsgrpo.eval import run_eval
    from vsgrpo.models.tiny import build_tiny_model
    from vsgrpo.train.runner import run_grpo

    data, heldout = setup
    old = build_tiny_model("qwen2_vl", tmp_path / "old", tokenizer="small", seed=1)
    new = build_tiny_model("qwen2_vl", tmp_path / "new", tokenizer="small", seed=2)
    out = tmp_path / "run"
    run_grpo(_cfg(old, data, out, "max_steps=1", f"eval_questions={heldout}", *EVAL))
    old_step0 = _preds(out / "eval" / "step-0")
    run_grpo(_cfg(new, data, out, "max_steps=1", f"eval_questions={heldout}", *EVAL), overwrite=True)
    assert [s["step"] for s in _scores(out)] == [0, 1]
    fresh = tmp_path / "fresh-eval"
    run_eval(model=str(new), questions=str(heldout), videos=str(heldout.parent / "videos"), out=str(fresh), frames=4,
             max_new_tokens=4, batch_size=3, backend_options={"device": "cpu", "dtype": "float32"})
    assert _preds(out / "eval" / "step-0") == _preds(fresh)  # this model's step 0
    assert _preds(fresh) != old_step0  # (the two models answer differently, so the check can fail)


def test_killed_before_the_first_checkpoint_then_rerun_logs_each_step_once(setup, tiny_model, tmp_path):
    data, heldout = setup
    out = tmp_path / "run"
    args = ["train", "grpo", f"model={tiny_model}", f"data={data}", f"output_dir={out}", "num_frames=4",
            "num_generations=2", "per_device_train_batch_size=2", "max_completion_length=6", "report_to=[jsonl]",
            "lora_r=4", "lora_alpha=8", "max_steps=2", f"eval_questions={heldout}", *EVAL]
    # Killed as the step-1 evaluation starts: step 0 is evaluated and recorded, no checkpoint exists yet.
    run_killed("vsgrpo.train.validation:ValidationCallback._run:2:before", *args)
    assert [s["step"] for s in _scores(out)] == [0] and not list(out.glob("checkpoint-*"))
    r = run_cli(*args)  # no checkpoint: a plain rerun starts from step 0
    assert r.returncode == 0, r.stderr[-2000:]
    assert [s["step"] for s in _scores(out)] == [0, 1, 2]
    logged = [row["step"] for row in map(json.loads, (out / "metrics.jsonl").read_text().splitlines())
              if "eval/overall" in row]
    assert logged == [0, 1, 2]
