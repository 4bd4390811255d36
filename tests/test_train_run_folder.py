"""The run folder's checks and the training budget, without training (fast).

- A checkpoint file in torch.save's zip format that would not unpickle (garbled or cut pickle, a
  tensor storage missing from the archive) is damage: resume falls back to the newest intact
  checkpoint instead of failing with a traceback (issue 23).
- The budget (issue 19 item 7): steps, questions per step and epochs for a number of GPUs.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from vsgrpo.train.config import load_config
from vsgrpo.train.run_folder import checkpoint_problem, last_checkpoint

REPO = Path(__file__).resolve().parents[1]


def _checkpoint(folder: Path, step: int) -> Path:
    """A checkpoint as the Trainer writes it: real safetensors adapter, real torch.save rng/optimizer files."""
    import random

    import numpy as np
    import torch
    from safetensors.torch import save_file

    folder.mkdir(parents=True)
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": step, "log_history": []}))
    save_file({"base_model.model.layer.lora_A.weight": torch.ones(2, 4)}, str(folder / "adapter_model.safetensors"))
    torch.save({"python": random.getstate(), "numpy": np.random.get_state(), "cpu": torch.random.get_rng_state()},
               folder / "rng_state.pth")
    model = torch.nn.Linear(4, 4)
    opt = torch.optim.AdamW(model.parameters())
    model(torch.ones(1, 4)).sum().backward()
    opt.step()
    torch.save(opt.state_dict(), folder / "optimizer.pt")
    return folder


def _rewrite_zip(path: Path, change) -> None:
    with zipfile.ZipFile(path) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    entries = change(entries)
    with zipfile.ZipFile(path, "w") as z:
        for n, data in entries.items():
            z.writestr(n, data)


def _garble_pickle(entries):
    return {n: (b"\x80\x02}q\x00garbage" if n.endswith("data.pkl") else d) for n, d in entries.items()}


def _cut_pickle(entries):
    return {n: (d[: len(d) // 2] if n.endswith("data.pkl") else d) for n, d in entries.items()}


def _drop_a_storage(entries):
    storages = sorted(n for n in entries if "/data/" in n)
    return {n: d for n, d in entries.items() if n != storages[0]}


ZIP_DAMAGE = {"garbled pickle": ("rng_state.pth", _garble_pickle), "cut pickle": ("optimizer.pt", _cut_pickle),
              "missing tensor storage": ("optimizer.pt", _drop_a_storage)}


@pytest.mark.parametrize("damage", list(ZIP_DAMAGE))
def test_a_zip_that_does_not_unpickle_is_damage_and_resume_falls_back(damage, tmp_path):
    import torch

    intact = _checkpoint(tmp_path / "checkpoint-2", 2)
    newest = _checkpoint(tmp_path / "checkpoint-4", 4)
    assert checkpoint_problem(newest) is None and last_checkpoint(tmp_path) == newest
    name, change = ZIP_DAMAGE[damage]
    _rewrite_zip(newest / name, change)
    assert zipfile.ZipFile(newest / name).testzip() is None  # still a valid zip
    with pytest.raises(Exception):  # noqa: B017 - whatever torch raises: the file does not load
        torch.load(newest / name, weights_only=False)
    problem = checkpoint_problem(newest)
    assert problem and problem.startswith(name), problem
    with pytest.warns(UserWarning, match="skipping damaged checkpoint"):
        assert last_checkpoint(tmp_path) == intact


# ----------------------------------------------------------------------------- budget

@pytest.mark.parametrize("gpus,steps,per_step", [(1, 12000, 4), (8, 1500, 32)])
def test_paper_recipe_budget_is_questions_seen_whatever_the_gpus(gpus, steps, per_step):
    from vsgrpo.train.budget import budget

    cfg = load_config("grpo", REPO / "recipes/paper/vsgrpo-2b.yaml", check_paths=False)
    assert cfg.max_steps <= 0 and cfg.train_questions > 0  # the recipe states questions, not steps
    b = budget(cfg, gpus=gpus)
    # 14 completions per micro-step = 1 question, x 4 accumulation steps, x GPUs.
    assert b["questions_per_step"] == per_step and b["steps"] == steps
    assert b["questions_seen"] == cfg.train_questions and b["completions_per_step"] == per_step * 14


def test_epochs_budget_counts_the_data(train_data):
    from vsgrpo.train.budget import budget

    cfg = load_config("sft", REPO / "recipes/paper/sft-2b.yaml", [f"data={train_data}", "num_train_epochs=3",
                                                                 "per_device_train_batch_size=1",
                                                                 "gradient_accumulation_steps=2"], check_paths=False)
    b = budget(cfg, gpus=1)  # 4 questions, 2 per step: 2 steps an epoch
    assert (b["data_questions"], b["questions_per_step"], b["steps"], b["epochs"]) == (4, 2, 6, 3.0)
    b = budget(cfg, gpus=2)
    assert (b["questions_per_step"], b["steps"], b["epochs"]) == (4, 3, 3.0)


def test_train_questions_sets_the_trainers_max_steps_per_world_size(monkeypatch):
    from vsgrpo.train.trl_args import common_args, grpo_args

    cfg = load_config("grpo", REPO / "recipes/paper/vsgrpo-2b.yaml", ["train_questions=64"], check_paths=False)
    monkeypatch.setenv("WORLD_SIZE", "2")  # as accelerate sets it in each of 2 processes
    assert common_args(cfg)["max_steps"] == 8  # 2 GPUs x 4 questions a step
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert grpo_args(cfg, [1.0]).max_steps == 16
    cfg = load_config("grpo", REPO / "recipes/paper/vsgrpo-2b.yaml", ["train_questions=64", "max_steps=5"],
                      check_paths=False)
    assert grpo_args(cfg, [1.0]).max_steps == 5  # max_steps overrides


def test_dry_run_prints_the_budget_for_gpus(capsys):
    from vsgrpo.cli import main

    assert main(["train", "grpo", "--config", str(REPO / "recipes/paper/vsgrpo-7b.yaml"), "--dry-run",
                 "--gpus", "8"]) == 0
    out = capsys.readouterr()
    b = json.loads(out.out)["budget"]
    assert (b["gpus"], b["steps"], b["questions_per_step"]) == (8, 1500, 32)
    assert "8 GPU(s): 1,500 steps x 32 questions = 48,000 questions" in out.err
    assert main(["train", "grpo", "--config", str(REPO / "recipes/paper/vsgrpo-7b.yaml"), "--dry-run",
                 "--gpus", "0"]) == 2
    assert "--gpus" in capsys.readouterr().err


@pytest.mark.parametrize("recipe", sorted((REPO / "recipes").glob("*/*.yaml")), ids=lambda p: p.name)
def test_recipes_state_the_budget_in_questions_or_epochs(recipe):
    import yaml

    keys = yaml.safe_load(recipe.read_text())
    if "method" not in keys:
        pytest.skip("not a training recipe")
    assert "max_steps" not in keys and ("train_questions" in keys or "num_train_epochs" in keys)
