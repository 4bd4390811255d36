"""VSI-Bench evaluation: run any video LM, score exactly as the benchmark's authors, report.

Python API::

    from vsgrpo.eval import run_eval, score_file, compare_runs

    results = run_eval(model="Qwen/Qwen2-VL-2B-Instruct", questions="test.parquet", videos="vsibench/",
                       out="runs/base", mode="vanilla", style="bench", frames=32, batch_size=8)
    results["overall"]                      # percent
    results["scores"]["object_rel_direction"]
    results["errors"]                       # samples with a missing/corrupt video or a failed request

    score_file("test.parquet", "predictions.jsonl", parser="official")   # = vsgrpo eval score
    print(compare_runs(["runs/base", "runs/grpo"], out="runs/compare"))   # = vsgrpo eval report

Heavy libraries (torch, transformers) are imported only when a backend is built.
"""

from __future__ import annotations

import importlib

from .config import MAX_NEW_TOKENS, EvalConfig, ScoringConfig

# The rest is imported on first use, so that the CLI can read the configs above without loading
# the questions registry, pandas and the report's plotting.
_LAZY = {"compare_runs": "report", "run_eval": "runner", "load_predictions": "scoring", "load_questions": "scoring",
         "score_predictions": "scoring"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def score_file(questions: str, predictions: str, *, parser: str = "official", answer_tag: bool | None = None,
               option_text: bool | None = None, **settings) -> dict:
    """Score a predictions JSONL (``{"id", "prediction"}`` rows, a run's samples.jsonl, or lmms-eval's
    ``--log_samples`` output) against a questions parquet. ``settings``: the other
    :class:`ScoringConfig` fields (``subset``, ``ci_resamples``, ``ci_seed``)."""
    from .scoring import load_predictions, load_questions, score_predictions

    config = ScoringConfig(parser=parser, answer_tag=answer_tag, option_text=option_text, **settings)
    return score_predictions(load_questions(questions), load_predictions(predictions), config)


__all__ = ["MAX_NEW_TOKENS", "EvalConfig", "ScoringConfig", "compare_runs", "load_predictions", "load_questions",
           "run_eval", "score_file", "score_predictions"]
