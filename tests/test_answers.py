"""Answer extraction: the authors' first-token parse, lmms-eval's number parse, the lenient letter parse, tags
and option text."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vsgrpo.answers import (
    extract_answer_span,
    lmms_eval_number,
    map_option_text,
    official_number,
    official_token,
    parse_letter,
    split_option,
    tag_blocks,
)

OPTIONS = ["A. left", "B. right", "C. back", "D. trash bin"]


@pytest.mark.parametrize("text, token", [
    ("A.", "A"), ("a", "a"), ("A. left", "A"), ("Answer: A", "Answer:"), ("(A)", "(A)"),
    (" A", ""),                # split(' ') keeps the empty string before a leading space
    ("A..", "A"),              # rstrip removes every trailing dot
    ("3.5m", "3.5m"), ("3.", "3"), ("3\n", "3"), ("3\nmeters", "3\nmeters"), ("", ""),
    ("B\tC", "B\tC"),          # only spaces split
])
def test_official_token_is_the_authors_fuzzy_matching(text, token):
    assert official_token(text) == token


@pytest.mark.parametrize("text, value", [
    ("3.5", 3.5), ("3.5 meters", 3.5), ("3.", 3.0), ("-2", -2.0), ("1e3", 1000.0), ("1_000", 1000.0),
    ("٣", 3.0), ("１２", 12.0),  # float() reads non-ASCII decimal digits
    ("3.5m", None), ("1,200", None), ("three", None), ("", None), (" 3", None), ("x" * 100_000, None),
])
def test_official_number_is_float_of_the_first_token(text, value):
    assert official_number(text) == value


def test_official_number_passes_nan_and_inf_through_like_float():
    assert math.isnan(official_number("nan"))
    assert official_number("inf") == math.inf
    assert official_number("-Infinity") == -math.inf


# lmms-eval 0.7.3's extract_number, case by case (tests/test_scoring_agreement.py runs its own code).
@pytest.mark.parametrize("text, value", [
    ("3.5m", 3.5), ("1,200", 1.0), ("three", 3.0), ("Three chairs", 3.0), ("about twenty-one", 21.0),
    ("twenty one", 21.0), ("three hundred and twenty-one", 321.0), ("one, two", 3.0), ("two thousand", 2000.0),
    ("one apple, room 2", 1.0), ("room 2 has one", 2.0), ("The answer is 4.", 4.0), ("-2", -2.0), (".5 m", 5.0),
    ("٣", 3.0), ("room2 is 7", 2.0), ("v1.2 is 5", 1.2), ("1e3", 1.0), ("there are none", None), ("", None),
    ("  ", None), ("nan", None), ("inf", None), ("x" * 100_000 + " 9", 9.0), ("someone", None), ("often", None),
    ("nine٣5twenty", 29.0),  # a word run goes on past digits
    ("hundred " * 200, math.inf),  # lmms-eval raises OverflowError here
    ("9" * 400, math.inf),
])
def test_lmms_eval_number(text, value):
    assert lmms_eval_number(text) == value


@given(st.text(max_size=200))
@settings(max_examples=300, deadline=None)
def test_parsers_never_raise_and_lenient_numbers_are_finite(text):
    official_token(text)
    official_number(text)
    value = lmms_eval_number(text)
    assert value is None or not math.isnan(value)
    letter = parse_letter(text, "ABCD")
    assert letter is None or letter in "ABCD"
    assert isinstance(extract_answer_span(text), str)


@pytest.mark.parametrize("text, letter", [
    ("A", "A"), ("a", "A"), (" A", "A"), ("(A)", "A"), ("A.", "A"), ("A. left", "A"), ("B) right", "B"),
    ("Answer: C", "C"), ("The answer is (D).", "D"), ("I pick option (B)", "B"), ("E", None), ("", None),
    ("a chair", None),
])
def test_parse_letter_lenient_patterns(text, letter):
    assert parse_letter(text, "ABCD") == letter


# The lenient patterns as first written: quadratic to cubic on long whitespace runs, kept here as
# the reference the linear-time patterns must agree with.
_REFERENCE_LETTER_PATTERNS = (
    r"^\s*\(?([A-Za-z])\)?\s*(?:[.:)]|$)", r"^\s*([A-Z])\s", r"(?i)answer\s*(?:is|:)?\s*[:\-]?\s*\(?([A-Z])\b",
    r"\(([A-Z])\)", r"\b([A-Z])\b",
)


def _reference_letter(text, letters):
    import re

    allowed = {x.upper() for x in letters} if letters else None
    for pattern in _REFERENCE_LETTER_PATTERNS:
        for m in re.finditer(pattern, text or ""):
            if allowed is None or m.group(1).upper() in allowed:
                return m.group(1).upper()
    return None


@given(st.lists(st.sampled_from(["A", "B", "E", "a", "b", " ", "  ", "\n", "(", ")", ".", ":", "-", "answer", "Answer",
                                 "is", "x", "_", "1", "ſ", "K", "ı", "!"]), max_size=10).map("".join),
       st.sampled_from([None, "ABCD", ["A", "b"], ["AB"]]))
@settings(max_examples=1000, deadline=None)
def test_parse_letter_equals_the_reference_patterns(text, letters):
    assert parse_letter(text, letters) == _reference_letter(text, letters)


@pytest.mark.parametrize("text, span", [
    ("<think>x</think><answer> 3 </answer>", "3"),
    ("<ANSWER>B</ANSWER>", "B"),
    ("<answer>1</answer> then <answer>2</answer>", "2"),   # the last span is the final answer
    ("<answer>\nleft\n</answer>", "left"),
    ("no tags", "no tags"), ("<answer>unclosed", "<answer>unclosed"), (" A", " A"),
])
def test_extract_answer_span(text, span):
    assert extract_answer_span(text) == span


def test_tag_blocks_are_regex_findall_in_linear_time():
    text = "<think>a</think> <observe> </observe><think>b<observe>c</think>"
    assert tag_blocks(text, ("think", "observe")) == [("think", "a"), ("observe", " "), ("think", "b<observe>c")]
    assert tag_blocks("<think>" * 10 + "</think>", ("think",)) == [("think", "<think>" * 9)]
    assert tag_blocks("<think>x", ("think",)) == [] and tag_blocks("", ("think",)) == []


@given(st.lists(st.sampled_from(["<think>", "</think>", "<observe>", "</observe>", "<answer>", "</answer>", "<",
                                 "/", ">", "think", " ", "x", "\0"]), max_size=14).map("".join))
@settings(max_examples=500, deadline=None)
def test_tag_parsing_equals_the_regex(text):
    import re

    assert tag_blocks(text, ("think", "observe")) == re.findall(r"<(think|observe)>(.*?)</\1>", text, re.DOTALL)
    spans = re.findall(r"<answer>(.*?)</answer>", text, re.DOTALL | re.IGNORECASE)
    assert extract_answer_span(text) == (spans[-1].strip() if spans else text)


@pytest.mark.parametrize("answer, mapped", [
    ("left", "A"), ("Left.", "A"), (" back ", "C"), ("trash  bin", "D"), ("A", "A"), ("up", "up"),
    ("left side", "left side"), ("", ""),
])
def test_map_option_text(answer, mapped):
    assert map_option_text(answer, OPTIONS) == mapped
    assert map_option_text(answer, None) == answer


def test_split_option():
    assert split_option("A. left") == ("A", "left")
    assert split_option("B) Turn Left, Turn Right") == ("B", "Turn Left, Turn Right")
    assert split_option("no letter") == ("", "no letter")
