"""`vsgrpo quickstart`: from nothing to a trained model and a report (see vsgrpo.quickstart)."""

from __future__ import annotations

import argparse
import sys


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 160x120, got {text!r}") from None
    return w, h


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "quickstart", help="generate data, train a model (SFT warm start + GRPO), evaluate, write a report",
        description="Generate procedural rooms (training and held-out, disjoint), build VSI-100k-style training "
                    "questions and VSI-Bench-style held-out questions, evaluate the base model, train (tiny model "
                    "on CPU by default: SFT warm start, then GRPO with the paper's rewards and KL beta 1e-4), "
                    "evaluate after each stage and write OUT/report.md and a self-contained OUT/report.html. "
                    "Rerun the same command to resume: finished stages are skipped. With --model (hub id or "
                    "local folder) the paper recipes (recipes/paper/) are used. See docs/quickstart.md.")
    p.add_argument("--out", default="quickstart", help="output folder (default ./quickstart)")
    p.add_argument("--model", help="hub id or local model folder (default: build a tiny random Qwen2-VL and train "
                                   "it on CPU)")
    p.add_argument("--scenes", type=int, help="training scenes (default: tiny 20, real model 200)")
    p.add_argument("--heldout-scenes", type=int, help="held-out scenes (default: tiny 6, real model 40)")
    p.add_argument("--steps", type=int, help="GRPO optimizer steps (default: tiny 400, real model the recipe's)")
    p.add_argument("--sft-steps", type=int, help="SFT warm-start steps (default: tiny 200, real model the recipe's)")
    p.add_argument("--sft", choices=("auto", "on", "off"), default="auto",
                   help="SFT warm start before GRPO (auto: on for the tiny model, off for a real one)")
    p.add_argument("--seed", type=int, default=0, help="seed of scenes, questions and training (default 0)")
    p.add_argument("--tasks", help="comma-separated question types (default: the paper's VSI-100k tasks)")
    p.add_argument("--per-scene", type=int, help="questions per scene and task (default 6)")
    p.add_argument("--frames", type=int, help="frames per question in training and evaluation (default: tiny 4, "
                                              "real model the recipe's)")
    p.add_argument("--video-frames", type=int, help="frames rendered per scene video (default: tiny 48, else 120)")
    p.add_argument("--video-size", type=_size, metavar="WxH", help="rendered video size (default: tiny 160x120, "
                                                                   "else 320x240)")
    p.add_argument("--eval-style", choices=("train", "bench"),
                   help="evaluation prompts: train (no options; answer words mapped to option letters; tiny "
                        "default) or bench (VSI-Bench prompts with options; real-model default)")
    p.add_argument("--eval-limit", type=int, help="evaluate only the first N held-out questions")
    p.add_argument("--eval-batch-size", type=int, help="generation batch size in evaluation (default 8)")
    p.add_argument("--workers", type=int, default=0, help="scene-rendering processes (default: one per core, max 4)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: 1 for the tiny model, whose ops are too "
                                               "small to gain from more; torch's default otherwise)")
    p.add_argument("--tiny-hidden-size", type=int, help="width of the tiny model (default 64)")
    p.add_argument("--tiny-layers", type=int, help="language-model layers of the tiny model (default 2)")
    p.add_argument("--recipes", help="folder holding paper/*.yaml (default: the repository's recipes/)")
    p.add_argument("--sft-set", action="append", default=[], metavar="KEY=VALUE",
                   help="override an SFT config key (repeatable), e.g. --sft-set learning_rate=5e-4")
    p.add_argument("--grpo-set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a GRPO config key (repeatable), e.g. --grpo-set num_generations=14")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from ..quickstart import QuickstartConfig, run_quickstart
    from ..quickstart.report import fmt

    tasks = tuple(t.strip() for t in args.tasks.split(",") if t.strip()) if args.tasks else None
    cfg = QuickstartConfig(out=args.out, model=args.model, scenes=args.scenes, heldout_scenes=args.heldout_scenes,
                           steps=args.steps, sft_steps=args.sft_steps, sft=args.sft, seed=args.seed, tasks=tasks,
                           per_scene=args.per_scene, frames=args.frames, video_frames=args.video_frames,
                           video_size=args.video_size, eval_style=args.eval_style, eval_limit=args.eval_limit,
                           eval_batch_size=args.eval_batch_size, workers=args.workers, threads=args.threads,
                           tiny_hidden_size=args.tiny_hidden_size, tiny_layers=args.tiny_layers,
                           recipes=args.recipes,
                           sft_overrides=args.sft_set, grpo_overrides=args.grpo_set)
    summary = run_quickstart(cfg)
    import json
    from pathlib import Path

    out = Path(args.out)
    for stage, rel in summary["evals"].items():
        path = out / rel
        if path.is_file():
            r = json.loads(path.read_text(encoding="utf-8"))
            print(f"{stage:<5} held-out score {fmt(r.get('overall'))} ({r.get('count')} questions)")
    print(f"report: {out / 'report.md'} and {out / 'report.html'} "
          f"(total {summary['total_seconds']:.0f} s)", file=sys.stderr)
    return 0
