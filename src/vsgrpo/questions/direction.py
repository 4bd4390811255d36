"""``object_rel_direction_{easy,medium,hard}``: "If I am standing by the {p} and facing the {o}, ...".

Answer: the angle in the floor (x, y) plane from ``o - p`` to ``q - p`` between box centres,
counter-clockwise positive, binned (hard: quadrants front-left, back-left, back-right,
front-right from 0 degrees; medium: [0, 135) left, [135, 225) back, [225, 360) right; easy:
[0, 180) left, [180, 360) right). Valid triples: three categories that occur once, every
pairwise closest-point distance in [0.30, 5.0] m; skipped when the angle is within 10 degrees
of a bin boundary or when more than 2 of q's 8 box corners fall in another bin than its centre.
Options are all labels of the bins (2, 3 or 4).
"""

from __future__ import annotations

import itertools

import numpy as np

from .. import geometry
from ..scene import Scene
from . import templates
from .aliases import to_question
from .base import Task, Unchecked, register_task
from .common import MissingObject, make, unique_box, unmatched
from .distance import _unique

MIN_PAIR_DISTANCE = 0.30
MAX_PAIR_DISTANCE = 5.0
BOUNDARY_MARGIN_DEG = 10.0
MAX_CORNERS_OFF = 2


def direction_answer(scene: Scene, p: str, o: str, q: str, bins) -> str:
    """The direction label of ``q`` seen from ``p`` facing ``o`` (the ground-truth function)."""
    cp, co, cq = (unique_box(scene, x).centroid for x in (p, o, q))
    return geometry.angle_bin(geometry.floor_angle(cp, co, cq), bins)


def _ambiguous(cp, co, cq: np.ndarray, corners: np.ndarray, bins) -> np.ndarray:
    """Vectorised rule over k candidate q's: ``cq`` (k, 3), ``corners`` (k, 8, 3)."""
    angle = geometry.floor_angle(cp, co, cq)
    label = geometry.bin_indices(angle, bins)
    corner_labels = geometry.bin_indices(geometry.floor_angle(cp, co, corners), bins)
    off = (corner_labels != label[:, None]).sum(axis=1)
    return (geometry.boundary_margins(angle, bins) < BOUNDARY_MARGIN_DEG) | (off > MAX_CORNERS_OFF)


class _RelDirection(Task):
    template: str
    bins: tuple

    @property
    def question_templates(self) -> tuple[str, ...]:
        return (self.template,)

    @property
    def answer_words(self) -> tuple[str, ...]:
        """The bins' labels: every answer this level can have."""
        return tuple(dict.fromkeys(label for *_, label in self.bins))

    def generate(self, scene, rng, config):
        cats = _unique(scene)
        dist: dict[tuple[str, str], float] = {}
        for a, b in itertools.combinations(cats, 2):
            dist[(a, b)] = dist[(b, a)] = geometry.closest_distance(unique_box(scene, a), unique_box(scene, b))

        def ok(a, b):
            return MIN_PAIR_DISTANCE <= dist[(a, b)] <= MAX_PAIR_DISTANCE

        labels = [label for _, _, label in self.bins]
        cent = {c: unique_box(scene, c).centroid for c in cats}
        corners = {c: unique_box(scene, c).corners() for c in cats}
        out = []
        for p, o in itertools.permutations(cats, 2):
            if not ok(p, o):
                continue
            qs = [q for q in cats if q not in (p, o) and ok(p, q) and ok(o, q)]
            if not qs:
                continue
            amb = _ambiguous(cent[p], cent[o], np.array([cent[q] for q in qs]),
                             np.array([corners[q] for q in qs]), self.bins)
            for q, skip in zip(qs, amb):
                if skip:
                    continue
                answer = direction_answer(scene, p, o, q, self.bins)
                text = self.template.format(p=to_question(p), o=to_question(o), q=to_question(q))
                out.append(make(self, scene, text, answer, choices=labels, objects=(p, o, q)))
        return out

    def derive(self, scene, row):
        f = templates.parse(self.template, row["question"])
        if f is None:
            return unmatched(row)
        try:
            answer = direction_answer(scene, f["p"], f["o"], f["q"], self.bins)
        except MissingObject as e:
            return Unchecked(str(e))
        return self.letter(row, answer)


class RelDirectionEasy(_RelDirection):
    name = "object_rel_direction_easy"
    template = templates.REL_DIRECTION_EASY
    bins = geometry.LR_BINS


class RelDirectionMedium(_RelDirection):
    name = "object_rel_direction_medium"
    template = templates.REL_DIRECTION_MEDIUM
    bins = geometry.LRB_BINS


class RelDirectionHard(_RelDirection):
    name = "object_rel_direction_hard"
    template = templates.REL_DIRECTION_HARD
    bins = geometry.QUADRANT_BINS


register_task(RelDirectionEasy())
register_task(RelDirectionMedium())
register_task(RelDirectionHard())
