"""Chance baselines of a question set: the rows VSI-Bench prints above every model, and one more.

Computed from the questions alone (no model), scored with the same metrics as a model:

- **chance (random)**: the expected score of picking an option uniformly at random, i.e. the
  mean of ``1 / len(options)`` over a multiple-choice type's questions (relative direction:
  the mean of its three levels, so 2, 3 and 4 options give 36.1; route planning: the mean of
  ``1 / #options``). Not defined (``None``, shown as "-") for numeric types, and for
  multiple-choice questions written without options (train style).
- **chance (frequency)**: VSI-Bench's row: always give the *most frequent answer* of the type.
  Numeric types: the most frequent ground-truth value (ties: the smallest), scored by MRA
  (counting: "2"). Multiple choice: the share of the most frequent answer, counted by answer
  text for the relative-direction levels ("left", "back-right", ...) and by letter for the other
  types (VSI-Bench's convention); questions without options count by the answer word.
- **best constant**: the strongest prior that needs no features: numeric types take the single
  value that maximises the mean MRA over the set (:func:`best_constant`; counting "2.1" scores
  higher than "2" because 2.1 is within 5% of 2 and nearer 3); multiple choice as the frequency row.

The rows are keyed exactly like the ``scores`` of ``vsgrpo eval score`` (question types plus
``object_rel_direction``) in percent. ``overall`` is the unweighted mean of the *defined* task
values (VSI-Bench's 8 tasks, relative direction counted once). VSI-Bench prints 34.0 as its
frequency row's average although its eight printed values average 35.5; we always use the mean.

:func:`prior_scores` applies the constants chosen on one set (training questions) to another
(held-out questions): what a model that learned only the training answer prior would score.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from . import metrics

RANDOM, FREQUENCY, BEST = "random", "frequency", "best_constant"
ROW_LABELS = {RANDOM: "chance (random)", FREQUENCY: "chance (frequency)", BEST: "best constant"}
OVERALL_NOTE = ("overall = unweighted mean of the defined task values (relative direction counted once; "
                "numeric tasks have no random row); VSI-Bench prints 34.0 for its frequency row although its "
                "8 printed values average 35.5; frequency = the most frequent answer per task (VSI-Bench's row), "
                "best constant = the constant with the highest score (numeric: highest mean MRA)")

def _options(q: Mapping) -> list[str]:
    opts = q.get("options")
    return [] if opts is None or isinstance(opts, str) else [str(o) for o in opts]


def answer_text(q: Mapping) -> str:
    """The answer of a multiple-choice question as text: the ground-truth option's words, or the
    ground truth itself when the question has no options (train style)."""
    gt = str(q["ground_truth"]).strip()
    for opt in _options(q):
        letter, sep, text = opt.partition(". ")
        if sep and letter.strip().lower() == gt.lower():
            return text.strip()
    return gt


def _closed_vocabulary(qs: list[Mapping]) -> bool:
    """Every question offers the same option texts (relative direction: left/right/back...)."""
    sets = {frozenset(o.partition(". ")[2].strip().lower() for o in _options(q)) for q in qs}
    return len(sets) == 1 and bool(next(iter(sets)))


def _answer_key(q: Mapping, by_text: bool) -> str:
    if by_text or not _options(q):
        return answer_text(q).lower()
    return str(q["ground_truth"]).strip().upper()


def exact_mra(value: float, truths: np.ndarray) -> float:
    """Mean MRA of the constant prediction ``value`` over ``truths``, with
    :func:`vsgrpo.metrics.mean_relative_accuracy`'s float operations (vectorised)."""
    truths = np.asarray(truths, dtype=np.float64)
    zero = truths == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.abs(value - truths) / truths
    hit = (rel[:, None] <= 1 - metrics.MRA_THRESHOLDS[None, :]).mean(axis=1)
    hit[zero] = 1.0 if value == 0 else 0.0
    return float(hit.mean()) if len(truths) else 0.0


def best_constant(truths: Sequence[float], *, candidates: int = 64) -> tuple[float, float]:
    """``(value, mean MRA)`` of the constant prediction with the highest mean MRA over ``truths``.

    MRA of a constant ``c`` against one truth ``y > 0`` counts the thresholds ``t`` with
    ``c`` in ``[t*y, (2-t)*y]``, so the mean is piecewise constant in ``c`` and its maximum is
    reached at the left end of one of these intervals. A sweep over the interval ends finds the
    best few ends; each, and its float neighbours, is then scored exactly as the metric does
    (so rounding at an interval edge cannot overstate the score). Ties go to the smallest value.
    """
    y = np.asarray([float(v) for v in truths], dtype=np.float64)
    y = y[np.isfinite(y)]
    if len(y) == 0:
        raise ValueError("best_constant() needs at least one finite value")
    t = metrics.MRA_THRESHOLDS
    pos = y[y > 0]
    starts = np.sort((pos[:, None] * t[None, :]).ravel())
    ends = np.sort((pos[:, None] * (2 - t[None, :])).ravel())
    # Closed intervals: coverage at x = #starts <= x - #ends < x.
    cover = np.searchsorted(starts, starts, side="right") - np.searchsorted(ends, starts, side="left")
    order = np.argsort(-cover, kind="stable")
    pool = {0.0} if (y == 0).any() else set()
    for x in starts[order[:candidates]]:
        pool.update((float(x), float(np.nextafter(x, np.inf)), float(np.nextafter(x, -np.inf))))
    scored = sorted((-exact_mra(c, y), c) for c in pool)
    neg, value = scored[0]
    return value, -neg


def _nice(value: float, truths: np.ndarray, score: float) -> float:
    """The shortest decimal near ``value`` (0 to 6 decimals, rounded, floored or ceiled) that
    scores the same, so the printed constant reproduces the printed score."""
    for decimals in range(0, 7):
        scale = 10 ** decimals
        for r in (round(value, decimals), math.floor(value * scale) / scale, math.ceil(value * scale) / scale):
            if exact_mra(r, truths) >= score:
                return r
    return value


def _group(questions: Iterable[Mapping]) -> dict[str, list[Mapping]]:
    by_type: dict[str, list[Mapping]] = defaultdict(list)
    for q in questions:
        metrics.answer_kind(q["question_type"])  # unknown types fail clearly
        by_type[q["question_type"]].append(q)
    return dict(by_type)


def _numeric_truths(qs: list[Mapping]) -> np.ndarray:
    return np.asarray([float(q["ground_truth"]) for q in qs], dtype=np.float64)


def most_frequent_value(truths: Sequence[float]) -> float:
    """The most frequent value (``2`` and ``2.0`` are one value); ties go to the smallest."""
    counts = Counter(float(v) for v in truths)
    return min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]


def _per_type(by_type: dict[str, list[Mapping]]) -> dict[str, tuple[dict, dict]]:
    """``{row: (per-type value in [0, 1] or None, per-type constant answer)}`` for the three rows."""
    random, frequency, best, answers, best_answers = {}, {}, {}, {}, {}
    for qt in sorted(by_type):
        qs = by_type[qt]
        if metrics.answer_kind(qt) == "na":
            truths = _numeric_truths(qs)
            value, score = best_constant(truths)
            random[qt], best[qt], best_answers[qt] = None, score, _nice(value, truths, score)
            common = most_frequent_value(truths)
            frequency[qt], answers[qt] = exact_mra(common, truths), int(common) if common.is_integer() else common
            continue
        n_opts = [len(_options(q)) for q in qs]
        random[qt] = float(np.mean([1 / n for n in n_opts])) if all(n_opts) else None
        by_text = _closed_vocabulary(qs)
        counts = Counter(_answer_key(q, by_text) for q in qs)
        key, n = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        frequency[qt] = best[qt] = n / len(qs)
        answers[qt] = best_answers[qt] = key
    return {RANDOM: (random, {}), FREQUENCY: (frequency, answers), BEST: (best, best_answers)}


def _task_rows(per_type: dict[str, float | None]) -> tuple[dict[str, float | None], float | None]:
    """Per-type values in [0, 1] -> ``scores``-keyed percentages and the overall mean (percent).

    Types sharing a scored task (the relative-direction levels) are averaged unweighted into it,
    undefined if any level is; overall = mean of the defined task values.
    """
    from .question_types import scored_task_of

    scores: dict[str, float | None] = {qt: None if v is None else v * 100 for qt, v in per_type.items()}
    groups: dict[str, list[float | None]] = defaultdict(list)
    for qt, v in per_type.items():
        groups[scored_task_of(qt)].append(v)
    tasks: dict[str, float | None] = {}
    for task, vals in groups.items():
        tasks[task] = None if any(v is None for v in vals) else sum(vals) / len(vals)
        if task not in per_type:
            scores[task] = None if tasks[task] is None else tasks[task] * 100
    defined = [v for v in tasks.values() if v is not None]
    return scores, (sum(defined) / len(defined) * 100 if defined else None)


def compute_baselines(questions: Iterable[Mapping]) -> dict:
    """Both chance rows of a question set (dicts with ``question_type``, ``ground_truth``, ``options``).

    Returns ``{"random": {<scores keys>: % | None}, "frequency": {...}, "best_constant": {...},
    "overall": {"random": %, "frequency": %, "best_constant": %}, "answers": {<type>: the frequency
    row's answer}, "best_constant_answers": {<type>: the best constant}, "count": {<type>: n}, "note": ...}``.
    """
    by_type = _group(questions)
    per_type = _per_type(by_type)
    out: dict = {"overall": {}}
    for row, (values, _) in per_type.items():
        out[row], out["overall"][row] = _task_rows(values)
    out["answers"] = per_type[FREQUENCY][1]
    out["best_constant_answers"] = per_type[BEST][1]
    out["count"] = {qt: len(by_type[qt]) for qt in sorted(by_type)}
    out["note"] = OVERALL_NOTE
    return out


def frequency_scores(questions: Iterable[Mapping]) -> dict:
    """Each question's score under the chance (frequency) row: ``{id: (question_type, score in [0, 1])}``.

    The per-question terms whose per-type means :func:`compute_baselines` reports, so a bootstrap
    over scenes (:mod:`vsgrpo.eval.intervals`) can give the row an interval and pair it with a model.
    """
    questions = list(questions)
    by_type = _group(questions)
    answers = _per_type(by_type)[FREQUENCY][1]
    keys = {qt: _closed_vocabulary(qs) for qt, qs in by_type.items()}
    out = {}
    for q in questions:
        qt = q["question_type"]
        if metrics.answer_kind(qt) == "na":
            score = metrics.mean_relative_accuracy(float(answers[qt]), float(q["ground_truth"]))
        else:
            score = float(_answer_key(q, keys[qt]) == answers[qt])
        out[q["id"]] = (qt, score)
    return out


def prior_scores(train: Iterable[Mapping], heldout: Iterable[Mapping]) -> dict:
    """A results-like dict (``scores``, ``overall``, ``count``, ``answers``): each type's constant
    answer chosen on ``train`` (best MRA value; most frequent answer text), scored on ``heldout``
    with :func:`vsgrpo.metrics.score_prediction` (answer text mapped to its option letter)."""
    train_by_type = _group(train)
    chosen: dict[str, str] = {}
    for qt, qs in train_by_type.items():
        if metrics.answer_kind(qt) == "na":
            truths = _numeric_truths(qs)
            value, score = best_constant(truths)
            chosen[qt] = repr(_nice(value, truths, score))
        else:
            counts = Counter(answer_text(q) for q in qs)
            chosen[qt] = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]
    rows = [(q["question_type"], metrics.score_prediction(chosen[q["question_type"]], q["ground_truth"],
                                                          q["question_type"], _options(q) or None))
            for q in heldout if q["question_type"] in chosen]
    out = metrics.aggregate(rows)
    out["answers"] = chosen
    return out


def as_results(baselines: Mapping, row: str) -> dict:
    """One chance row as a results-like dict (``scores``, ``overall``, ``count``) for tables."""
    return {"scores": dict(baselines[row]), "overall": baselines["overall"][row],
            "count": sum(baselines.get("count", {}).values()), "errors": None}


def table_rows(baselines: Mapping | None, *, suffix: str = "") -> dict[str, dict]:
    """``{"chance (random)": results-like, "chance (frequency)": ..., "best constant": ...}`` for the
    results tables (the best-constant row only where ``baselines`` has it)."""
    if not baselines:
        return {}
    rows = {ROW_LABELS[row] + suffix: as_results(baselines, row) for row in (RANDOM, FREQUENCY, BEST)
            if row in baselines}
    if baselines.get("debiased"):  # an `eval run` on VSI-Bench's full release: its debiased rows too
        rows.update(table_rows(baselines["debiased"], suffix=" (VSI-Bench-Debiased)" + suffix))
    return rows


def format_answers(baselines: Mapping) -> str:
    """One line per type: the constant answers behind the frequency and best-constant rows."""

    def shown(f):
        return f"{f:.1f}" if f is not None and math.isfinite(f) else "-"

    lines = []
    best = baselines.get("best_constant_answers", {})
    for qt, ans in baselines.get("answers", {}).items():
        line = f"  {qt:<30} always {ans!s:<16} -> {shown(baselines[FREQUENCY].get(qt))}"
        if qt in best and best[qt] != ans:
            line += f"   (best constant {best[qt]!s} -> {shown(baselines[BEST].get(qt))})"
        lines.append(line)
    return "\n".join(lines)
