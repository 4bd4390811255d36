"""`vsgrpo eval ...` commands: score predictions, run a model, compare runs."""

from __future__ import annotations

import argparse
import json
import sys

from . import group

_SWITCHES_HELP = ("Before parsing, an <answer>...</answer> span is taken as the answer (--no-answer-tag turns "
                  "this off) and an answer equal to an option's text is mapped to its letter (--no-option-text "
                  "turns this off). --parser official with both switches off is exactly the VSI-Bench authors' "
                  "protocol.")


def _add_scoring_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--parser", choices=("official", "lmms-eval"), default="official",
                   help="official: authors' first-token parse (default); lmms-eval: first number or number word "
                        "anywhere, first option letter")
    p.add_argument("--no-answer-tag", dest="answer_tag", action="store_false",
                   help="do not extract the <answer>...</answer> span before parsing")
    p.add_argument("--no-option-text", dest="option_text", action="store_false",
                   help="do not map an answer equal to an option's text to that option's letter")


def register(subparsers) -> None:
    sub = group(subparsers, "eval", "VSI-Bench evaluation: score predictions, run a model, compare runs")

    p = sub.add_parser("score", help="score a predictions JSONL exactly as VSI-Bench's authors do",
                       description="Score predictions ({\"id\": int, \"prediction\": str} JSONL rows) against a "
                                   "VSI-Bench-schema questions parquet. " + _SWITCHES_HELP)
    p.add_argument("--questions", required=True, help="questions parquet (VSI-Bench schema)")
    p.add_argument("--predictions", required=True, help="JSONL with {\"id\", \"prediction\"} rows (a run's "
                                                        "samples.jsonl works too)")
    _add_scoring_args(p)
    p.add_argument("--out", help="write the results JSON here (default: print it)")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("run", help="run a video LM on VSI-Bench questions (resumable)",
                       description="Generate answers (greedy) for each question from uniformly sampled frames of "
                                   "{videos}/{dataset}/{scene_name}.mp4, score them and write samples.jsonl, "
                                   "results.json, results.md and results.png under --out. Rerun the same command "
                                   "to resume after a crash. " + _SWITCHES_HELP)
    p.add_argument("--model", required=True, help="hub id or local model folder (openai backend: served model name)")
    p.add_argument("--questions", required=True, help="questions parquet (VSI-Bench schema)")
    p.add_argument("--videos", required=True, help="folder with {dataset}/{scene_name}.mp4")
    p.add_argument("--frames", type=int, default=32, help="frames sampled uniformly per video (default 32)")
    p.add_argument("--mode", choices=("vanilla", "think", "observe"), default="vanilla", help="prompt mode")
    p.add_argument("--style", choices=("bench", "train"), default="bench",
                   help="bench: VSI-Bench prompts with lettered options; train: the paper's training prompts, "
                        "no options")
    p.add_argument("--backend", choices=("hf", "openai", "vllm"), default="hf")
    p.add_argument("--out", default="eval-run", help="run folder (default ./eval-run)")
    p.add_argument("--limit", type=int, help="only the first N questions")
    p.add_argument("--batch-size", type=int, default=1,
                   help="generation batch (hf, vllm) or parallel requests (openai); default 1")
    p.add_argument("--max-new-tokens", type=int,
                   help="generation budget (default: 16 for vanilla, 1024 for think/observe)")
    p.add_argument("--retry-errors", action="store_true", help="when resuming, run again samples that failed")
    _add_scoring_args(p)
    g = p.add_argument_group("hf / vllm backends")
    g.add_argument("--device", help="hf: torch device (default cuda if available, else cpu)")
    g.add_argument("--dtype", choices=("auto", "float32", "bfloat16", "float16"), default="auto")
    g.add_argument("--min-pixels", type=int, help="per-frame pixel budget lower bound")
    g.add_argument("--max-pixels", type=int, help="per-frame pixel budget upper bound")
    g = p.add_argument_group("openai backend")
    g.add_argument("--base-url", help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1 "
                                      "(default $OPENAI_BASE_URL or https://api.openai.com/v1)")
    g.add_argument("--api-key-env", default="OPENAI_API_KEY",
                   help="environment variable holding the API key (default OPENAI_API_KEY)")
    p.set_defaults(func=cmd_run)

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


def _backend_options(args) -> dict:
    if args.backend == "openai":
        opts = {"base_url": args.base_url, "api_key_env": args.api_key_env}
    else:
        opts = {"dtype": args.dtype, "min_pixels": args.min_pixels, "max_pixels": args.max_pixels}
        if args.backend == "hf":
            opts["device"] = args.device
    return {k: v for k, v in opts.items() if v is not None}


def cmd_run(args) -> int:
    from ..eval.report import results_table, run_label
    from ..eval.runner import EvalConfig, run_eval

    config = EvalConfig(model=args.model, questions=args.questions, videos=args.videos, out=args.out,
                        frames=args.frames, mode=args.mode, style=args.style, backend=args.backend,
                        batch_size=args.batch_size, limit=args.limit, max_new_tokens=args.max_new_tokens,
                        parser=args.parser, answer_tag=args.answer_tag, option_text=args.option_text,
                        retry_errors=args.retry_errors, backend_options=_backend_options(args))
    results = run_eval(config)
    from pathlib import Path

    print(results_table({run_label(Path(args.out)): results}), end="")
    if results.get("errors"):
        print(f"{results['errors']} sample(s) failed (see 'error' in {args.out}/samples.jsonl); they are not scored. "
              "Rerun with --retry-errors to try them again.", file=sys.stderr)
    print(f"wrote {args.out}/results.json, results.md, results.png, samples.jsonl", file=sys.stderr)
    return 0


def cmd_report(args) -> int:
    from ..eval.report import compare_runs

    print(compare_runs(args.runs, out=args.out), end="")
    if args.out:
        print(f"wrote {args.out}/report.md and report.png", file=sys.stderr)
    return 0
