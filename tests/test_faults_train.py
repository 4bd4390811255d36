"""Fault suite, `train`: kills at chosen moments, damaged checkpoints, finished runs, a second writer,
a full disk, read-only output.

SFT with a LoRA adapter on a tiny Qwen2-VL (real gradients, deterministic on CPU): a run killed
and resumed must end with the uninterrupted run's adapter, bit for bit, and the same metrics
log (each step once, ``num_tokens`` continuing).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections import Counter

import pytest

from fault_harness import error_line, file_size_limit, run_cli, run_killed, small_disk, temp_files, tree

pytestmark = pytest.mark.slow

STEP_KEYS = ("step", "loss", "grad_norm", "learning_rate", "num_tokens", "mean_token_accuracy")


def _args(model, data, out, *extra, method="sft"):
    return ["train", method, f"model={model}", f"data={data}", f"output_dir={out}", "num_frames=2",
            "per_device_train_batch_size=2", "max_steps=4", "save_steps=2", "lora=true", "lora_r=4", "lora_alpha=8",
            "learning_rate=1e-3", "report_to=[jsonl]", *extra]


def _steps(out):
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [{k: r[k] for k in STEP_KEYS if k in r} for r in rows if "loss" in r]


def _final(out):
    """The trained weights (training_args.bin records the output folder, so it differs between folders)."""
    return {k: v for k, v in tree(out / "final").items() if k.endswith(".safetensors") or k == "adapter_config.json"}


@pytest.fixture(scope="module")
def reference(tiny_model, train_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("train-ref") / "run"
    r = run_cli(*_args(tiny_model, train_data, out))
    assert r.returncode == 0, r.stderr
    return out


def _assert_same_as(out, ref):
    assert temp_files(out) == []
    assert _final(out) == _final(ref)  # adapter bit-identical
    assert _steps(out) == _steps(ref)  # each step once, num_tokens continuing after the resume
    assert sorted(p.name for p in out.glob("checkpoint-*")) == sorted(p.name for p in ref.glob("checkpoint-*"))


KILLS = [
    ("after checkpoint-2", "transformers.trainer:Trainer._save_checkpoint:1:after"),
    ("checkpoint-4 half-saved", "transformers.trainer:Trainer._save_rng_state:2:before"),
    ("trained, final model not written", "transformers.trainer:Trainer.save_model:3:before"),
]


@pytest.mark.parametrize("moment,spec", KILLS, ids=[k[0] for k in KILLS])
def test_kill_then_resume_equals_uninterrupted(moment, spec, tiny_model, train_data, reference, tmp_path):
    out = tmp_path / "run"
    run_killed(spec, *_args(tiny_model, train_data, out))
    r = run_cli(*_args(tiny_model, train_data, out, "--resume"))
    assert r.returncode == 0, r.stderr
    _assert_same_as(out, reference)


@pytest.fixture(scope="module")
def trained_not_saved(tiny_model, train_data, tmp_path_factory):
    """A run killed after its last checkpoint, before final/ (checkpoint-2 and checkpoint-4 intact)."""
    out = tmp_path_factory.mktemp("train-killed") / "run"
    run_killed("transformers.trainer:Trainer.save_model:3:before", *_args(tiny_model, train_data, out))
    return out


def _cut(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _garble_pickle(path):
    """A valid zip whose pickle does not unpickle (issue 23: passed the damage check, then a traceback)."""
    import zipfile

    with zipfile.ZipFile(path) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    with zipfile.ZipFile(path, "w") as z:
        for n, data in entries.items():
            z.writestr(n, b"\x80\x02}q\x00garbage" if n.endswith("data.pkl") else data)


DAMAGE = {
    "half-written optimizer.pt": lambda c: _cut(c / "optimizer.pt"),
    "rng_state.pth that does not unpickle": lambda c: _garble_pickle(c / "rng_state.pth"),
    "empty adapter": lambda c: (c / "adapter_model.safetensors").write_bytes(b""),
    "cut trainer_state.json": lambda c: _cut(c / "trainer_state.json", 0.3),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_newest_checkpoint_falls_back_to_the_intact_one(damage, trained_not_saved, tiny_model, train_data,
                                                                reference, tmp_path):
    """Issue 14 item 5: a damaged newest checkpoint gave a traceback."""
    out = tmp_path / "run"
    shutil.copytree(trained_not_saved, out)
    DAMAGE[damage](out / "checkpoint-4")
    r = run_cli(*_args(tiny_model, train_data, out, "--resume"))
    assert r.returncode == 0, r.stderr
    assert "skipping damaged checkpoint" in r.stderr and "checkpoint-4" in r.stderr
    _assert_same_as(out, reference)


def test_resuming_a_finished_run_does_nothing(tiny_model, train_data, reference, tmp_path):
    """Issue 14 item 4: `--resume` of a finished run trained past max_steps and changed final/."""
    out = tmp_path / "run"
    shutil.copytree(reference, out)
    before = tree(out)
    r = run_cli(*_args(tiny_model, train_data, out, "--resume"))
    assert r.returncode == 0, r.stderr
    assert "already finished" in r.stderr and "nothing to do" in r.stderr
    assert tree(out) == before


def test_resume_with_other_settings_is_refused_then_overwrite_starts_over(tiny_model, train_data, reference, tmp_path):
    out = tmp_path / "run"
    run_killed(KILLS[0][1], *_args(tiny_model, train_data, out))
    line = error_line(run_cli(*_args(tiny_model, train_data, out, "learning_rate=2e-3", "--resume")))
    assert "learning_rate" in line and "--overwrite" in line
    (out / "config.yaml").unlink()  # settings lost: unknown, so refused too
    assert "--overwrite" in error_line(run_cli(*_args(tiny_model, train_data, out, "--resume")))
    r = run_cli(*_args(tiny_model, train_data, out, "--overwrite"))
    assert r.returncode == 0, r.stderr
    _assert_same_as(out, reference)


def test_second_writer_is_refused_with_the_holders_pid(tiny_model, train_data, tmp_path):
    from vsgrpo.io import run_lock

    out = tmp_path / "run"
    with run_lock(out, "test"):
        line = error_line(run_cli(*_args(tiny_model, train_data, out)))
    assert f"PID {os.getpid()}" in line


def test_disk_full_then_resume(tiny_model, train_data, reference, tmp_path):
    from vsgrpo.train.runner import last_checkpoint

    with small_disk(0.2) as disk:
        if disk is None:
            out = tmp_path / "run"
            r = run_cli(*_args(tiny_model, train_data, out), preexec_fn=file_size_limit(60_000))
        else:
            out = disk / "run"
            r = run_cli(*_args(tiny_model, train_data, out))
        assert "cannot write output" in error_line(r)
        assert temp_files(out) == []
        if disk is not None:
            assert subprocess.run(["mount", "-o", "remount,size=64m", str(disk)]).returncode == 0
        resume = ["--resume"] if last_checkpoint(out, warn=False) else []
        r = run_cli(*_args(tiny_model, train_data, out, *resume))
        assert r.returncode == 0, r.stderr
        _assert_same_as(out, reference)


def test_grpo_writes_each_steps_samples_once(tiny_model, train_data, tmp_path):
    """Issue 14 item 8: the last step's samples were written twice."""
    out = tmp_path / "grpo"
    r = run_cli(*_args(tiny_model, train_data, out, "num_generations=2", "max_completion_length=4",
                       method="grpo"))
    assert r.returncode == 0, r.stderr
    per_step = Counter(json.loads(line)["step"] for line in (out / "samples.jsonl").read_text().splitlines())
    assert sorted(per_step) == [1, 2, 3, 4] and len(set(per_step.values())) == 1, per_step
