"""Evaluation throughput: samples/s of `eval run` (hf backend) at batch size 1 vs 8, tiny model, CPU.

Builds a tiny random Qwen2-VL (real Qwen tokenizer), writes one small mp4 per scene for N real
VSI-Bench questions, loads the model once, then times whole runs (frame decoding, prompt
building, generation, scoring, JSONL writes) alternating batch sizes, several rounds, and
reports the median of each and their ratio. The machine is shared and noisy: compare the
ratio, not the absolute numbers.

    python benchmarks/bench_eval.py [--questions 32] [--rounds 3] [--frames 8] [--max-new-tokens 16]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=16)
    ap.add_argument("--batch-sizes", default="1,8")
    ap.add_argument("--family", default="qwen2_vl")
    ap.add_argument("--vsibench", default=str(REPO.parent / "shared" / "data" / "vsibench" / "test-dev.parquet"))
    args = ap.parse_args()

    import torch

    from vsgrpo.eval import run_eval
    from vsgrpo.eval.backends.hf import HFBackend
    from vsgrpo.models.tiny import build_tiny_model
    from vsgrpo.video import write_video

    sizes = [int(x) for x in args.batch_sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model_dir = build_tiny_model(args.family, tmp / "model", tokenizer="qwen")
        df = pd.read_parquet(args.vsibench)
        # A mix of task types, as a real run sees them.
        sub = df.groupby("question_type", group_keys=False).head(max(1, args.questions // 10 + 1)).head(args.questions)
        sub.to_parquet(tmp / "q.parquet")
        rng = np.random.default_rng(0)
        for ds, scene in set(zip(sub.dataset, sub.scene_name)):
            write_video(tmp / "videos" / ds / f"{scene}.mp4", rng.integers(0, 256, (48, 240, 320, 3), np.uint8), fps=12)
        backend = HFBackend(str(model_dir), device="cpu")
        # Warm-up (first-call allocations and kernel selection), not timed.
        run_eval(model=str(model_dir), questions=str(tmp / "q.parquet"), videos=str(tmp / "videos"),
                 out=str(tmp / "warmup"), frames=args.frames, batch_size=max(sizes), limit=max(sizes),
                 max_new_tokens=args.max_new_tokens, backend_instance=backend)
        times: dict[int, list[float]] = {b: [] for b in sizes}
        for r in range(args.rounds):
            for b in sizes:
                t0 = time.perf_counter()
                res = run_eval(model=str(model_dir), questions=str(tmp / "q.parquet"), videos=str(tmp / "videos"),
                               out=str(tmp / f"run-{b}-{r}"), frames=args.frames, batch_size=b,
                               max_new_tokens=args.max_new_tokens, backend_instance=backend)
                times[b].append(time.perf_counter() - t0)
                assert res["count"] == len(sub), res
    n = len(sub)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, {args.family} tiny, {n} questions, "
          f"{args.frames} frames 320x240, {args.max_new_tokens} new tokens, {args.rounds} rounds (median)")
    base = None
    for b in sizes:
        med = statistics.median(times[b])
        rate = n / med
        base = base or rate
        print(f"batch {b:>2}: {rate:6.2f} samples/s  ({med:.1f} s per run; runs: "
              f"{', '.join(f'{t:.1f}' for t in times[b])})  x{rate / base:.2f} vs batch {sizes[0]}")


if __name__ == "__main__":
    main()
