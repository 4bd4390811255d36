"""Markdown tables and bar charts of VSI-Bench results, for one run or several side by side.

Every table shows both averages, labelled: ``Avg`` = the mean over tasks (VSI-Bench's and
lmms-eval's number) and ``Avg/q`` = the mean over questions (the VSI-Bench-Debiased paper's).
A score with an interval in its results (``ci95``) is printed ``45.2 [41.0, 49.3]``: the 95%
interval of a bootstrap over scenes (:mod:`vsgrpo.eval.intervals`). A run scored on a questions
file with VSI-Bench's ``pruned`` column gets a second row, ``<run> (VSI-Bench-Debiased)``.
:func:`compare_runs` warns, in the table and on stderr, when runs were scored on different
question sets.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import VsgrpoError
from ..io import atomic_path, ensure_writable_dir
from ..question_types import question_types_of, scored_tasks, task_label

#: the mean over questions, shown beside ``overall`` (the mean over tasks)
PER_QUESTION = "overall_questions"
DEBIASED_SUFFIX = " (VSI-Bench-Debiased)"
AVERAGES_NOTE = ("Avg = mean over the tasks (VSI-Bench, lmms-eval); Avg/q = mean over the questions (the "
                 "VSI-Bench-Debiased paper).")
INTERVAL_NOTE = "[lo, hi] = 95% interval, bootstrap over scenes."


def table_columns() -> tuple[str, ...]:
    """``overall``, ``overall_questions`` and the scored tasks in column order (from the task registry)."""
    return ("overall", PER_QUESTION) + scored_tasks()


def fmt(value, digits: int = 1) -> str:
    """A score (or any number) as printed in every table and chart; ``None`` as ``-``."""
    return "-" if value is None else f"{value:.{digits}f}"


def score_value(results: dict, column: str):
    """``overall``, ``overall_questions`` or one ``scores`` entry of a results object (``None`` when not scored)."""
    if column in ("overall", PER_QUESTION):
        return results.get(column)
    return (results.get("scores") or {}).get(column)


def interval(results: dict, column: str) -> list[float] | None:
    """The 95% interval ``[lo, hi]`` of a score column (``None`` when the results have none)."""
    ci = results.get("ci95") or {}
    if column in ("overall", PER_QUESTION):
        return ci.get(column)
    return (ci.get("scores") or {}).get(column)


def fmt_ci(results: dict, column: str) -> str:
    """A score as the tables print it: ``45.2 [41.0, 49.3]`` with its interval, else ``45.2`` (``-``: not scored)."""
    value, ci = score_value(results, column), interval(results, column)
    if value is None or not ci:
        return fmt(value)
    return f"{fmt(value)} [{fmt(ci[0])}, {fmt(ci[1])}]"


def column_label(column: str) -> str:
    """Short header of a score column: Avg, Avg/q, a task label, or RelDir-easy/medium/hard for direction levels."""
    if column == "overall":
        return "Avg"
    if column == PER_QUESTION:
        return "Avg/q"
    return task_label(column)


def with_debiased(runs: dict[str, dict]) -> dict[str, dict]:
    """``runs`` with, after each run that has one, its VSI-Bench-Debiased scores as a row of their own."""
    out: dict[str, dict] = {}
    for name, res in runs.items():
        label = name + DEBIASED_SUFFIX if res.get("subset") == "debiased" else name
        out[label] = res
        if res.get("debiased"):
            out[name + DEBIASED_SUFFIX] = {**res["debiased"], "errors": None}
    return out


def score_columns(results: list[dict]) -> list[str]:
    """``overall`` plus the VSI-Bench tasks (and direction levels) any of ``results`` scored, paper order."""
    present = {k for r in results for k in (r.get("scores") or {})}
    cols = ["overall"]
    for t in scored_tasks():
        if t in present:
            cols.append(t)
        members = question_types_of(t)
        if members != (t,):
            cols += [qt for qt in members if qt in present]
    return cols


def pyplot():
    """matplotlib's pyplot with the file-only Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig, path: str | os.PathLike, *, dpi: int = 120) -> Path:
    """Write ``fig`` as PNG atomically and close it."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    pyplot().close(fig)
    return path


def results_table(runs: dict[str, dict], *, baselines: dict[str, dict] | None = None) -> str:
    """Markdown table, one row per run: Avg, the 8 tasks (the paper's order), scored count, errors.

    ``baselines``: rows printed first, as VSI-Bench does (``{"chance (random)": results-like, ...}``,
    see :func:`vsgrpo.chance.table_rows`); their "-" cells are undefined values.
    """
    columns = table_columns()
    runs = with_debiased(runs)
    header = ["run"] + [column_label(c) for c in columns] + ["n", "errors"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    for name, res in {**(baselines or {}), **runs}.items():
        errors = res.get("errors", 0)
        cells = [name] + [fmt_ci(res, c) for c in columns] + [str(res.get("count", 0)),
                                                            "-" if errors is None else str(errors)]
        lines.append("| " + " | ".join(cells) + " |")
    notes = sorted({t for res in runs.values() for t in res.get("missing_tasks", [])},
                   key=lambda t: columns.index(t) if t in columns else len(columns))
    text = "\n".join(lines) + "\n\n" + AVERAGES_NOTE
    if any(res.get("ci95") for res in runs.values()):
        text += " " + INTERVAL_NOTE
    text += "\n"
    if notes:
        text += ("\nNo questions (left out of Avg): " + ", ".join(column_label(t) for t in notes) + ".\n")
    return text


def bar_chart(runs: dict[str, dict], path: str | os.PathLike, *, title: str = "VSI-Bench",
              columns: tuple[str, ...] | list[str] | None = None, dpi: int = 120,
              reference: dict[str, dict] | None = None) -> Path:
    """Grouped bar chart (PNG): one group per score column (default Avg and the tasks), one colour per run,
    each bar's value on top. ``reference``: rows drawn as a short line across each group (e.g. the chance
    rows, :func:`vsgrpo.chance.table_rows`); undefined values are skipped. Written atomically."""
    import numpy as np

    columns = table_columns() if columns is None else columns
    plt = pyplot()
    names = list(runs)
    x = np.arange(len(columns))
    width = 0.8 / max(1, len(names))
    fig, ax = plt.subplots(figsize=(max(8, 1.1 * len(columns) + 0.3 * len(names)), 4.5))
    for i, name in enumerate(names):
        vals = [score_value(runs[name], c) for c in columns]
        heights = [0.0 if v is None else v for v in vals]
        cis = [interval(runs[name], c) if v is not None else None for c, v in zip(columns, vals)]
        # Error bars: the 95% interval (bootstrap over scenes) where the results carry one.
        yerr = np.array([[h - ci[0], ci[1] - h] if ci else [0.0, 0.0] for h, ci in zip(heights, cis)]).T
        bars = ax.bar(x + (i - (len(names) - 1) / 2) * width, heights, width, label=name,
                      yerr=yerr if any(cis) else None, error_kw={"elinewidth": 0.8, "capsize": 2})
        for bar, v in zip(bars, vals):
            ax.annotate(fmt(v), (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center",
                        va="bottom", fontsize=7, xytext=(0, 1), textcoords="offset points")
    for k, (name, row) in enumerate((reference or {}).items()):
        style = ("--", ":", "-.")[k % 3]
        for j, c in enumerate(columns):
            v = score_value(row, c)
            if v is not None:
                ax.hlines(v, x[j] - 0.42, x[j] + 0.42, colors="black", linestyles=style, linewidth=1.0,
                          label=name if j == next(i for i, cc in enumerate(columns)
                                                  if score_value(row, cc) is not None) else None)
    ax.set_xticks(x, [column_label(c) for c in columns], fontsize=8 if len(columns) > 9 else None)
    ax.set_ylabel("score (%)")
    ax.set_ylim(0, 105)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper right")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return save_png(fig, path, dpi=dpi)


def run_label(run_dir: Path) -> str:
    """A run's name in tables: its folder name."""
    return run_dir.resolve().name


def chance_lines(rows: dict[str, dict]) -> dict[str, dict]:
    """The chance rows a chart draws as lines (random and frequency, as VSI-Bench prints them), from
    :func:`vsgrpo.chance.table_rows`; rows of several question sets (named with a suffix) are left out."""
    from ..chance import FREQUENCY, RANDOM, ROW_LABELS

    return {label: rows[label] for label in (ROW_LABELS[RANDOM], ROW_LABELS[FREQUENCY]) if label in rows}


def write_run_report(run_dir: str | os.PathLike, results: dict, *, baselines: dict | None = None) -> None:
    """``results.md`` and ``results.png`` of one run (``baselines``: its chance rows, printed first in
    the table and drawn as lines in the chart)."""
    from ..chance import table_rows

    run_dir = Path(run_dir)
    runs = {run_label(run_dir): results}
    rows = table_rows(baselines)
    with atomic_path(run_dir / "results.md") as tmp:
        tmp.write_text(results_table(runs, baselines=rows), encoding="utf-8")
    bar_chart(runs, run_dir / "results.png", title=f"VSI-Bench: {run_label(run_dir)}", reference=chance_lines(rows))


def load_run(run_dir: str | os.PathLike) -> dict:
    path = Path(run_dir) / "results.json"
    if not path.is_file():
        raise VsgrpoError(f"{run_dir} has no results.json; is it a finished `vsgrpo eval run` folder?")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise VsgrpoError(f"{path} is not valid JSON: {e}") from None


def load_baselines(run_dir: str | os.PathLike) -> dict | None:
    """A run's chance rows (``baselines.json``); ``None`` for a run written before they existed."""
    path = Path(run_dir) / "baselines.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def baseline_rows(baselines: dict[str, dict | None]) -> dict[str, dict]:
    """Chance rows of several runs (``{run name: baselines}``): once when the runs share their
    questions, else once per distinct question set, named by its runs."""
    from ..chance import table_rows

    groups: dict[str, list[str]] = {}
    found: dict[str, dict] = {}
    for name, b in baselines.items():
        if b:
            key = json.dumps(b, sort_keys=True)
            groups.setdefault(key, []).append(name)
            found[key] = b
    if len(groups) == 1:
        return table_rows(next(iter(found.values())))
    rows: dict[str, dict] = {}
    for key, names in groups.items():
        rows.update(table_rows(found[key], suffix=f" [{', '.join(names)}]"))
    return rows


QUESTION_IDS_FILE = "question_ids.json"  # written by `eval run`: the ids of the questions a run covered


def load_question_ids(run_dir: str | os.PathLike) -> set[int] | None:
    """The question ids a run covered (``question_ids.json``), or ``None`` for a run without the file."""
    try:
        return {int(i) for i in json.loads((Path(run_dir) / QUESTION_IDS_FILE).read_text(encoding="utf-8"))["ids"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def question_set_warning(sets: dict[str, set[int] | None], runs: dict[str, dict]) -> str | None:
    """A warning naming the runs and their question counts when they were not scored on the same
    questions (``None`` when they were). Runs without an id list are compared by their counts."""
    known = {n: s for n, s in sets.items() if s is not None}
    same = len({frozenset(s) for s in known.values()}) <= 1
    counts = {n: (len(sets[n]) if sets.get(n) is not None else
                  (runs[n].get("count", 0) or 0) + (runs[n].get("errors") or 0) + (runs[n].get("unanswered") or 0))
              for n in runs}
    if same and len(set(counts.values())) <= 1:
        return None
    text = ("WARNING: these runs were scored on different question sets, so their scores are not comparable: "
            + ", ".join(f"{n} {c} questions" for n, c in counts.items()))
    if len(known) == len(runs) and known:
        common = set.intersection(*known.values())
        text += f"; {len(common)} in common"
    return text + ". Rerun them on the same --questions (and --limit / --subset)."


def compare_runs(run_dirs: list[str | os.PathLike], *, out: str | os.PathLike | None = None) -> str:
    """Side-by-side Markdown table of several runs, their chance rows first; with ``out``, also
    ``report.md`` and ``report.png`` there. Runs scored on different question sets get a warning
    (:func:`question_set_warning`) above the table, also on stderr."""
    import sys

    if not run_dirs:
        raise VsgrpoError("name at least one run folder")
    runs: dict[str, dict] = {}
    chance: dict[str, dict | None] = {}
    ids: dict[str, set[int] | None] = {}
    for d in run_dirs:
        name = run_label(Path(d))
        while name in runs:  # two folders with the same name in different places
            name += "'"
        runs[name] = load_run(d)
        chance[name] = load_baselines(d)
        ids[name] = load_question_ids(d)
    chance_rows = baseline_rows(chance)
    table = results_table(runs, baselines=chance_rows)
    warning = question_set_warning(ids, runs)
    if warning:
        print(f"vsgrpo: {warning}", file=sys.stderr)
        table = f"**{warning}**\n\n" + table
    if out is not None:
        out = ensure_writable_dir(out)
        with atomic_path(out / "report.md") as tmp:
            tmp.write_text(table, encoding="utf-8")
        bar_chart(runs, out / "report.png", reference=chance_lines(chance_rows))  # one question set: its lines
    return table
