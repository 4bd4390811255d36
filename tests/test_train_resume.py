"""A GRPO run killed mid-training resumes from its last checkpoint and continues its log."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from train_fixtures import make_train_data
from vsgrpo.models.tiny import build_tiny_model


def _cmd(*args):
    return [sys.executable, "-m", "vsgrpo.cli", "train", "grpo", *args]


@pytest.mark.slow
def test_killed_run_resumes_and_continues_log(tmp_path):
    data = make_train_data(tmp_path / "data")
    model = build_tiny_model("qwen2_vl", tmp_path / "model", tokenizer="small")
    out = tmp_path / "run"
    common = [f"model={model}", f"data={data}", f"output_dir={out}", "num_frames=4", "num_generations=2",
              "per_device_train_batch_size=2", "max_completion_length=6", "save_steps=2", "lora=false",
              "report_to=[jsonl]", "num_train_epochs=1000"]
    env = {**os.environ, "VSGRPO_PROGRESS": "0"}
    proc = subprocess.Popen(_cmd(*common, "max_steps=200"), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 240
        while not (out / "checkpoint-2" / "trainer_state.json").is_file():
            assert proc.poll() is None, "training exited before it could be killed"
            assert time.time() < deadline, "no checkpoint-2 within 4 minutes"
            time.sleep(0.2)
        time.sleep(1.0)  # let it log a step or two past the checkpoint
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    killed_steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()
                    if line.strip()]
    assert max(killed_steps) >= 2
    newest = max(int(p.name.split("-")[1]) for p in out.glob("checkpoint-*")
                 if (p / "trainer_state.json").is_file())
    target = newest + 2

    # Without --resume the run refuses to overwrite the checkpoints.
    refused = subprocess.run(_cmd(*common, f"max_steps={target}"), env=env, capture_output=True, text=True)
    assert refused.returncode == 2 and "--resume" in refused.stderr

    done = subprocess.run(_cmd(*common, f"max_steps={target}", "--resume"), env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in rows if "loss" in r]
    assert steps == list(range(1, target + 1)), steps  # continuous, no duplicates from the killed run
    state = json.loads((out / f"checkpoint-{target - target % 2}" / "trainer_state.json").read_text())
    assert state["global_step"] == target - target % 2
    assert (out / "final" / "model.safetensors").is_file()
