"""`vsgrpo eval ...` commands: score predictions, run a model, compare runs."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass

from ..fields import option
from . import group


@dataclass
class ScoreFiles:
    """``eval score`` flags beside :class:`~vsgrpo.eval.config.ScoringConfig`'s."""

    questions: str = option(path="file", help="questions parquet (VSI-Bench schema)")
    predictions: str = option(path="file", help="JSONL with {\"id\", \"prediction\"} rows (a run's samples.jsonl "
                                                "and lmms-eval's --log_samples output work too)")
    out: str | None = option(None, path="out_file", help="write the results JSON here (default: print it)")


@dataclass
class BaselinesFlags:
    questions: str = option(path="file", help="questions parquet (VSI-Bench schema)")
    limit: int | None = option(None, type=int, min=1, help="only the first N questions")
    out: str | None = option(None, path="out_file",
                             help="write {\"random\": {...}, \"frequency\": {...}, \"best_constant\": {...}, ...} JSON "
                                  "here (percent, keyed "
                                  "like eval score's scores; null where undefined)")


@dataclass
class ReportFlags:
    out: str | None = option(None, path="out_dir", help="folder for report.md and report.png")

_SWITCHES_HELP = ("Before parsing, an <answer>...</answer> span is taken as the answer (--no-answer-tag turns "
                  "this off) and an answer equal to an option's text is mapped to its letter (--no-option-text "
                  "turns this off). --parser official with both switches off is exactly the VSI-Bench authors' "
                  "protocol; --parser lmms-eval alone is lmms-eval 0.7.3's (both switches off unless given). "
                  "Results carry the mean over tasks and over questions, 95% intervals (bootstrap over "
                  "scenes) and, for a questions file with a 'pruned' column, VSI-Bench-Debiased.")


def register(subparsers) -> None:
    # The flags of `score` and `run` are the fields of these config dataclasses (see vsgrpo.fields).
    from ..eval.backends import BackendOptions
    from ..eval.config import EvalConfig, ScoringConfig
    from ..fields import add_arguments

    sub = group(subparsers, "eval", "VSI-Bench evaluation: score predictions, run a model, compare runs")

    p = sub.add_parser("score", help="score a predictions JSONL exactly as VSI-Bench's authors do",
                       description="Score predictions ({\"id\": int, \"prediction\": str} JSONL rows, a run's "
                                   "samples.jsonl, or lmms-eval's --log_samples JSONL) against a VSI-Bench-schema "
                                   "questions parquet. " + _SWITCHES_HELP)
    add_arguments(p, ScoreFiles)
    add_arguments(p, ScoringConfig)
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("run", help="run a video LM on VSI-Bench questions (resumable)",
                       description="Generate answers (greedy) for each question from uniformly sampled frames of "
                                   "{videos}/{dataset}/{scene_name}.mp4, score them and write samples.jsonl, "
                                   "results.json, results.md and results.png under --out. Rerun the same command "
                                   "to resume after a crash. " + _SWITCHES_HELP)
    add_arguments(p, EvalConfig)
    add_arguments(p, BackendOptions)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("baselines", help="VSI-Bench's chance rows (random, frequency) and the best constant of a "
                                         "question set",
                       description="From the questions alone (no model): chance (random) = expected score of a "
                                   "uniform guess among the options (numeric tasks: undefined, '-'); chance "
                                   "(frequency) = always the most frequent answer per task, as VSI-Bench prints it "
                                   "(numeric: the most frequent value, e.g. counting 2; multiple choice: relative "
                                   "direction by text per level, the others by letter); best constant = the "
                                   "constant with the highest score (numeric: the value with the highest mean MRA). "
                                   "Overall = mean of the defined task values.")
    add_arguments(p, BaselinesFlags)
    p.set_defaults(func=cmd_baselines)

    p = sub.add_parser("report", help="put several runs side by side (Markdown table + bar chart)",
                       description="Compare finished runs, e.g. base vs SFT vs GRPO. Prints the table; with "
                                   "--out also writes report.md and report.png there.")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="folders written by `vsgrpo eval run`")
    add_arguments(p, ReportFlags)
    p.set_defaults(func=cmd_report)


def cmd_score(args) -> int:
    from ..eval import score_file
    from ..eval.config import ScoringConfig
    from ..fields import from_args
    from ..io import write_json

    results = score_file(args.questions, args.predictions, **from_args(ScoringConfig, args))
    if args.out:
        write_json(args.out, results)
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        print(json.dumps(results, indent=2))
    return 0


def cmd_run(args) -> int:
    from ..eval.backends import BackendOptions
    from ..eval.config import EvalConfig
    from ..eval.report import results_table, run_label
    from ..eval.runner import run_eval
    from ..fields import from_args

    options = BackendOptions(**from_args(BackendOptions, args)).for_backend(args.backend)
    config = EvalConfig(**from_args(EvalConfig, args), backend_options=options)
    results = run_eval(config)
    from pathlib import Path

    from ..chance import table_rows
    from ..eval.report import load_baselines

    print(results_table({run_label(Path(args.out)): results}, baselines=table_rows(load_baselines(args.out))),
          end="")
    if results.get("errors"):
        print(f"{results['errors']} sample(s) failed (see 'error' in {args.out}/samples.jsonl); they are not scored. "
              "Rerun with --retry-errors to try them again.", file=sys.stderr)
    print(f"wrote {args.out}/results.json, results.md, results.png, samples.jsonl", file=sys.stderr)
    if results.get("errors") and not results.get("count"):
        print(f"vsgrpo: error: every sample failed (see 'error' in {args.out}/samples.jsonl); nothing was scored",
              file=sys.stderr)
        return 1
    return 0


def cmd_report(args) -> int:
    from ..eval.report import compare_runs

    print(compare_runs(args.runs, out=args.out), end="")
    if args.out:
        print(f"wrote {args.out}/report.md and report.png", file=sys.stderr)
    return 0


def cmd_baselines(args) -> int:
    from ..chance import OVERALL_NOTE, format_answers, table_rows
    from ..eval.report import results_table
    from ..eval.scoring import baselines_file
    from ..io import write_json

    baselines = baselines_file(args.questions, limit=args.limit)
    print(results_table({}, baselines=table_rows(baselines)), end="")
    print("Constant answers of the frequency row (and the best constant where it differs):\n"
          + format_answers(baselines))
    print(OVERALL_NOTE[0].upper() + OVERALL_NOTE[1:] + ".")
    if args.out:
        write_json(args.out, baselines)
        print(f"wrote {args.out}", file=sys.stderr)
    return 0
