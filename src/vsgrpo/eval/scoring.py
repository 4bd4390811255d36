"""Questions and predictions files, and scoring a set of predictions (``vsgrpo eval score``).

Predictions come as vsgrpo's JSONL (``{"id", "prediction"}`` rows, or a run's ``samples.jsonl``)
or as lmms-eval's ``--log_samples`` JSONL (:func:`lmms_eval_prediction`).

Every results object (:func:`finish_results`) carries both averages (``overall``: the mean over
tasks, as VSI-Bench and lmms-eval print it; ``overall_questions``: the mean over questions, as the
VSI-Bench-Debiased paper prints it), 95% intervals from a bootstrap over scenes (``ci95``,
:mod:`vsgrpo.eval.intervals`) and, when the questions file has VSI-Bench's ``pruned`` column (the
``full`` release), the same numbers on VSI-Bench-Debiased (``debiased``: the rows whose
``pruned`` is false) from the same predictions.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from .. import metrics
from ..errors import VsgrpoError
from ..questions_parquet import REQUIRED_COLUMNS as QUESTION_COLUMNS
from ..questions_parquet import read_questions
from .config import ScoringConfig

#: the boolean column of VSI-Bench's ``full`` release: true for questions VSI-Bench-Debiased removes
PRUNED = "pruned"


def _flag(value) -> bool | None:
    """A ``pruned`` cell as ``True`` / ``False``, or ``None`` when empty."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("true", "1"):
            return True
        if low in ("false", "0"):
            return False
        raise VsgrpoError(f"'{PRUNED}' value {value!r} is not a boolean")
    return bool(value)


def has_debiased(questions: list[dict]) -> bool:
    """Whether every question says whether VSI-Bench-Debiased keeps it (a ``pruned`` column with no gaps)."""
    return bool(questions) and all(isinstance(q.get(PRUNED), bool) for q in questions)


def select_subset(questions: list[dict], subset: str, *, source: str | os.PathLike = "questions file") -> list[dict]:
    """``questions`` for ``subset``: all of them, or VSI-Bench-Debiased's (``pruned`` false)."""
    if subset == "all":
        return questions
    if subset != "debiased":
        raise VsgrpoError(f"unknown subset {subset!r}; choose all or debiased")
    if not has_debiased(questions):
        raise VsgrpoError(f"{source} has no '{PRUNED}' column for every row, so VSI-Bench-Debiased is unknown; "
                          "use VSI-Bench's 'full' release (its 'pruned' column marks the questions the debiased "
                          "set removes)")
    return [q for q in questions if q[PRUNED] is False]


def load_questions(path: str | os.PathLike, *, limit: int | None = None, subset: str = "all") -> list[dict]:
    """Questions of a VSI-Bench-schema parquet as dicts (options as a list or ``None``), file order.

    ``pruned`` (when the file has it) becomes ``True`` / ``False`` (``None`` when empty).
    ``subset="debiased"`` keeps the VSI-Bench-Debiased rows; ``limit`` applies after it.
    """
    df = read_questions(path, required=QUESTION_COLUMNS)
    if limit is not None and limit < 1:
        raise VsgrpoError(f"--limit must be at least 1, got {limit}")
    if subset != "all":
        if PRUNED not in df.columns or df[PRUNED].isna().any():
            select_subset([], subset, source=path)  # the clear error
        df = df[[_flag(v) is False for v in df[PRUNED]]]
    if limit is not None:
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
        if PRUNED in rec:
            rec[PRUNED] = _flag(rec[PRUNED])
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


def lmms_eval_prediction(row: dict) -> tuple[int, str] | None:
    """``(question id, response)`` of one line of lmms-eval's ``--log_samples`` JSONL; ``None`` if the
    line is not one.

    lmms-eval 0.7.3 (``evaluator._process_document_results``, then
    ``EvaluationTracker.save_results_samples``) writes per question ``doc_id`` (the row's position
    in *its* copy of the dataset, not the question id), ``target``, ``filtered_resps`` (the
    response its filters kept, reasoning tags removed, not yet stripped; a one-element list is
    flattened to the string), ``resps`` when they differ, and one entry per metric holding what the
    task's ``process_results`` returned: for VSI-Bench the whole question record, ``id`` included.
    The id is read from there, so a shuffled or re-ordered dataset still lines up.
    """
    if not isinstance(row, dict) or "doc_id" not in row or ("filtered_resps" not in row and "resps" not in row):
        return None
    from .samples import as_id

    qid = None
    for value in row.values():
        if isinstance(value, dict) and "id" in value and "question_type" in value:
            qid = as_id(value["id"])
            break
    if qid is None:
        raise ValueError("no question record with an 'id' (is this lmms-eval's vsibench task?)")
    resp = row.get("filtered_resps", row.get("resps"))
    while isinstance(resp, list) and resp:
        resp = resp[0]
    if resp is None or resp == []:
        resp = ""
    if not isinstance(resp, str):
        raise ValueError(f"response {resp!r} is not text")
    return qid, resp


def load_predictions(path: str | os.PathLike) -> dict[int, str | None]:
    """``{id: prediction}`` from JSONL rows ``{"id": int, "prediction": str}``.

    A run's ``samples.jsonl`` is accepted too: rows with an ``error`` have no prediction (``None``);
    so is lmms-eval's ``--log_samples`` output (:func:`lmms_eval_prediction`).
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
            except ValueError:
                raise VsgrpoError(f"{path}: line {n} is not a JSON object with an integer 'id'") from None
            if isinstance(row, dict) and "id" not in row and "doc_id" in row:
                try:
                    qid, pred = lmms_eval_prediction(row)
                except (ValueError, TypeError) as e:
                    raise VsgrpoError(f"{path}: line {n} is an lmms-eval sample but {e}") from None
            else:
                try:
                    qid = as_id(row["id"])
                except (ValueError, KeyError, TypeError, AttributeError):
                    raise VsgrpoError(f"{path}: line {n} is not a JSON object with an integer 'id'") from None
                pred = row.get("prediction")
                if row.get("error"):
                    pred = None
                elif not isinstance(pred, str):
                    raise VsgrpoError(f"{path}: line {n} (id {qid}) needs a string 'prediction'")
            if qid in out:
                raise VsgrpoError(f"{path}: id {qid} has more than one prediction (line {n})")
            out[qid] = pred
    return out


def score_predictions(questions: list[dict], predictions: dict[int, str | None],
                      config: ScoringConfig | None = None) -> dict:
    """Results JSON for ``predictions`` on ``questions`` (``config``: the default :class:`ScoringConfig`).

    Only questions with a prediction are scored (``count``); ``None`` predictions (errored
    samples) are counted under ``errors``, never scored as wrong; questions without any
    prediction are counted under ``unanswered``. With ``config.subset == "debiased"`` only
    VSI-Bench-Debiased's questions count (predictions of the others are ignored).
    """
    config = config or ScoringConfig()
    by_id = {q["id"]: q for q in questions}
    unknown = [i for i in predictions if i not in by_id]
    if unknown:
        raise VsgrpoError(f"{len(unknown)} prediction id(s) are not in the questions file (first: {unknown[0]}); "
                          "wrong --questions file?")
    questions = select_subset(questions, config.subset)
    rows, errors, answered = [], 0, 0
    for q in questions:
        if q["id"] not in predictions:
            continue
        answered += 1
        pred = predictions[q["id"]]
        if pred is None:
            errors += 1
            continue
        s = metrics.score_prediction(pred, q["ground_truth"], q["question_type"], q["options"],
                                     parser=config.parser, answer_tag=config.answer_tag,
                                     option_text=config.option_text)
        rows.append(scored_row(q, s))
    return finish_results(rows, errors=errors, unanswered=len(questions) - answered, config=config)


def scored_row(question: dict, score: float) -> tuple[str, float, tuple[str, str], bool | None]:
    """``(question_type, score, scene, pruned)``: what :func:`finish_results` needs of one scored question."""
    return (question["question_type"], score, (str(question.get("dataset")), str(question.get("scene_name"))),
            question.get(PRUNED))


def summarize(rows: list[tuple], config: ScoringConfig) -> dict:
    """:func:`vsgrpo.metrics.aggregate` of ``rows`` plus their 95% intervals (``ci95``, over scenes)."""
    from .intervals import bootstrap

    out = metrics.aggregate((r[0], r[1]) for r in rows)
    # A row without a scene is its own cluster (a plain bootstrap over questions).
    out["ci95"] = bootstrap(((r[0], r[1], r[2] if len(r) > 2 else i) for i, r in enumerate(rows)),
                            resamples=config.ci_resamples, seed=config.ci_seed)
    return out


def finish_results(rows: list[tuple], *, errors: int, unanswered: int, config: ScoringConfig) -> dict:
    """The results object: :func:`summarize` of the rows (``(question_type, score[, scene[, pruned]])``,
    see :func:`scored_row`), error counts, the subset, the scoring settings, and ``debiased``: the same
    summary on VSI-Bench-Debiased's rows when every row says whether it is pruned."""
    out = summarize(rows, config)
    out["errors"] = errors
    if unanswered:
        out["unanswered"] = unanswered
    out["subset"] = config.subset
    if config.subset == "all" and rows and all(len(r) > 3 and isinstance(r[3], bool) for r in rows):
        out["debiased"] = summarize([r for r in rows if r[3] is False], config)
    out["scoring"] = config.to_dict()
    return out


def baselines_file(questions: str | os.PathLike, *, limit: int | None = None) -> dict:
    """:func:`compute_baselines` of a questions parquet (``vsgrpo eval baselines``)."""
    from ..chance import compute_baselines

    return compute_baselines(load_questions(questions, limit=limit))
