"""VSI-Bench metrics, computed exactly as its authors' code does. Shared by evaluation and rewards.

- Multiple-choice (MCA) questions: exact match, case-insensitive, of the parsed answer and the
  ground-truth letter (:func:`exact_match`).
- Numerical (NA) questions: Mean Relative Accuracy (:func:`mean_relative_accuracy`): the mean over
  the ten thresholds t in {0.50, 0.55, ..., 0.95} of ``|pred - gt| / gt <= 1 - t``; an
  unparseable prediction scores 0. The thresholds are built with the same ``numpy.linspace`` call
  and the comparison uses the same float operations, so borderline cases (``2.1`` vs ``2``) land on
  the same side as in the authors' code.
- Aggregation (:func:`aggregate`): per-question-type means; the three relative-direction types
  averaged unweighted into one task; overall = unweighted mean of the 8 tasks, summed in the
  authors' order (VSI-Bench's and lmms-eval's average); ``overall_questions`` = the mean over
  questions (the average the VSI-Bench-Debiased paper reports); everything reported x100.

Which types are numeric or multiple choice, and which types form one scored task, is read from
the table of question types (:mod:`vsgrpo.question_types`, no generator imported); nothing here
lists question types.
:func:`score_prediction` is the one answer to "is this prediction right": evaluation scores with
it and :func:`vsgrpo.rewards.accuracy_reward` calls it.

One deliberate difference, which only matters for subsets: a task with no questions is left out
of the overall mean and listed under ``missing_tasks`` (the authors' code would count a missing
relative-direction level as 0). On the full benchmark the numbers are identical.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from . import answers
from .errors import VsgrpoError
from .question_types import answer_kind, question_types_of, scored_task_of, scored_tasks

# Exactly the authors' thresholds: linspace(.5, .95, int((.95 - .5) / .05 + 2)) == 10 points.
MRA_THRESHOLDS = np.linspace(0.5, 0.95, int((0.95 - 0.5) / 0.05 + 2))


def numeric_ground_truth(ground_truth, question_type: str = "") -> float:
    """The finite float of a numerical question's ground truth; a clear error when it is not one."""
    try:
        value = float(ground_truth)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value):
        raise VsgrpoError(f"numeric question{' (' + question_type + ')' if question_type else ''} with "
                          f"non-numeric ground truth {ground_truth!r}")
    return value


def mean_relative_accuracy(pred: float | None, gt: float) -> float:
    """MRA of one numerical prediction, in [0, 1]. ``None``, ``nan`` and ``inf`` score 0.

    ``gt`` must be finite and non-zero (VSI-Bench answers are positive; the authors' code
    divides by it). A zero ground truth scores 1 for an exact 0 and 0 otherwise.
    """
    if pred is None:
        return 0.0
    gt = float(gt)
    if not math.isfinite(gt):
        raise ValueError(f"ground truth must be finite, got {gt!r}")
    if gt == 0:
        return 1.0 if pred == 0 else 0.0
    try:
        rel = abs(pred - gt) / gt
    except TypeError:
        return 0.0
    return float((rel <= 1 - MRA_THRESHOLDS).mean())


def relative_error(pred: float, gt: float) -> float:
    """The paper's relative error ``|pred - gt| / min(pred, gt)`` (``inf`` when it is undefined)."""
    lo = min(pred, gt)
    if not (math.isfinite(pred) and math.isfinite(gt)) or lo <= 0:
        return math.inf
    return abs(pred - gt) / lo


def exact_match(pred: str, target: str) -> float:
    """The authors' MCA metric: 1.0 when equal ignoring case, else 0.0."""
    return 1.0 if pred.lower() == target.lower() else 0.0


def _is_letter(text: str) -> bool:
    return len(text) == 1 and text.isascii() and text.isalpha()


@dataclass(frozen=True)
class Scored:
    """One scored prediction: ``answer`` after tag/option steps, ``parsed`` as compared, ``score`` in [0, 1]."""

    answer: str
    parsed: str | float | None
    score: float


def score_detail(prediction: str, ground_truth: str, question_type: str, options: Sequence[str] | None = None, *,
                 parser: str = "official", answer_tag: bool | None = None,
                 option_text: bool | None = None) -> Scored:
    """Score one prediction and return the intermediate steps (see :mod:`vsgrpo.answers`).

    ``answer_tag`` / ``option_text``: ``None`` = the parser's default (:func:`vsgrpo.answers.default_switches`).
    ``parser="lmms-eval"`` strips the prediction first, as lmms-eval's ``Task.process_results``
    does before its ``vsibench_process_results``.
    """
    if parser not in answers.PARSERS:
        raise VsgrpoError(f"unknown parser {parser!r}; choose one of {', '.join(answers.PARSERS)}")
    tag_default, text_default = answers.default_switches(parser)
    answer_tag = tag_default if answer_tag is None else answer_tag
    option_text = text_default if option_text is None else option_text
    prediction = "" if prediction is None else str(prediction)
    if parser == "lmms-eval":
        prediction = prediction.strip()
    answer = answers.extract_answer_span(prediction) if answer_tag else prediction
    if answer_kind(question_type) == "na":
        gt = numeric_ground_truth(ground_truth, question_type)
        value = answers.parse_answer_number(answer, parser)
        return Scored(answer, value, mean_relative_accuracy(value, gt))
    if option_text:
        answer = answers.map_option_text(answer, options)
    gt = str(ground_truth).strip()
    if not _is_letter(gt):
        # Word ground truth (VSI-100k form, no options): compare the whole normalised answer,
        # since a first-token rule would cut "trash bin" to "trash".
        parsed = answers.normalize_text_answer(answer)
        return Scored(answer, parsed, 1.0 if parsed == answers.normalize_text_answer(gt) else 0.0)
    parsed = answers.parse_answer_choice(answer, parser, options)
    return Scored(answer, parsed, exact_match(parsed, gt) if parsed is not None else 0.0)


def score_prediction(prediction: str, ground_truth: str, question_type: str, options: Sequence[str] | None = None,
                     *, parser: str = "official", answer_tag: bool | None = None,
                     option_text: bool | None = None) -> float:
    """Score in [0, 1] of one prediction: exact match (MCA) or MRA (NA), as VSI-Bench scores it.

    ``parser``: ``"official"`` (authors' first-token parse), ``"lmms-eval"`` (lmms-eval 0.7.3:
    the stripped response, then first token for letters, first number or number-word run
    anywhere for numbers) or ``"lenient"`` (first option letter / number anywhere).
    ``answer_tag``: take the ``<answer>`` span when present. ``option_text``: map an answer equal
    to an option's text to its letter. Both default to on, except for ``lmms-eval`` (off). With
    ``parser="official", answer_tag=False, option_text=False`` this is the authors' protocol;
    ``parser="lmms-eval"`` alone is lmms-eval 0.7.3's. Linear time in the length of ``prediction``.
    """
    return score_detail(prediction, ground_truth, question_type, options, parser=parser,
                        answer_tag=answer_tag, option_text=option_text).score


def _mean(values: list[float]) -> float:
    # pandas' Series.mean, as in the authors' aggregation, so the last digit matches too.
    import pandas as pd

    return float(pd.Series(values, dtype="float64").mean())


def aggregate(rows: Iterable[tuple[str, float]]) -> dict:
    """VSI-Bench summary of ``(question_type, score in [0, 1])`` pairs, in percent.

    Returns ``{"scores": {<question_type>: %, ..., "object_rel_direction": %}, "overall": %,
    "overall_questions": %, "count": n, "missing_tasks": [...]}``. ``overall`` (the mean over
    tasks) and ``overall_questions`` (the mean over questions) are ``None`` when nothing was scored.
    """
    by_type: dict[str, list[float]] = {}
    for question_type, score in rows:
        answer_kind(question_type)
        by_type.setdefault(question_type, []).append(float(score))
    means = {qt: _mean(v) for qt, v in sorted(by_type.items())}
    # Authors' order: the sorted question types that are a task of their own, then each task made
    # of several types (the relative-direction levels), the unweighted mean of its present types.
    task_values = {qt: m for qt, m in means.items() if scored_task_of(qt) == qt and question_types_of(qt) == (qt,)}
    scores = {qt: m * 100 for qt, m in means.items()}
    missing_levels: list[str] = []
    for task in scored_tasks():
        members = question_types_of(task)
        if members == (task,):
            continue
        levels = [means[qt] for qt in members if qt in means]
        if levels:
            task_values[task] = sum(levels) / len(levels)
            scores[task] = task_values[task] * 100
            missing_levels += [qt for qt in members if qt not in means]
    overall = sum(task_values.values()) / len(task_values) if task_values else None
    missing = [t for t in scored_tasks() if t not in task_values]
    count = sum(len(v) for v in by_type.values())
    micro = _mean([s for v in by_type.values() for s in v]) * 100 if count else None
    out = {"scores": scores, "overall": None if overall is None else overall * 100, "overall_questions": micro,
           "count": count, "missing_tasks": missing}
    if missing_levels:
        out["missing_question_types"] = missing_levels
    return out
