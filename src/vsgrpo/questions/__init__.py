"""Spatial question tasks. Importing this package registers the built-in tasks.

See :mod:`vsgrpo.questions.base` for the :class:`Task` interface and how to add a task.
"""

from __future__ import annotations

import importlib

from .base import (DEFAULT_PER_SCENE, TASKS, BuildConfig, Question, Task, Unchecked, get_task,
                   register_task)

# Modules that register tasks on import. Missing optional ones (another helper may still be
# writing them) are skipped; verify then counts their rows as unchecked.
_BUILTIN_MODULES = ("counting", "size", "distance", "direction", "appearance", "route")
_loaded = False


def load_builtin_tasks() -> dict[str, Task]:
    global _loaded
    if not _loaded:
        _loaded = True
        for mod in _BUILTIN_MODULES:
            try:
                importlib.import_module(f"{__name__}.{mod}")
            except ModuleNotFoundError as e:
                if e.name != f"{__name__}.{mod}":
                    raise
    return TASKS


__all__ = ["DEFAULT_PER_SCENE", "TASKS", "BuildConfig", "Question", "Task", "Unchecked", "get_task",
           "register_task", "load_builtin_tasks"]
