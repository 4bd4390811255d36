"""VSI-Bench metrics and aggregation, as its authors compute them (facts.md §2 "Scoring")."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from vsgrpo.errors import VsgrpoError
from vsgrpo.metrics import (
    MRA_THRESHOLDS,
    aggregate,
    exact_match,
    mean_relative_accuracy,
    relative_error,
    score_detail,
    score_prediction,
)
from vsgrpo.questions import question_types, question_types_of, scored_tasks, task_label

NA_QUESTION_TYPES = question_types("NA")
REL_DIRECTION_TYPES = question_types_of("object_rel_direction")

AUTHORS = dict(parser="official", answer_tag=False, option_text=False)
OPTS = ["A. left", "B. right", "C. back"]


# The worked examples in facts.md: (pred, gt) -> MRA.
@pytest.mark.parametrize("pred, gt, mra", [
    (2.1, 2, 1.0), (3, 2, 0.1), (1.45, 1, 0.2), (0.5, 1, 0.1), (110, 100, 0.9), (4, 5, 0.6), (7, 4, 0.0)])
def test_mra_test_vectors(pred, gt, mra):
    assert mean_relative_accuracy(pred, gt) == pytest.approx(mra, abs=1e-12)
    # The same numbers written as model text, through the authors' string path.
    assert score_prediction(str(pred), str(gt), "object_abs_distance", **AUTHORS) == pytest.approx(mra, abs=1e-12)


def test_mra_thresholds_are_the_authors_linspace():
    assert len(MRA_THRESHOLDS) == 10
    assert MRA_THRESHOLDS[0] == 0.5 and MRA_THRESHOLDS[-1] == 0.95
    # Borderline: |2.1-2|/2 = 0.05000000000000004 must still pass 1 - 0.95 (authors' floats).
    assert abs(2.1 - 2) / 2 <= 1 - MRA_THRESHOLDS[-1]


@pytest.mark.parametrize("pred", [None, math.nan, math.inf, -math.inf, -2.0])
def test_mra_unusable_predictions_score_zero(pred):
    assert mean_relative_accuracy(pred, 2.0) == 0.0


def test_mra_rejects_non_finite_ground_truth_and_handles_zero():
    with pytest.raises(ValueError):
        mean_relative_accuracy(1.0, math.nan)
    assert mean_relative_accuracy(0.0, 0.0) == 1.0
    assert mean_relative_accuracy(0.1, 0.0) == 0.0


def test_relative_error_is_the_papers_min_denominator():
    assert relative_error(3.0, 2.0) == pytest.approx(0.5)
    assert relative_error(2.0, 3.0) == pytest.approx(0.5)
    assert relative_error(-1.0, 2.0) == math.inf


def test_exact_match_ignores_case_only():
    assert exact_match("a", "A") == 1.0
    assert exact_match("A ", "A") == 0.0


# The authors' protocol on the edge cases of the issue (answer tag and option text switched off).
@pytest.mark.parametrize("pred, score", [
    ("A", 1.0), ("A.", 1.0), ("a", 1.0), (" A", 0.0), ("(A)", 0.0), ("A. left", 1.0), ("Answer: A", 0.0),
    ("", 0.0), ("left", 0.0), ("A" * 10_000, 0.0), ("<answer>A</answer>", 0.0)])
def test_authors_protocol_multiple_choice(pred, score):
    assert score_prediction(pred, "A", "object_rel_direction_medium", OPTS, **AUTHORS) == score


@pytest.mark.parametrize("pred, gt, score", [
    ("3", "3", 1.0), ("3.", "3", 1.0), ("3 chairs", "3", 1.0), ("3.5m", "3.5", 0.0), ("1,200", "1200", 0.0),
    ("three", "3", 0.0), ("", "3", 0.0), ("nan", "3", 0.0), ("inf", "3", 0.0), ("-2", "2", 0.0),
    ("٣", "3", 1.0), ("1" * 5000, "3", 0.0), ("x" * 100_000, "3", 0.0), (" 3", "3", 0.0),
    ("<answer>3</answer>", "3", 0.0)])
def test_authors_protocol_numbers(pred, gt, score):
    assert score_prediction(pred, gt, "object_counting", None, **AUTHORS) == score


def test_lmms_eval_parser_reads_numbers_anywhere_and_letters_as_the_authors():
    kw = dict(parser="lmms-eval", answer_tag=False, option_text=False)
    assert score_prediction("3.5m", "3.5", "object_abs_distance", **kw) == 1.0
    assert score_prediction("about three", "3", "object_counting", **kw) == 1.0
    assert score_prediction("three hundred and twenty-one", "321", "object_size_estimation", **kw) == 1.0
    assert score_prediction("1,200", "1200", "object_size_estimation", **kw) == 0.0  # reads 1
    assert score_prediction("B.", "B", "route_planning", ["A. x", "B. y"], **kw) == 1.0
    assert score_prediction("Answer: B", "B", "route_planning", ["A. x", "B. y"], **kw) == 0.0  # first token
    assert score_prediction("(b)", "B", "route_planning", ["A. x", "B. y"], **kw) == 0.0


def test_lenient_parser_finds_letters_anywhere_and_reads_numbers_as_lmms_eval():
    kw = dict(parser="lenient", answer_tag=False, option_text=False)
    assert score_prediction("about three", "3", "object_counting", **kw) == 1.0
    assert score_prediction("1,200", "1200", "object_size_estimation", **kw) == 0.0  # reads 1, as lmms-eval
    assert score_prediction("Answer: B", "B", "route_planning", ["A. x", "B. y"], **kw) == 1.0
    assert score_prediction("(b)", "B", "route_planning", ["A. x", "B. y"], **kw) == 1.0
    assert score_prediction("The answer is C.", "B", "route_planning", ["A. x", "B. y"], **kw) == 0.0


def test_the_table_of_question_types():
    assert scored_tasks() == ("object_counting", "object_abs_distance", "object_size_estimation",
                              "room_size_estimation", "object_rel_distance", "object_rel_direction",
                              "route_planning", "obj_appearance_order")
    assert [task_label(t) for t in scored_tasks()] == ["Count", "AbsDist", "Size", "Room", "RelDist", "RelDir",
                                                       "Route", "ApprOrder"]
    assert set(NA_QUESTION_TYPES) == {"object_counting", "object_abs_distance", "object_size_estimation",
                                      "room_size_estimation"}
    assert len(question_types("MCA")) == 6 and len(question_types()) == 10
    assert REL_DIRECTION_TYPES == ("object_rel_direction_easy", "object_rel_direction_medium",
                                   "object_rel_direction_hard")
    assert task_label("object_rel_direction_hard") == "RelDir-hard" and task_label("unknown") == "unknown"


def test_answer_tag_and_option_text_switches():
    think = "<think>the lamp is behind me</think><answer>back</answer>"
    assert score_prediction(think, "C", "object_rel_direction_medium", OPTS) == 1.0
    assert score_prediction(think, "C", "object_rel_direction_medium", OPTS, option_text=False) == 0.0
    assert score_prediction(think, "C", "object_rel_direction_medium", OPTS, answer_tag=False) == 0.0
    d = score_detail(think, "C", "object_rel_direction_medium", OPTS)
    assert (d.answer, d.parsed, d.score) == ("C", "C", 1.0)
    assert score_prediction("<answer> 2.1 </answer>", "2", "room_size_estimation") == 1.0


def test_word_ground_truth_compares_the_whole_answer():
    # VSI-100k form: no options, the answer is the word itself.
    assert score_prediction("<answer>Trash bin.</answer>", "trash bin", "object_rel_distance") == 1.0
    assert score_prediction("trash", "trash bin", "object_rel_distance") == 0.0


def test_unknown_question_type_and_parser_are_user_errors():
    with pytest.raises(VsgrpoError, match="question_type"):
        score_prediction("1", "1", "object_colour")
    with pytest.raises(VsgrpoError, match="parser"):
        score_prediction("1", "1", "object_counting", parser="regex")


def test_aggregate_follows_the_authors_formula():
    types = list(question_types())
    value = {qt: (i + 1) / 20 for i, qt in enumerate(sorted(types))}
    rows = [(qt, value[qt]) for qt in types for _ in range(3)]
    out = aggregate(rows)
    assert out["count"] == 3 * len(types) and out["missing_tasks"] == []
    direction = sum(value[qt] for qt in REL_DIRECTION_TYPES) / 3
    # The authors' order: sorted types without the direction levels, then the direction task.
    task_values = [value[qt] for qt in sorted(types) if qt not in REL_DIRECTION_TYPES] + [direction]
    assert len(task_values) == 8
    assert out["overall"] == sum(task_values) / 8 * 100
    assert out["scores"]["object_rel_direction"] == direction * 100
    for qt in types:
        assert out["scores"][qt] == pytest.approx(value[qt] * 100)
    assert set(out["scores"]) == set(types) | {"object_rel_direction"}


def test_aggregate_leaves_out_tasks_without_questions():
    out = aggregate([("object_counting", 1.0), ("object_rel_direction_easy", 0.0), ("object_rel_direction_hard", 1.0)])
    assert out["scores"]["object_rel_direction"] == 50.0
    assert out["overall"] == 75.0  # (100 + 50) / 2: six empty tasks are not counted as 0
    assert set(out["missing_tasks"]) == set(scored_tasks()) - {"object_counting", "object_rel_direction"}
    assert out["missing_question_types"] == ["object_rel_direction_medium"]
    assert aggregate([])["overall"] is None


def test_full_protocol_on_the_released_questions(vsibench_dir):
    df = pd.read_parquet(vsibench_dir / "test-dev.parquet")
    rows, expect = [], {}
    for r in df.itertuples():
        if r.question_type in NA_QUESTION_TYPES:
            pred = str(float(r.ground_truth) * 1.32)  # relative error 0.32 passes 4 of 10 thresholds
        else:
            pred = r.ground_truth + "." if r.id % 2 == 0 else "Z"
        s = score_prediction(pred, r.ground_truth, r.question_type, r.options, **AUTHORS)
        rows.append((r.question_type, s))
        expect.setdefault(r.question_type, []).append(0.4 if r.question_type in NA_QUESTION_TYPES
                                                      else float(r.id % 2 == 0))
    out = aggregate(rows)
    assert out["count"] == len(df)
    for qt, vals in expect.items():
        assert out["scores"][qt] == pytest.approx(100 * sum(vals) / len(vals), abs=1e-9)
    tasks = [100 * sum(v) / len(v) for qt, v in expect.items() if qt not in REL_DIRECTION_TYPES]
    tasks.append(sum(100 * sum(expect[qt]) / len(expect[qt]) for qt in REL_DIRECTION_TYPES) / 3)
    assert out["overall"] == pytest.approx(sum(tasks) / 8, abs=1e-9)
