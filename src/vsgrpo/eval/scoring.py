"""Questions and predictions files, and scoring a set of predictions (``vsgrpo eval score``)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from .. import metrics
from ..dataset import REQUIRED_COLUMNS as QUESTION_COLUMNS
from ..dataset import read_questions
from ..errors import VsgrpoError
from .config import ScoringConfig



def load_questions(path: str | os.PathLike, *, limit: int | None = None) -> list[dict]:
    """Questions of a VSI-Bench-schema parquet as dicts (options as a list or ``None``), file order."""
    df = read_questions(path, required=QUESTION_COLUMNS)
    if limit is not None:
        if limit < 1:
            raise VsgrpoError(f"--limit must be at least 1, got {limit}")
        df = df.head(limit)
    if df["id"].duplicated().any():
        dup = df.loc[df["id"].duplicated(), "id"].iloc[0]
        raise VsgrpoError(f"{path}: question id {dup} occurs more than once; ids must be unique")
    rows = []
    for rec in df.to_dict("records"):
        opts = rec.get("options")
        rec["options"] = None if opts is None or (not isinstance(opts, str) and len(opts) == 0) else \
            [str(o) for o in opts]
        rec["id"] = int(rec["id"])
        metrics.answer_kind(rec["question_type"])  # unknown types fail here, before any work
        if metrics.answer_kind(rec["question_type"]) == "na":
            try:
                gt = float(rec["ground_truth"])
            except (TypeError, ValueError):
                gt = math.nan
            if not math.isfinite(gt):
                raise VsgrpoError(f"{path}: question {rec['id']} has a non-numeric ground truth "
                                  f"{rec['ground_truth']!r} for numerical type {rec['question_type']}")
        rows.append(rec)
    return rows


def load_predictions(path: str | os.PathLike) -> dict[int, str | None]:
    """``{id: prediction}`` from JSONL rows ``{"id": int, "prediction": str}``.

    A run's ``samples.jsonl`` is accepted too: rows with an ``error`` have no prediction (``None``).
    """
    path = Path(path)
    if not path.is_file():
        raise VsgrpoError(f"predictions file not found: {path}")
    from .samples import as_id

    out: dict[int, str | None] = {}
    with open(path, "rb") as f:
        for n, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise VsgrpoError(f"{path}: line {n} is not UTF-8 text (binary data in a predictions file?)") from None
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                qid = as_id(row["id"])
            except (ValueError, KeyError, TypeError, AttributeError):
                raise VsgrpoError(f"{path}: line {n} is not a JSON object with an integer 'id'") from None
            if qid in out:
                raise VsgrpoError(f"{path}: id {qid} has more than one prediction (line {n})")
            pred = row.get("prediction")
            if row.get("error"):
                pred = None
            elif not isinstance(pred, str):
                raise VsgrpoError(f"{path}: line {n} (id {qid}) needs a string 'prediction'")
            out[qid] = pred
    return out


def score_predictions(questions: list[dict], predictions: dict[int, str | None],
                      config: ScoringConfig = ScoringConfig()) -> dict:
    """Results JSON for ``predictions`` on ``questions``.

    Only questions with a prediction are scored (``count``); ``None`` predictions (errored
    samples) are counted under ``errors``, never scored as wrong; questions without any
    prediction are counted under ``unanswered``.
    """
    by_id = {q["id"]: q for q in questions}
    unknown = [i for i in predictions if i not in by_id]
    if unknown:
        raise VsgrpoError(f"{len(unknown)} prediction id(s) are not in the questions file (first: {unknown[0]}); "
                          "wrong --questions file?")
    rows, errors = [], 0
    for q in questions:
        if q["id"] not in predictions:
            continue
        pred = predictions[q["id"]]
        if pred is None:
            errors += 1
            continue
        s = metrics.score_prediction(pred, q["ground_truth"], q["question_type"], q["options"],
                                     parser=config.parser, answer_tag=config.answer_tag,
                                     option_text=config.option_text)
        rows.append((q["question_type"], s))
    return finish_results(rows, errors=errors, unanswered=len(questions) - len(predictions), config=config)


def finish_results(rows: list[tuple[str, float]], *, errors: int, unanswered: int, config: ScoringConfig) -> dict:
    """The results object: :func:`vsgrpo.metrics.aggregate` plus error counts and the scoring settings."""
    out = metrics.aggregate(rows)
    out["errors"] = errors
    if unanswered:
        out["unanswered"] = unanswered
    out["scoring"] = config.to_dict()
    return out
