"""Helpers shared by the built-in tasks: object lookup and question construction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..scene import ObjectBox, Scene
from .aliases import to_meta, to_question
from .base import Question, Unchecked


class MissingObject(LookupError):
    """A question names a category the scene's meta info does not have."""


def boxes_of(scene: Scene, name: str) -> list[ObjectBox]:
    """The boxes of the category a question calls ``name`` (aliases resolved)."""
    cat = to_meta(name, scene)
    boxes = scene.objects.get(cat)
    if not boxes:
        raise MissingObject(f"category {name!r} has no box in scene {scene.dataset}/{scene.name}")
    return boxes


def unique_box(scene: Scene, name: str) -> ObjectBox:
    """The box of a category that occurs once (by box list)."""
    boxes = boxes_of(scene, name)
    if len(boxes) != 1:
        raise MissingObject(f"category {name!r} has {len(boxes)} boxes in scene {scene.dataset}/{scene.name}, "
                            "expected exactly one")
    return boxes[0]


def make(task, scene: Scene, question: str, answer: str, *, value: float | None = None,
         choices=None, objects=(), **extra: Any) -> Question:
    return Question(dataset=scene.dataset, scene_name=scene.name, question_type=task.name, question=question,
                    answer=answer, answer_value=value, choices=tuple(choices) if choices is not None else None,
                    objects=tuple(to_question(o) for o in objects), extra=extra)


def unmatched(row: Mapping[str, Any]) -> Unchecked:
    return Unchecked("question text does not match the VSI-Bench template")
