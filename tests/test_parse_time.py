"""Parsing model output takes time linear in its length: 100 kB of adversarial text through every
answer parser, reward function and the scorer stays well under 50 ms per call, and 10,000 repeated
tags well under 10 ms. (Before: ``parse_letter('answer' + ' ' * 3000 + '!')`` took 138 s and 5,000
repeated ``<answer>`` tags 1.6 s; regexes with adjacent optional whitespace or a lazy scan per
unclosed tag are quadratic or worse.)

Times are the best of 3 runs by the wall clock (``time.perf_counter``); a call over the limit is
measured again by this process's CPU time (``time.process_time``), so other processes on a busy
CI machine do not fail the test while a super-linear parser (seconds of CPU) still does.
"""

from __future__ import annotations

import math
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vsgrpo import answers, metrics, rewards

SIZE = 100_000
LIMIT_MS = 50.0
TAGS_LIMIT_MS = 10.0
OPTS = ["A. left", "B. right", "C. back", "D. front"]


def fill(unit: str, size: int = SIZE) -> str:
    return (unit * (size // len(unit) + 1))[:size]


ADVERSARIAL = {
    "spaces": " " * SIZE, "answer+spaces": "answer" + " " * (SIZE - 7) + "!", "open tags": fill("<answer>"),
    "close tags": fill("</answer>"), "think tags": fill("<think>"), "tag pairs": fill("<think>x</think>"),
    "mixed tags": fill("<answer><think></answer></think><observe>"), "tag spaces": "<" + " " * (SIZE - 7) + "think",
    "digits": "1" * SIZE, "digit groups": fill("1,"), "decimals": fill("1."), "minus": "-" * SIZE, "dots": "." * SIZE,
    "letters": "a" * SIZE, "letter spaces": fill("A "), "other letters": fill("E "), "near words": fill("sixx "),
    "number words": fill("one "), "hundreds": fill("hundred "), "and": fill("one and "),
    "answer is": fill("answer is "),
    "answer colon": fill("answer: "), "parens": fill("(A"), "options": fill("(E) "), "newlines": "\n" * SIZE,
    "unicode digits": "٣" * SIZE, "word digits": fill("room2 "), "lt spaces": fill("< "),
    "mix": fill("The answer is <answer> (B) 3.5 twenty-one </think>\n  "),
}


def _parsers() -> dict:
    funcs = {
        "official_token": answers.official_token, "official_number": answers.official_number,
        "lmms_eval_number": answers.lmms_eval_number, "parse_letter": lambda t: answers.parse_letter(t, "ABCD"),
        "parse_letter (any)": answers.parse_letter, "extract_answer_span": answers.extract_answer_span,
        "tag_blocks": lambda t: answers.tag_blocks(t, ("think", "observe")),
        "map_option_text": lambda t: answers.map_option_text(t, OPTS), "normalize": answers.normalize_text_answer,
        "format think": lambda t: rewards.format_reward("think")(None, [t]),
        "format observe": lambda t: rewards.format_reward("observe")(None, [t]),
        "empty_reasoning": lambda t: rewards.empty_reasoning(None, [t]),
        "repeated_tags": lambda t: rewards.repeated_tags(None, [t]),
        "completion_chars": lambda t: rewards.completion_chars(None, [t]),
    }
    for parser in answers.PARSERS:
        for qt, gt, opts in (("object_abs_distance", "3.5", None), ("route_planning", "B", OPTS),
                             ("object_rel_distance", "trash bin", None)):
            funcs[f"score {parser} {qt}"] = (lambda t, p=parser, qt=qt, gt=gt, o=opts:
                                             metrics.score_prediction(t, gt, qt, o, parser=p))
            for shape in rewards.NA_SHAPES:
                reward = rewards.accuracy_reward(na_shape=shape, parser=parser)
                funcs[f"accuracy {shape} {parser} {qt}"] = (lambda t, r=reward, qt=qt, gt=gt, o=opts:
                                                            r(completions=[t], ground_truth=[gt], question_type=[qt],
                                                              options=[o]))
    return funcs


PARSERS = _parsers()


def best_ms(func, text: str, limit_ms: float, clock=time.perf_counter) -> float:
    best = math.inf
    for _ in range(3):
        t0 = clock()
        func(text)
        best = min(best, (clock() - t0) * 1000)
        if best < limit_ms / 5:
            break  # clearly fast: no need for the best of three
    if best >= limit_ms and clock is time.perf_counter:
        return best_ms(func, text, limit_ms, time.process_time)  # busy machine: this process's CPU time
    return best


def slowest(text: str, limit_ms: float = LIMIT_MS) -> tuple[float, str]:
    return max((best_ms(f, text, limit_ms), name) for name, f in PARSERS.items())


@pytest.mark.parametrize("case", list(ADVERSARIAL))
def test_every_parser_reward_and_the_scorer_are_linear_on_100kb(case):
    ms, name = slowest(ADVERSARIAL[case])
    assert ms < LIMIT_MS, f"{name} took {ms:.1f} ms on 100 kB of {case!r}"


@settings(max_examples=12, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["<answer>", "</answer>", "<think>", "</think>", " ", "answer", "is", ":",
                                           "(", "A", "E", "1", ",", ".", "-", "one", "hundred", "and", "sixx",
                                           "\n", "x", "٣", "<", ">", "/"]),
                          st.integers(1, 8)), min_size=1, max_size=6))
def test_random_100kb_adversarial_strings(parts):
    unit = "".join(fragment * n for fragment, n in parts)
    ms, name = slowest(fill(unit))
    assert ms < LIMIT_MS, f"{name} took {ms:.1f} ms on 100 kB of {unit!r} repeated"


@pytest.mark.parametrize("text", ["<answer>" * 10_000, "</answer>" * 10_000, "<think>" * 10_000,
                                  "<answer></answer>" * 5_000, "<think>x</think>" * 5_000,
                                  "<think></observe>" * 5_000, "<ANSWER>" * 5_000 + "</answer>" * 5_000])
def test_ten_thousand_repeated_tags(text):
    for name, func in (("extract_answer_span", answers.extract_answer_span),
                       ("tag_blocks", lambda t: answers.tag_blocks(t, ("think", "observe"))),
                       ("parse_format", lambda t: rewards.parse_format(t, "think")),
                       ("repeated_tags", lambda t: rewards.repeated_tags(None, [t])),
                       ("empty_reasoning", lambda t: rewards.empty_reasoning(None, [t]))):
        ms = best_ms(func, text, TAGS_LIMIT_MS)
        assert ms < TAGS_LIMIT_MS, f"{name} took {ms:.1f} ms on {text[:20]!r}..."


def test_the_reported_cases():
    assert best_ms(lambda t: answers.parse_letter(t, "ABCD"), "answer" + " " * 3000 + "!", 5) < 5  # was 138 s
    assert best_ms(answers.extract_answer_span, "<answer>" * 5000, 5) < 5  # was 1.6 s
