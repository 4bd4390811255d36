"""Reward functions: TRL contract, format rules, accuracy shapes, adversarial strings."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vsgrpo import rewards as R
from vsgrpo.metrics import mean_relative_accuracy

THINK = R.format_reward("think")
OBSERVE = R.format_reward("observe")


@pytest.mark.parametrize("text,ok", [
    ("<think>I see two chairs.</think><answer>2</answer>", True),
    ("  \n<think>a</think>\n\n<answer> 2 </answer>\n", True),          # whitespace around/between tags allowed
    ("<think> </think><answer>2</answer>", True),                       # empty reasoning: paper-faithful default
    ("", False),
    ("<think></think>", False),
    ("<answer>2</answer>", False),
    ("<think>a</think><answer></answer>", False),                      # empty answer
    ("<think>a</think><answer>   </answer>", False),
    ("<think>a <think>b</think></think><answer>2</answer>", False),    # nested
    ("<think>a</think><think>b</think><answer>2</answer>", False),     # repeated
    ("<think>a</think><answer>2</answer><answer>3</answer>", False),
    ("<think>a</think><answer><answer>2</answer></answer>", False),
    ("<think>a</think>so<answer>2</answer>", False),                   # text between blocks
    ("x<think>a</think><answer>2</answer>", False),                    # text before
    ("<think>a</think><answer>2</answer>.", False),                    # text after
    ("<THINK>a</THINK><answer>2</answer>", False),                     # tags are lower-case
    ("<think>a</THINK><answer>2</answer>", False),
    ("<think>a</think><answer>2</answer", False),
    ("<think>a <ANSWER>2</ANSWER></think><answer>2</answer>", False),  # smuggled tag in any case
    ("<observe>a</observe><answer>2</answer>", False),                 # wrong mode's tag
    ("<think>∑ 椅子 🪑</think><answer>двa</answer>", True),             # unicode is fine
])
def test_think_format(text, ok):
    assert THINK(None, [text]) == [1.0 if ok else 0.0]


def test_observe_format_and_empty_reasoning_switch():
    assert OBSERVE(None, ["<observe>a sofa</observe><answer>sofa</answer>"]) == [1.0]
    assert OBSERVE(None, ["<think>a</think><answer>sofa</answer>"]) == [0.0]
    strict = R.format_reward("think", allow_empty_reasoning=False)
    assert strict(None, ["<think> \n </think><answer>2</answer>", "<think>x</think><answer>2</answer>"]) == [0.0, 1.0]
    with pytest.raises(R.VsgrpoError):
        R.format_reward("vanilla")


def test_trl_contract_with_chat_completions_and_columns():
    acc = R.accuracy_reward()
    completions = [[{"role": "assistant", "content": "<think>x</think><answer>3</answer>"}], "<answer>Left</answer>"]
    out = acc(prompts=["p", "p"], completions=completions, ground_truth=["3", "left"],
              question_type=["object_counting", "object_rel_direction_easy"], options=[[], None], id=[1, 2])
    assert out == [1.0, 1.0]
    assert acc.__name__ == "accuracy" and THINK.__name__ == "format_think"


@pytest.mark.parametrize("text", ["", "<answer></answer>", "<think></think><answer></answer>", "nan", "<answer>nan</answer>",
                                  "inf", "-inf", "<answer>-3</answer>", "<answer>0</answer>", "1e999", "٣٣٣٣",
                                  "<answer>" + "9" * 400 + "</answer>", "three", "∞", "<answer>2.5m</answer>",
                                  "\x00", "<answer>" * 50])
def test_numeric_garbage_scores_zero_and_never_raises(text):
    for shape in R.NA_SHAPES:
        score = R.score_answer(text, "2.5", "object_abs_distance", na_shape=shape)
        assert score == 0.0, (text, shape)


def test_numeric_shapes():
    # linear: 1 - e / 0.5 with the paper's symmetric relative error e = |y'-y| / min(y', y)
    assert R.score_answer("<answer>2</answer>", "2", "object_abs_distance") == 1.0
    assert R.score_answer("2.2", "2", "object_abs_distance") == pytest.approx(1 - 0.1 / 0.5)
    assert R.score_answer("2", "2.2", "object_abs_distance") == pytest.approx(1 - 0.1 / 0.5)  # symmetric
    assert R.score_answer("3", "2", "object_abs_distance") == 0.0
    assert R.score_answer("2.2", "2", "object_abs_distance", na_tolerance=1.0) == pytest.approx(0.9)
    # mra: MRA's 10-step shape on e; metric: exactly the evaluation metric
    assert R.score_answer("2.2", "2", "object_abs_distance", na_shape="mra") == mean_relative_accuracy(1.1, 1.0)
    assert R.score_answer("110", "100", "object_size_estimation", na_shape="metric") == pytest.approx(0.9)
    assert R.score_answer("4", "5", "object_counting", na_shape="metric") == pytest.approx(0.6)
    # parser: official takes the first space-separated token; lmms-eval the first number anywhere
    assert R.score_answer("about 3", "3", "object_counting") == 0.0
    assert R.score_answer("about 3", "3", "object_counting", parser="lmms-eval") == 1.0


@settings(max_examples=200, deadline=None)
@given(pred=st.floats(allow_nan=True, allow_infinity=True), gt=st.floats(min_value=0.01, max_value=1e6))
def test_numeric_reward_bounded(pred, gt):
    for shape in R.NA_SHAPES:
        value = R.numeric_score(pred, gt, shape=shape)
        assert 0.0 <= value <= 1.0 and not math.isnan(value)


def test_multiple_choice():
    # train style (no options): the word, normalised
    assert R.score_answer("<answer> Trash  Bin. </answer>", "trash bin", "object_rel_distance") == 1.0
    assert R.score_answer("<answer>trash</answer>", "trash bin", "object_rel_distance") == 0.0
    assert R.score_answer("left!", "left", "object_rel_direction_easy") == 0.0
    # bench style (options): letter, or option text mapped to its letter
    opts = ["A. left", "B. right", "C. back"]
    assert R.score_answer("B", "B", "object_rel_direction_medium", opts) == 1.0
    assert R.score_answer("b.", "B", "object_rel_direction_medium", opts) == 1.0
    assert R.score_answer("<answer>right</answer>", "B", "object_rel_direction_medium", opts) == 1.0
    assert R.score_answer("<answer>left</answer>", "B", "object_rel_direction_medium", opts) == 0.0
    assert R.score_answer("", "B", "object_rel_direction_medium", opts) == 0.0


def test_monitors():
    texts = ["<think> </think><answer>2</answer>", "<think>a</think><think>b</think><answer>2</answer>",
             "<think>ok</think><answer>2</answer>", ""]
    assert R.empty_reasoning(None, texts) == [1.0, 0.0, 0.0, 0.0]
    assert R.repeated_tags(None, texts) == [0.0, 1.0, 0.0, 0.0]
    assert R.completion_chars(None, texts) == [float(len(t)) for t in texts]
    funcs, weights = R.default_rewards("think")
    assert [f.__name__ for f in funcs] == ["accuracy", "format_think", "empty_reasoning", "repeated_tags",
                                           "completion_chars"]
    assert weights == [1.0, 1.0, 0.0, 0.0, 0.0]
    funcs, weights = R.default_rewards("vanilla", monitors=False)
    assert [f.__name__ for f in funcs] == ["accuracy"] and weights == [1.0]


@pytest.mark.parametrize("parser", ["official", "lmms-eval", "lenient"])
@pytest.mark.parametrize("text", ["The answer is B.", "(B)", "Answer: B", " B", "B) yes", "B", "<answer>B</answer>",
                                  "right", "<answer>(b)</answer>"])
def test_accuracy_reward_is_the_evaluation_score(parser, text):
    # The cases where reward and evaluation used to disagree with parser="lmms-eval". Rewards always take the
    # <answer> span and map option text (evaluation's default except for lmms-eval, which turns both off).
    from vsgrpo.metrics import score_prediction

    opts = ["A. left", "B. right", "C. back"]
    reward = R.accuracy_reward(na_shape="metric", parser=parser)
    got = reward(completions=[text], ground_truth=["B"], question_type=["object_rel_direction_medium"], options=[opts])
    assert got == [score_prediction(text, "B", "object_rel_direction_medium", opts, parser=parser, answer_tag=True,
                                    option_text=True)]
