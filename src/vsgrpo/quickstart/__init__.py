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

from .config import PAPER_TASKS, QuickstartConfig
from .stages import Pipeline, run_quickstart
from .report import build_report

__all__ = ["PAPER_TASKS", "Pipeline", "QuickstartConfig", "build_report", "run_quickstart"]
