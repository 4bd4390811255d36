r"""Turn a model's text into the answer that gets scored. Shared by evaluation and training rewards.

Scoring a prediction takes up to three steps, each a plain function here:

1. :func:`extract_answer_span` (switch ``answer_tag``): when the text holds an
   ``<answer>...</answer>`` span, the (last) span's content, stripped, is the answer.
   Otherwise the text is returned unchanged.
2. :func:`map_option_text` (switch ``option_text``): models trained without options (the
   paper's VSI-100k style) answer ``"left"`` instead of ``"A"``; an answer equal to an option's
   text (case-insensitive, surrounding whitespace and trailing dots ignored) becomes that
   option's letter.
3. A parser (:data:`PARSERS`) reduces the answer to what the metric compares:

   - ``official``: VSI-Bench's authors' code, exactly. The first *space*-separated token
     (``text.split(' ')[0]``), trailing dots removed, then whitespace stripped
     (:func:`official_token`); numbers are Python ``float()`` of that token
     (:func:`official_number`), so ``"3.5m"``, ``"1,200"`` and ``"three"`` are unparseable while
     ``"nan"``, ``"inf"``, ``"1e3"``, ``"1_000"`` and non-ASCII digits such as ``"٣"`` parse, as
     they do in the authors' code. A leading space makes the first token empty (``" A"`` scores 0).
   - ``lmms-eval``: lmms-eval 0.7.3's VSI-Bench scoring, exactly. Multiple choice as
     ``official`` (first space-separated token, trailing dots removed); numbers by
     :func:`lmms_eval_number`: the first digit run (``-?\d+(\.\d+)?``) or run of English number
     words, whichever starts first, anywhere in the answer.
   - ``lenient``: the first option letter found by a few lenient patterns (:func:`parse_letter`:
     ``"(B)"``, ``"Answer: B"``, ``"The answer is B."``); numbers by :func:`parse_number` (first
     number anywhere, ``"1,200"`` and ``".5"`` understood). Not a published protocol: for
     reading models that do not follow the answer format.

With ``official`` (or ``lmms-eval``) and both switches off the result equals that protocol byte
for byte. Every function here runs in time linear in the length of its input.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

#: the answer parsers, by name (see the module doc)
PARSERS = ("official", "lmms-eval", "lenient")

ANSWER_TAG = "answer"

_ANSWER_SPAN = re.compile(rf"<{ANSWER_TAG}>(.*?)</{ANSWER_TAG}>", re.DOTALL | re.IGNORECASE)
# Greedy to the end, then back to the last closing tag: finds it in one linear pass.
_LAST_CLOSE = re.compile(rf".*</{ANSWER_TAG}>", re.DOTALL | re.IGNORECASE)


def extract_answer_span(text: str) -> str:
    """Content of the last ``<answer>...</answer>`` span, stripped; ``text`` unchanged if none.

    The *last* span wins because reasoning may quote the tag before the final answer. Spans are
    those ``re.findall(r"<answer>(.*?)</answer>")`` finds (case-insensitive); the search stops at
    the last closing tag, so an unclosed ``<answer>`` never makes the lazy scan run to the end
    again and again (linear time).
    """
    if text is None:
        return ""
    last = _LAST_CLOSE.match(text)
    if last is None:
        return text
    spans = _ANSWER_SPAN.findall(text, 0, last.end())
    return spans[-1].strip() if spans else text


def tag_blocks(text: str, names: Sequence[str], *, ignore_case: bool = False) -> list[tuple[str, str]]:
    """``(name, content)`` of each ``<name>...</name>`` block, as
    ``re.findall(r"<(n1|n2)>(.*?)</\1>", text, re.DOTALL)`` returns them, in linear time.

    A block opens at the leftmost opening tag whose closing tag occurs later and ends at the
    first such closing tag; the search goes on after it.
    """
    if not text:
        return []
    pattern = _tag_pattern(tuple(names), ignore_case)
    tokens = [(m.start(), m.end(), m.group(1) == "/", m.lastindex - 2) for m in pattern.finditer(text)]
    last_close: dict[int, int] = {}
    for i, (_, _, closing, kind) in enumerate(tokens):
        if closing:
            last_close[kind] = i
    blocks, open_kind, start = [], None, 0
    for i, (a, b, closing, kind) in enumerate(tokens):
        if open_kind is None:
            if not closing and last_close.get(kind, -1) > i:
                open_kind, start = kind, b
        elif closing and kind == open_kind:
            blocks.append((names[kind], text[start:a]))
            open_kind = None
    return blocks


_TAG_PATTERNS: dict[tuple, re.Pattern] = {}


def _tag_pattern(names: tuple[str, ...], ignore_case: bool) -> re.Pattern:
    key = (names, ignore_case)
    if key not in _TAG_PATTERNS:
        alternatives = "|".join(f"({re.escape(n)})" for n in names)
        _TAG_PATTERNS[key] = re.compile(f"<(/?)(?:{alternatives})>", re.IGNORECASE if ignore_case else 0)
    return _TAG_PATTERNS[key]


# ---------------------------------------------------------------- official (authors') parse

def official_token(text: str) -> str:
    """The authors' ``fuzzy_matching``: first space-separated token, trailing dots, then whitespace, removed."""
    return text.partition(" ")[0].rstrip(".").strip()  # == text.split(" ")[0], without splitting the rest


def official_number(text: str) -> float | None:
    """The authors' numeric parse: ``float()`` of :func:`official_token`, ``None`` when it raises.

    May return ``nan`` or ``inf`` (Python's ``float`` accepts them); MRA scores both 0.
    """
    try:
        return float(official_token(text))
    except (ValueError, TypeError, OverflowError):
        return None


# ---------------------------------------------------------------- lmms-eval 0.7.3's number parse

_LMMS_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen".split())}
_LMMS_WORDS.update({w: 10 * i for i, w in enumerate(
    "twenty thirty forty fifty sixty seventy eighty ninety".split(), start=2)})
_LMMS_WORDS.update(hundred=100, thousand=1000)
_LMMS_DIGITS = re.compile(r"-?\d+(?:\.\d+)?")
_LMMS_WORD = re.compile(r"[a-z]+")
_FLOAT_LIMIT = 2 ** 1024


def lmms_eval_number(text: str) -> float | None:
    r"""The number lmms-eval 0.7.3 reads from a VSI-Bench answer (its ``extract_number``); ``None`` if none.

    On the stripped, lower-cased text: the first digit run ``-?\d+(\.\d+)?`` or the first run of
    number words, whichever starts first. A word run starts at the first ASCII-letter word that
    is a number word (zero..nineteen, the tens, hundred, thousand) and continues over further
    number words, skipping ``and``, until another word; its value adds up like English
    (``"three hundred and twenty-one"`` -> 321, ``"one, two"`` -> 3). ``"3.5m"`` -> 3.5,
    ``"1,200"`` -> 1, ``"room2"`` -> 2, ``"1e3"`` -> 1. Returns ``inf`` (MRA scores it 0) for a number
    beyond float range: a very long digit run, or a run of "hundred"s, where lmms-eval's own code
    raises ``OverflowError`` (its only difference from lmms-eval; the run is cut short there, so
    the time stays linear).
    """
    if text is None:
        return None
    s = str(text).strip().lower()
    if not s:
        return None
    digits = _LMMS_DIGITS.search(s)
    run: list[str] = []
    run_start = None
    for m in _LMMS_WORD.finditer(s):
        word = m.group()
        if run_start is None:
            if digits is not None and m.start() > digits.start():
                break  # the digits come first; no later word run can win
            if word in _LMMS_WORDS:
                run_start = m.start()
                run.append(word)
        elif word in _LMMS_WORDS:
            run.append(word)
        elif word != "and":
            break
    if digits is not None and (run_start is None or digits.start() < run_start):
        try:
            return float(digits.group())
        except ValueError:
            pass
    if run_start is None:
        return None
    total = current = 0
    for word in run:
        value = _LMMS_WORDS[word]
        if value == 100:
            current = max(current, 1) * 100
        elif value == 1000:
            total += max(current, 1) * 1000
            current = 0
        else:
            current += value
        if total + current > _FLOAT_LIMIT:  # the sum only grows: it stays beyond float range
            return math.inf
    try:
        return float(total + current)
    except OverflowError:
        return math.inf


# ---------------------------------------------------------------- lenient parse

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
    """First number or English number word anywhere in ``text`` (the ``lenient`` parser); ``None`` if none.

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


# The lenient letter patterns, tried in this order; the first match with an allowed letter wins:
#   "A", "a", "(A)", "A.", "A) left", " A"  |  "A left"  |  "Answer: A", "the answer is (B)"  |
#   "... option (C) ..."  |  any standalone capital letter.
# ``L`` / ``U`` stand for the letter class (any letter, or only the allowed ones). Whitespace runs
# are possessive (``\s*+``) and never adjacent, so each match attempt scans a run once: linear time
# (``answer\s*(?:is)?\s*[:-]?\s*`` would be cubic on a long run of spaces).
_LETTER_TEMPLATES = (
    (r"^\s*+\(?(L)\)?\s*+(?:[.:)]|$)", 0),
    (r"^\s*+(U)\s", 0),
    (r"answer\s*+(?:(?:is|:)\s*+)?(?:[:\-]\s*+)?\(?(L)\b", re.IGNORECASE),
    (r"\((U)\)", 0),
    (r"(U)(?<!\w.)(?!\w)", 0),   # == \b(U)\b, but starts with the letter so the scan is fast
)
_LETTER_PATTERN_CACHE: dict[str | None, tuple[re.Pattern, ...]] = {}


def _letter_patterns(allowed: str | None) -> tuple[re.Pattern, ...]:
    if allowed not in _LETTER_PATTERN_CACHE:
        if allowed is None:
            upper, both = "A-Z", "A-Za-z"
        else:
            upper = re.escape(allowed)
            both = re.escape(allowed + allowed.lower())
        if len(_LETTER_PATTERN_CACHE) > 256:
            _LETTER_PATTERN_CACHE.clear()
        _LETTER_PATTERN_CACHE[allowed] = tuple(
            re.compile(t.replace("(L)", f"([{both}])").replace("(U)", f"([{upper}])"), flags)
            for t, flags in _LETTER_TEMPLATES)
    return _LETTER_PATTERN_CACHE[allowed]


def parse_letter(text: str, letters: Sequence[str] | None = None) -> str | None:
    """First option letter in ``text`` by lenient patterns (the ``lenient`` parser); only ``letters`` count when given."""
    if not text:
        return None
    allowed = None
    if letters:
        allowed = "".join(sorted({x.upper() for x in letters if len(x) == 1}))
        if not allowed:
            return None
    for pattern in _letter_patterns(allowed):
        for m in pattern.finditer(text):
            letter = m.group(1).upper()
            if allowed is None or letter in allowed:
                return letter
    return None


# ---------------------------------------------------------------- by parser name

def parse_answer_number(text: str, parser: str) -> float | None:
    """The number ``parser`` reads from an answer (``None``: unparseable; ``official`` may give nan/inf)."""
    if parser == "official":
        return official_number(text)
    if parser == "lmms-eval":
        return lmms_eval_number(text)
    if parser == "lenient":
        return parse_number(text)
    raise ValueError(f"unknown parser {parser!r}; choose one of {', '.join(PARSERS)}")


def parse_answer_choice(text: str, parser: str, options: Sequence[str] | None = None) -> str | None:
    """What ``parser`` compares with a multiple-choice letter: the first token (``official``,
    ``lmms-eval``) or the first lenient letter among the ``options``' letters (``lenient``)."""
    if parser in ("official", "lmms-eval"):
        return official_token(text)
    if parser == "lenient":
        return parse_letter(text, option_letters(options) or None)
    raise ValueError(f"unknown parser {parser!r}; choose one of {', '.join(PARSERS)}")


# ---------------------------------------------------------------- options

_OPTION = re.compile(r"^\s*([A-Za-z])\s*[.)]\s*(.*)$", re.DOTALL)


def split_option(option: str) -> tuple[str, str]:
    """``"A. left"`` -> ``("A", "left")``. An option without a letter prefix gives ``("", text)``."""
    m = _OPTION.match(option)
    return (m.group(1), m.group(2).strip()) if m else ("", option.strip())


def option_letters(options: Sequence[str] | None) -> list[str]:
    return [letter for letter, _ in (split_option(o) for o in (options if options is not None else [])) if letter]


def _norm(text: str) -> str:
    return " ".join(text.strip().rstrip(".").split()).lower()


def map_option_text(answer: str, options: Sequence[str] | None) -> str:
    """Replace an answer equal to an option's text with that option's letter (else unchanged).

    ``map_option_text("Left.", ["A. left", "B. right"]) == "A"``. Used for models trained
    without options (train style), which answer with the word itself.
    """
    if options is None or len(options) == 0 or not answer:
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
