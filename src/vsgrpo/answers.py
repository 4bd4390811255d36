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
   - ``lmms-eval``: lmms-eval 0.7.3's VSI-Bench scoring, exactly: the response is stripped
     first (by the scorer, :func:`vsgrpo.metrics.score_detail`, as lmms-eval's
     ``Task.process_results`` does), and steps 1 and 2 are off unless asked for
     (:func:`default_switches`). Multiple choice as
     ``official`` (first space-separated token, trailing dots removed); numbers by
     :func:`lmms_eval_number`: the first digit run (``-?\d+(\.\d+)?``) or run of English number
     words, whichever starts first, anywhere in the answer.
   - ``lenient``: ``lmms-eval``, but multiple choice takes the first option letter found by a few
     lenient patterns (:func:`parse_letter`: ``"(B)"``, ``"Answer: B"``, ``"The answer is B."``).
     Not a published protocol: for reading models that do not follow the answer format.

With ``official`` (or ``lmms-eval``) and both switches off the result equals that protocol byte
for byte. Every function here runs in time linear in the length of its input.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from itertools import repeat

#: the answer parsers, by name (see the module doc)
PARSERS = ("official", "lmms-eval", "lenient")

ANSWER_TAG = "answer"


def default_switches(parser: str) -> tuple[bool, bool]:
    """``(answer_tag, option_text)`` when not given: off for ``lmms-eval`` (its pipeline has neither
    step, so ``parser="lmms-eval"`` alone is lmms-eval's scoring), on for the other parsers."""
    on = parser != "lmms-eval"
    return on, on

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


def tag_blocks(text: str, names: Sequence[str]) -> list[tuple[str, str]]:
    """``(name, content)`` of each ``<name>...</name>`` block (tags case-sensitive), as
    ``re.findall(r"<(n1|n2)>(.*?)</\\1>", text, re.DOTALL)`` returns them, in linear time.

    That regex alone is quadratic: an opening tag with no closing tag after it rescans the rest
    of the text. Such "dead" opening tags (those after the last closing tag of their name) are
    blanked out first, in a copy of the same length, and the search stops at the last closing tag.
    """
    if not text:
        return []
    pattern = _block_pattern(tuple(names))
    scan, end = text, 0
    for name in names:
        last = text.rfind(f"</{name}>")
        end = max(end, last + len(name) + 3 if last >= 0 else 0)
        tag, start = f"<{name}>", max(last, 0)
        if scan.find(tag, start) >= 0:
            scan = scan[:start] + scan[start:].replace(tag, "\0" * len(tag))
    if scan is text:
        return pattern.findall(text, 0, end)
    return [(m.group(1), text[m.start(2):m.end(2)]) for m in pattern.finditer(scan, 0, end)]


_BLOCK_PATTERNS: dict[tuple[str, ...], re.Pattern] = {}


def _block_pattern(names: tuple[str, ...]) -> re.Pattern:
    if names not in _BLOCK_PATTERNS:
        _BLOCK_PATTERNS[names] = re.compile(f"<({'|'.join(map(re.escape, names))})>(.*?)</\\1>", re.DOTALL)
    return _BLOCK_PATTERNS[names]


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


def _one_of(words, *, after_first: bool = False) -> str:
    """A regex for exactly one of ``words``, factored by common prefixes (``t(?:en|w(?:o|elve))``),
    so re tests one letter per step instead of every word at every position. ``after_first``: the
    first letter is already consumed; branch on it with a look-behind."""
    trie: dict = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict) -> str:
        parts = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not parts:
            return ""
        body = parts[0] if len(parts) == 1 else "(?:" + "|".join(parts) + ")"
        return f"(?:{body})?" if "" in node else body

    if not after_first:
        return emit(trie)
    return "(?:" + "|".join(f"(?<={re.escape(ch)}){emit(child)}" for ch, child in sorted(trie.items())) + ")"


# Each pattern starts with a character class, so re skips other text at C speed (linear time).
_LMMS_DIGITS = re.compile(r"\d+(?:\.\d+)?")  # lmms-eval: -?\d+(?:\.\d+)?; the sign is looked up after
_FIRST = "".join(sorted({w[0] for w in _LMMS_WORDS}))
_NUMBER_WORD = rf"{_one_of(_LMMS_WORDS, after_first=True)}(?![a-z])"
# A run of number words: the first one (a whole [a-z]+ word), then further number words or "and",
# whatever stands between them, up to the first other word.
_LMMS_WORD_RUN = re.compile(
    rf"[{_FIRST}](?<![a-z].){_NUMBER_WORD}(?:[^a-z]*+(?:{_one_of(list(_LMMS_WORDS) + ['and'])})(?![a-z]))*")
# Everything before the first number word, in one pass: the words that are not number words and
# what stands between them (a search would restart at each near miss such as "e" or "sixx").
_LMMS_NON_NUMBER_WORDS = re.compile(rf"(?:[^a-z]*+(?!{_one_of(_LMMS_WORDS)}(?![a-z]))[a-z]++)*+")
_ASCII_WORD = re.compile(r"[a-z]+")
_FLOAT_LIMIT = 2 ** 1024


def lmms_eval_number(text: str) -> float | None:
    r"""The number lmms-eval 0.7.3 reads from a VSI-Bench answer (its ``extract_number``); ``None`` if none.

    On the stripped, lower-cased text: the first digit run ``-?\d+(\.\d+)?`` or the first run of
    number words, whichever starts first. A word run starts at the first ``[a-z]+`` word that is a
    number word (zero..nineteen, the tens, hundred, thousand) and continues over further number
    words, skipping ``and``, up to another word; its value adds up like English
    (``"three hundred and twenty-one"`` -> 321, ``"one, two"`` -> 3). ``"3.5m"`` -> 3.5,
    ``"1,200"`` -> 1, ``"room2"`` -> 2, ``"1e3"`` -> 1. Returns ``inf`` (MRA scores it 0) for a number
    beyond float range: a very long digit run, or a run of "hundred"s, where lmms-eval's own code
    raises ``OverflowError`` (the only difference; the run is cut short there, so the time stays
    linear).
    """
    if text is None:
        return None
    s = str(text).strip().lower()
    if not s:
        return None
    digits = _LMMS_DIGITS.search(s)
    digit_start = None
    if digits is not None:
        digit_start = digits.start() - 1 if digits.start() > 0 and s[digits.start() - 1] == "-" else digits.start()
    # A word run wins only when it starts before the digits; it may go on past them.
    first = _LMMS_NON_NUMBER_WORDS.match(s).end()
    run = _LMMS_WORD_RUN.search(s, first, len(s) if digit_start is None else digit_start)
    if run is not None and digit_start is not None:
        run = _LMMS_WORD_RUN.search(s, run.start())
    if digit_start is not None and (run is None or digit_start < run.start()):
        try:
            return float(s[digit_start:digits.end()])
        except ValueError:
            pass
    if run is None:
        return None
    words = _ASCII_WORD.findall(run.group())
    if "hundred" not in words and "thousand" not in words:
        return float(sum(map(_LMMS_WORDS.get, words, repeat(0))))  # "and" counts 0
    total = current = 0
    for word in words:
        value = _LMMS_WORDS.get(word)
        if value is None:  # "and"
            continue
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
    """First option letter in ``text`` by the lenient patterns (parser ``lenient``); only ``letters`` count if given."""
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
    if parser in ("lmms-eval", "lenient"):
        return lmms_eval_number(text)
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
