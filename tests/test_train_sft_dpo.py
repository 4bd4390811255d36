"""SFT and DPO baselines with video on a tiny model; DPO negatives score 0."""

from __future__ import annotations

import json
import random

import pytest

from train_fixtures import AllVisionTowers
from vsgrpo.errors import VsgrpoError
from vsgrpo.models.families import names
from vsgrpo.rewards import score_answer
from vsgrpo.train.config import load_config
from vsgrpo.train.data import load_rows, wrong_answer
from vsgrpo.train.runner import dpo_rows, run_dpo, run_sft


def _common(tiny, data, out):
    return [f"model={tiny}", f"data={data}", f"output_dir={out}", "num_frames=4", "max_steps=2",
            "per_device_train_batch_size=2", "lora=true", "lora_r=4", "lora_alpha=8", "learning_rate=1e-3",
            "report_to=[jsonl]"]


def _metrics(out):
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_sft_runs_with_video_and_supervises_only_the_answer(tiny_model, train_data, tmp_path):
    from vsgrpo.models.loading import load_processor
    from vsgrpo.train.collators import VideoSFTCollator
    from vsgrpo.train.data import VideoLoader, answer_text

    rows = [{**r, "answer": answer_text(r)} for r in load_rows(train_data)]
    processor = load_processor(tiny_model)
    batch = VideoSFTCollator(processor, VideoLoader(4))(rows[:2])
    assert "pixel_values_videos" in batch and batch["video_grid_thw"].shape[0] == 2
    for i, row in enumerate(rows[:2]):
        supervised = batch["input_ids"][i][batch["labels"][i] != -100]
        assert processor.tokenizer.decode(supervised) == row["answer"] + "<|im_end|>"

    with AllVisionTowers() as rec:
        out = run_sft(load_config("sft", None, _common(tiny_model, train_data, tmp_path / "sft")))
    assert [g for _, g in rec.calls] == [True, True]  # one forward per step, with gradients
    losses = [r["loss"] for r in _metrics(out) if "loss" in r]
    assert len(losses) == 2 and all(l > 0 for l in losses)
    assert (out / "final" / "adapter_model.safetensors").is_file()


def test_dpo_runs_with_video_in_policy_and_reference(tiny_model, train_data, tmp_path):
    with AllVisionTowers() as rec:
        out = run_dpo(load_config("dpo", None, _common(tiny_model, train_data, tmp_path / "dpo")))
    # Per step: policy pass with gradients, reference pass (adapters off) without.
    assert sorted(g for _, g in rec.calls) == [False, False, True, True]
    rows = [r for r in _metrics(out) if "rewards/margins" in r]
    assert len(rows) == 2


def test_dpo_negatives_are_wrong_and_score_zero(train_data):
    rows = dpo_rows(load_rows(train_data), seed=1)
    assert len(rows) == 4
    for r in rows:
        assert r["chosen"] == r["ground_truth"] and r["rejected"] != r["chosen"]
        assert score_answer(r["chosen"], r["ground_truth"], r["question_type"]) == 1.0
        for shape in ("linear", "mra", "metric"):
            assert score_answer(r["rejected"], r["ground_truth"], r["question_type"], na_shape=shape) == 0.0
    direction = next(r for r in rows if r["question_type"] == "object_rel_direction_medium")
    assert direction["rejected"] in {"right", "back"}
    closest = next(r for r in rows if r["question_type"] == "object_rel_distance")
    assert closest["rejected"] in {"chair", "lamp", "door"}
    rng = random.Random(0)
    for gt in ("1", "2", "0.4", "17.5", "312"):
        row = {"question_type": "object_counting", "ground_truth": gt, "question": ""}
        for _ in range(10):
            bad = wrong_answer(row, rng)
            assert float(bad) > 0 and score_answer(bad, gt, "object_counting", na_shape="metric") == 0.0


def test_sft_rejects_reasoning_modes(tiny_model, train_data, tmp_path):
    with pytest.raises(VsgrpoError, match="mode=vanilla"):
        run_sft(load_config("sft", None, _common(tiny_model, train_data, tmp_path / "x") + ["mode=think"]))


# The Qwen families share one adapter base (the qwen2_vl tests above cover it); every other family runs here.
@pytest.mark.parametrize("family", [f for f in names() if not f.startswith("qwen")])
def test_sft_and_dpo_other_family_with_video_in_every_pass(family, train_data, tmp_path):
    from vsgrpo.models.families import get_family
    from vsgrpo.models.loading import load_processor
    from vsgrpo.models.tiny import build_tiny_model
    from vsgrpo.train.collators import VideoSFTCollator
    from vsgrpo.train.data import VideoLoader, answer_text

    model = build_tiny_model(family, tmp_path / "model", tokenizer="small")
    fam = get_family(family)
    rows = [{**r, "answer": answer_text(r)} for r in load_rows(train_data)]
    processor = load_processor(model)
    batch = VideoSFTCollator(processor, VideoLoader(4))(rows[:2])
    assert set(fam.video_keys) <= set(batch)
    for i, row in enumerate(rows[:2]):
        supervised = batch["input_ids"][i][batch["labels"][i] != -100]
        assert processor.tokenizer.decode(supervised) == row["answer"] + fam.end_of_turn
    with AllVisionTowers() as rec:
        run_sft(load_config("sft", None, _common(model, train_data, tmp_path / "sft")))
    assert [g for _, g in rec.calls] == [True, True]
    with AllVisionTowers() as rec:
        out = run_dpo(load_config("dpo", None, _common(model, train_data, tmp_path / "dpo")))
    assert sorted(g for _, g in rec.calls) == [False, False, True, True]
    assert len([r for r in _metrics(out) if "rewards/margins" in r]) == 2
