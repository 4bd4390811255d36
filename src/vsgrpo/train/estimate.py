"""``vsgrpo train METHOD --config R --estimate``: what a run will cost, measured before it costs.

The recipe runs for a few optimizer steps on this machine and the user's own data (one warm-up
step, then ``estimate_steps`` measured ones) into a temporary folder that is removed afterwards:
checkpoints, validation and loggers off, everything else as the recipe says. Reported:

- seconds per optimizer step: the median of the measured steps (the warm-up step loads kernels
  and caches and is left out);
- peak memory: the process's resident set (and, on CUDA, the GPU's peak allocation);
- the projection for the recipe's budget (:mod:`vsgrpo.train.budget`): steps x seconds per step,
  as wall time and device-hours, on one device and on ``gpus`` devices. With data parallelism
  each device runs the same per-device step, so N devices take the budget's N-device steps
  at about the measured step time (communication not included: a lower bound).

Validation while training (``eval_questions``) is not part of the measured steps; its cost is
one evaluation of the held-out set per ``eval_every`` steps (measure it with ``vsgrpo eval run``).
"""

from __future__ import annotations

import dataclasses
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from ..errors import VsgrpoError
from .budget import budget
from .config import TrainConfig

DEFAULT_STEPS = 3


def _step_timer():
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self):
            self.times = [time.perf_counter()]

        def on_step_end(self, args, state, control, **kwargs):
            self.times.append(time.perf_counter())

    return StepTimer()


def measure(cfg: TrainConfig, *, steps: int = DEFAULT_STEPS) -> dict:
    """Run ``steps`` + 1 optimizer steps of ``cfg`` in a temporary folder; seconds per step and peak memory."""
    from .runner import RUNNERS

    if steps < 1:
        raise VsgrpoError(f"--estimate-steps must be at least 1, not {steps}")
    tmp = Path(tempfile.mkdtemp(prefix="vsgrpo-estimate-"))
    probe = dataclasses.replace(cfg, output_dir=str(tmp / "run"), max_steps=steps + 1, train_questions=0,
                                save_steps=10 ** 9, save_total_limit=0, eval_questions="", report_to=[],
                                logging_steps=1)
    timer = _step_timer()
    try:
        import torch

        cuda = torch.cuda.is_available() and not cfg.use_cpu
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        RUNNERS[cfg.method](probe, callbacks=[timer])
        gpu_peak = torch.cuda.max_memory_allocated() / 2 ** 30 if cuda else None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    durations = [b - a for a, b in zip(timer.times, timer.times[1:])]
    if len(durations) < 2:
        raise VsgrpoError(f"the estimate ran {len(durations)} step(s); the data holds too few questions for "
                          f"{steps + 1} steps (lower --estimate-steps or the batch size)")
    return {"steps_measured": len(durations) - 1, "warmup_s": durations[0],
            "seconds_per_step": statistics.median(durations[1:]),
            "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20,
            "peak_gpu_gib": gpu_peak}


def project(cfg: TrainConfig, seconds_per_step: float, *, gpus: int = 1) -> list[dict]:
    """The recipe's budget on 1 and ``gpus`` devices: steps, wall hours, device-hours."""
    rows = []
    for n in sorted({1, gpus}):
        b = budget(cfg, gpus=n)
        steps = b["steps"]
        wall = None if steps is None else steps * seconds_per_step
        rows.append({"gpus": n, "steps": steps, "questions_seen": b["questions_seen"],
                     "wall_hours": None if wall is None else wall / 3600,
                     "device_hours": None if wall is None else wall * n / 3600})
    return rows


def estimate(cfg: TrainConfig, *, steps: int = DEFAULT_STEPS, gpus: int = 1) -> dict:
    """:func:`measure` then :func:`project` (what ``--estimate`` prints)."""
    measured = measure(cfg, steps=steps)
    return {**measured, "budget": project(cfg, measured["seconds_per_step"], gpus=gpus)}


def _hours(h: float | None) -> str:
    if h is None:
        return "-"
    return f"{h * 60:.1f} min" if h < 1 else f"{h:.1f} h"


def format_estimate(result: dict) -> str:
    mem = f"peak memory {result['peak_rss_gib']:.1f} GiB (process)"
    if result.get("peak_gpu_gib") is not None:
        mem += f", {result['peak_gpu_gib']:.1f} GiB (GPU)"
    lines = [f"{result['seconds_per_step']:.2f} s per optimizer step (median of {result['steps_measured']} after a "
             f"{result['warmup_s']:.1f} s warm-up step); {mem}"]
    for row in result["budget"]:
        if row["steps"] is None:
            lines.append(f"{row['gpus']} device(s): steps unknown (the budget is in epochs and the data is absent)")
            continue
        lines.append(f"{row['gpus']} device(s): {row['steps']:,} steps x {result['seconds_per_step']:.2f} s = "
                     f"{_hours(row['wall_hours'])} wall, {_hours(row['device_hours'])} device time"
                     f" ({row['questions_seen']:,.0f} questions seen)")
    lines.append("validation while training is not included; N devices assume data parallelism at this "
                 "step time (a lower bound)")
    return "\n".join(lines)
