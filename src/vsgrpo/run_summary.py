"""One line that says how a training run ended, read from its folder alone.

``train_summary(run_dir)`` reads what the run wrote (``finished.json``, ``metrics.jsonl``,
``eval/scores.jsonl`` / ``eval/best.json``, ``config.yaml``; see :mod:`vsgrpo.train.runner`) and
returns::

    trained runs/grpo: 100 steps in 1h02m; last reward 0.61, KL 0.0012; best validation 41.2
    (step 80, checkpoint-80); evaluate: vsgrpo eval run --model runs/grpo/final --questions ... --out ...

Anything missing (no validation, SFT without reward or KL, an unfinished run) is left out, never
invented. It imports nothing heavy, so ``train`` can print it after the trainer is gone.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

from .progress import format_duration

FINISHED_FILE = "finished.json"  # names as written by vsgrpo.train.runner / validation (kept in step by a test)
METRICS_FILE = "metrics.jsonl"
CONFIG_FILE = "config.yaml"
SCORES_FILE = "eval/scores.jsonl"
BEST_FILE = "eval/best.json"


def _json_lines(path: Path) -> list[dict]:
    rows = []
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return rows
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue  # a line cut by a crash
        if isinstance(row, dict):
            rows.append(row)
    return rows


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _last(rows: list[dict], key: str):
    for row in reversed(rows):
        value = row.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
    return None


def _config(run: Path) -> dict:
    try:
        import yaml

        data = yaml.safe_load((run / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError, ImportError):
        return {}
    except Exception:  # yaml.YAMLError: an unreadable config only costs the summary its eval command
        return {}
    return data if isinstance(data, dict) else {}


def _best_validation(run: Path) -> dict | None:
    best = _read_json(run / BEST_FILE)
    if isinstance(best.get("overall"), (int, float)):
        return best
    scored = [r for r in _json_lines(run / SCORES_FILE) if isinstance(r.get("overall"), (int, float))]
    return max(scored, key=lambda r: r["overall"]) if scored else None


def eval_command(run: Path, cfg: dict) -> str:
    """The ``vsgrpo eval run`` command for the run's final model (its validation set when it has one)."""
    model = run / "final"  # a LoRA adapter folder too: eval run loads its base with the adapter merged
    if cfg.get("eval_questions"):  # the run's validation set; no eval_videos: eval run finds them as training did
        questions, videos = cfg["eval_questions"], cfg.get("eval_videos")
    else:  # the benchmark as `vsgrpo data fetch vsibench --out vsibench` lays it out
        questions, videos = "vsibench/full.parquet", "vsibench"
    parts = ["vsgrpo", "eval", "run", "--model", str(model), "--questions", str(questions)]
    if videos:
        parts += ["--videos", str(videos)]
    if cfg.get("mode"):
        parts += ["--mode", str(cfg["mode"])]
    parts += ["--out", str(run / "eval-final")]
    return " ".join(shlex.quote(p) for p in parts)


def train_summary(run_dir: str | os.PathLike) -> str:
    """The one-line summary of a training run folder (see the module doc)."""
    run = Path(run_dir)
    finished = _read_json(run / FINISHED_FILE)
    rows = _json_lines(run / METRICS_FILE)
    step = finished.get("global_step", _last(rows, "step"))
    parts = []
    head = f"trained {run}"
    if step is not None:
        head += f": {step} steps"
        runtime = _last(rows, "train_runtime")
        if runtime is not None:
            head += f" in {format_duration(runtime)}"
    if not finished:
        head += " (not finished)"
    parts.append(head)
    last = []
    for key, label, fmt in (("reward", "reward", "{:.3g}"), ("kl", "KL", "{:.3g}"), ("loss", "loss", "{:.4g}")):
        value = _last(rows, key)
        if value is not None and (key != "loss" or not last):  # loss only when there is no reward/KL (SFT, DPO)
            last.append(f"{label} {fmt.format(value)}")
    if last:
        parts.append("last " + ", ".join(last))
    best = _best_validation(run)
    if best is not None:
        where = f"step {best.get('step')}"
        if best.get("checkpoint"):
            where += f", {best['checkpoint']}"
        parts.append(f"best validation {best['overall']:.1f} ({where})")
    if finished:
        parts.append("evaluate: " + eval_command(run, _config(run)))
    return "; ".join(parts)


def print_train_summary(run_dir: str | os.PathLike) -> None:
    """Print :func:`train_summary` on stderr (stdout keeps only the run folder, for scripts)."""
    import sys

    if os.environ.get("RANK", "0") != "0":  # under accelerate/torchrun, the main process speaks for the run
        return
    print(f"vsgrpo: {train_summary(run_dir)}", file=sys.stderr)
