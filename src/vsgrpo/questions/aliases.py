"""Category aliases: the one table mapping names used in questions to meta-info categories.

VSI-Bench's questions occasionally name a category differently from the meta info (its
authors renamed a few categories when writing questions). ``QUESTION_TO_META`` maps the
question wording to the meta category; generation writes the question wording.
"""

from __future__ import annotations

from ..scene import Scene

#: question wording -> meta-info category
QUESTION_TO_META: dict[str, str] = {
    "coat rack": "coat hanger",
}
META_TO_QUESTION: dict[str, str] = {v: k for k, v in QUESTION_TO_META.items()}


def to_question(category: str) -> str:
    """The wording a question uses for meta category ``category``."""
    return META_TO_QUESTION.get(category, category)


def to_meta(name: str, scene: Scene | None = None) -> str:
    """The meta category a question's ``name`` refers to (the name itself if the scene has it)."""
    if scene is not None and (name in scene.objects or name in scene.object_counts):
        return name
    return QUESTION_TO_META.get(name, name)
