"""`vsgrpo quickstart`: from nothing to a trained model and a report.

Python API::

    from vsgrpo.quickstart import QuickstartConfig, run_quickstart

    summary = run_quickstart(QuickstartConfig(out="quickstart"))        # tiny model, CPU
    summary = run_quickstart(out="qs-2b", model="Qwen/Qwen2-VL-2B-Instruct", scenes=200, steps=500)

Modules: :mod:`~vsgrpo.quickstart.config` (settings, the tiny and paper profiles),
:mod:`~vsgrpo.quickstart.stages` (the stage list), :mod:`~vsgrpo.quickstart.engine` (the generic
resumable stage runner), :mod:`~vsgrpo.quickstart.report` (report.md / report.html). The defaults
are measured in docs/quickstart.md.
"""

from __future__ import annotations

import importlib

from .config import PAPER_TASKS, QuickstartConfig

# Imported on first use, so that the CLI can read QuickstartConfig without loading the pipeline.
_LAZY = {"Pipeline": "stages", "run_quickstart": "stages", "build_report": "report"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["PAPER_TASKS", "Pipeline", "QuickstartConfig", "build_report", "run_quickstart"]
