"""One notion of "correct": the reward is the evaluation score, and ``--parser lmms-eval`` is lmms-eval.

Two contracts, checked on every question of the repository's VSI-Bench sample with adversarial
predictions, exhaustively and as hypothesis properties:

- ``accuracy_reward(na_shape="metric", parser=P)`` returns exactly ``metrics.score_prediction``
  (answer tag and option text on, as training always reads them) for every prediction, question
  and parser P.
- ``score_prediction(..., parser="lmms-eval")`` (nothing else) equals lmms-eval 0.7.3's own
  pipeline: the response stripped as its ``Task.process_results`` does, then its
  ``vsibench_process_results`` (run from the installed PyPI package, see the ``lmms_vsibench``
  fixture), and the aggregate equals its overall.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vsgrpo.answers import PARSERS, lmms_eval_number
from vsgrpo.metrics import aggregate, score_prediction
from vsgrpo.prompts import build_prompt
from vsgrpo.questions import question_types
from vsgrpo.rewards import accuracy_reward

LMMS = dict(parser="lmms-eval")  # alone: lmms-eval's pipeline (no answer-tag / option-text steps)
TRAIN_SWITCHES = dict(answer_tag=True, option_text=True)  # what rewards always apply
FRAGMENTS = ["A", "B", "C", "D", "a", "b", " ", "  ", ".", "(", ")", ":", "\n", "The answer is ", "Answer: ", "answer",
             "<answer>", "</answer>", "<think>", "</think>", "1", "2", "3.5", "-", ",", "0", "12", "three", "twenty",
             "-one", "hundred", "and", "thousand", "one", "left", "right", "back", "sofa", "meters", "m", "x", "٣",
             "nan", "inf", "1e3", "**", "Option ", " is "]


@pytest.fixture(scope="module")
def questions(vsibench_dir) -> list[dict]:
    df = pd.read_parquet(vsibench_dir / "test-dev.parquet")
    rows = df.to_dict("records")
    for r in rows:
        r["options"] = None if r["options"] is None else [str(o) for o in r["options"]]
    return rows


def adversarial(row: dict) -> list[str]:
    """Predictions a model might give for ``row``: right, wrong, and wrapped in the usual ways."""
    gt = row["ground_truth"]
    if row["options"] is None:
        wrong = f"{float(gt) * 1.3:g}"
        return [gt, gt + ".", f" {gt}", f"{gt} meters", f"about {gt}", f"The answer is {gt}.", f"Answer: {gt}",
                f"<answer>{gt}</answer>", f"<think>{wrong}</think><answer>{gt}</answer>", f"{wrong} or {gt}",
                f"room 2 has {gt}", f"{gt},000", "three", "twenty-one", "three hundred and twenty-one", "one, two",
                f"-{gt}", "1e3", ".5", "nan", "inf", "", "no idea", "٣", "(3)", "**4**"]
    letter = gt
    other = next((o.partition(".")[0] for o in row["options"] if not o.startswith(letter + ".")), "Z")
    text = next((o.partition(". ")[2] for o in row["options"] if o.startswith(letter + ".")), "")
    return [letter, f"{letter}.", letter.lower(), f" {letter}", f"({letter})", f"{letter})", f"{letter}) {text}",
            f"The answer is {letter}.", f"Answer: {letter}", f"answer: ({letter.lower()})",
            f"<answer>{letter}</answer>",
            f"<answer> {letter} </answer>", f"<think>{other}</think><answer>{letter}</answer>", text, f"{text}.",
            f"<answer>{text}</answer>", f"{letter} {other}", f"{other}. {letter}", f"Option {letter}", f"**{letter}**",
            f"I think it is ({letter})", other, "", "\n" + letter, "3", "three"]


def _reward(parser: str, preds: list[str], row: dict) -> list[float]:
    n = len(preds)
    return accuracy_reward(na_shape="metric", parser=parser)(
        completions=preds, ground_truth=[row["ground_truth"]] * n, question_type=[row["question_type"]] * n,
        options=[row["options"]] * n)


def test_reward_is_the_evaluation_score_on_every_question(questions):
    pairs = 0
    for row in questions:
        preds = adversarial(row)
        for parser in PARSERS:
            expect = [score_prediction(p, row["ground_truth"], row["question_type"], row["options"], parser=parser,
                                       **TRAIN_SWITCHES) for p in preds]
            assert _reward(parser, preds, row) == expect, (row["id"], parser)
            pairs += len(preds)
    assert pairs == 3 * 26 * len(questions)  # 279,864 prediction/parser pairs on the 3,588 questions


@settings(max_examples=400, deadline=None)
@given(data=st.data(), parser=st.sampled_from(PARSERS),
       pred=st.one_of(st.lists(st.sampled_from(FRAGMENTS), max_size=8).map("".join), st.text(max_size=30)))
def test_reward_equals_score_property(questions, data, parser, pred):
    row = questions[data.draw(st.integers(0, len(questions) - 1), label="question")]
    assert _reward(parser, [pred], row) == [score_prediction(pred, row["ground_truth"], row["question_type"],
                                                             row["options"], parser=parser, **TRAIN_SWITCHES)]


def _lmms_score(lmms_vsibench, row: dict, pred: str) -> float:
    """lmms-eval's pipeline for one response: ``Task.process_results`` strips it (lmms_eval/api/task.py),
    then the task's ``vsibench_process_results`` scores it."""
    doc = dict(row)
    lmms_vsibench.vsibench_process_results(doc, [pred.strip()])
    return float(doc["accuracy"] if row["options"] is not None else doc["MRA:.5:.95:.05"])


def test_lmms_eval_parser_scores_as_lmms_eval_itself(questions, lmms_vsibench):
    n = 0
    for row in questions:
        for pred in adversarial(row):
            ours = score_prediction(pred, row["ground_truth"], row["question_type"], row["options"], **LMMS)
            assert ours == _lmms_score(lmms_vsibench, row, pred), (row["id"], pred)
            n += 1
    assert n == 26 * len(questions)  # 93,288 predictions


@pytest.mark.parametrize("pick", [0, 3, 7, 9, 12, 19])
def test_lmms_eval_aggregate_matches(questions, lmms_vsibench, pick):
    docs, rows = [], []
    for row in questions:
        pred = adversarial(row)[pick]
        doc = dict(row)
        lmms_vsibench.vsibench_process_results(doc, [pred.strip()])
        docs.append(doc)
        rows.append((row["question_type"], score_prediction(pred, row["ground_truth"], row["question_type"],
                                                            row["options"], **LMMS)))
    ours = aggregate(rows)
    assert round(ours["overall"] / 100, 6) == lmms_vsibench.vsibench_aggregate_overall(docs)
    assert round(ours["scores"]["object_rel_direction"] / 100, 6) == \
        lmms_vsibench.vsibench_aggregate_object_rel_direction_accuracy(docs)
    assert round(ours["scores"]["object_counting"] / 100, 6) == \
        lmms_vsibench.vsibench_aggregate_object_counting_mra(docs)


@settings(max_examples=400, deadline=None)
@given(data=st.data(), pred=st.one_of(st.lists(st.sampled_from(FRAGMENTS), max_size=8).map("".join),
                                      st.text(max_size=30)))
def test_lmms_eval_parser_property(questions, lmms_vsibench, data, pred):
    row = questions[data.draw(st.integers(0, len(questions) - 1), label="question")]
    try:
        expect = _lmms_score(lmms_vsibench, row, pred)
    except OverflowError:  # lmms-eval crashes on number-word runs beyond float range; we score 0
        expect = 0.0
    assert score_prediction(pred, row["ground_truth"], row["question_type"], row["options"], **LMMS) == expect


@settings(max_examples=500, deadline=None)
@given(text=st.one_of(st.lists(st.sampled_from(FRAGMENTS + ["İ", "ſix", "K", "sandy", "andone", "\t", "_", "+"]),
                               max_size=10).map("".join), st.text(max_size=40)))
def test_number_parse_is_lmms_evals_extract_number(lmms_vsibench, text):
    try:
        expect = lmms_vsibench.extract_number(text)
    except OverflowError:
        expect = math.inf
    assert lmms_eval_number(text) == expect


def test_bench_prompt_is_lmms_eval_text_for_every_question_type(lmms_vsibench, questions):
    """``build_prompt(mode="vanilla", style="bench")`` is lmms-eval 0.7.3's ``vsibench_doc_to_text``
    (its default kwargs) byte for byte, on every question of the sample: every VSI-Bench type."""
    seen = set()
    for row in questions:
        ours = build_prompt(row["question"], row["options"], mode="vanilla", style="bench")
        assert ours == lmms_vsibench.vsibench_doc_to_text(row), row["question_type"]
        seen.add(row["question_type"])
    vsibench_types = set(lmms_vsibench.MCA_QUESTION_TYPES) | set(lmms_vsibench.NA_QUESTION_TYPES)
    assert seen == vsibench_types and vsibench_types <= set(question_types())
