"""`train ... --estimate`: real optimizer steps measured on the user's own data, projected onto the recipe's
budget, and nothing left behind."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vsgrpo.cli import main
from vsgrpo.train.config import load_config
from vsgrpo.train.estimate import estimate, format_estimate

REPO = Path(__file__).resolve().parents[1]


def test_estimate_measures_steps_and_projects_the_budget(tiny_model, train_data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load_config("grpo", str(REPO / "recipes/tiny/grpo.yaml"),
                      [f"model={tiny_model}", f"data={train_data}", f"output_dir={tmp_path / 'run'}",
                       "train_questions=400"])
    res = estimate(cfg, steps=2, gpus=4)
    assert res["steps_measured"] == 2 and res["seconds_per_step"] > 0 and res["peak_rss_gib"] > 0.1
    one, four = res["budget"]
    # 400 questions: the steps follow the budget module, and 4 devices take a quarter of them.
    from vsgrpo.train.budget import budget

    assert one["steps"] == budget(cfg, gpus=1)["steps"] and four["steps"] == budget(cfg, gpus=4)["steps"]
    assert four["steps"] * 4 == pytest.approx(one["steps"], abs=4)
    assert one["wall_hours"] == pytest.approx(one["steps"] * res["seconds_per_step"] / 3600)
    assert four["device_hours"] == pytest.approx(four["wall_hours"] * 4)
    assert not (tmp_path / "run").exists()  # the recipe's output folder is never written
    text = format_estimate(res)
    assert re.search(r"s per optimizer step", text) and "4 device(s)" in text


def test_estimate_cli_and_bad_steps(tiny_model, train_data, tmp_path, capsys):
    args = ["train", "sft", "--config", str(REPO / "recipes/tiny/sft.yaml"), f"model={tiny_model}",
            f"data={train_data}", f"output_dir={tmp_path / 'sft'}"]
    assert main([*args, "--estimate", "--estimate-steps", "1"]) == 0
    assert "1 device(s):" in capsys.readouterr().out
    assert not (tmp_path / "sft").exists()
    assert main([*args, "--estimate", "--estimate-steps", "0"]) == 2
    assert "--estimate-steps" in capsys.readouterr().err
