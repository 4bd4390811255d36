"""GRPO step time and peak memory: video input (vsgrpo's VideoGRPOTrainer) vs the same frames as an
image list (stock TRL 1.16 GRPOTrainer), tiny Qwen2-VL with the real Qwen vocabulary, CPU.

    python benchmarks/bench_train.py [--steps 6] [--frames 8] [--size 112] [--generations 4]

Each variant runs in its own subprocess (peak RSS is per process). Step time: median of TRL's
``step_time`` over the steps after the first (warm-up). Prints a Markdown table and the ratios.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUESTION = "How many chair(s) are in this room?"


def make_data(root: Path, frames: int, size: int) -> Path:
    """Four one-question scenes with random ``frames`` x ``size``² videos; returns the parquet path."""
    import numpy as np
    import pandas as pd

    from vsgrpo.video import write_video

    rng = np.random.default_rng(0)
    rows = []
    for i in range(4):
        write_video(root / "videos" / "scannet" / f"s{i}.mp4",
                    rng.integers(0, 255, (frames, size, size, 3), dtype=np.uint8), fps=4)
        rows.append({"id": i, "dataset": "scannet", "scene_name": f"s{i}", "question_type": "object_counting",
                     "question": QUESTION, "ground_truth": str(i + 2), "options": None})
    pd.DataFrame(rows).to_parquet(root / "questions.parquet")
    return root / "questions.parquet"


def _make(root: Path, frames: int, size: int) -> tuple[Path, Path]:
    from vsgrpo.models.tiny import build_tiny_model

    data = make_data(root, frames, size)
    model = build_tiny_model("qwen2_vl", root / "model", tokenizer="qwen")
    return data, model


def _length_reward(prompts=None, completions=(), **kw):
    return [float(len(str(c))) for c in completions]


def _common(args, out):
    return dict(output_dir=str(out), max_steps=args.steps, num_generations=args.generations,
                per_device_train_batch_size=args.generations, max_completion_length=16, beta=1e-4, loss_type="grpo",
                learning_rate=1e-4, report_to="none", save_strategy="no", logging_steps=1, use_cpu=True,
                gradient_checkpointing=False, temperature=1.0, disable_tqdm=True)


def run_video(args, data, model, out):
    from vsgrpo.train.config import load_config
    from vsgrpo.train.runner import run_grpo

    cfg = load_config("grpo", None, [f"model={model}", f"data={data}", f"output_dir={out}", f"max_steps={args.steps}",
                                     f"num_generations={args.generations}", "lora=false", "report_to=[jsonl]",
                                     f"per_device_train_batch_size={args.generations}", "max_completion_length=16",
                                     f"num_frames={args.frames}", f"max_pixels={args.size * args.size}",
                                     "learning_rate=1e-4", "save_steps=100000", "log_completions=false"])
    run_grpo(cfg, extra_rewards=[_length_reward])
    return [json.loads(x)["step_time"] for x in (Path(out) / "metrics.jsonl").read_text().splitlines()
            if "step_time" in x]


def run_images(args, data, model, out):
    import trl
    from datasets import Dataset
    from PIL import Image

    from vsgrpo.models.inputs import vision_token_ids
    from vsgrpo.models.loading import load_model_and_processor
    from vsgrpo.train.data import load_rows
    from vsgrpo.video import read_frames

    m, processor = load_model_and_processor(model, max_pixels=args.size * args.size)
    recs = []
    for r in load_rows(data):
        frames, _ = read_frames(r["video"], args.frames)
        parts = [{"type": "image"} for _ in frames] + [{"type": "text", "text": r["prompt"]}]
        recs.append({"prompt": [{"role": "user", "content": parts}],
                     "images": [Image.fromarray(f) for f in frames]})
    targs = trl.GRPOConfig(**_common(args, out), generation_kwargs={"suppress_tokens": vision_token_ids(processor)})
    trainer = trl.GRPOTrainer(model=m, reward_funcs=[_length_reward], args=targs, train_dataset=Dataset.from_list(recs),
                              processing_class=processor)
    trainer.train()
    return [h["step_time"] for h in trainer.state.log_history if "step_time" in h]


def visual_tokens(model: Path, frames: int, size: int) -> tuple[int, int]:
    """Visual tokens per question: as one video vs as an image list (deterministic, from the processor)."""
    import numpy as np
    from PIL import Image

    from vsgrpo.models.inputs import encode_prompts
    from vsgrpo.models.loading import load_processor

    processor = load_processor(model, max_pixels=size * size)
    clip = np.zeros((frames, size, size, 3), dtype=np.uint8)
    merge = processor.video_processor.merge_size ** 2
    video = int(encode_prompts(processor, ["q"], [clip], [4.0])["video_grid_thw"].prod(-1).sum()) // merge
    grids = processor.image_processor(images=[Image.fromarray(f) for f in clip], return_tensors="pt")["image_grid_thw"]
    return video, int(grids.prod(-1).sum()) // merge


def child(args):
    with tempfile.TemporaryDirectory() as tmp:
        times = (run_video if args.child == "video" else run_images)(args, Path(args.data), Path(args.model),
                                                                       Path(tmp) / "run")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"variant": args.child, "step_times": times, "peak_rss_mb": rss_mb}))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--size", type=int, default=112)
    ap.add_argument("--generations", type=int, default=4)
    ap.add_argument("--child", choices=("video", "images"), help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--model", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        data, model = _make(Path(tmp), args.frames, args.size)
        base = [sys.executable, __file__, "--steps", str(args.steps), "--frames", str(args.frames), "--size",
                str(args.size), "--generations", str(args.generations), "--data", str(data), "--model", str(model)]
        for variant in ("video", "images", "video", "images"):  # interleaved: the machine is noisy
            t0 = time.time()
            res = subprocess.run(base + ["--child", variant], capture_output=True, text=True)
            if res.returncode != 0:
                sys.exit(f"{variant} run failed:\n{res.stderr[-3000:]}")
            row = json.loads(res.stdout.strip().splitlines()[-1])
            row["wall_s"] = time.time() - t0
            results.setdefault(variant, []).append(row)
        tokens = visual_tokens(model, args.frames, args.size)
    summary = {}
    for variant, rows in results.items():
        for r in rows:
            print(f"# {variant}: step_times {[round(t, 2) for t in r['step_times']]} peak_rss_mb {r['peak_rss_mb']:.0f}"
                  f" wall {r['wall_s']:.0f}s")
        steps = [t for r in rows for t in r["step_times"][1:]]
        summary[variant] = {"step_s": statistics.median(steps), "peak_rss_mb": max(r["peak_rss_mb"] for r in rows)}
    print(f"visual tokens per question: video {tokens[0]}, image list {tokens[1]}")
    print(f"tiny Qwen2-VL (real vocabulary 151,669), {args.frames} frames {args.size}x{args.size}, "
          f"{args.generations} generations x 16 tokens, {args.steps} steps x 2 runs each, CPU")
    print("| input | s / GRPO step (median) | peak RSS (MB) |")
    print("|---|---|---|")
    for variant, label in (("video", "video (vsgrpo VideoGRPOTrainer)"), ("images", "frames as image list (stock TRL)")):
        print(f"| {label} | {summary[variant]['step_s']:.3f} | {summary[variant]['peak_rss_mb']:.0f} |")
    print(f"ratio video/images: time {summary['video']['step_s'] / summary['images']['step_s']:.2f}, "
          f"peak memory {summary['video']['peak_rss_mb'] / summary['images']['peak_rss_mb']:.2f}")


if __name__ == "__main__":
    main()
