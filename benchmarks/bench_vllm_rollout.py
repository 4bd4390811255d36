"""GRPO rollout time per step: HF ``generate`` vs vLLM, side by side in one process (CPU).

Run it with the vLLM side environment's python (it needs vLLM and vsgrpo's code):

    bash scripts/setup_vllm_env.sh
    .venv-vllm/bin/python benchmarks/bench_vllm_rollout.py [--groups 8 14] [--lengths 16 128]

What one "rollout step" is, for one question with a video (the same frames for both engines,
prompt built by vsgrpo's own code):

- hf:   ``model.generate`` on the G-times repeated prompt batch (what TRL's HF path does), sampling at
  temperature 1, vision tokens suppressed, exactly L new tokens (``min_new_tokens=L``);
- vllm: one request with ``SamplingParams(n=G)``, L tokens (``ignore_eos``), per-token log-probs, plus
  the weight sync that precedes each step's generation (``reload_weights`` of the LoRA-merged
  weights + cache resets), reported separately and included in "vllm step".

The model is a tiny random Qwen2-VL (``--hidden``/``--layers``/``--heads``; small tokenizer), fp32,
1 thread. Prints a Markdown table (medians of ``--repeats`` runs after one warm-up).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--groups", type=int, nargs="+", default=[8, 14])
    p.add_argument("--lengths", type=int, nargs="+", default=[16, 128])
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--size", type=int, default=112, help="frame side in pixels")
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--model", help="an existing model folder (default: build a tiny one)")
    args = p.parse_args()

    import numpy as np
    import torch
    from vllm import SamplingParams

    from vsgrpo.models.inputs import encode_prompts, vision_token_ids
    from vsgrpo.models.loading import load_model_and_processor
    from vsgrpo.models.tiny import build_tiny_model
    from vsgrpo.train.vllm_rollout import load_weights, make_llm, policy_weights, vllm_prompt

    torch.set_num_threads(1)
    model_dir = args.model or str(build_tiny_model(
        "qwen2_vl", Path(tempfile.mkdtemp()) / "tiny", tokenizer="small", hidden_size=args.hidden,
        num_attention_heads=args.heads, num_key_value_heads=min(2, args.heads), num_hidden_layers=args.layers,
        intermediate_size=4 * args.hidden))
    max_pixels = args.size * args.size
    model, proc = load_model_and_processor(model_dir, dtype="float32", max_pixels=max_pixels)
    model.eval()
    suppress = vision_token_ids(proc)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, size=(args.frames, args.size, args.size, 3), dtype=np.uint8)
    fps, question = 2.0, "How many chair(s) are in this room? Please think step by step."

    t0 = time.perf_counter()
    llm = make_llm(model_dir, dtype="float32", max_pixels=max_pixels, max_model_len=4096)
    startup = time.perf_counter() - t0
    item = vllm_prompt(proc, question, frames, fps)

    def hf_step(g, length):
        batch = encode_prompts(proc, [question] * g, [frames] * g, [fps] * g)
        with torch.no_grad():
            out = model.generate(**batch, do_sample=True, temperature=1.0, top_p=1.0, top_k=0,
                                 max_new_tokens=length, min_new_tokens=length, suppress_tokens=suppress)
        return out.shape[1] - batch["input_ids"].shape[1]

    def sync():
        load_weights(llm, policy_weights(model))

    def vllm_step(g, length):
        params = SamplingParams(n=g, temperature=1.0, max_tokens=length, ignore_eos=True, logprobs=0,
                                logit_bias={i: -100.0 for i in suppress})
        out = llm.generate([item], params, use_tqdm=False)[0]
        return len(out.outputs[0].token_ids)

    def timed(fn, *a):
        t = time.perf_counter()
        n = fn(*a)
        return time.perf_counter() - t, n

    vision_tokens = int(encode_prompts(proc, [question], [frames], [fps])["video_grid_thw"].prod()) // 4
    rows = []
    for length in args.lengths:
        for g in args.groups:
            hf_step(g, 2), vllm_step(g, 2), sync()  # warm-up
            hf_t, vl_t, sy_t = [], [], []
            for _ in range(args.repeats):
                t, n = timed(hf_step, g, length)
                assert n == length, n
                hf_t.append(t)
                t, _ = timed(sync)
                sy_t.append(t)
                t, n = timed(vllm_step, g, length)
                assert n == length, n
                vl_t.append(t)
            hf, vl, sy = (statistics.median(x) for x in (hf_t, vl_t, sy_t))
            rows.append((g, length, hf, vl, sy, hf / (vl + sy)))
            print(f"G={g} L={length}: hf {hf:.2f} s, vllm {vl:.2f} s + sync {sy:.2f} s", flush=True)

    print(f"\nmodel: tiny Qwen2-VL hidden {args.hidden}, {args.layers} layers, {args.heads} heads, "
          f"{sum(p.numel() for p in model.parameters()) / 1e6:.1f} M params, fp32; video {args.frames} frames "
          f"{args.size}x{args.size} ({vision_tokens} vision tokens); 1 thread; vLLM start-up {startup:.1f} s\n")
    print("| G | completion tokens | hf generate | vllm generate | vllm weight sync | vllm step | speed-up |")
    print("|---|---|---|---|---|---|---|")
    for g, length, hf, vl, sy, sp in rows:
        print(f"| {g} | {length} | {hf:.2f} s | {vl:.2f} s | {sy:.2f} s | {vl + sy:.2f} s | {sp:.1f}x |")


if __name__ == "__main__":
    main()
