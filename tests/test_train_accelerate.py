"""`accelerate launch` with 2 CPU processes runs the tiny GRPO recipe to completion."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from train_fixtures import make_train_data
from vsgrpo.models.tiny import build_tiny_model

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_accelerate_two_cpu_processes_run_tiny_grpo_recipe(tmp_path):
    accelerate = shutil.which("accelerate") or pytest.fail("accelerate CLI not on PATH")
    data = make_train_data(tmp_path / "data")
    model = build_tiny_model("qwen2_vl", tmp_path / "model", tokenizer="small")
    out = tmp_path / "run"
    cmd = [accelerate, "launch", "--config_file", str(REPO / "recipes/accelerate/cpu_ddp.yaml"), "--num_processes",
           "2", "-m", "vsgrpo.cli", "train", "grpo", "--config", str(REPO / "recipes/tiny/grpo.yaml"),
           f"model={model}", f"data={data}", f"output_dir={out}", "report_to=[jsonl,tensorboard]"]
    env = {**os.environ, "VSGRPO_PROGRESS": "0", "PYTHONPATH": str(REPO / "src")}
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in rows if "loss" in r]
    # 2 processes x 2 completions = 2 questions per step: half of the 4-question data set per step. The recipe's
    # budget is 4 questions seen (train_questions), so 2 steps here where one process takes 4.
    assert [r["step"] for r in steps] == [1, 2]
    assert steps[0]["epoch"] == pytest.approx(0.5) and steps[-1]["epoch"] == pytest.approx(1.0)
    assert (out / "final" / "adapter_model.safetensors").is_file()
    assert (out / "checkpoint-2" / "trainer_state.json").is_file()
    assert list((out / "runs").rglob("events.out.tfevents.*")), "no TensorBoard events written"
