"""GRPO step time per model family, side by side: tiny models of each family, same settings, CPU.

    python benchmarks/bench_families.py [--families qwen2_vl,llava_onevision] [--steps 6] [--frames 8]
                                        [--size 112] [--generations 4] [--rounds 2] [--tokenizer qwen]

Every family gets the same tiny language model (hidden 64, 2 layers, the same tokenizer), the
same data (4 questions, real mp4s), the same GRPO settings (LoRA r=8 on the language model,
beta 1e-4, G generations of 16 tokens, per-row video path: share_video_work=false so both
families run the same code path) and the same number of frames. Families differ in their
vision tower and in how many visual tokens a frame becomes (reported). Each run is its own
subprocess (peak RSS per process); families alternate over ``--rounds`` rounds. Step time:
median of TRL's ``step_time`` over the steps after the first (warm-up), pooled over rounds.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_train import QUESTION, make_data  # the same four-scene data as the video-vs-images benchmark


def _length_reward(prompts=None, completions=(), **kw):
    return [float(len(str(c))) for c in completions]


def _visual_tokens(model_dir: Path, video: Path, frames: int, max_pixels: int | None) -> int:
    from vsgrpo.models import inputs
    from vsgrpo.models.loading import load_model_and_processor
    from vsgrpo.video import read_frames

    model, processor = load_model_and_processor(model_dir, max_pixels=max_pixels)
    f, fps = read_frames(video, frames)
    batch = inputs.encode_prompts(processor, [QUESTION], [f], [fps])
    return int((batch["input_ids"] == model.config.video_token_id).sum())


def child(args) -> None:
    import torch

    torch.set_num_threads(1)
    from vsgrpo.models.families import get_family
    from vsgrpo.models.tiny import build_tiny_model
    from vsgrpo.train.config import load_config
    from vsgrpo.train.runner import run_grpo

    root = Path(args.workdir)
    data = root / "questions.parquet"
    model = build_tiny_model(args.family, root / f"model-{args.family}", tokenizer=args.tokenizer)
    # A per-frame pixel budget exists only for families whose processors resize by pixel count (Qwen-VL);
    # LLaVA-OneVision resizes every frame to its tower's fixed input size.
    budget = args.size * args.size if get_family(args.family).name.startswith("qwen") else None
    run_dir = tempfile.mkdtemp(prefix=f"run-{args.family}-", dir=root)
    overrides = [f"model={model}", f"data={data}", f"output_dir={run_dir}",
                 f"max_steps={args.steps}", f"num_generations={args.generations}", "lora=true", "lora_r=8",
                 "lora_alpha=16", "beta=1e-4", "report_to=[jsonl]", f"per_device_train_batch_size={args.generations}",
                 "max_completion_length=16", f"num_frames={args.frames}", "learning_rate=1e-4", "save_steps=100000",
                 "log_completions=false", "share_video_work=false"]
    if budget:
        overrides.append(f"max_pixels={budget}")
    cfg = load_config("grpo", None, overrides)
    out = run_grpo(cfg, extra_rewards=[_length_reward])
    times = [json.loads(x)["step_time"] for x in (Path(out) / "metrics.jsonl").read_text().splitlines()
             if "step_time" in x]
    tokens = _visual_tokens(model, root / "videos" / "scannet" / "s0.mp4", args.frames, budget)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps({"family": args.family, "times": times, "visual_tokens": tokens, "rss_mb": rss_mb}))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--families", default="qwen2_vl,llava_onevision")
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--size", type=int, default=112, help="frame side in pixels (Qwen pixel budget = size^2)")
    p.add_argument("--generations", type=int, default=4)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--tokenizer", default="qwen", choices=("qwen", "small"))
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--family", help=argparse.SUPPRESS)
    p.add_argument("--workdir", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return child(args)
    families = args.families.split(",")
    results: dict[str, dict] = {f: {"times": [], "rss": [], "tokens": None} for f in families}
    with tempfile.TemporaryDirectory() as tmp:
        make_data(Path(tmp), args.frames, args.size)
        for r in range(args.rounds):
            for fam in families:
                cmd = [sys.executable, __file__, "--child", "--family", fam, "--workdir", tmp,
                       "--steps", str(args.steps), "--frames", str(args.frames), "--size", str(args.size),
                       "--generations", str(args.generations), "--tokenizer", args.tokenizer]
                proc = subprocess.run(cmd, capture_output=True, text=True,
                                      env={**__import__("os").environ, "VSGRPO_PROGRESS": "0"})
                line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
                if proc.returncode or line is None:
                    sys.exit(f"{fam} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
                res = json.loads(line[len("RESULT "):])
                results[fam]["times"] += res["times"][1:]  # first step: warm-up
                results[fam]["rss"].append(res["rss_mb"])
                results[fam]["tokens"] = res["visual_tokens"]
                print(f"round {r + 1} {fam}: steps {[round(t, 3) for t in res['times']]}", file=sys.stderr)
    print(f"\n{args.frames} frames of {args.size}x{args.size}, G={args.generations}, {args.steps} steps x "
          f"{args.rounds} rounds, tokenizer {args.tokenizer}, LoRA r=8, completions 16 tokens\n")
    print("| family | visual tokens per question | s per GRPO step (median) | min-max | peak RSS (MB) |")
    print("|---|---|---|---|---|")
    base = None
    for fam in families:
        t = results[fam]["times"]
        med = statistics.median(t)
        base = base or med
        print(f"| {fam} | {results[fam]['tokens']} | {med:.3f} ({med / base:.2f}x) | {min(t):.3f}-{max(t):.3f} | "
              f"{max(results[fam]['rss']):.0f} |")


if __name__ == "__main__":
    main()
