"""`vsgrpo train grpo|sft|dpo --config RECIPE.yaml [--key value ...] [key=value ...] [--resume]`.

Every field of the method's config (:mod:`vsgrpo.train.config`) is also a flag, spelled as in
TRL (``--learning_rate 1e-5``) or with dashes (``--learning-rate 1e-5``). Flag values are
read with YAML rules, like ``key=value``, and go through the same checks as recipe keys.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass

from ..fields import add_arguments, option
from . import group

METHOD_HELP = {
    "grpo": "vsGRPO: GRPO with video in generation, policy, old-policy and reference passes",
    "sft": "SFT baseline: supervised answers with video",
    "dpo": "DPO baseline: correct vs. changed-to-wrong answers, with video",
}
_PREFIX = "set_"  # argparse dest of a config-key flag, apart from the command's own flags


@dataclass
class RecipeFlag:
    config: str | None = option(None, path="file", help="recipe YAML (e.g. recipes/tiny/grpo.yaml)")
    gpus: int | None = option(None, type=int, min=1, max=100_000, metavar="N",
                              help="with --dry-run or --estimate: the number of GPUs (processes) the budget is computed "
                                   "for (a real run uses the processes accelerate launches)", default_text="1")
    estimate_steps: int = option(3, min=1, max=1000, metavar="K",
                                 help="measured steps of --estimate, after one warm-up step")


def register(subparsers) -> None:
    # Importing the config module is cheap (no torch): it only holds dataclasses.
    from ..train.config import CONFIGS

    sub = group(subparsers, "train", "train video LMs with GRPO, SFT or DPO")
    for method, text in METHOD_HELP.items():
        p = sub.add_parser(method, help=text,
                           description=text + ". Settings come from the recipe, then overrides: positional key=value "
                           "or TRL-style --key value (YAML values: beta=1e-4 --lora false report_to=[jsonl,wandb]; "
                           "null: the default).")
        add_arguments(p, RecipeFlag)
        p.add_argument("--resume", action="store_true",
                       help="continue from the newest checkpoint-N in output_dir (optimizer, scheduler, RNG, data "
                            "position restored)")
        p.add_argument("--overwrite", action="store_true",
                       help="start over: delete the checkpoints, final model and logs already in output_dir")
        p.add_argument("--dry-run", action="store_true",
                       help="print the fully resolved configuration (ours and TRL's, the TRL values that differ "
                            "from TRL's defaults, GRPO: the paper's settings beside this run's) as JSON and exit "
                            "without loading a model; the budget (steps, questions per step, epochs over the data) "
                            "also goes to stderr as one line")
        p.add_argument("--estimate", action="store_true",
                       help="measure a few optimizer steps on this machine and data (in a temporary folder) and "
                            "print seconds per step, peak memory and the projected time for the recipe's budget "
                            "(on 1 and --gpus devices); trains nothing that is kept")
        p.add_argument("overrides", nargs="*", metavar="key=value", help="override recipe settings")
        _add_key_flags(p.add_argument_group("config keys (override the recipe; default in brackets)"),
                       CONFIGS[method])
        p.set_defaults(func=_run, method=method)


def _add_key_flags(parser, cls) -> None:
    """One flag per config field, both spellings; the raw text is checked later, with the recipe's rules."""
    from ..fields import default_of

    for f in dataclasses.fields(cls):
        spellings = dict.fromkeys([f"--{f.name}", f"--{f.name.replace('_', '-')}"])
        default = default_of(f)
        bool_kw = {"nargs": "?", "const": "true"} if isinstance(default, bool) else {}
        act = parser.add_argument(*spellings, dest=_PREFIX + f.name, default=argparse.SUPPRESS,
                                  metavar="BOOL" if bool_kw else "VALUE",
                                  help=f"{f.metadata.get('help', '')} [{default!r}]".replace("%", "%%"), **bool_kw)
        act.field, act.raw_text = f, True  # the value is read with YAML rules by load_config


def key_overrides(args) -> list[str]:
    """The ``--key value`` flags given, as ``key=value`` overrides (after the positional ones)."""
    return list(args.overrides) + [f"{k[len(_PREFIX):]}={v}" for k, v in vars(args).items() if k.startswith(_PREFIX)]


def _run(args) -> int:
    from ..run_summary import print_train_summary
    from ..train.config import load_config
    from ..train.runner import run

    overrides = key_overrides(args)
    if getattr(args, "dry_run", False):
        import json
        import sys

        from ..train.budget import describe
        from ..train.runner import dry_run

        cfg = load_config(args.method, args.config, overrides, check_paths=False)
        resolved = dry_run(cfg, gpus=args.gpus or 1)
        print(json.dumps(resolved, indent=2))
        print(f"vsgrpo: budget on {describe(resolved['budget'])}", file=sys.stderr)
        return 0
    if getattr(args, "estimate", False):
        from ..train.estimate import estimate, format_estimate

        cfg = load_config(args.method, args.config, overrides)
        print(format_estimate(estimate(cfg, steps=args.estimate_steps, gpus=args.gpus or 1)))
        return 0
    if getattr(args, "gpus", None) is not None:
        from ..errors import VsgrpoError

        raise VsgrpoError("--gpus goes with --dry-run or --estimate; a run trains on the processes "
                          "`accelerate launch` starts")
    cfg = load_config(args.method, args.config, overrides)
    out = run(cfg, resume=args.resume, overwrite=args.overwrite)
    print(out)
    print_train_summary(out)
    return 0
