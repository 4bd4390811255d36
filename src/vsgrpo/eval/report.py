"""Markdown tables and bar charts of VSI-Bench results, for one run or several side by side."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import VsgrpoError
from ..io import atomic_path, ensure_writable_dir
from ..metrics import TASK_LABELS, TASKS

COLUMNS = ("overall",) + TASKS
LABELS = {"overall": "Avg", **TASK_LABELS}


def _cell(value) -> str:
    return "-" if value is None else f"{value:.1f}"


def _value(results: dict, column: str):
    return results.get("overall") if column == "overall" else results.get("scores", {}).get(column)


def results_table(runs: dict[str, dict]) -> str:
    """Markdown table, one row per run: Avg, the 8 tasks (the paper's order), scored count, errors."""
    header = ["run"] + [LABELS[c] for c in COLUMNS] + ["n", "errors"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    for name, res in runs.items():
        cells = [name] + [_cell(_value(res, c)) for c in COLUMNS] + [str(res.get("count", 0)),
                                                                      str(res.get("errors", 0))]
        lines.append("| " + " | ".join(cells) + " |")
    notes = sorted({t for res in runs.values() for t in res.get("missing_tasks", [])}, key=TASKS.index)
    text = "\n".join(lines) + "\n"
    if notes:
        text += ("\nNo questions (left out of Avg): " + ", ".join(LABELS[t] for t in notes) + ".\n")
    return text


def bar_chart(runs: dict[str, dict], path: str | os.PathLike, *, title: str = "VSI-Bench") -> Path:
    """Grouped bar chart (PNG) of Avg and per-task scores, one colour per run. Written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    names = list(runs)
    x = np.arange(len(COLUMNS))
    width = 0.8 / max(1, len(names))
    fig, ax = plt.subplots(figsize=(max(8, 1.1 * len(COLUMNS) + 0.3 * len(names)), 4.5))
    for i, name in enumerate(names):
        vals = [_value(runs[name], c) for c in COLUMNS]
        heights = [0.0 if v is None else v for v in vals]
        bars = ax.bar(x + (i - (len(names) - 1) / 2) * width, heights, width, label=name)
        for bar, v in zip(bars, vals):
            ax.annotate(_cell(v), (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center",
                        va="bottom", fontsize=7, xytext=(0, 1), textcoords="offset points")
    ax.set_xticks(x, [LABELS[c] for c in COLUMNS])
    ax.set_ylabel("score (%)")
    ax.set_ylim(0, 105)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper right")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    return path


def run_label(run_dir: Path) -> str:
    """A run's name in tables: its folder name."""
    return run_dir.resolve().name


def write_run_report(run_dir: str | os.PathLike, results: dict) -> None:
    """``results.md`` and ``results.png`` of one run."""
    run_dir = Path(run_dir)
    runs = {run_label(run_dir): results}
    with atomic_path(run_dir / "results.md") as tmp:
        tmp.write_text(results_table(runs), encoding="utf-8")
    bar_chart(runs, run_dir / "results.png", title=f"VSI-Bench: {run_label(run_dir)}")


def load_run(run_dir: str | os.PathLike) -> dict:
    path = Path(run_dir) / "results.json"
    if not path.is_file():
        raise VsgrpoError(f"{run_dir} has no results.json; is it a finished `vsgrpo eval run` folder?")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise VsgrpoError(f"{path} is not valid JSON: {e}") from None


def compare_runs(run_dirs: list[str | os.PathLike], *, out: str | os.PathLike | None = None) -> str:
    """Side-by-side Markdown table of several runs; with ``out``, also ``report.md`` and ``report.png`` there."""
    if not run_dirs:
        raise VsgrpoError("name at least one run folder")
    runs: dict[str, dict] = {}
    for d in run_dirs:
        name = run_label(Path(d))
        while name in runs:  # two folders with the same name in different places
            name += "'"
        runs[name] = load_run(d)
    table = results_table(runs)
    if out is not None:
        out = ensure_writable_dir(out)
        with atomic_path(out / "report.md") as tmp:
            tmp.write_text(table, encoding="utf-8")
        bar_chart(runs, out / "report.png")
    return table
