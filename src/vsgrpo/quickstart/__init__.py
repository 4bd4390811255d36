"""`vsgrpo quickstart`: from nothing to a trained model and a report.

Python API::

    from vsgrpo.quickstart import QuickstartConfig, run_quickstart

    summary = run_quickstart(QuickstartConfig(out="quickstart"))        # tiny model, CPU
    summary = run_quickstart(out="qs-2b", model="Qwen/Qwen2-VL-2B-Instruct", scenes=200, steps=500)

See :mod:`vsgrpo.quickstart.pipeline` for the stages and docs/quickstart.md for the defaults.
"""

from .pipeline import PAPER_TASKS, Pipeline, QuickstartConfig, run_quickstart
from .report import build_report

__all__ = ["PAPER_TASKS", "Pipeline", "QuickstartConfig", "build_report", "run_quickstart"]
