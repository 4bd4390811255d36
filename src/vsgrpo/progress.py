"""Progress of long work, the same for every command, in a terminal and in a log file.

Contract:

- ``progress(iterable=None, *, desc, total=None, unit="it")`` wraps long work. It returns an
  object with tqdm's ``update(n)``, ``close()``, ``set_postfix(...)``, iteration and ``with``.
- stderr is a terminal: a tqdm bar on stderr (stdout stays machine-readable).
- stderr is not a terminal (nohup, Slurm, CI, a pipe): plain lines on stderr, one when the work
  starts, one every ``VSGRPO_PROGRESS_INTERVAL`` seconds (default 30; a background thread, so a
  step slower than the interval still shows the work is alive) and one at the end::

      vsgrpo: eval vanilla: 0/52 q (0%), started
      vsgrpo: eval vanilla: 12/52 q (23%), 0.85 q/s, elapsed 14s, ETA 47s
      vsgrpo: eval vanilla: 52/52 q (100%), 0.84 q/s, elapsed 1m02s, done

  ``VSGRPO_PROGRESS_INTERVAL=0`` prints a line at every update instead (tests, tiny runs).
- ``VSGRPO_PROGRESS=0`` hides all progress; ``VSGRPO_PROGRESS=1`` forces the bar even when
  stderr is not a terminal.

:func:`quiet_libraries` (called by the CLI before anything heavy is imported) keeps the
libraries' own carriage-return bars and advisory warnings out of such logs, and
:func:`trainer_callback` gives the transformers Trainer the same progress as everything else.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

DEFAULT_INTERVAL = 30.0  # seconds between log lines when stderr is not a terminal


def mode() -> str:
    """``"bar"`` (a terminal, or ``VSGRPO_PROGRESS=1``), ``"lines"`` (a log) or ``"off"`` (``VSGRPO_PROGRESS=0``)."""
    env = os.environ.get("VSGRPO_PROGRESS")
    if env == "0":
        return "off"
    if env == "1":
        return "bar"
    return "bar" if _isatty(sys.stderr) else "lines"


def interval() -> float:
    """Seconds between log lines: ``VSGRPO_PROGRESS_INTERVAL`` (default 30; 0: every update)."""
    text = os.environ.get("VSGRPO_PROGRESS_INTERVAL", "")
    try:
        value = float(text) if text.strip() else DEFAULT_INTERVAL
    except ValueError:
        value = DEFAULT_INTERVAL
    return max(0.0, value)


def progress(iterable: Iterable[T] | None = None, *, desc: str, total: int | None = None, unit: str = "it",
             leave: bool = True, initial: int = 0):
    """Wrap long work: a bar in a terminal, periodic lines in a log (see the module doc).

    ``initial``: work already done before this run (a resumed job); it counts toward done/total
    but not toward the rate, so the ETA of a resumed job is not flattered by skipped items.
    """
    if total is None and iterable is not None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    how = mode()
    if how == "bar":
        from tqdm.auto import tqdm

        # disable=False: quiet_libraries' TQDM_DISABLE is for the libraries' bars, never for this one
        return tqdm(iterable, desc=desc, total=total, unit=unit, leave=leave, initial=initial, disable=False,
                    file=sys.stderr, dynamic_ncols=True, unit_scale=unit == "B", unit_divisor=1024)
    return LineProgress(iterable, desc=desc, total=total, unit=unit, initial=initial, silent=how == "off")


class LineProgress:
    """Progress as plain lines on stderr: at start, every :func:`interval` seconds and at the end."""

    def __init__(self, iterable: Iterable | None = None, *, desc: str, total: int | None = None, unit: str = "it",
                 initial: int = 0, silent: bool = False, every: float | None = None, file=None):
        self.iterable, self.desc, self.total, self.unit = iterable, desc, total, unit
        self.n = self.initial = initial
        self.silent = silent
        self.every = interval() if every is None else every
        self.file = file
        self.postfix = ""
        self.start = time.monotonic()
        self.closed = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        if silent:
            return
        self._emit("started")
        if self.every > 0:
            self._thread = threading.Thread(target=self._tick, name=f"progress:{desc}", daemon=True)
            self._thread.start()

    # tqdm's interface, as far as vsgrpo uses it
    def update(self, n: int = 1) -> None:
        with self._lock:
            self.n += n
        if self.every <= 0 and not self.silent:
            self._emit()

    def set_postfix(self, ordered_dict: dict | None = None, refresh: bool = True, **kwargs) -> None:
        items = {**(ordered_dict or {}), **kwargs}
        self.postfix = " ".join(f"{k}={v}" for k, v in items.items())

    def set_description(self, desc: str, refresh: bool = True) -> None:
        self.desc = desc

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        if not self.silent:
            finished = self.total is None or self.n >= self.total
            self._emit("done" if finished else "stopped")

    def __iter__(self) -> Iterator:
        try:
            for item in self.iterable or ():
                yield item
                self.update(1)
        finally:
            self.close()

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __len__(self) -> int:
        return self.total or 0

    # lines
    def _tick(self) -> None:
        while not self._stop.wait(self.every):
            self._emit()

    def line(self, status: str | None = None) -> str:
        """The current progress line (without a trailing newline)."""
        with self._lock:
            n = self.n
        elapsed = time.monotonic() - self.start
        if self.unit == "B":  # downloads: sizes a person can read
            done = f"{format_bytes(n)}/{format_bytes(self.total)}" if self.total else format_bytes(n)
        else:
            done = f"{n}/{self.total} {self.unit}" if self.total else f"{n} {self.unit}"
        if self.total:
            done += f" ({100 * n // self.total}%)"
        parts = [done]
        if status == "started":
            parts.append("started")
        else:
            fresh = n - self.initial
            rate = fresh / elapsed if elapsed > 0 else 0.0
            parts.append(format_rate(rate, self.unit))
            parts.append(f"elapsed {format_duration(elapsed)}")
            if status is not None:
                parts.append(status)
            elif self.total:
                parts.append(f"ETA {format_duration((self.total - n) / rate) if rate > 0 else '?'}")
        text = f"vsgrpo: {self.desc}: " + ", ".join(parts)
        return text + (f" | {self.postfix}" if self.postfix else "")

    def _emit(self, status: str | None = None) -> None:
        text = self.line(status)
        out = self.file or sys.stderr
        try:
            print(text, file=out, flush=True)
        except (OSError, ValueError):  # stderr closed under us: progress is never worth a crash
            pass


def format_duration(seconds: float) -> str:
    """``45s``, ``3m05s``, ``2h03m``."""
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def format_bytes(n: float) -> str:
    """``512 B``, ``1.5 MiB``, ``2.90 GiB``."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {unit}" if unit == "GiB" else f"{n / scale:.1f} {unit}"
    return f"{int(n)} B"


def format_rate(rate: float, unit: str) -> str:
    """Items per second, or seconds per item when slower than one a second (``0.85 q/s``, ``42.0 s/step``)."""
    if rate <= 0:
        return f"? {unit}/s"
    if unit == "B":
        return f"{format_bytes(rate)}/s"
    if rate >= 1:
        return f"{rate:.2f} {unit}/s"
    return f"{1 / rate:.1f} s/{unit}"


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


# Environment read by the libraries at import time: their bars and advisory chatter, off in logs.
_QUIET_ENV = {
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",     # huggingface_hub downloads; transformers and datasets follow it
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "TQDM_DISABLE": "1",                     # any other tqdm bar (the Trainer's own, accelerate): tqdm reads TQDM_*
}


def quiet_libraries(environ=None) -> None:
    """Unless the progress is a bar, keep transformers/accelerate/datasets bars out of logs.

    Sets environment defaults (a user's own setting wins) before those libraries are imported,
    so it covers them and the processes they start. vsgrpo's own lines do not use tqdm.
    """
    env = os.environ if environ is None else environ
    if mode() == "bar":
        return
    for key, value in _QUIET_ENV.items():
        env.setdefault(key, value)
    if environ is None:
        _quiet_imported()


def _quiet_imported() -> None:
    """The same for libraries imported already (``vsgrpo.cli.main`` called from a notebook or a test run):
    they read the environment once, so their own switches turn the bars off."""
    import sys

    if os.environ.get("HF_HUB_DISABLE_PROGRESS_BARS") != "1":
        return  # the user's own setting
    if "huggingface_hub" in sys.modules:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()


def trainer_callback():
    """A transformers ``TrainerCallback`` that shows training as :func:`progress` does everything else.

    Replaces transformers' ``ProgressCallback``/``PrinterCallback``: one ``train`` progress over the
    optimizer steps (resumed runs start at their step), with the latest loss, reward and KL beside it.
    Full logs still go to metrics.jsonl and TensorBoard.
    """
    from transformers import TrainerCallback

    class TrainProgress(TrainerCallback):
        KEYS = ("loss", "reward", "kl")

        def __init__(self):
            self.bar = None

        def on_train_begin(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                self.bar = progress(desc="train", total=state.max_steps or None, unit="step",
                                    initial=state.global_step)

        def on_step_end(self, args, state, control, **kwargs):
            if self.bar is not None and state.global_step > self.bar.n:
                self.bar.update(state.global_step - self.bar.n)

        def on_log(self, args, state, control, logs=None, **kwargs):
            shown = {k: f"{logs[k]:.4g}" for k in self.KEYS if isinstance((logs or {}).get(k), (int, float))}
            if self.bar is not None and shown:  # the closing log (runtime only) keeps the last values
                self.bar.set_postfix(shown, refresh=False)

        def on_train_end(self, args, state, control, **kwargs):
            if self.bar is not None:
                self.bar.close()
                self.bar = None

    return TrainProgress()


def use_for_trainer(trainer) -> None:
    """Swap the Trainer's own progress printing for :func:`trainer_callback`."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    for cls in (ProgressCallback, PrinterCallback):
        trainer.remove_callback(cls)
    trainer.add_callback(trainer_callback())
