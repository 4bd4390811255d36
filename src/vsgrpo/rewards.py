"""Reward functions for GRPO, in TRL's contract: ``f(prompts, completions, **columns) -> list[float]``.

``completions`` are strings or chat messages (``[{"role": "assistant", "content": str}]``);
``columns`` are the dataset columns of each row (``ground_truth``, ``question_type``,
``options``, ...). Every function here is a plain callable with a ``__name__`` (TRL logs
``rewards/<name>/mean``), so users can mix them with their own.

Accuracy is computed by :func:`vsgrpo.metrics.score_detail`, the function evaluation scores
with, so the model is rewarded by the notion of "correct" it is judged by: with
``na_shape="metric"`` the reward *is* the evaluation score, for every parser. The other numeric
shapes reshape the number that same call parsed. Every function here runs in linear time.

**Format** (:func:`format_reward`, think and observe modes; vanilla has none): the completion
must be exactly ``<TAG>reasoning</TAG><answer>answer</answer>``. Whitespace policy: any
whitespace (spaces, newlines) is allowed before the first tag, between ``</TAG>`` and
``<answer>`` and after ``</answer>``; nothing else may stand outside the tags. Tags are
lower-case and appear exactly once each; a tag inside the reasoning or the answer (nested or
repeated tags, in any case) fails. The answer must contain non-whitespace. Empty reasoning
(``<think> </think>``) passes by default, as in the paper's reward; set
``allow_empty_reasoning=False`` to close that hack. Reward 1.0 or 0.0.

**Accuracy** (:func:`accuracy_reward`): the answer is the last ``<answer>`` span when present,
else the whole completion (vanilla).

- Multiple choice (question types of kind MCA in the task registry): with options (VSI-Bench
  style) an answer equal to an option's text becomes its letter, then the parser's reading
  (``official`` / ``lmms-eval``: the first space-separated token; ``lenient``: the first option
  letter) is compared with the letter, case insensitive. Train style (no options, the answer is
  the word, VSI-100k): exact match after normalisation (case, inner whitespace collapsed,
  surrounding whitespace and trailing dots removed). 1.0 or 0.0.
- Numeric (kind NA: counting, distances, sizes): the number is parsed by the evaluation parser
  (``official``: ``float()`` of the first space-separated token; ``lmms-eval`` / ``lenient``:
  the first number anywhere, see :mod:`vsgrpo.answers`). Unparseable, non-finite or non-positive
  predictions score 0. With the paper's relative error ``e = |y' - y| / min(y', y)`` (symmetric in
  over/under-estimation by a factor):

  - ``na_shape="linear"`` (default): ``max(0, 1 - e / na_tolerance)``, ``na_tolerance=0.5``:
    a dense signal that is 1 at the exact value and 0 once the prediction is off by a factor of
    1.5 or more, the point where VSI-Bench's MRA also reaches 0 for over-estimates.
  - ``na_shape="mra"``: MRA's step shape on ``e``: the fraction of thresholds
    t in {0.50, ..., 0.95} with ``e <= 1 - t`` (computed by ``metrics.mean_relative_accuracy``
    on ``(1 + e, 1)``), so 10 reward levels, 0 beyond ``e > 0.5``.
  - ``na_shape="metric"``: exactly the evaluation metric, MRA relative to the ground truth.

**Monitors** (weight 0, logged as rates by TRL): :func:`empty_reasoning`,
:func:`repeated_tags`, :func:`completion_chars`; the reward-hacking signs the paper reports.

**The built-in rewards by name** (:data:`BUILTIN_REWARDS`): the one table that a recipe's
``rewards:`` list, the trainer and the verl export read. Adding a built-in reward is one entry
there: its name and a function of the run's :class:`RewardSettings` that returns the reward.
:func:`rewards_from_specs` turns ``[(name, weight), ...]`` into TRL's functions and weights.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import islice

from .answers import ANSWER_TAG, PARSERS, tag_blocks
from .errors import VsgrpoError
from .metrics import answer_kind, mean_relative_accuracy, numeric_ground_truth, relative_error, score_detail
from .prompts import REASONING_TAG

NA_SHAPES = ("linear", "mra", "metric")
# mode -> the tag around its reasoning, for the modes that have one (think, observe); from prompts
REASONING_TAGS = {mode: tag for mode, tag in REASONING_TAG.items() if tag}
_TAG_NAMES = tuple(dict.fromkeys(list(REASONING_TAGS.values()) + [ANSWER_TAG]))
# Any of the tags, in any case, with stray spaces ("< think >", "</ANSWER>"). Possessive
# whitespace: linear time on long runs of spaces.
_ANY_TAG = re.compile(rf"</?\s*+(?:{'|'.join(_TAG_NAMES)})\s*+>", re.IGNORECASE)

RewardFunc = Callable[..., list[float]]


def completion_text(completion) -> str:
    """The text of one TRL completion (a string, or a list of chat messages)."""
    if completion is None:
        return ""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return completion_text(completion.get("content"))
    if isinstance(completion, list):
        parts = []
        for item in completion:
            if isinstance(item, dict) and item.get("type") == "text":
                parts.append(item.get("text") or "")
            else:
                parts.append(completion_text(item))
        return "".join(parts)
    return str(completion)


# ----------------------------------------------------------------------------- format

def parse_format(text: str, mode: str) -> tuple[str, str] | None:
    """``(reasoning, answer)`` when ``text`` follows the mode's format exactly, else ``None``.

    The format holds when the text has exactly four tags (any of think/observe/answer, open or
    closed, in any case), which are ``<TAG>``, ``</TAG>``, ``<answer>``, ``</answer>`` in this
    order with only whitespace around the two blocks, and the answer is not blank. Stops reading
    at the fifth tag, so repeated tags cost nothing.
    """
    tag = REASONING_TAGS.get(mode)
    if tag is None:
        raise VsgrpoError(f"mode {mode!r} has no format; choose think or observe")
    tags = list(islice(_ANY_TAG.finditer(text), 5))
    expected = (f"<{tag}>", f"</{tag}>", f"<{ANSWER_TAG}>", f"</{ANSWER_TAG}>")
    if len(tags) != 4 or any(m.group() != e for m, e in zip(tags, expected)):
        return None
    outside = (text[:tags[0].start()], text[tags[1].end():tags[2].start()], text[tags[3].end():])
    if any(part.strip() for part in outside):
        return None
    reasoning, answer = text[tags[0].end():tags[1].start()], text[tags[2].end():tags[3].start()]
    return (reasoning, answer) if answer.strip() else None


def format_reward(mode: str = "think", *, allow_empty_reasoning: bool = True) -> RewardFunc:
    """Format reward for ``mode`` (think | observe): 1.0 when the completion follows the format."""
    if mode not in REASONING_TAGS:
        raise VsgrpoError(f"mode {mode!r} has no format reward; choose {' or '.join(REASONING_TAGS)}")

    def reward(prompts=None, completions=(), **columns) -> list[float]:
        out = []
        for c in completions:
            parsed = parse_format(completion_text(c), mode)
            ok = parsed is not None and (allow_empty_reasoning or parsed[0].strip() != "")
            out.append(1.0 if ok else 0.0)
        return out

    reward.__name__ = f"format_{mode}"
    return reward


# ----------------------------------------------------------------------------- accuracy

def numeric_score(pred: float | None, gt: float, *, shape: str = "linear", tolerance: float = 0.5) -> float:
    """Reward in [0, 1] for a numeric prediction (see the module doc for the shapes)."""
    if pred is None or not math.isfinite(pred) or pred <= 0 or not math.isfinite(gt) or gt <= 0:
        return 0.0
    if shape == "metric":
        return float(mean_relative_accuracy(pred, gt))
    e = relative_error(pred, gt)
    if shape == "linear":
        return max(0.0, 1.0 - e / tolerance)
    if shape == "mra":
        return float(mean_relative_accuracy(1.0 + e, 1.0))
    raise VsgrpoError(f"unknown na_shape {shape!r}; choose one of {', '.join(NA_SHAPES)}")


def score_answer(text: str, ground_truth: str, question_type: str, options: Sequence[str] | None = None, *,
                 na_shape: str = "linear", na_tolerance: float = 0.5, parser: str = "official") -> float:
    """Accuracy of one completion ``text`` against one row (the function behind :func:`accuracy_reward`).

    Scored by :func:`vsgrpo.metrics.score_detail` with the ``<answer>`` span taken and option text
    mapped to its letter, for every parser (training prompts ask for both; evaluation turns them
    off by default only for ``lmms-eval``); numeric answers with ``na_shape`` other than
    ``metric`` reshape the number that call parsed.
    """
    scored = score_detail(text or "", ground_truth, question_type, options, parser=parser, answer_tag=True,
                          option_text=True)
    if na_shape == "metric" or answer_kind(question_type) == "mca":
        return scored.score
    return numeric_score(scored.parsed, numeric_ground_truth(ground_truth, question_type), shape=na_shape,
                         tolerance=na_tolerance)


def accuracy_reward(*, na_shape: str = "linear", na_tolerance: float = 0.5, parser: str = "official") -> RewardFunc:
    """Accuracy reward over rows with ``ground_truth``, ``question_type`` and optional ``options`` columns."""
    if na_shape not in NA_SHAPES:
        raise VsgrpoError(f"unknown na_shape {na_shape!r}; choose one of {', '.join(NA_SHAPES)}")
    if parser not in PARSERS:
        raise VsgrpoError(f"unknown parser {parser!r}; choose one of {', '.join(PARSERS)}")
    if not (na_tolerance > 0):
        raise VsgrpoError("na_tolerance must be > 0")

    def reward(prompts=None, completions=(), ground_truth=(), question_type=(), options=None, **columns):
        opts = options if options is not None else [None] * len(completions)
        return [score_answer(completion_text(c), gt, qt, o, na_shape=na_shape, na_tolerance=na_tolerance,
                             parser=parser)
                for c, gt, qt, o in zip(completions, ground_truth, question_type, opts, strict=True)]

    reward.__name__ = "accuracy"
    return reward


# ----------------------------------------------------------------------------- monitors

def _reasoning_blocks(text: str) -> list[tuple[str, str]]:
    return tag_blocks(text, tuple(REASONING_TAGS.values()))


def empty_reasoning(prompts=None, completions=(), **columns) -> list[float]:
    """1.0 when a completion has a reasoning block with only whitespace (``<think> </think>``)."""
    out = []
    for c in completions:
        blocks = _reasoning_blocks(completion_text(c))
        out.append(1.0 if any(not body.strip() for _, body in blocks) else 0.0)
    return out


def repeated_tags(prompts=None, completions=(), **columns) -> list[float]:
    """1.0 when any of ``<think>``, ``<observe>``, ``<answer>`` (or its closing tag) occurs more than once."""
    out = []
    for c in completions:
        tags = [t.lower().replace(" ", "") for t in _ANY_TAG.findall(completion_text(c))]
        out.append(1.0 if len(tags) != len(set(tags)) else 0.0)
    return out


def completion_chars(prompts=None, completions=(), **columns) -> list[float]:
    """Completion length in characters (TRL logs token lengths separately)."""
    return [float(len(completion_text(c))) for c in completions]


MONITORS: tuple[RewardFunc, ...] = (empty_reasoning, repeated_tags, completion_chars)


@dataclass(frozen=True)
class RewardSettings:
    """What a built-in reward may depend on: the run's mode and its numeric-reward and parser settings."""

    mode: str = "vanilla"
    na_shape: str = "linear"
    na_tolerance: float = 0.5
    parser: str = "official"
    allow_empty_reasoning: bool = True


def _format_for(s: RewardSettings) -> RewardFunc:
    if s.mode not in REASONING_TAGS:
        raise VsgrpoError(f"rewards: `format` needs mode think or observe (mode is {s.mode!r})")
    return format_reward(s.mode, allow_empty_reasoning=s.allow_empty_reasoning)


#: recipe name -> function of the run's settings that returns the reward; the one table of built-in rewards.
BUILTIN_REWARDS: dict[str, Callable[[RewardSettings], RewardFunc]] = {
    "accuracy": lambda s: accuracy_reward(na_shape=s.na_shape, na_tolerance=s.na_tolerance, parser=s.parser),
    "format": _format_for,
    **{m.__name__: (lambda s, m=m: m) for m in MONITORS},
}


def rewards_from_specs(specs: Sequence[tuple[str, float]], settings: RewardSettings, *,
                       user: Callable[[str], RewardFunc] | None = None) -> tuple[list[RewardFunc], list[float]]:
    """Reward functions and TRL ``reward_weights`` for ``[(name, weight), ...]``: built-in names from
    :data:`BUILTIN_REWARDS`, any other name through ``user`` (``package.module:function``). The
    monitors are added with weight 0 unless listed."""
    funcs: list[RewardFunc] = []
    weights: list[float] = []
    for name, weight in specs:
        if name in BUILTIN_REWARDS:
            funcs.append(BUILTIN_REWARDS[name](settings))
        elif user is not None:
            funcs.append(user(name))
        else:
            raise VsgrpoError(f"rewards: unknown reward {name!r}; built-in: {', '.join(BUILTIN_REWARDS)}")
        weights.append(float(weight))
    for monitor in MONITORS:
        if monitor not in funcs:
            funcs.append(monitor)
            weights.append(0.0)
    return funcs, weights


def default_rewards(mode: str, *, na_shape: str = "linear", na_tolerance: float = 0.5, parser: str = "official",
                    allow_empty_reasoning: bool = True, format_weight: float = 1.0,
                    monitors: bool = True) -> tuple[list[RewardFunc], list[float]]:
    """The paper's reward set for ``mode`` and TRL ``reward_weights``: accuracy (+ format for think/observe),
    plus weight-0 monitors that only get logged."""
    funcs: list[RewardFunc] = [accuracy_reward(na_shape=na_shape, na_tolerance=na_tolerance, parser=parser)]
    weights = [1.0]
    if mode in REASONING_TAGS:
        funcs.append(format_reward(mode, allow_empty_reasoning=allow_empty_reasoning))
        weights.append(format_weight)
    elif mode != "vanilla":
        raise VsgrpoError(f"unknown mode {mode!r}; choose vanilla, think or observe")
    if monitors:
        funcs += list(MONITORS)
        weights += [0.0] * len(MONITORS)
    return funcs, weights
