"""vsGRPO trainer on a tiny model and real mp4s: video reaches generation, reference and policy passes."""

from __future__ import annotations

import json

import pytest
import torch

from train_fixtures import AllVisionTowers, VisionCalls, hook_callback, per_sample_blocks, vision_tower
from vsgrpo.models.families import names
from vsgrpo.models.tiny import build_tiny_model
from vsgrpo.rewards import completion_chars
from vsgrpo.train.config import load_config
from vsgrpo.train.runner import run_grpo


def _cfg(tiny, data, out, *extra):
    return load_config("grpo", None, [f"model={tiny}", f"data={data}", f"output_dir={out}", "num_frames=4",
                                      "num_generations=2", "per_device_train_batch_size=2",
                                      "max_completion_length=6", "report_to=[jsonl]", "save_steps=100",
                                      "learning_rate=1e-3", *extra])


def _varied(prompts=None, completions=(), **kw):
    # A reward that differs between completions, so advantages (and hence gradients) are non-zero.
    return completion_chars(prompts, completions)


_varied.__name__ = "varied"


def test_video_in_generation_reference_and_policy_passes(tiny_model, train_data, tmp_path):
    rec = VisionCalls()
    # share_video_work=false: the per-row pixel path, where every pass calls the vision tower (the shared path,
    # one tower call per unique video, is tested in test_train_paper.py).
    cfg = _cfg(tiny_model, train_data, tmp_path / "run", "max_steps=1", "beta=0.1", "lora=true", "lora_r=4", "lora_alpha=8",
               "mode=think", "share_video_work=false")
    out = run_grpo(cfg, callbacks=[hook_callback(rec)], extra_rewards=[_varied])
    grads = [g for g, _, _ in rec.calls]
    # One step: generation (no grad), reference pass (no grad, adapters off), policy loss pass (grad).
    assert grads == [False, False, True], grads
    gen, ref, loss = rec.calls
    # Reference pass sees exactly the generation tensors, in order.
    assert torch.equal(gen[1], ref[1]) and torch.equal(gen[2], ref[2])
    # The loss pass sees the same per-sample videos (TRL shuffles samples inside the batch).
    key = lambda t: (t.shape[0], float(t.double().sum()))  # noqa: E731
    gen_blocks = sorted(per_sample_blocks(gen[1], gen[2]), key=key)
    loss_blocks = sorted(per_sample_blocks(loss[1], loss[2]), key=key)
    assert len(gen_blocks) == len(loss_blocks) == 2
    assert all(torch.equal(a, b) for a, b in zip(gen_blocks, loss_blocks))
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    step = rows[0]
    for key_ in ("kl", "rewards/accuracy/mean", "rewards/format_think/mean", "rewards/empty_reasoning/mean",
                 "rewards/repeated_tags/mean", "completions/mean_length"):
        assert key_ in step, key_
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert samples and {"prompt", "completion", "rewards"} <= set(samples[0])
    assert (out / "final" / "adapter_model.safetensors").is_file()


def test_full_finetune_updates_vision_tower_and_runs_old_policy_pass(tiny_model, train_data, tmp_path):
    from transformers import AutoModelForImageTextToText

    # num_iterations=2 makes TRL compute old-policy log-probs in a separate pass.
    cfg = _cfg(tiny_model, train_data, tmp_path / "run", "max_steps=2", "beta=0.05", "lora=false", "num_iterations=2")
    with AllVisionTowers() as rec:
        out = run_grpo(cfg, extra_rewards=[_varied])
    towers = list(dict.fromkeys(t for t, _ in rec.calls))
    assert len(towers) == 2, "expected the policy's and the reference model's vision towers"
    policy, ref = towers  # the policy generates first
    policy_calls = [g for t, g in rec.calls if t == policy]
    ref_calls = [g for t, g in rec.calls if t == ref]
    # One generation serves both steps (num_iterations=2): generate, old-policy pass, then two loss passes.
    assert policy_calls == [False, False, True, True], policy_calls
    assert ref_calls == [False], ref_calls
    before = vision_tower(AutoModelForImageTextToText.from_pretrained(tiny_model)).state_dict()
    after = vision_tower(AutoModelForImageTextToText.from_pretrained(out / "final")).state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed, "vision tower weights did not change: it got no gradient"
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if '"kl"' in line]
    # Step 1's loss pass runs before any update: the policy equals TRL's reference copy, so KL is 0 exactly. Step 2
    # reuses the generation after one update (num_iterations=2): the policy has moved, KL must be positive.
    assert len(rows) == 2 and rows[0]["kl"] < 1e-9 and rows[1]["kl"] > 0, rows


@pytest.mark.parametrize("family", [f for f in names() if f != "qwen2_vl"])
def test_other_families_carry_video(family, train_data, tmp_path):
    """Every registered family: video in generation, reference and loss passes; loss pixels = generation pixels."""
    model = build_tiny_model(family, tmp_path / "model", tokenizer="small")
    rec = VisionCalls()
    cfg = _cfg(model, train_data, tmp_path / "run", "max_steps=1", "beta=0.1", "lora=true", "lora_r=4", "lora_alpha=8",
               "share_video_work=false")
    out = run_grpo(cfg, callbacks=[hook_callback(rec)], extra_rewards=[_varied])
    assert [g for g, _, _ in rec.calls] == [False, False, True]
    gen, ref, loss = rec.calls
    assert torch.equal(gen[1], ref[1])
    key = lambda t: (t.shape[0], float(t.double().sum()))  # noqa: E731
    gen_blocks = sorted(per_sample_blocks(gen[1], gen[2], 2), key=key)
    loss_blocks = sorted(per_sample_blocks(loss[1], loss[2], 2), key=key)
    assert len(gen_blocks) == len(loss_blocks) == 2
    assert all(torch.equal(a, b) for a, b in zip(gen_blocks, loss_blocks))
    # LoRA sits on the language model only.
    import safetensors.torch

    keys = safetensors.torch.load_file(out / "final" / "adapter_model.safetensors").keys()
    assert keys and all("language_model" in k for k in keys)
