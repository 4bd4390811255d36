"""Qwen2-VL / Qwen2.5-VL M-RoPE positions as the models were built (issue 19, item 2).

The rule (Qwen's original code, transformers 4.51-4.57, vLLM): text tokens take consecutive
positions on all three axes; a vision block of (t, h, w) patches (h, w after the spatial merge)
starting at position s gives token (i, j, k) the positions (s + floor(i * scale), s + j, s + k),
where scale is 1 for Qwen2-VL and images and ``tokens_per_second * second_per_grid_t`` for
Qwen2.5-VL videos; the text after the block starts at the largest position used in the block + 1.
:func:`reference_positions` writes that rule out here, independently of vsgrpo and of
transformers. transformers 5.x starts that text ``max(h, w)`` past the block start instead,
which differs whenever the (scaled) temporal extent is larger: the cases below.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vsgrpo.models.inputs import encode_prompts, vision_token_ids
from vsgrpo.models.loading import load_model_and_processor
from vsgrpo.models.tiny import build_tiny_model

PROMPT = "How many chair(s) are in this room?"


def reference_positions(kinds: list[int], blocks: list[tuple[int, int, int, float]]) -> np.ndarray:
    """(3, n) positions of n unpadded tokens; ``kinds`` 0 text / else vision, ``blocks`` (t, h, w, scale) in order."""
    out, nxt, i = [], 0, 0
    blocks = iter(blocks)
    while i < len(kinds):
        if kinds[i] == 0:
            out.append((nxt, nxt, nxt))
            nxt, i = nxt + 1, i + 1
            continue
        t, h, w, scale = next(blocks)
        block = [(nxt + int(a * scale), nxt + b, nxt + c) for a in range(t) for b in range(h) for c in range(w)]
        assert all(k != 0 for k in kinds[i:i + len(block)]), "vision run shorter than its grid"
        out += block
        nxt, i = max(max(p) for p in block) + 1, i + len(block)
    return np.array(out).T


def _frames(n: int, size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (n, size, size, 3), dtype=np.uint8)


def _fed_positions(model, batch) -> torch.Tensor:
    """The (3, B, L) position ids the language model receives in a forward pass."""
    seen = {}

    def grab(module, args, kwargs):
        seen["pos"] = kwargs["position_ids"]

    handle = model.model.language_model.register_forward_pre_hook(grab, with_kwargs=True)
    try:
        with torch.no_grad():
            model(**batch)
    finally:
        handle.remove()
    return seen["pos"][-3:]  # a leading text-position row, when present, is not M-RoPE


def _video_runs(kinds: list[int]) -> list[int]:
    runs, prev = [], 0
    for k in kinds:
        if k and not prev:
            runs.append(0)
        if k:
            runs[-1] += 1
        prev = k
    return runs


@pytest.fixture(scope="module")
def tiny_model_q2(tmp_path_factory):
    return build_tiny_model("qwen2_vl", tmp_path_factory.mktemp("q2") / "m", tokenizer="small")


@pytest.fixture(scope="module")
def qwen2_vl(tiny_model_q2):
    return load_model_and_processor(tiny_model_q2, dtype="float32")


def test_qwen2_vl_16_frames_56px_text_starts_after_the_last_temporal_position(qwen2_vl):
    model, processor = qwen2_vl
    # Two prompts of different length: left padding must not shift anything.
    batch = encode_prompts(processor, [PROMPT, "Count the chairs. " + PROMPT], [_frames(16, 56), _frames(16, 56, 1)],
                           [4.0, 4.0])
    assert batch["video_grid_thw"].tolist() == [[8, 4, 4]] * 2  # t = 8 temporal patches > h = w = 2 merged
    pos = _fed_positions(model, batch)
    for b in range(2):
        real = batch["attention_mask"][b].bool()
        kinds = batch["mm_token_type_ids"][b][real].tolist()
        want = reference_positions(kinds, [(8, 2, 2, 1.0)])
        assert np.array_equal(pos[:, b, real].numpy(), want)
        assert (pos[:, b, ~real] == 0).all()
        start, after = kinds.index(2), len(kinds) - kinds[::-1].index(2)
        assert int(pos[0, b, real][after]) == start + 8  # transformers 5.x: start + 2


def test_qwen2_5_vl_16_frames_448px_60s_video(tmp_path):
    path = build_tiny_model("qwen2_5_vl", tmp_path / "m", tokenizer="small")
    cfg = json.loads((path / "config.json").read_text())
    cfg["vision_config"]["tokens_per_second"] = 2  # as Qwen2.5-VL-3B/7B's config.json
    (path / "config.json").write_text(json.dumps(cfg))
    model, processor = load_model_and_processor(path, dtype="float32", max_pixels=448 * 448)
    fps = 16 / 60.0  # 16 frames sampled from a 60 s video
    batch = encode_prompts(processor, [PROMPT], [_frames(16, 448)], [fps])
    assert batch["video_grid_thw"].tolist() == [[8, 32, 32]]
    seconds = float(batch["second_per_grid_ts"][0])
    assert seconds == pytest.approx(2 / fps)  # 7.5 s per temporal patch
    pos, deltas = model.model.get_rope_index(batch["input_ids"], batch["mm_token_type_ids"],
                                             video_grid_thw=batch["video_grid_thw"],
                                             second_per_grid_ts=batch["second_per_grid_ts"],
                                             attention_mask=batch["attention_mask"])
    kinds = batch["mm_token_type_ids"][0].tolist()
    want = reference_positions(kinds, [(8, 16, 16, 2 * seconds)])
    assert np.array_equal(pos[:, 0].numpy(), want)
    start, after = kinds.index(2), len(kinds) - kinds[::-1].index(2)
    assert int(pos[0, 0, after]) == start + 7 * 15 + 1  # transformers 5.x: start + 16
    assert int(deltas[0]) == int(want.max()) + 1 - len(kinds)  # generation continues from the text


@pytest.mark.parametrize("family", ["qwen2_vl", "qwen2_5_vl"])
def test_generation_continues_where_the_loss_pass_puts_the_completion(family, qwen2_vl, tmp_path):
    """Per-step generation logits equal a teacher-forced forward over prompt + completion (left-padded batch)."""
    fps = 4.0
    if family == "qwen2_vl":
        model, processor = qwen2_vl
    else:  # 16 frames from a 60 s video, tokens_per_second 2: temporal positions 0, 15, ..., 105
        path = build_tiny_model(family, tmp_path / "m", tokenizer="small")
        cfg = json.loads((path / "config.json").read_text())
        cfg["vision_config"]["tokens_per_second"] = 2
        (path / "config.json").write_text(json.dumps(cfg))
        model, processor = load_model_and_processor(path, dtype="float32")
        fps = 16 / 60.0
    batch = encode_prompts(processor, [PROMPT, "Count the chairs. " + PROMPT], [_frames(16, 56), _frames(16, 56, 1)],
                           [fps, fps])
    n = 6
    with torch.no_grad():
        out = model.generate(**batch, do_sample=False, max_new_tokens=n, min_new_tokens=n, output_logits=True,
                             return_dict_in_generate=True, suppress_tokens=vision_token_ids(processor))
    step_logits = torch.stack(out.logits, dim=1)  # (B, n, V), before any logits processor
    full = dict(batch)
    full["input_ids"] = out.sequences
    full["attention_mask"] = torch.cat([batch["attention_mask"], torch.ones(2, n, dtype=torch.long)], dim=1)
    from vsgrpo.models.families import family_of

    full.update(family_of(model).token_inputs(full["input_ids"], processor))
    model.model.rope_deltas = None  # a fresh forward, as the loss pass
    with torch.no_grad():
        logits = model(**full).logits
    p = batch["input_ids"].shape[1]
    torch.testing.assert_close(logits[:, p - 1:p - 1 + n], step_logits, atol=1e-4, rtol=1e-4)


def test_adapter_patches_through_peft_and_is_idempotent(qwen2_vl):
    from peft import LoraConfig, get_peft_model

    from vsgrpo.models.families import family_of
    from vsgrpo.models.families.qwen_vl import original_rope_index

    model, _ = qwen2_vl
    fam = family_of(model)
    assert model.model.get_rope_index.__func__ is original_rope_index  # applied by load_model_and_processor
    model.model.__dict__.pop("get_rope_index")
    peft_model = get_peft_model(model, LoraConfig(r=2, target_modules=fam.lora_target_regex(["q_proj"])))
    fam.prepare_model(peft_model)
    fam.prepare_model(peft_model)
    assert model.model.get_rope_index.__func__ is original_rope_index
    peft_model.unload()


def test_qwen3_vl_is_unaffected(tmp_path):
    """Qwen3-VL: every frame is its own block with t = 1, so transformers' layout already is the original rule."""
    path = build_tiny_model("qwen3_vl", tmp_path / "m", tokenizer="small")
    model, processor = load_model_and_processor(path, dtype="float32")
    assert "get_rope_index" not in vars(model.model)  # the adapter leaves it alone
    batch = encode_prompts(processor, [PROMPT], [_frames(16, 64)], [4.0])
    t, h, w = batch["video_grid_thw"][0].tolist()
    assert t == 8 and t > h // 2  # the case that breaks Qwen2/2.5-VL
    kinds = batch["mm_token_type_ids"][0].tolist()
    runs = _video_runs(kinds)
    assert len(runs) == t and set(runs) == {h * w // 4}  # one block per temporal patch
    pos = _fed_positions(model, batch)
    assert np.array_equal(pos[:, 0].numpy(), reference_positions(kinds, [(1, h // 2, w // 2, 1.0)] * t))


@pytest.mark.slow
def test_hf_positions_equal_vllm_positions(tmp_path):
    """In the vLLM side environment: the positions vsgrpo feeds the HF model are vLLM's, for the same prompt."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    tests = Path(__file__).resolve().parent
    sys.path.insert(0, str(tests))
    from side_envs import side_python

    py = side_python("vllm")
    specs = []
    for family, frames, size, fps in (("qwen2_vl", 16, 56, 4.0), ("qwen2_5_vl", 16, 112, 16 / 60.0)):
        # head size 64: vLLM's CPU attention needs >= 32
        path = build_tiny_model(family, tmp_path / family, tokenizer="small", hidden_size=128, num_attention_heads=2)
        if family == "qwen2_5_vl":
            cfg = json.loads((path / "config.json").read_text())
            cfg["vision_config"]["tokens_per_second"] = 2
            (path / "config.json").write_text(json.dumps(cfg))
        specs.append(f"{path}:{frames}:{size}:{fps}")
    # This repository's src first: the side environment's own vsgrpo may be another checkout.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "VSGRPO_PROGRESS": "0", "PYTHONPATH": str(tests.parent / "src")}
    proc = subprocess.run([str(py), str(tests / "side_vllm_positions.py"), str(tmp_path / "out"), *specs],
                          capture_output=True, text=True, timeout=900, env=env, cwd=str(tests.parent))
    assert proc.returncode == 0, proc.stderr[-6000:]
    result = json.loads((tmp_path / "out" / "positions.json").read_text())
    assert sorted(result) == ["qwen2_5_vl", "qwen2_vl"]
    for name, r in result.items():
        assert r["hf"]["tokens"] == r["vllm"]["tokens"], name
        hf, vllm = np.array(r["hf"]["positions"]), np.array(r["vllm"]["positions"])
        assert hf.shape == vllm.shape and hf.shape[0] == 3
        assert np.array_equal(hf, vllm), name
        video = np.array(r["hf"]["kinds"]) == 2
        start = hf[0][video].min()
        assert hf[0][video].max() - start > hf[1][video].max() - start, name  # the temporal grid is the longer


def _varied(prompts=None, completions=(), **kw):
    """A reward that differs between completions: every group is kept, so the KL is measured."""
    from vsgrpo.rewards import completion_chars

    return completion_chars(prompts, completions)


def test_trl_reference_model_gets_the_same_positions(tiny_model_q2, tmp_path, monkeypatch):
    """Full fine-tuning with beta > 0: TRL loads the reference model itself. At step 1 the policy equals the
    reference, so their log-probs of the same completions agree only if both lay out positions alike
    (16 frames of 56x56: t > h, w; on this tiny random model the other layout moves them by ~1e-4)."""
    from train_fixtures import make_train_data
    from vsgrpo.models.families.qwen_vl import original_rope_index
    from vsgrpo.train.config import load_config
    from vsgrpo.train.grpo import VideoGRPOTrainer
    from vsgrpo.train.runner import run_grpo

    calls = []
    real = VideoGRPOTrainer._get_per_token_logps_and_entropies

    def record(self, model, input_ids, *args, **kwargs):
        out = real(self, model, input_ids, *args, **kwargs)
        calls.append((model is self.ref_model, model, input_ids.tolist(), out[0].detach()))
        return out

    monkeypatch.setattr(VideoGRPOTrainer, "_get_per_token_logps_and_entropies", record)
    data = make_train_data(tmp_path / "data", n_frames=16, size=(56, 56))
    cfg = load_config("grpo", None, [f"model={tiny_model_q2}", f"data={data}", f"output_dir={tmp_path / 'run'}",
                                     "num_frames=16", "num_generations=2", "per_device_train_batch_size=2",
                                     "max_completion_length=4", "report_to=[jsonl]", "save_steps=100", "max_steps=1",
                                     "beta=0.1", "lora=false", "share_video_work=false", "learning_rate=0"])
    run_grpo(cfg, extra_rewards=[_varied])
    (ref,) = [c for c in calls if c[0]]
    (policy,) = [c for c in calls if not c[0]]
    assert ref[1].model.get_rope_index.__func__ is original_rope_index
    by_ids = {tuple(ids): lp for ids, lp in zip(policy[2], policy[3])}  # TRL shuffles rows before the loss pass
    gaps = [float((lp - by_ids[tuple(ids)]).abs().max()) for ids, lp in zip(ref[2], ref[3])]
    assert len(gaps) == 2 and max(gaps) < 1e-5, gaps
