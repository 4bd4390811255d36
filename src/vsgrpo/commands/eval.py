"""`vsgrpo eval ...` commands: score predictions, run a model, compare runs."""

from __future__ import annotations

import json
import sys

from . import group

_SWITCHES_HELP = ("Before parsing, an <answer>...</answer> span is taken as the answer (--no-answer-tag turns "
                  "this off) and an answer equal to an option's text is mapped to its letter (--no-option-text "
                  "turns this off). --parser official with both switches off is exactly the VSI-Bench authors' "
                  "protocol.")


def register(subparsers) -> None:
    # The flags of `score` and `run` are the fields of these config dataclasses (see vsgrpo.options).
    from ..eval.backends import BackendOptions
    from ..eval.config import EvalConfig, ScoringConfig
    from ..options import add_arguments

    sub = group(subparsers, "eval", "VSI-Bench evaluation: score predictions, run a model, compare runs")

    p = sub.add_parser("score", help="score a predictions JSONL exactly as VSI-Bench's authors do",
                       description="Score predictions ({\"id\": int, \"prediction\": str} JSONL rows) against a "
                                   "VSI-Bench-schema questions parquet. " + _SWITCHES_HELP)
    p.add_argument("--questions", required=True, help="questions parquet (VSI-Bench schema)")
    p.add_argument("--predictions", required=True, help="JSONL with {\"id\", \"prediction\"} rows (a run's "
                                                        "samples.jsonl works too)")
    add_arguments(p, ScoringConfig)
    p.add_argument("--out", help="write the results JSON here (default: print it)")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("run", help="run a video LM on VSI-Bench questions (resumable)",
                       description="Generate answers (greedy) for each question from uniformly sampled frames of "
                                   "{videos}/{dataset}/{scene_name}.mp4, score them and write samples.jsonl, "
                                   "results.json, results.md and results.png under --out. Rerun the same command "
                                   "to resume after a crash. " + _SWITCHES_HELP)
    add_arguments(p, EvalConfig)
    add_arguments(p, BackendOptions)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("baselines", help="VSI-Bench's chance rows (random, frequency) of a question set",
                       description="From the questions alone (no model): chance (random) = expected score of a "
                                   "uniform guess among the options (numeric tasks: undefined, '-'); chance "
                                   "(frequency) = the best constant answer per task (numeric: the value with the "
                                   "highest mean MRA; multiple choice: the most frequent answer, relative "
                                   "direction by text per level, the others by letter). Overall = mean of the "
                                   "defined task values.")
    p.add_argument("--questions", required=True, help="questions parquet (VSI-Bench schema)")
    p.add_argument("--limit", type=int, help="only the first N questions")
    p.add_argument("--out", help="write {\"random\": {...}, \"frequency\": {...}, ...} JSON here (percent, keyed "
                                 "like eval score's scores; null where undefined)")
    p.set_defaults(func=cmd_baselines)

    p = sub.add_parser("report", help="put several runs side by side (Markdown table + bar chart)",
                       description="Compare finished runs, e.g. base vs SFT vs GRPO. Prints the table; with "
                                   "--out also writes report.md and report.png there.")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="folders written by `vsgrpo eval run`")
    p.add_argument("--out", help="folder for report.md and report.png")
    p.set_defaults(func=cmd_report)


def cmd_score(args) -> int:
    from ..eval import score_file
    from ..io import write_json

    results = score_file(args.questions, args.predictions, parser=args.parser, answer_tag=args.answer_tag,
                         option_text=args.option_text)
    if args.out:
        write_json(args.out, results)
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        print(json.dumps(results, indent=2))
    return 0


def cmd_run(args) -> int:
    from ..eval.backends import BackendOptions
    from ..eval.report import results_table, run_label
    from ..eval.config import EvalConfig
    from ..eval.runner import run_eval
    from ..options import from_args

    options = BackendOptions(**from_args(BackendOptions, args)).for_backend(args.backend)
    config = EvalConfig(**from_args(EvalConfig, args), backend_options=options)
    results = run_eval(config)
    from pathlib import Path

    from ..eval.baselines import table_rows
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
    from ..eval.baselines import OVERALL_NOTE, baselines_file, format_answers, table_rows
    from ..eval.report import results_table
    from ..io import write_json

    baselines = baselines_file(args.questions, limit=args.limit)
    print(results_table({}, baselines=table_rows(baselines)), end="")
    print("Constant answers of the frequency row:\n" + format_answers(baselines))
    print(OVERALL_NOTE[0].upper() + OVERALL_NOTE[1:] + ".")
    if args.out:
        write_json(args.out, baselines)
        print(f"wrote {args.out}", file=sys.stderr)
    return 0
