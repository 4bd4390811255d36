"""The task registry: one :class:`Task` per VSI-Bench question type, and the one table of them.

A task owns everything about one question type: its template, which candidates are valid in
a scene (selection and ambiguity rules), and the single ground-truth function that both
``vsgrpo data build`` (:meth:`Task.generate`) and ``vsgrpo data verify`` (:meth:`Task.derive`)
call. Style (bench / train), option lettering and per-scene caps are applied afterwards by
:mod:`vsgrpo.dataset`, so a task never formats letters itself.

How a type is scored and shown (its ``kind``, numeric or multiple choice; its scored ``task``,
the three relative-direction levels score as one, ``object_rel_direction``; its ``label`` and
column ``order``; the data presets that build it) are its facts in :mod:`vsgrpo.question_types`,
the light table that metrics, rewards, prompts, reports and the CLI read (:func:`question_types`,
:func:`scored_tasks`, :func:`task_label`, ...), never a copy. :func:`register_task` sets them on
the task too (``task.kind``, ``task.label``, ...).

Adding a task
-------------
Write a module in ``vsgrpo/questions/`` with a subclass of :class:`Task` and register it (modules
here are found automatically). A built-in type states its facts in
``vsgrpo.question_types.BUILTIN``; a type defined in your own code states them on the class::

    class MyTask(Task):
        name = "my_question_type"       # the parquet ``question_type``
        kind = "MCA"                    # "NA" (numeric answer) or "MCA" (multiple choice)
        label = "Mine"                  # column header in result tables
        question_templates = ("Is the {a} ...?",)  # how `data import` recognises its questions

        def generate(self, scene, rng, config):
            # every valid candidate of this scene, in a deterministic order; use ``rng``
            # (a numpy Generator) only for random choices such as distractor words.
            return [Question(...), ...]

        def derive(self, scene, row):
            # re-derive the ground truth of an existing VSI-Bench row (a dict with the
            # parquet columns) from the same function generate() uses; return the ground
            # truth exactly as the row would hold it ("A", "1.8", "96"), or
            # Unchecked("why not") when this row cannot be checked from ``scene``.
            ...

    register_task(MyTask())

For MCA tasks, return the candidate words in ``Question.choices`` (the correct word included)
and the correct word in ``Question.answer``; :mod:`vsgrpo.dataset` letters and balances them in
bench style or drops them in train style. For NA tasks put the formatted number in ``answer``
(the released string form, see :mod:`vsgrpo.questions.formatting`) and the float in
``answer_value``. Evaluation, rewards and reports then handle the new type with no other edit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

from ..data_configs import DEFAULT_PER_SCENE, DISTANCES, BuildConfig  # noqa: F401 (re-exported)
from ..errors import VsgrpoError
from ..question_types import QuestionType, get_type, register_type, unregister_type
from ..scene import Scene

Kind = Literal["NA", "MCA"]


@dataclass(frozen=True)
class Question:
    """One question about one scene, before style and lettering are applied.

    ``answer`` is the answer as text: the word for MCA ("left", "sofa", "Turn Left, Turn
    Right"), the released number string for NA ("1.8", "96"). ``choices`` holds the MCA
    candidate words (including ``answer``) in the order the task proposes; ``None`` for NA.
    ``ground_truth`` and ``options`` are filled in by the builder from the style
    (bench: letter + ``"A. word"`` options; train: the word itself, no options).
    """

    dataset: str
    scene_name: str
    question_type: str
    question: str
    answer: str
    answer_value: float | None = None
    choices: tuple[str, ...] | None = None
    objects: tuple[str, ...] = ()
    ground_truth: str | None = None
    options: tuple[str, ...] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Unchecked:
    """The answer of a row could not be re-derived; ``reason`` says why (printed by verify)."""

    reason: str


class Task:
    """One question type's generator. Subclasses set ``name`` and implement both methods.

    The facts (:class:`~vsgrpo.question_types.QuestionType`): a type defined outside vsgrpo sets
    ``kind`` and optionally ``label``, ``task``, ``order`` and ``presets`` here (see
    :class:`~vsgrpo.question_types.QuestionType` for their meaning); a built-in one leaves them
    unset and :func:`register_task` fills them in from ``vsgrpo.question_types.BUILTIN``.

    ``question_templates``: the question templates (``str.format`` text) this type writes; ``data import``
    recognises a question by them (:meth:`matches`). ``answer_words``: the closed set of answers of
    an MCA type whose answers are always the same words (the direction levels), else ``None``.
    """

    name: ClassVar[str]
    kind: Kind | None = None
    label: str | None = None
    task: str | None = None
    order: int | None = None
    presets: tuple[str, ...] = ()
    question_templates: ClassVar[tuple[str, ...]] = ()
    answer_words: ClassVar[tuple[str, ...] | None] = None
    #: the most questions per scene this task ever keeps (room size: 1); None = no own cap
    max_per_scene: ClassVar[int | None] = None

    def matches(self, question: str) -> bool:
        """Whether ``question`` was written from one of this type's templates (``data import``)."""
        from . import templates

        return any(templates.parse(t, question) is not None for t in self.question_templates)

    def generate(self, scene: Scene, rng: np.random.Generator, config: BuildConfig) -> list[Question]:
        """Every valid question of this type in ``scene`` (deterministic order)."""
        raise NotImplementedError

    def derive(self, scene: Scene, row: Mapping[str, Any]) -> str | Unchecked:
        """The ground truth of an existing VSI-Bench row, re-derived from ``scene``."""
        raise NotImplementedError

    def render(self, question: Question, ordered_choices: list[str]) -> str:
        """The question text once the MCA choices have their final order.

        Most templates do not mention the choices; tasks whose text lists them (relative
        distance) override this so text and options agree.
        """
        return question.question

    def letter(self, row: Mapping[str, Any], word: str) -> str | Unchecked:
        """The letter of ``word`` among a row's options, or ``word`` itself for a row without
        options (train style, VSI-100k form) - what :meth:`derive` returns for MCA tasks."""
        opts = row.get("options")
        if opts is None or len(opts) == 0:
            return word
        found = letter_of(opts, word)
        if found is None:
            return Unchecked(f"derived answer {word!r} is not among the options")
        return found

    def cap(self, config: BuildConfig) -> int | None:
        caps = [c for c in (config.per_scene, self.max_per_scene) if c is not None]
        return min(caps) if caps else None


#: question_type -> Task, in registration order; the one table of question types.
TASK_REGISTRY: dict[str, Task] = {}


def register_task(task: Task) -> Task:
    """Add ``task`` to the registry under ``task.name`` (re-registering replaces it), with its facts:
    those its class states (registered in :mod:`vsgrpo.question_types`), or the built-in table's."""
    if task.kind is not None:
        facts = register_type(QuestionType(task.name, task.kind, task.label, task.task, task.order,
                                           tuple(task.presets)))
    else:
        try:
            facts = get_type(task.name)
        except VsgrpoError:
            raise VsgrpoError(f"task {task.name}: no kind; set kind = 'NA' or 'MCA' (and label, ...) on the class, "
                              "or add its facts to vsgrpo.question_types.BUILTIN") from None
    task.kind, task.label, task.task, task.order, task.presets = (facts.kind, facts.label, facts.task, facts.order,
                                                                  facts.presets)
    TASK_REGISTRY[task.name] = task
    return task


def unregister_task(name: str) -> None:
    """Remove a registered question type (for tests and plug-ins that register temporarily)."""
    TASK_REGISTRY.pop(name, None)
    unregister_type(name)


def get_task(name: str) -> Task:
    """The registered task named ``name``; a clear error for an unknown question type."""
    try:
        return TASK_REGISTRY[name]
    except (KeyError, TypeError):
        raise VsgrpoError(f"unknown question type {name!r}; known: {', '.join(sorted(TASK_REGISTRY))}") from None


def letter_of(row_options, word: str) -> str | None:
    """The letter whose released option ``"X. word"`` carries ``word`` (None if absent)."""
    if row_options is None:
        return None
    for opt in row_options:
        letter, _, text = str(opt).partition(". ")
        if text.strip() == word:
            return letter.strip()
    return None
