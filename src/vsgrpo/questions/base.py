"""The task registry: one :class:`Task` per VSI-Bench question type, and the one table of them.

A task owns everything about one question type: its template, which candidates are valid in
a scene (selection and ambiguity rules), and the single ground-truth function that both
``vsgrpo data build`` (:meth:`Task.generate`) and ``vsgrpo data verify`` (:meth:`Task.derive`)
call. Style (bench / train), option lettering and per-scene caps are applied afterwards by
:mod:`vsgrpo.dataset`, so a task never formats letters itself.

A task also states how it is scored and shown: its ``kind`` (numeric or multiple choice),
its scored ``task`` (the three relative-direction levels score as one task,
``object_rel_direction``), its ``label`` in tables and its column ``order``. Metrics, rewards,
prompts, reports and the CLI read these through the functions at the end of this module
(:func:`question_types`, :func:`scored_tasks`, :func:`task_label`, ...), never from a copy.

Adding a task
-------------
Write a module in ``vsgrpo/questions/`` with a subclass of :class:`Task`, register it, and
import the module in ``vsgrpo/questions/__init__.py``::

    class MyTask(Task):
        name = "my_question_type"       # the parquet ``question_type``
        kind = "MCA"                    # "NA" (numeric answer) or "MCA" (multiple choice)
        label = "Mine"                  # column header in result tables

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

from ..errors import VsgrpoError
from ..prompts import STYLES
from ..scene import Scene

Kind = Literal["NA", "MCA"]
KINDS = ("NA", "MCA")
DISTANCES = ("closest", "center")
DEFAULT_PER_SCENE = 6


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


@dataclass
class BuildConfig:
    """Settings of ``vsgrpo data build`` (each field is one CLI flag).

    style: ``bench`` (VSI-Bench form: lettered options, letter ground truth) or ``train``
        (VSI-100k form: no options, the answer word itself; NA answers numeric).
    distance: ``closest`` (VSI-Bench: closest points of the boxes) or ``center`` (VSI-100k:
        distance between box centres).
    per_scene: at most this many questions per scene and task (``None`` = every valid one);
        tasks with a smaller own cap (room size: 1) keep theirs.
    seed: seeds every random choice; same inputs and seed give byte-identical output.
    tasks: question types to build (``None`` = all registered tasks).
    na_options: also give NA questions lettered numeric options (bench style only).
    appearance_threshold: appearance order: pixels an object must cover to count as seen
        (``None`` = the task's default, a fraction of the frame area).
    balance: choose and trim the kept questions so that no constant answer scores well
        (:mod:`vsgrpo.questions.balance`); ``False`` keeps a random subset, as VSI-Bench did.
    """

    style: str = "bench"
    distance: str = "closest"
    per_scene: int | None = DEFAULT_PER_SCENE
    seed: int = 0
    tasks: tuple[str, ...] | None = None
    na_options: bool = False
    appearance_threshold: int | None = None
    balance: bool = True

    def __post_init__(self) -> None:
        if self.style not in STYLES:
            raise VsgrpoError(f"unknown --style {self.style!r}; choose one of {', '.join(STYLES)}")
        if self.distance not in DISTANCES:
            raise VsgrpoError(f"unknown --distance {self.distance!r}; choose one of {', '.join(DISTANCES)}")
        if self.appearance_threshold is not None and self.appearance_threshold < 1:
            raise VsgrpoError("--appearance-threshold must be a positive pixel count, "
                              f"got {self.appearance_threshold}")
        if self.per_scene is not None and self.per_scene < 1:
            raise VsgrpoError(f"--per-scene must be a positive integer or 'all', got {self.per_scene}")
        if self.tasks is not None:
            self.tasks = tuple(self.tasks)
            for t in self.tasks:
                get_task(t)


class Task:
    """One question type. Subclasses set ``name`` and ``kind`` and implement both methods.

    ``label``: short column header in result tables (``None``: the name).
    ``task``: the scored task this type counts towards (``None``: its own ``name``); types
    sharing a task are averaged unweighted into it, as VSI-Bench does with the direction levels.
    ``order``: column position of the scored task in tables (``None``: after the built-in ones,
    in registration order).
    """

    name: ClassVar[str]
    kind: ClassVar[Kind]
    label: ClassVar[str | None] = None
    task: ClassVar[str | None] = None
    order: ClassVar[int | None] = None
    #: the most questions per scene this task ever keeps (room size: 1); None = no own cap
    max_per_scene: ClassVar[int | None] = None

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
    """Add ``task`` to the registry under ``task.name`` (re-registering replaces it)."""
    if task.kind not in KINDS:
        raise ValueError(f"task {task.name}: kind must be 'NA' or 'MCA', got {task.kind!r}")
    TASK_REGISTRY[task.name] = task
    return task


def unregister_task(name: str) -> None:
    """Remove a registered question type (for tests and plug-ins that register temporarily)."""
    TASK_REGISTRY.pop(name, None)


def get_task(name: str) -> Task:
    """The registered task named ``name``; a clear error for an unknown question type."""
    try:
        return TASK_REGISTRY[name]
    except (KeyError, TypeError):
        raise VsgrpoError(f"unknown question type {name!r}; known: {', '.join(sorted(TASK_REGISTRY))}") from None


# ---------------------------------------------------------------- the table, read by everyone

def question_types(kind: str | None = None) -> tuple[str, ...]:
    """Registered question types (of one ``kind``, "NA" or "MCA", when given), registration order."""
    return tuple(n for n, t in TASK_REGISTRY.items() if kind is None or t.kind == kind.upper())


def scored_task_of(question_type: str) -> str:
    """The scored task of a question type (``object_rel_direction_easy`` -> ``object_rel_direction``)."""
    task = get_task(question_type)
    return task.task or task.name


def scored_tasks() -> tuple[str, ...]:
    """The scored tasks in column order (VSI-Bench's 8 in the paper's order, then any added ones)."""
    first: dict[str, tuple[int, int]] = {}
    for i, t in enumerate(TASK_REGISTRY.values()):
        first.setdefault(t.task or t.name, (t.order if t.order is not None else 1 << 30, i))
    return tuple(sorted(first, key=first.__getitem__))


def question_types_of(task: str) -> tuple[str, ...]:
    """The question types scored as ``task``, registration order (empty for an unknown name)."""
    return tuple(n for n, t in TASK_REGISTRY.items() if (t.task or t.name) == task)


def task_label(name: str) -> str:
    """Table label of a scored task or question type: ``Count``, ``RelDir``, ``RelDir-easy``.

    A type that shares its scored task with others is labelled by the task's label and the rest
    of its name; unknown names are returned unchanged.
    """
    members = question_types_of(name)
    if members:
        first = TASK_REGISTRY[members[0]]
        return first.label or name
    task = TASK_REGISTRY.get(name)
    if task is None:
        return name
    group = task.task or task.name
    return f"{task_label(group)}-{name.removeprefix(group).strip('_') or name}"


def letter_of(row_options, word: str) -> str | None:
    """The letter whose released option ``"X. word"`` carries ``word`` (None if absent)."""
    if row_options is None:
        return None
    for opt in row_options:
        letter, _, text = str(opt).partition(". ")
        if text.strip() == word:
            return letter.strip()
    return None


def option_words(row_options) -> list[str]:
    """The words of released options ``["A. left", "B. right"]`` -> ``["left", "right"]``."""
    return [str(o).partition(". ")[2].strip() for o in (row_options if row_options is not None else [])]
