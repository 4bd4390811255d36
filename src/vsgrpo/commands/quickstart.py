"""`vsgrpo quickstart`: from nothing to a trained model and a report (see vsgrpo.quickstart).

The flags are the fields of :class:`vsgrpo.quickstart.config.QuickstartConfig`.
"""

from __future__ import annotations

import sys


def register(subparsers) -> None:
    from ..fields import add_arguments
    from ..quickstart.config import QuickstartConfig

    p = subparsers.add_parser(
        "quickstart", help="generate data, train a model (warm-up, then GRPO and an SFT baseline), evaluate, write a report",
        description="Generate procedural rooms (training and held-out, disjoint), build VSI-100k-style training "
                    "questions and VSI-Bench-style held-out questions, evaluate the base model, train (tiny model "
                    "on CPU by default: a supervised warm-up, then from it GRPO with the paper's rewards and KL beta "
                    "1e-4 and an SFT baseline on as many questions), evaluate after each stage, with and without "
                    "the video, and write OUT/report.md and a self-contained OUT/report.html. "
                    "Rerun the same command to resume: finished stages are skipped. With --model (hub id or "
                    "local folder) the paper recipes (recipes/paper/) are used. See docs/quickstart.md.")
    add_arguments(p, QuickstartConfig)
    p.set_defaults(func=_run)


def _run(args) -> int:
    import json
    from pathlib import Path

    from ..fields import from_args
    from ..quickstart import QuickstartConfig, run_quickstart
    from ..quickstart.report import fmt

    summary = run_quickstart(QuickstartConfig(**from_args(QuickstartConfig, args)))
    out = Path(args.out)
    report = out / "report.md"
    if report.is_file():  # the headline: the trained model beside its blind twin and the chance row
        print(report.read_text(encoding="utf-8").splitlines()[0].lstrip("# "))
    for stage, rel in summary["evals"].items():
        path = out / rel
        if path.is_file():
            r = json.loads(path.read_text(encoding="utf-8"))
            line = f"{stage:<6} held-out score {fmt(r.get('overall'))} ({r.get('count')} questions)"
            blind = out / (summary.get("blind") or {}).get(stage, "-")
            if blind.is_file():
                line += f"; blind (no video) {fmt(json.loads(blind.read_text(encoding='utf-8')).get('overall'))}"
            print(line)
    print(f"report: {out / 'report.md'} and {out / 'report.html'} "
          f"(total {summary['total_seconds']:.0f} s)", file=sys.stderr)
    return 0
