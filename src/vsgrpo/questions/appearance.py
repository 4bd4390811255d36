"""``obj_appearance_order``: in which order do four categories first appear in the video?

Ground truth comes from per-frame visibility (:class:`vsgrpo.scene.Visibility`): a category
first appears at the time of the first frame in which any of its instances covers more than a
pixel threshold (default: 0.163% of the frame area, 500 px at 640x480). Four categories make a question only when their first-appearance
times are pairwise more than ``min_gap`` seconds apart, so the order is robust to frame
sampling and to a slightly different threshold. See docs/routes_and_appearance.md.

The template and option form are VSI-Bench's: the question lists the four categories, and the
four options are orderings written as ``"cup, door, heater, ceiling light"``. In train style
(VSI-100k form, no options) the answer is that ordered list of names.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..scene import Scene, Visibility
from .base import BuildConfig, Question, Task, Unchecked, letter_of, register_task

QUESTION_TYPE = "obj_appearance_order"
TEMPLATE = "What will be the first-time appearance order of the following categories in the video: {}?"
PREFIX = TEMPLATE.split("{}")[0]

DEFAULT_FRAME_FRACTION = 500 / (640 * 480)
"""Share of the frame an instance must cover to count as seen: 0.163%, i.e. 500 pixels of a
640x480 frame (a 22 x 22 patch) or 125 pixels of 320x240; large enough to ignore a sliver at the
image border, small enough that a small object in plain view counts."""
DEFAULT_FRAME_SIZE = (640, 480)
"""Frame size assumed when a scene has no camera track (VSI-Bench's videos are 640x480)."""
DEFAULT_PIXEL_THRESHOLD = round(DEFAULT_FRAME_FRACTION * DEFAULT_FRAME_SIZE[0] * DEFAULT_FRAME_SIZE[1])
DEFAULT_MIN_GAP = 1.0
"""Seconds between any two first appearances of a question (VSI-Bench's rule)."""
DEFAULT_ROBUST_FACTOR = 2.0
"""The order must not change when the threshold is halved or doubled (see :func:`order_is_robust`)."""
DEFAULT_MAX_COMBOS = 60
"""Most 4-category combinations offered per scene (drawn with the build's rng when more are valid)."""
LIST_ORDERS = ("random", "vsibench")


def first_appearances(vis: Visibility, threshold: int = DEFAULT_PIXEL_THRESHOLD) -> dict[str, float]:
    """First-appearance time (s) of every category that is ever seen (> ``threshold`` pixels)."""
    cats = sorted({c for c, _ in vis.instances})
    out = {}
    for c in cats:
        t = vis.first_appearance(c, threshold)
        if t is not None:
            out[c] = t
    return out


def well_separated(times: Sequence[float], min_gap: float = DEFAULT_MIN_GAP) -> bool:
    """Whether every two of ``times`` are more than ``min_gap`` apart."""
    s = sorted(times)
    return all(b - a > min_gap for a, b in zip(s, s[1:]))


def valid_combinations(times: Mapping[str, float], min_gap: float = DEFAULT_MIN_GAP,
                       k: int = 4) -> list[tuple[str, ...]]:
    """Every ``k``-category combination (sorted names, lexicographic order) that is well separated."""
    return [combo for combo in itertools.combinations(sorted(times), k)
            if well_separated([times[c] for c in combo], min_gap)]


def order_by_appearance(combo: Sequence[str], times: Mapping[str, float]) -> tuple[str, ...]:
    return tuple(sorted(combo, key=lambda c: times[c]))


def order_is_robust(vis: Visibility, combo: Sequence[str], threshold: int, factor: float | None) -> bool:
    """Whether the order of ``combo`` is the same at ``threshold / factor`` and ``threshold * factor``.

    A question whose order flips when the threshold halves or doubles depends on our choice of
    threshold more than on the video; such questions are dropped. ``factor=None`` skips the test.
    """
    if factor is None:
        return True
    orders = set()
    for th in (max(1, int(threshold / factor)), threshold, int(round(threshold * factor))):
        times = {c: vis.first_appearance(c, th) for c in combo}
        if any(t is None for t in times.values()):
            return False
        orders.add(order_by_appearance(combo, times))
    return len(orders) == 1


def ordering_text(order: Sequence[str]) -> str:
    return ", ".join(order)


def appearance_question(combo: Sequence[str], times: Mapping[str, float], rng: np.random.Generator,
                        list_order: str = "random") -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """Question text, the correct ordering, and 4 orderings (correct first, then 3 distractors).

    Distractors are distinct random permutations other than the answer. ``list_order`` is how
    the question lists the categories: ``random`` (a random permutation, possibly the answer) or
    ``vsibench`` (as in every released VSI-Bench question: the listed order is one of the
    distractors, never the answer -- a cue a model can learn, hence not the default).
    """
    if list_order not in LIST_ORDERS:
        raise ValueError(f"list_order must be one of {LIST_ORDERS}, got {list_order!r}")
    answer = order_by_appearance(combo, times)
    perms = [p for p in itertools.permutations(answer) if p != answer]
    picks = rng.choice(len(perms), size=3, replace=False)
    distractors = [perms[i] for i in picks]
    if list_order == "vsibench":
        listed = distractors[int(rng.integers(3))]
    else:
        listed = tuple(answer[i] for i in rng.permutation(len(answer)))
    return TEMPLATE.format(ordering_text(listed)), answer, (answer, *distractors)


def parse_categories(question: str) -> list[str] | None:
    """The categories listed in an appearance-order question, or None if it is not one."""
    if not question.startswith(PREFIX) or not question.endswith("?"):
        return None
    return [c.strip() for c in question[len(PREFIX):-1].split(",")]


class AppearanceOrderTask(Task):
    """First-time appearance order of four categories (needs per-frame visibility)."""

    name = QUESTION_TYPE

    def matches(self, question: str) -> bool:
        return question.strip().startswith(PREFIX)

    def __init__(self, pixel_threshold: int | None = None, frame_fraction: float = DEFAULT_FRAME_FRACTION,
                 min_gap: float = DEFAULT_MIN_GAP, max_combos: int = DEFAULT_MAX_COMBOS,
                 list_order: str = "random", robust_factor: float | None = DEFAULT_ROBUST_FACTOR):
        """``pixel_threshold`` fixes the threshold in pixels; by default it is ``frame_fraction``
        of the scene's frame area (from its camera track, else 640x480)."""
        if list_order not in LIST_ORDERS:
            raise ValueError(f"list_order must be one of {LIST_ORDERS}, got {list_order!r}")
        self.pixel_threshold = None if pixel_threshold is None else int(pixel_threshold)
        self.frame_fraction = float(frame_fraction)
        self.robust_factor = robust_factor
        self.min_gap = float(min_gap)
        self.max_combos = int(max_combos)
        self.list_order = list_order

    def threshold(self, scene: Scene) -> int:
        """Pixel threshold used for ``scene``."""
        if self.pixel_threshold is not None:
            return self.pixel_threshold
        w, h = (scene.cameras.width, scene.cameras.height) if scene.cameras is not None else DEFAULT_FRAME_SIZE
        return max(1, round(self.frame_fraction * w * h))

    def generate(self, scene: Scene, rng: np.random.Generator, config: BuildConfig) -> list[Question]:
        if scene.visibility is None:
            return []
        threshold = config.appearance_threshold or self.threshold(scene)
        times = first_appearances(scene.visibility, threshold)
        combos = [c for c in valid_combinations(times, self.min_gap)
                  if order_is_robust(scene.visibility, c, threshold, self.robust_factor)]
        if len(combos) > self.max_combos:
            keep = np.sort(rng.choice(len(combos), size=self.max_combos, replace=False))
            combos = [combos[i] for i in keep]
        out = []
        for combo in combos:
            text, answer, orderings = appearance_question(combo, times, rng, self.list_order)
            out.append(Question(
                dataset=scene.dataset, scene_name=scene.name, question_type=self.name, question=text,
                answer=ordering_text(answer), choices=tuple(ordering_text(o) for o in orderings),
                objects=answer,
                extra={"first_appearance_s": [round(times[c], 3) for c in answer],
                       "pixel_threshold": threshold}))
        return out

    def derive(self, scene: Scene, row: Mapping[str, Any]) -> str | Unchecked:
        cats = parse_categories(str(row.get("question", "")))
        if cats is None or len(cats) != 4:
            return Unchecked("question does not follow the appearance-order template")
        if scene.visibility is None:
            return Unchecked("no per-frame visibility for this scene (VSI-Bench's released appearance "
                             "orders come from its own annotation, which is not published)")
        threshold = _row_threshold(row, self.threshold(scene))
        missing = [c for c in cats if scene.visibility.first_appearance(c, threshold) is None]
        if missing:
            return f"<never visible: {', '.join(missing)}>"
        times = {c: scene.visibility.first_appearance(c, threshold) for c in cats}
        if not well_separated(list(times.values()), self.min_gap):
            return f"<first appearances within {self.min_gap:g} s>"
        if not order_is_robust(scene.visibility, cats, threshold, self.robust_factor):
            return f"<order changes when the threshold {threshold} px is halved or doubled>"
        word = ordering_text(order_by_appearance(cats, times))
        options = row.get("options")
        if options is not None and len(options):
            return letter_of(options, word) or f"<{word} is not among the options>"
        return word


def _row_threshold(row: Mapping[str, Any], default: int) -> int:
    """The ``pixel_threshold`` a row was built with: a column, or a key of its JSON ``extra``."""
    v = row.get("pixel_threshold")
    if v is None:
        extra = row.get("extra")
        if isinstance(extra, str):
            try:
                extra = json.loads(extra)
            except ValueError:
                extra = None
        if isinstance(extra, Mapping):
            v = extra.get("pixel_threshold")
    try:
        if v is not None and not (isinstance(v, float) and math.isnan(v)):
            return int(v)
    except (TypeError, ValueError):
        pass
    return default


register_task(AppearanceOrderTask())
