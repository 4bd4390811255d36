"""The table of question types: the light facts about each type, apart from the generators.

What scoring, rewards, prompts, reports, presets and the CLI need to know about a question type
(its ``kind``, numeric or multiple choice; the scored ``task`` it counts towards; its ``label``
in tables and column ``order``; the data ``presets`` that build it) is stated once, here, in a
:class:`QuestionType`. The generators (:mod:`vsgrpo.questions`: templates, geometry, ground
truth) read these facts too, but nothing here imports them: :mod:`vsgrpo.metrics` and the verl
reward copy (:mod:`vsgrpo.export.verl`) need only this standard-library module.

A type defined outside vsgrpo is added by :func:`vsgrpo.questions.register_task` (its ``Task``
class states ``kind``, ``label``, ...; they are registered here). A built-in type's facts are one
entry in :data:`BUILTIN` below, beside its generator module in ``vsgrpo/questions/``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import VsgrpoError

KINDS = ("NA", "MCA")


@dataclass(frozen=True)
class QuestionType:
    """One question type's facts.

    ``name``: the parquet ``question_type``. ``kind``: ``"NA"`` (numeric answer) or ``"MCA"``
    (multiple choice). ``label``: column header in tables (``None``: the name). ``task``: the
    scored task it counts towards (``None``: its own name); types sharing a task are averaged
    unweighted into it, as VSI-Bench does with the direction levels. ``order``: column position of
    the scored task (``None``: after the built-in ones, in registration order). ``presets``: the
    data presets (:mod:`vsgrpo.presets`) that build this type.
    """

    name: str
    kind: str
    label: str | None = None
    task: str | None = None
    order: int | None = None
    presets: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise VsgrpoError(f"question type {self.name}: kind must be 'NA' or 'MCA', got {self.kind!r}")

    @property
    def scored_task(self) -> str:
        return self.task or self.name


# VSI-Bench's ten types, in the build order of `data build` (columns: the paper's order via `order`).
BUILTIN = (
    QuestionType("object_counting", "NA", "Count", order=0, presets=("vsi100k",)),
    QuestionType("object_size_estimation", "NA", "Size", order=2, presets=("vsi100k",)),
    QuestionType("room_size_estimation", "NA", "Room", order=3, presets=("vsi100k",)),
    QuestionType("object_abs_distance", "NA", "AbsDist", order=1, presets=("vsi100k",)),
    QuestionType("object_rel_distance", "MCA", "RelDist", order=4, presets=("vsi100k",)),
    QuestionType("object_rel_direction_easy", "MCA", "RelDir", "object_rel_direction", 5, ("vsi100k",)),
    QuestionType("object_rel_direction_medium", "MCA", "RelDir", "object_rel_direction", 5, ("vsi100k",)),
    QuestionType("object_rel_direction_hard", "MCA", "RelDir", "object_rel_direction", 5, ("vsi100k",)),
    QuestionType("obj_appearance_order", "MCA", "ApprOrder", order=7),
    QuestionType("route_planning", "MCA", "Route", order=6),
)

#: question_type -> its facts, in registration order; the one table of question types.
TYPES: dict[str, QuestionType] = {t.name: t for t in BUILTIN}


def register_type(qt: QuestionType) -> QuestionType:
    """Add (or replace) a question type's facts."""
    TYPES[qt.name] = qt
    return qt


#: a row's ``question_kind`` (a team's own question type, :func:`declare_own_type`) -> its kind
QUESTION_KINDS = {"numeric": "NA", "choice": "MCA"}


def declare_own_type(name: str, question_kind: str) -> QuestionType:
    """Register a question type of a user's own from a row's ``question_kind`` (``numeric``: scored by
    Mean Relative Accuracy; ``choice``: by accuracy) as its own scored task and column.

    Idempotent; a name that is already registered keeps its facts, and must have the same kind.
    """
    kind = QUESTION_KINDS.get(str(question_kind).strip().lower()) if question_kind is not None else None
    if kind is None:
        raise VsgrpoError(f"question type {name!r}: question_kind must be one of {', '.join(QUESTION_KINDS)}, "
                          f"not {question_kind!r}")
    if not isinstance(name, str) or not name.strip():
        raise VsgrpoError("a question with a question_kind needs a question_type name")
    known = TYPES.get(name)
    if known is not None:
        if known.kind != kind:
            raise VsgrpoError(f"question type {name!r} is {known.kind} ({_kind_word(known.kind)}), not "
                              f"{question_kind!r}")
        return known
    OWN.add(name)
    return register_type(QuestionType(name, kind))


#: the names registered by :func:`declare_own_type` (files that hold them carry their ``question_kind``)
OWN: set[str] = set()


def own_kind(name: str) -> str | None:
    """``"numeric"`` / ``"choice"`` for a type declared by :func:`declare_own_type`, else ``None``."""
    return _kind_word(TYPES[name].kind) if name in OWN and name in TYPES else None


def _kind_word(kind: str) -> str:
    return next(w for w, k in QUESTION_KINDS.items() if k == kind)


def unregister_type(name: str) -> None:
    TYPES.pop(name, None)
    OWN.discard(name)


def get_type(name: str) -> QuestionType:
    """The facts of question type ``name``; a clear error for an unknown one."""
    try:
        return TYPES[name]
    except (KeyError, TypeError):
        raise VsgrpoError(f"unknown question type {name!r}; known: {', '.join(sorted(TYPES))}") from None


def question_types(kind: str | None = None, *, preset: str | None = None) -> tuple[str, ...]:
    """Question types (of one ``kind``, "NA" or "MCA"; built by one data ``preset``), registration order."""
    return tuple(n for n, t in TYPES.items()
                 if (kind is None or t.kind == kind.upper()) and (preset is None or preset in t.presets))


def answer_kind(question_type: str) -> str:
    """``"mca"`` (multiple choice) or ``"na"`` (numerical answer) for a registered question type."""
    qt = TYPES.get(question_type) if isinstance(question_type, str) else None
    if qt is None:
        raise VsgrpoError(f"unknown question_type {question_type!r}; expected one of {', '.join(TYPES)}")
    return qt.kind.lower()


def scored_task_of(question_type: str) -> str:
    """The scored task of a question type (``object_rel_direction_easy`` -> ``object_rel_direction``)."""
    return get_type(question_type).scored_task


def scored_tasks() -> tuple[str, ...]:
    """The scored tasks in column order (VSI-Bench's 8 in the paper's order, then any added ones)."""
    first: dict[str, tuple[int, int]] = {}
    for i, t in enumerate(TYPES.values()):
        first.setdefault(t.scored_task, (t.order if t.order is not None else 1 << 30, i))
    return tuple(sorted(first, key=first.__getitem__))


def question_types_of(task: str) -> tuple[str, ...]:
    """The question types scored as ``task``, registration order (empty for an unknown name)."""
    return tuple(n for n, t in TYPES.items() if t.scored_task == task)


def task_label(name: str) -> str:
    """Table label of a scored task or question type: ``Count``, ``RelDir``, ``RelDir-easy``.

    A type that shares its scored task with others is labelled by the task's label and the rest
    of its name; unknown names are returned unchanged.
    """
    members = question_types_of(name)
    if members:
        return TYPES[members[0]].label or name
    qt = TYPES.get(name)
    if qt is None:
        return name
    group = qt.scored_task
    return f"{task_label(group)}-{name.removeprefix(group).strip('_') or name}"
