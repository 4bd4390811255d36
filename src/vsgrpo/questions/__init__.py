"""Spatial question tasks. Importing this package registers the built-in tasks.

See :mod:`vsgrpo.questions.base` for the :class:`Task` interface, how to add a task, and the
functions that read the table of question types (kind, scored task, label, column order).
"""

from __future__ import annotations

# Each module registers its tasks on import; this order is the build order of `data build`.
from . import counting, size, distance, direction, appearance, route  # noqa: F401,I001
from .base import (DEFAULT_PER_SCENE, TASK_REGISTRY, BuildConfig, Question, Task, Unchecked, get_task,
                   question_types, question_types_of, register_task, scored_task_of, scored_tasks, task_label,
                   unregister_task)

__all__ = ["DEFAULT_PER_SCENE", "TASK_REGISTRY", "BuildConfig", "Question", "Task", "Unchecked", "get_task",
           "question_types", "question_types_of", "register_task", "scored_task_of", "scored_tasks", "task_label",
           "unregister_task"]
