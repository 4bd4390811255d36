"""``object_counting``: "How many {category}(s) are in this room?".

Answer: the released ``object_counts`` value (hand-corrected in a few scenes, so it is
preferred over the number of boxes; see :mod:`vsgrpo.scene`). As in VSI-Bench, only categories
counted more than once are asked, except in balanced builds (``BuildConfig.balance``, the
default), which also ask about categories present once: scenes mostly hold 2 or 3 of a kind,
so without 1s a constant "2" scores 60-80 MRA (:mod:`vsgrpo.questions.balance`).
"""

from __future__ import annotations

from ..scene import Scene
from . import templates
from .aliases import to_meta, to_question
from .base import Task, Unchecked, register_task
from .common import make, unmatched


def count_answer(scene: Scene, category: str) -> int:
    """How many ``category`` objects the scene holds (the single ground-truth function)."""
    return scene.count(to_meta(category, scene))


class ObjectCounting(Task):
    name = "object_counting"
    question_templates = (templates.COUNTING,)

    def generate(self, scene, rng, config):
        out = []
        for cat in sorted(scene.object_counts):
            n = count_answer(scene, cat)
            if n > 1 or (n == 1 and config.balance):
                q = templates.COUNTING.format(category=to_question(cat))
                out.append(make(self, scene, q, str(n), value=float(n), objects=(cat,)))
        return out

    def derive(self, scene, row):
        f = templates.parse(templates.COUNTING, row["question"])
        if f is None:
            return unmatched(row)
        cat = to_meta(f["category"], scene)
        if cat not in scene.object_counts:
            return Unchecked(f"category {f['category']!r} is not counted in the scene's meta info")
        return str(count_answer(scene, cat))


register_task(ObjectCounting())
