"""Spatial question tasks. Importing this package registers the built-in tasks (every module here).

See :mod:`vsgrpo.questions.base` for the :class:`Task` interface, how to add a task, and the
functions that read the table of question types (kind, scored task, label, column order).
"""

from __future__ import annotations

import importlib
import pkgutil

from ..question_types import question_types, question_types_of, scored_task_of, scored_tasks, task_label
from .base import (
    DEFAULT_PER_SCENE,
    TASK_REGISTRY,
    BuildConfig,
    Question,
    Task,
    Unchecked,
    get_task,
    register_task,
    unregister_task,
)

# Every module here is imported, so a new one registers its tasks with no other edit (helper modules
# register nothing). The registry keeps the order of question_types.BUILTIN for the built-in types.
for _m in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    importlib.import_module(f"{__name__}.{_m.name}")
_rank = {n: i for i, n in enumerate(question_types())}
for _name in sorted(TASK_REGISTRY, key=lambda n: _rank.get(n, len(_rank))):
    TASK_REGISTRY[_name] = TASK_REGISTRY.pop(_name)

__all__ = ["DEFAULT_PER_SCENE", "TASK_REGISTRY", "BuildConfig", "Question", "Task", "Unchecked", "get_task",
           "question_types", "question_types_of", "register_task", "scored_task_of", "scored_tasks", "task_label",
           "unregister_task"]
