"""Turn a model's text into the answer that gets scored. Shared by evaluation and training rewards.

Scoring a prediction takes up to three steps, each a plain function here:

1. :func:`extract_answer_span` (switch ``answer_tag``): when the text holds an
   ``<answer>...</answer>`` span, the (last) span's content, stripped, is the answer.
   Otherwise the text is returned unchanged.
2. :func:`map_option_text` (switch ``option_text``): models trained without options (the
   paper's VSI-100k style) answer ``"left"`` instead of ``"A"``; an answer equal to an option's
   text (case-insensitive, surrounding whitespace and trailing dots ignored) becomes that
   option's letter.
3. A parser reduces the answer to what the metric compares:

   - ``official``: VSI-Bench's authors' code, exactly. The first *space*-separated token
     (``text.split(' ')[0]``), trailing dots removed, then whitespace stripped
     (:func:`official_token`); numbers are Python ``float()`` of that token
     (:func:`official_number`), so ``"3.5m"``, ``"1,200"`` and ``"three"`` are unparseable while
     ``"nan"``, ``"inf"``, ``"1e3"``, ``"1_000"`` and non-ASCII digits such as ``"٣"`` parse, as
     they do in the authors' code. A leading space makes the first token empty (``" A"`` scores 0).
   - ``lmms-eval``: the first number or English number word anywhere in the answer
     (:func:`parse_number`); for multiple-choice, the first option letter found by a few
     lenient patterns (:func:`parse_letter`).

With ``official`` and both switches off the result equals the authors' protocol byte for byte.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

PARSERS = ("official", "lmms-eval")

_ANSWER_SPAN = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)


def extract_answer_span(text: str) -> str:
    """Content of the last ``<answer>...</answer>`` span, stripped; ``text`` unchanged if none.

    The *last* span wins because reasoning may quote the tag before the final answer.
    """
    if text is None:
        return ""
    spans = _ANSWER_SPAN.findall(text)
    return spans[-1].strip() if spans else text


# ---------------------------------------------------------------- official (authors') parse

def official_token(text: str) -> str:
    """The authors' ``fuzzy_matching``: first space-separated token, trailing dots, then whitespace, removed."""
    return text.split(" ")[0].rstrip(".").strip()


def official_number(text: str) -> float | None:
    """The authors' numeric parse: ``float()`` of :func:`official_token`, ``None`` when it raises.

    May return ``nan`` or ``inf`` (Python's ``float`` accepts them); MRA scores both 0.
    """
    try:
        return float(official_token(text))
    except (ValueError, TypeError, OverflowError):
        return None


# ---------------------------------------------------------------- lenient (lmms-eval style) parse

_UNITS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen".split())}
_TENS = {w: 10 * i for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), start=2)}
_WORD = "|".join(sorted(list(_UNITS) + list(_TENS), key=len, reverse=True))
# A digit number: optional sign, thousands groups ("1,200"), decimals; \d also matches non-ASCII
# digits, which float() understands. Or a number word, optionally "twenty-one" / "twenty one".
_NUMBER = re.compile(
    r"(?P<num>(?<![\w.])[-+]?(?:\d{1,3}(?:,\d{3})+(?![\d])|\d+)(?:\.\d+)?|(?<![\w.])[-+]?\.\d+)"
    rf"|(?P<word>\b(?:{_WORD})(?:[- ](?:{'|'.join(_UNITS)})\b)?\b)",
    re.IGNORECASE)


def _word_value(words: str) -> float | None:
    parts = re.split(r"[- ]", words.lower())
    if len(parts) == 1:
        return float(_UNITS.get(parts[0], _TENS.get(parts[0], 0)))
    tens, unit = parts
    if tens in _TENS and unit in _UNITS and 0 < _UNITS[unit] < 10:
        return float(_TENS[tens] + _UNITS[unit])
    return None  # "five six", "twenty twelve": only the first word counts


def parse_number(text: str) -> float | None:
    """First number or English number word anywhere in ``text`` (lmms-eval style); ``None`` if none.

    ``"3.5m"`` -> 3.5, ``"1,200"`` -> 1200, ``"about three"`` -> 3, ``"twenty-one"`` -> 21,
    ``"-2"`` -> -2. Never returns ``nan`` or ``inf``.
    """
    if not text:
        return None
    for m in _NUMBER.finditer(text):
        if m.group("num") is not None:
            try:
                value = float(m.group("num").replace(",", ""))
            except ValueError:
                continue
        else:
            value = _word_value(m.group("word"))
            if value is None:
                value = _word_value(re.split(r"[- ]", m.group("word"))[0])
        if value is not None and math.isfinite(value):
            return value
    return None


_LETTER_PATTERNS = (
    re.compile(r"^\s*\(?([A-Za-z])\)?\s*(?:[.:)]|$)"),         # "A", "a", "(A)", "A.", "A) left", " A"
    re.compile(r"^\s*([A-Z])\s"),                               # "A left"
    re.compile(r"answer\s*(?:is|:)?\s*[:\-]?\s*\(?([A-Z])\b", re.IGNORECASE),  # "Answer: A", "the answer is (B)"
    re.compile(r"\(([A-Z])\)"),                                  # "... option (C) ..."
    re.compile(r"\b([A-Z])\b"),                                  # any standalone capital letter
)


def parse_letter(text: str, letters: Sequence[str] | None = None) -> str | None:
    """First option letter in ``text`` by lenient patterns; only ``letters`` count when given."""
    if not text:
        return None
    allowed = {x.upper() for x in letters} if letters else None
    for pattern in _LETTER_PATTERNS:
        for m in pattern.finditer(text):
            letter = m.group(1).upper()
            if allowed is None or letter in allowed:
                return letter
    return None


# ---------------------------------------------------------------- options

_OPTION = re.compile(r"^\s*([A-Za-z])\s*[.)]\s*(.*)$", re.DOTALL)


def split_option(option: str) -> tuple[str, str]:
    """``"A. left"`` -> ``("A", "left")``. An option without a letter prefix gives ``("", text)``."""
    m = _OPTION.match(option)
    return (m.group(1), m.group(2).strip()) if m else ("", option.strip())


def option_letters(options: Sequence[str] | None) -> list[str]:
    return [letter for letter, _ in (split_option(o) for o in options or []) if letter]


def _norm(text: str) -> str:
    return " ".join(text.strip().rstrip(".").split()).lower()


def map_option_text(answer: str, options: Sequence[str] | None) -> str:
    """Replace an answer equal to an option's text with that option's letter (else unchanged).

    ``map_option_text("Left.", ["A. left", "B. right"]) == "A"``. Used for models trained
    without options (train style), which answer with the word itself.
    """
    if not options or not answer:
        return answer
    key = _norm(answer)
    for option in options:
        letter, text = split_option(option)
        if letter and text and _norm(text) == key:
            return letter
    return answer


def normalize_text_answer(text: str) -> str:
    """Normalisation for word answers (ground truth that is not a letter, e.g. VSI-100k's ``"sink"``)."""
    return _norm(text)
