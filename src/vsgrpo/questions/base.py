"""The task registry: one :class:`Task` per VSI-Bench question type.

A task owns everything about one question type: its template, which candidates are valid in
a scene (selection and ambiguity rules), and the single ground-truth function that both
``vsgrpo data build`` (:meth:`Task.generate`) and ``vsgrpo data verify`` (:meth:`Task.derive`)
call. Style (bench / train), option lettering and per-scene caps are applied afterwards by
:mod:`vsgrpo.dataset`, so a task never formats letters itself.

Adding a task
-------------
1. Write a module in ``vsgrpo/questions/`` with a subclass of :class:`Task`::

       class MyTask(Task):
           name = "my_question_type"       # the parquet ``question_type``
           kind = "MCA"                    # "NA" (numeric answer) or "MCA" (multiple choice)

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

2. Import the module in ``vsgrpo/questions/__init__.py`` (``_BUILTIN_MODULES``) so the task
   is registered when :mod:`vsgrpo.questions` is imported.
3. For MCA tasks, return the candidate words in ``Question.choices`` (the correct word
   included) and the correct word in ``Question.answer``; :mod:`vsgrpo.dataset` letters and
   balances them in bench style or drops them in train style. For NA tasks put the formatted
   number in ``answer`` (the released string form, see :mod:`vsgrpo.questions.formatting`)
   and the float in ``answer_value``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

from ..errors import VsgrpoError
from ..scene import Scene

Kind = Literal["NA", "MCA"]
STYLES = ("bench", "train")
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
    """

    style: str = "bench"
    distance: str = "closest"
    per_scene: int | None = DEFAULT_PER_SCENE
    seed: int = 0
    tasks: tuple[str, ...] | None = None
    na_options: bool = False
    appearance_threshold: int | None = None

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
    """One question type. Subclasses set ``name`` and ``kind`` and implement both methods."""

    name: ClassVar[str]
    kind: ClassVar[Kind]
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


TASKS: dict[str, Task] = {}


def register_task(task: Task) -> Task:
    """Add ``task`` to the registry under ``task.name`` (re-registering replaces it)."""
    if task.kind not in ("NA", "MCA"):
        raise ValueError(f"task {task.name}: kind must be 'NA' or 'MCA', got {task.kind!r}")
    TASKS[task.name] = task
    return task


def get_task(name: str) -> Task:
    """The registered task named ``name``; a clear error for an unknown question type."""
    from . import load_builtin_tasks

    load_builtin_tasks()
    try:
        return TASKS[name]
    except KeyError:
        raise VsgrpoError(f"unknown question type {name!r}; known: {', '.join(sorted(TASKS))}") from None


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
