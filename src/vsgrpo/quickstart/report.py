"""The quickstart report: ``report.md`` and a self-contained ``report.html`` (plots inlined as base64 PNG).

Every number in the report is read from a file the run wrote: the evaluation results JSONs
(``{"scores": {...}, "overall": float, "count": int}``, see :mod:`vsgrpo.eval`), the trainers'
``metrics.jsonl`` (one JSON object per logging step) and the pipeline's stage timings. The
report is built once as a list of blocks (heading, paragraph, table, image, code) and rendered
twice, to Markdown and to HTML, so the two files always say the same thing.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..eval.report import INTERVAL_NOTE, bar_chart, column_label, fmt, fmt_ci, pyplot, save_png, score_columns
from ..io import atomic_path, ensure_writable_dir
from ..question_types import question_types_of, scored_tasks
from . import evidence

PLOTS_DIR = "report"
MD_FILE, HTML_FILE = "report.md", "report.html"


# --------------------------------------------------------------------------------------------
# reading run outputs


def read_metrics(path: str | os.PathLike) -> list[dict]:
    """Logging-step rows of a trainer's ``metrics.jsonl`` (the end-of-training summary row is left out).

    A line torn by a crash is skipped; when a resumed run logged a step again, the last row wins.
    """
    p = Path(path)
    if not p.is_file():
        return []
    by_step: dict[int, dict] = {}
    for line in p.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if not isinstance(row, dict) or "step" not in row or "train_runtime" in row:
            continue
        by_step[int(row["step"])] = {**by_step.get(int(row["step"]), {}), **row}
    return [by_step[s] for s in sorted(by_step)]


def _edge_mean(rows: list[dict], key: str, *, first: bool) -> float | None:
    """Mean of ``key`` over the first (or last) tenth of the logged steps that carry it."""
    vals = [r[key] for r in rows if isinstance(r.get(key), (int, float))]
    if not vals:
        return None
    k = max(1, round(len(vals) / 10))
    part = vals[:k] if first else vals[-k:]
    return sum(part) / len(part)


def reward_names(rows: list[dict]) -> list[str]:
    """Reward functions logged by TRL as ``rewards/<name>/mean``, in first-seen order."""
    names: list[str] = []
    for row in rows:
        for k in row:
            m = re.fullmatch(r"rewards/(.+)/mean", k)
            if m and m.group(1) not in names:
                names.append(m.group(1))
    return names


def series(rows: list[dict], key: str) -> tuple[list[int], list[float]]:
    """(steps, values) of ``key`` over the rows that logged it."""
    xs, ys = [], []
    for row in rows:
        v = row.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            xs.append(int(row["step"]))
            ys.append(float(v))
    return xs, ys


# --------------------------------------------------------------------------------------------
# plots


def plot_rewards(rows: list[dict], path: Path, *, title: str) -> Path | None:
    """One panel per reward function: mean reward per step (band: +/- std across completions)."""
    names = reward_names(rows)
    if not names:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 3.0), squeeze=False)
    for ax, name in zip(axes[0], names):
        xs, ys = series(rows, f"rewards/{name}/mean")
        _, sd = series(rows, f"rewards/{name}/std")
        ax.plot(xs, ys, marker="o", ms=2, lw=1.2)
        if len(sd) == len(ys):
            ax.fill_between(xs, [y - s for y, s in zip(ys, sd)], [y + s for y, s in zip(ys, sd)], alpha=0.2)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_png(fig, path, dpi=110)


#: What GRPO is debugged with, by TRL 1.16's metric names: the share of groups whose completions all got
#: the same reward (no advantage, no gradient from them), the policy's token entropy (exploration), the
#: gradient norm, and the share of tokens whose importance ratio was clipped (by region, below, above).
GRPO_HEALTH = [("frac_reward_zero_std", "groups with zero reward spread"), ("entropy", "entropy"),
               ("grad_norm", "gradient norm"),
               (("clip_ratio/region_mean", "clip_ratio/low_mean", "clip_ratio/high_mean"), "clip ratio")]


def plot_lines(rows: list[dict], keys: list[tuple[str | tuple[str, ...], str]], path: Path, *, title: str,
               ylabel: str = "") -> Path | None:
    """One panel per ``(key, label)`` that the rows logged (a tuple of keys: one line each, with a
    legend); panels and lines never logged are left out, ``None`` when nothing was logged."""
    panels = []
    for k, lab in keys:
        logged = [key for key in ((k,) if isinstance(k, str) else k) if series(rows, key)[0]]
        if logged:
            panels.append((logged, lab, not isinstance(k, str)))
    if not panels:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(3.8 * len(panels), 3.0), squeeze=False)
    for ax, (logged, lab, legend) in zip(axes[0], panels):
        for key in logged:
            xs, ys = series(rows, key)
            ax.plot(xs, ys, marker="o", ms=2, lw=1.2, label=key.rsplit("/", 1)[-1])
        if legend:
            ax.legend(fontsize=7)
        ax.ticklabel_format(axis="y", useOffset=False)  # entropy 5.9781 as itself, not "+5.978" and 0.0001
        ax.xaxis.get_major_locator().set_params(integer=True)  # steps
        ax.set_title(lab, fontsize=9)
        ax.set_xlabel("step")
        if ylabel:
            ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_png(fig, path, dpi=110)


# --------------------------------------------------------------------------------------------
# document model, rendered to Markdown and HTML


@dataclass
class Doc:
    blocks: list[tuple] = field(default_factory=list)

    def h(self, level: int, text: str):
        self.blocks.append(("h", level, text))

    def p(self, text: str):
        self.blocks.append(("p", text))

    def table(self, header: list[str], rows: list[list[str]], *, align_right_from: int = 1):
        self.blocks.append(("table", header, rows, align_right_from))

    def img(self, path: Path, alt: str):
        self.blocks.append(("img", path, alt))

    def code(self, text: str):
        self.blocks.append(("code", text))


_MD_CODE = re.compile(r"`([^`]+)`")


def to_markdown(doc: Doc, base: Path) -> str:
    out: list[str] = []
    for b in doc.blocks:
        kind = b[0]
        if kind == "h":
            out.append("#" * b[1] + " " + b[2])
        elif kind == "p":
            out.append(b[1])
        elif kind == "table":
            header, rows, right = b[1], b[2], b[3]
            out.append("| " + " | ".join(header) + " |")
            out.append("|" + "|".join("---:" if i >= right else "---" for i in range(len(header))) + "|")
            out += ["| " + " | ".join(r) + " |" for r in rows]
        elif kind == "img":
            out.append(f"![{b[2]}]({b[1].relative_to(base).as_posix()})")
        elif kind == "code":
            out.append("```\n" + b[1].rstrip("\n") + "\n```")
        out.append("")
    return "\n".join(out)


def _inline(text: str) -> str:
    return _MD_CODE.sub(r"<code>\1</code>", html.escape(text, quote=False))


def _cell(text: str) -> str:
    """A table cell: as :func:`_inline`, with line breaks allowed after ``_`` and ``/`` (type names, paths)."""
    soft = html.escape(text, quote=False).replace("_", "_<wbr>").replace("/", "/<wbr>")
    return _MD_CODE.sub(r"<code>\1</code>", soft)


_CSS = """body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}.tw{max-width:100%;overflow-x:auto}table{border-collapse:collapse;margin:0.6em 0}
th,td{border:1px solid #ccc;padding:3px 8px}td code{overflow-wrap:anywhere}th{background:#f3f3f3}td.r,th.r{text-align:right}
img{max-width:100%;border:1px solid #eee}
pre{background:#f6f6f6;padding:0.6em;overflow-x:auto}code{background:#f3f3f3;padding:0 2px}"""


def to_html(doc: Doc, title: str) -> str:
    out = ["<!DOCTYPE html>", "<html lang=\"en\"><head><meta charset=\"utf-8\">",
           f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"]
    for b in doc.blocks:
        kind = b[0]
        if kind == "h":
            out.append(f"<h{b[1]}>{_inline(b[2])}</h{b[1]}>")
        elif kind == "p":
            out.append(f"<p>{_inline(b[1])}</p>")
        elif kind == "table":
            header, rows, right = b[1], b[2], b[3]

            def cls(i, right=right):
                return ' class="r"' if i >= right else ""

            # The wrapper scrolls a table wider than the page inside it; cells wrap at _ and / (type names, paths).
            out.append("<div class=\"tw\"><table><thead><tr>"
                       + "".join(f"<th{cls(i)}>{_cell(c)}</th>" for i, c in enumerate(header)) + "</tr></thead><tbody>")
            for r in rows:
                out.append("<tr>" + "".join(f"<td{cls(i)}>{_cell(c)}</td>" for i, c in enumerate(r)) + "</tr>")
            out.append("</tbody></table></div>")
        elif kind == "img":
            data = base64.b64encode(Path(b[1]).read_bytes()).decode("ascii")
            out.append(f"<p><img alt=\"{html.escape(b[2])}\" src=\"data:image/png;base64,{data}\"></p>")
        elif kind == "code":
            out.append(f"<pre>{html.escape(b[1])}</pre>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------------
# the report


def _monitor_names() -> set[str]:
    from ..rewards import MONITORS

    return {f.__name__ for f in MONITORS}


def _duration(seconds: float) -> str:
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{int(seconds // 60)} min {seconds % 60:04.1f} s"


def build_report(summary: dict, out_dir: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``report.md``, ``report.html`` and the PNG plots (``report/``) under ``out_dir``.

    ``summary`` (the pipeline's ``summary.json``) names what to read::

        {"title": str, "command": str, "settings": {name: value},
         "evals": {stage: path to results.json, ...}         # in stage order, e.g. base, sft, grpo
         "training": {stage: path to metrics.jsonl, ...},
         "trained_tasks": [question_type, ...],
         "data": {"train": {...summary.json of data build}, "heldout": {...}},
         "stages": [{"name", "title", "seconds", "reused": bool}, ...], "total_seconds": float}

    Relative paths are relative to ``out_dir``. Returns ``(report.md, report.html)``.
    """
    out = ensure_writable_dir(out_dir)
    plots = ensure_writable_dir(out / PLOTS_DIR)
    evals: dict[str, dict] = {}
    for stage, path in summary.get("evals", {}).items():
        p = out / path
        if p.is_file():
            evals[stage] = json.loads(p.read_text(encoding="utf-8"))
    training = {stage: read_metrics(out / path) for stage, path in summary.get("training", {}).items()}
    cols = score_columns(list(evals.values()))

    doc = Doc()
    title = summary.get("title", "vsgrpo quickstart")
    chance, blind = evidence.chance_and_blind_rows(summary, out) if evals else ({}, {})
    scores = evidence.stage_scores(summary, out)  # per-question scores, read once for every paired interval
    # The first line cannot oversell: the trained model beside its blind twin and the chance row.
    head = evidence.headline(summary, out, evals, chance, blind, scores)
    doc.h(1, head[0] if head else title)
    if head:
        doc.p(head[1])
    if summary.get("note"):
        doc.p(summary["note"])
    if head:
        parts = [f"{stage} {fmt_ci(r, 'overall')}" for stage, r in evals.items()]
        doc.p(f"{title}. Held-out score per stage (VSI-Bench scoring, mean over the tasks trained on): "
              + " → ".join(parts) + ".")
    if summary.get("command"):
        doc.p("Reproduce:")
        doc.code(summary["command"])

    doc.h(2, "Held-out scores")
    if evals:
        table_runs = {**chance, **evals, **blind}
        doc.table(["stage"] + [column_label(c) for c in cols] + ["questions"],
                  [[stage] + [fmt_ci(r, c) for c in cols] + [str(r.get("count", "-"))]
                   for stage, r in table_runs.items()])
        doc.p("Avg: unweighted mean of the task columns (RelDir is the mean of its easy/medium/hard levels), as "
              "VSI-Bench averages. Scores in percent; numeric answers by mean relative accuracy, choices by exact "
              "match. " + INTERVAL_NOTE.replace("[lo, hi]", "[lo, hi] after a score")
              + " Two stages whose intervals overlap widely are not shown apart by these questions.")
        if chance:
            doc.p("Chance rows, as VSI-Bench prints them: chance (random) = a uniform guess among the options "
                  "(undefined, -, for numeric tasks); chance (frequency) = always the most frequent answer of each "
                  "task on these held-out questions (counting: its most common count); best constant = the "
                  "constant answer with the highest score (numeric: the value with the highest mean MRA; choices: "
                  f"the most frequent answer); {evidence.PRIOR_LABEL} = each task's most frequent training answer (numeric: "
                  "best constant on the training set) scored on the held-out questions, i.e. what a model that "
                  "learned only the training answer prior would score. Their Avg is the mean of the defined task "
                  "values. Rows marked (blind) are the same models evaluated without video.")
        doc.img(bar_chart(evals, plots / "scores.png", title="Held-out scores per stage", columns=cols, dpi=110,
                          reference={k: v for k, v in chance.items() if k != evidence.PRIOR_LABEL}),
                "per-task held-out scores per stage (lines: chance rows)")
        evidence.vision_minus_blind(doc, evals, blind, cols, column_label, scores.gains)
    else:
        doc.p("No evaluation finished.")
    evidence.method_comparison(doc, summary, evals, blind, scores)
    evidence.seed_section(doc, summary, out, cols, column_label)
    evidence.worked_examples(doc, summary, out, plots)

    for stage, rows in training.items():
        if not rows:
            continue
        doc.h(2, f"Training: {stage}")
        last = rows[-1]
        names = reward_names(rows)
        if names:
            monitors = _monitor_names()
            # One step's reward is a handful of questions: compare the first and last tenth of training.
            doc.table(["reward", "first 10% of steps (mean)", "last 10% of steps (mean)", "role"],
                      [[n, fmt(_edge_mean(rows, f"rewards/{n}/mean", first=True), 3),
                        fmt(_edge_mean(rows, f"rewards/{n}/mean", first=False), 3),
                        "monitor (weight 0)" if n in monitors else "optimised"] for n in names], align_right_from=1)
            if any(n in monitors for n in names):
                doc.p("Monitors are logged, not optimised: the reward-hacking signs the paper reports (empty "
                      "reasoning, repeated tags) and the completion length in characters.")
            p = plot_rewards(rows, plots / f"{stage}_rewards.png", title=f"{stage}: reward per function")
            if p:
                doc.img(p, f"{stage} reward curves")
            p = plot_lines(rows, [("kl", "KL to the reference"), ("completions/mean_length",
                                                                   "completion length (tokens)"),
                                  ("loss", "loss")], plots / f"{stage}_kl_length.png",
                           title=f"{stage}: KL, completion length, loss")
            if p:
                doc.img(p, f"{stage} KL and completion length")
            p = plot_lines(rows, GRPO_HEALTH, plots / f"{stage}_health.png",
                           title=f"{stage}: zero-spread groups, entropy, gradient norm, clip ratio")
            if p:
                doc.img(p, f"{stage} zero-spread groups, entropy, gradient norm and clip ratio")
                doc.p("Groups with zero reward spread: the fraction of questions whose completions all got the "
                      "same reward; they have no advantage and teach nothing (near 1: the task is too easy or too "
                      "hard for the policy). Entropy: the policy's mean token entropy (a collapse means it stopped "
                      "exploring). Gradient norm before clipping. Clip ratio: the share of tokens whose importance "
                      "ratio was clipped (region: either side; low/high: below or above), 0 while each generation "
                      "is used for a single update.")
        else:
            p = plot_lines(rows, [("loss", "loss"), ("mean_token_accuracy", "token accuracy")],
                           plots / f"{stage}_loss.png", title=f"{stage}: training loss")
            if p:
                doc.img(p, f"{stage} loss")
        doc.p(f"{len(rows)} logged steps, last step {last['step']}"
              + (f", loss {fmt(last.get('loss'), 4)}" if isinstance(last.get("loss"), (int, float)) else "")
              + (f", KL {fmt(last.get('kl'), 5)}" if isinstance(last.get("kl"), (int, float)) else "") + ".")

    data = summary.get("data") or {}
    if data:
        doc.h(2, "Data")
        order = [qt for t in scored_tasks() for qt in question_types_of(t)]
        types = sorted({t for d in data.values() for t in (d.get("counts") or {})},
                       key=lambda t: (order.index(t) if t in order else len(order), t))
        doc.table(["split", "scenes", "questions"] + types,
                  [[split, str(d.get("scenes", "-")), str(d.get("questions", "-"))]
                   + [str((d.get("counts") or {}).get(t, 0)) for t in types] for split, d in data.items()])
    if summary.get("settings"):
        doc.h(2, "Settings")
        doc.table(["setting", "value"], [[k, f"`{v}`"] for k, v in summary["settings"].items()], align_right_from=9)

    stages = summary.get("stages") or []
    if stages:
        doc.h(2, "Stages and wall time")
        doc.table(["stage", "wall time", "note"],
                  [[s["title"], _duration(s["seconds"]), "reused from an earlier run" if s.get("reused") else ""]
                   for s in stages])
        if summary.get("total_seconds") is not None:
            doc.p(f"Total wall time of this invocation: {_duration(summary['total_seconds'])}.")

    md_path, html_path = out / MD_FILE, out / HTML_FILE
    with atomic_path(md_path) as tmp:
        tmp.write_text(to_markdown(doc, out), encoding="utf-8")
    with atomic_path(html_path) as tmp:
        tmp.write_text(to_html(doc, title), encoding="utf-8")
    return md_path, html_path
