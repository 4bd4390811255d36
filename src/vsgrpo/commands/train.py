"""`vsgrpo train grpo|sft|dpo --config RECIPE.yaml [key=value ...] [--resume]`."""

from __future__ import annotations

import argparse

from . import group

METHOD_HELP = {
    "grpo": "vsGRPO: GRPO with video in generation, policy, old-policy and reference passes",
    "sft": "SFT baseline: supervised answers with video",
    "dpo": "DPO baseline: correct vs. changed-to-wrong answers, with video",
}


def register(subparsers) -> None:
    sub = group(subparsers, "train", "train video LMs with GRPO, SFT or DPO")
    for method, text in METHOD_HELP.items():
        p = sub.add_parser(method, help=text, description=text + ". Settings come from the recipe, then key=value "
                           "overrides (YAML values: beta=1e-4 lora=false report_to=[jsonl,wandb]).",
                           formatter_class=argparse.RawDescriptionHelpFormatter, epilog=_keys_epilog(method))
        p.add_argument("--config", help="recipe YAML (e.g. recipes/tiny/grpo.yaml)")
        p.add_argument("--resume", action="store_true",
                       help="continue from the newest checkpoint-N in output_dir (optimizer, scheduler, RNG, data "
                            "position restored)")
        p.add_argument("--overwrite", action="store_true",
                       help="start over: delete the checkpoints, final model and logs already in output_dir")
        p.add_argument("--dry-run", action="store_true",
                       help="print the fully resolved configuration (ours and TRL's, the TRL values that differ "
                            "from TRL's defaults, GRPO: the paper's settings beside this run's) as JSON and exit "
                            "without loading a model")
        p.add_argument("overrides", nargs="*", metavar="key=value", help="override recipe settings")
        p.set_defaults(func=_run, method=method)


def _keys_epilog(method: str) -> str:
    # Importing the config module is cheap (no torch): it only holds dataclasses.
    from ..train.config import CONFIGS, field_help

    lines = ["config keys (default: help):"]
    for name, default, text in field_help(CONFIGS[method]):
        lines.append(f"  {name} ({default!r}): {text}")
    return "\n".join(lines)


def _run(args) -> int:
    from ..train.config import load_config
    from ..train.runner import run

    if getattr(args, "dry_run", False):
        import json

        from ..train.runner import dry_run

        cfg = load_config(args.method, args.config, args.overrides, check_paths=False)
        print(json.dumps(dry_run(cfg), indent=2))
        return 0
    cfg = load_config(args.method, args.config, args.overrides)
    out = run(cfg, resume=args.resume, overwrite=args.overwrite)
    print(out)
    return 0
