"""``object_size_estimation`` and ``room_size_estimation``.

Object size: the longest box extent of a category that occurs once, in centimetres,
``round(max(axesLengths) * 100)``. Room size: ``round(room_size, 1)`` square metres, one
question per scene.
"""

from __future__ import annotations

from ..scene import Scene
from . import templates
from .aliases import to_question
from .base import Task, Unchecked, register_task
from .common import MissingObject, make, unique_box, unmatched
from .formatting import integer, one_decimal


def object_size_answer(scene: Scene, category: str) -> int:
    """Longest dimension (cm) of the single ``category`` box (the ground-truth function)."""
    return int(round(float(max(unique_box(scene, category).extents)) * 100))


def room_size_answer(scene: Scene) -> float:
    """Room area (m^2) at the released 0.1 resolution."""
    return round(float(scene.room_size), 1)


class ObjectSize(Task):
    name = "object_size_estimation"
    question_templates = (templates.OBJECT_SIZE,)

    def generate(self, scene, rng, config):
        out = []
        for cat in scene.unique_categories():
            cm = object_size_answer(scene, cat)
            if cm <= 0:
                continue
            q = templates.OBJECT_SIZE.format(category=to_question(cat))
            out.append(make(self, scene, q, integer(cm), value=float(cm), objects=(cat,)))
        return out

    def derive(self, scene, row):
        f = templates.parse(templates.OBJECT_SIZE, row["question"])
        if f is None:
            return unmatched(row)
        try:
            return integer(object_size_answer(scene, f["category"]))
        except MissingObject as e:
            return Unchecked(str(e))


class RoomSize(Task):
    name = "room_size_estimation"
    question_templates = (templates.ROOM_SIZE,)
    max_per_scene = 1

    def generate(self, scene, rng, config):
        area = room_size_answer(scene)
        if area <= 0:
            return []
        return [make(self, scene, templates.ROOM_SIZE, one_decimal(area), value=area)]

    def derive(self, scene, row):
        if row["question"] != templates.ROOM_SIZE:
            return unmatched(row)
        if scene.room_size <= 0:
            return Unchecked("the scene's meta info has no room size")
        return one_decimal(room_size_answer(scene))


register_task(ObjectSize())
register_task(RoomSize())
