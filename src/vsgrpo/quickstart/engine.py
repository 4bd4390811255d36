"""A resumable stage runner: stages, keys, markers, the run loop. Knows nothing of the quickstart.

A :class:`Stage` has a *key* (the settings its output depends on), a ``run`` function and the
folders it owns. :class:`Engine` runs stages in order. Each finished stage writes
``OUT/<marker_dir>/<stage>.json`` holding the digest of its key, a digest naming that run, its
wall time and what ``run`` returned. A rerun skips a stage whose marker digest matches and whose
owned folders are all there and non-empty; a stage whose key changed, or whose output was deleted,
is redone from scratch (the folders it owns are removed first; nothing else is ever removed), and
since a stage's key includes the run digests of the stages it comes ``after`` (a redo gives a new
one), so is everything downstream. A *resumable* stage interrupted with the same key keeps its
folders, so it can continue in them.

Usage::

    engine = Engine(Path("out"), marker_dir=".myrun", log_prefix="myrun")
    engine.add("fetch", "download the data", {"url": url}, fetch, owns=(out / "data",))
    engine.add("train", "train", lambda: {"lr": lr}, train, after=("fetch",), resumable=True)
    timings = engine.run()   # [{"name", "title", "seconds", "reused"}, ...]
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..io import ensure_writable_dir, write_json


@dataclass
class Stage:
    name: str
    title: str
    key: Callable[[], dict]  # settings (and upstream keys) the output depends on
    run: Callable[[], dict]  # does the work; returns details kept in the marker
    owns: tuple[Path, ...] = ()  # folders removed before a redo with other settings
    resumable: bool = False  # an interrupted run continues in its folders (scenes, eval samples, checkpoints)


def digest(obj) -> str:
    """A short, stable digest of a JSON-able settings object."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


class Engine:
    """Runs :class:`Stage` objects in order, skipping those whose marker matches their key."""

    def __init__(self, out: Path, *, marker_dir: str, log_prefix: str):
        self.out = Path(out)
        self.marker_dir = marker_dir
        self.log_prefix = log_prefix
        self.stages: list[Stage] = []
        # stage name -> the digest naming its finished run, filled in as stages are reached; what the
        # keys of the stages ``after`` it hold, so that redoing a stage (even with the same key) redoes them
        self.keys: dict[str, str] = {}

    def log(self, msg: str) -> None:
        print(f"{self.log_prefix}: {msg}", file=sys.stderr, flush=True)

    def add(self, name: str, title: str, key, run, *, after: tuple[str, ...] = (), owns=(),
            resumable: bool = False) -> None:
        """``key``: a dict, or a function returning one, called when the stage is reached (after its inputs
        exist); the stage's full key adds the digests of the stages in ``after``."""
        def full() -> dict:
            own = key() if callable(key) else key
            return {"stage": name, **own, "after": {a: self.keys[a] for a in after}}

        self.stages.append(Stage(name, title, full, run, tuple(owns), resumable))

    def marker(self, stage: Stage) -> Path:
        return self.out / self.marker_dir / f"{stage.name}.json"

    def _read(self, path: Path) -> dict | None:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def _done(self, stage: Stage, key: str) -> dict | None:
        rec = self._read(self.marker(stage))
        return rec if rec is not None and rec.get("key") == key else None

    @staticmethod
    def _missing_output(stage: Stage) -> Path | None:
        """An owned folder that is gone or empty (deleted by hand after the stage finished), else None."""
        for d in stage.owns:
            if not d.exists() or (d.is_dir() and not any(d.iterdir())):
                return d
        return None

    def _started_matches(self, stage: Stage, key: str) -> bool:
        rec = self._read(self.marker(stage).with_suffix(".started"))
        return rec is not None and rec.get("key") == key

    def run(self, *, extra_steps: int = 0) -> list[dict]:
        """Run every stage not finished yet; returns one timing row per stage.

        ``extra_steps``: steps the caller runs afterwards, counted in the ``[i/n]`` progress lines.
        """
        ensure_writable_dir(self.out)
        ensure_writable_dir(self.out / self.marker_dir)
        timings = []
        n = len(self.stages) + extra_steps
        for i, stage in enumerate(self.stages, 1):
            settings = stage.key()
            key = digest(settings)
            done = self._done(stage, key)
            missing = self._missing_output(stage) if done is not None else None
            if done is not None and missing is None:
                self.keys[stage.name] = done.get("run", key)  # markers written before run digests: the key
                self.log(f"[{i}/{n}] {stage.title}: done earlier ({done['seconds']:.1f} s), skipped")
                timings.append({"name": stage.name, "title": stage.title, "seconds": done["seconds"],
                                "reused": True})
                continue
            if missing is not None:
                self.log(f"[{i}/{n}] {stage.title}: done earlier but {missing} is missing or empty, redone "
                         "with the stages after it")
            if missing is not None or not (stage.resumable and self._started_matches(stage, key)):
                for d in stage.owns:  # other settings (or a torn run): start this stage afresh
                    if d.exists():
                        shutil.rmtree(d)
            self.marker(stage).unlink(missing_ok=True)
            write_json(self.marker(stage).with_suffix(".started"), {"key": key})
            self.log(f"[{i}/{n}] {stage.title} ...")
            t0 = time.perf_counter()
            info = stage.run()
            seconds = time.perf_counter() - t0
            # A new digest per finished run: the stages after this one see it in their keys and are redone.
            run = digest({"key": key, "finished_ns": time.time_ns()})
            self.keys[stage.name] = run
            write_json(self.marker(stage), {"key": key, "run": run, "seconds": seconds, "info": info,
                                            "settings": settings})
            self.log(f"[{i}/{n}] {stage.title}: {seconds:.1f} s")
            timings.append({"name": stage.name, "title": stage.title, "seconds": seconds, "reused": False})
        return timings
