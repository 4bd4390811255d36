"""Run a model on VSI-Bench-schema questions: prompts, frames, generation, scoring, resume.

A run directory holds:

- ``config.json``: what was run (model, data, mode, style, frames, backend, scoring).
- ``samples.jsonl``: one line per question, appended (and fsync'ed) as each batch finishes:
  ``id, dataset, scene_name, question_type, ground_truth, prompt, prediction`` (raw model
  text), ``answer`` (after the ``<answer>``/option-text steps), ``parsed``, ``score`` (0-1),
  ``error``, ``seconds``.
- ``results.json`` (as ``vsgrpo eval score``), ``results.md`` and ``results.png`` at the end;
  ``baselines.json``: the chance rows of the same questions (:mod:`vsgrpo.chance`),
  which ``results.md`` prints above the model's row; ``question_ids.json``: the ids of the
  questions the run covered (``eval report`` compares them across runs).

``blind=True`` (``--blind``) sends the same prompt text ("These are frames of a video." and
all) with no frames, so the run's score minus a normal run's is what the video adds.

Rerunning the same command resumes: finished ids are skipped, a line torn by a crash is cut
off, and the file is compacted to one line per id at the end. Scoring settings may change
between attempts: every sample is rescored from its stored prediction when the run finishes.
``config.json`` is written before the first sample; a rerun with other settings (the backend's
too: endpoint, video mode, dtype, pixel budget), or into a folder whose samples have no readable
``config.json``, is refused unless ``overwrite``. One
process writes a run folder at a time (``io.run_lock``). See docs/reliability.md.
"""

from __future__ import annotations

import json
import math
import time
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path

from .. import metrics
from ..chance import compute_baselines
from ..errors import VsgrpoError
from ..io import ensure_writable_dir, remove_stale_temps, run_lock, safe_join, write_json
from ..progress import progress
from ..prompts import build_prompt
from .backends import Backend, Request, make_backend
from .config import EvalConfig, ScoringConfig
from .samples import SampleWriter, load_samples, rewrite
from .scoring import finish_results, has_debiased, load_questions, scored_row

SAMPLES_FILE, RESULTS_FILE, CONFIG_FILE = "samples.jsonl", "results.json", "config.json"
BASELINES_FILE = "baselines.json"  # chance rows of the run's questions (vsgrpo.chance)
TABLE_FILE, CHART_FILE = "results.md", "results.png"

# Settings that define what a run's samples mean; a resumed run must match them.
_IDENTITY = ("model", "questions", "videos", "frames", "mode", "style", "backend", "max_new_tokens", "blind",
             "frames_like")
# Identity settings an older config.json lacks, with the value those runs had (so they still resume).
_IDENTITY_DEFAULTS = {"blind": False, "frames_like": "vsgrpo"}
# Backend settings (``backend_options``) that change predictions: which server, how the video is
# sent, the weights' dtype, the frames' pixel budget. Not the timeout, the key's variable or the device.
_BACKEND_IDENTITY = ("base_url", "video_as", "dtype", "min_pixels", "max_pixels")


class _FrameCache:
    """The last few decoded videos: consecutive questions often share a scene."""

    def __init__(self, size: int = 4):
        self.size, self._items = size, OrderedDict()

    def get(self, path: Path, n: int, like: str = "vsgrpo"):
        from ..video import read_frames
        from .frames_like import read_frames_like_lmms_eval

        key = (str(path), n, like)
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        value = read_frames_like_lmms_eval(path, n) if like == "lmms-eval" else read_frames(path, n)
        self._items[key] = value
        if len(self._items) > self.size:
            self._items.popitem(last=False)
        return value


def _jsonable(value):
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # nan/inf parsed from a prediction; JSON has no such numbers
    return value


def _score_row(row: dict, question: dict, scoring: ScoringConfig) -> dict:
    if row.get("error"):
        row.update(answer=None, parsed=None, score=None)
        return row
    s = metrics.score_detail(row["prediction"], question["ground_truth"], question["question_type"],
                             question["options"], parser=scoring.parser, answer_tag=scoring.answer_tag,
                             option_text=scoring.option_text)
    row.update(answer=s.answer, parsed=_jsonable(s.parsed), score=s.score)
    return row


def _read_config(path: Path) -> dict | None:
    """The stored config of a run, or ``None`` when it is missing, unreadable or incomplete."""
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if isinstance(old, dict):
        old = {**_IDENTITY_DEFAULTS, **old}
    if not isinstance(old, dict) or any(k not in old for k in _IDENTITY):
        return None
    return old


def _start_over(out: Path) -> None:
    for name in (SAMPLES_FILE, RESULTS_FILE, TABLE_FILE, CHART_FILE, CONFIG_FILE, "question_ids.json"):
        (out / name).unlink(missing_ok=True)


def _check_resume(out: Path, config: EvalConfig) -> dict | None:
    """Refuse to resume a run made with other settings; returns the stored config (or ``None``).

    Samples without a readable ``config.json`` (deleted, cut short, edited) cannot be matched to
    settings, so they are refused too rather than relabelled: ``--overwrite`` starts over.
    """
    if config.overwrite:
        _start_over(out)
        return None
    old = _read_config(out / CONFIG_FILE)
    samples = out / SAMPLES_FILE
    if old is None:
        if samples.exists() and samples.stat().st_size > 0:
            state = "is missing" if not (out / CONFIG_FILE).exists() else "is unreadable or incomplete"
            raise VsgrpoError(f"{out} holds samples but its {CONFIG_FILE} {state}, so the settings they were made "
                              "with are unknown; pass --overwrite to start over (or choose another --out)")
        return None
    new = config.to_dict()
    pairs = [(k, old[k], new[k]) for k in _IDENTITY]
    old_opts = old.get("backend_options")
    if isinstance(old_opts, dict):  # (an older config.json without it: not compared)
        old_opts = dict(old_opts)
        if old_opts.get("base_url") is None and isinstance(old.get("backend_info"), dict):
            # a run stored before base_url was resolved up front: its backend recorded the address it used
            old_opts["base_url"] = old["backend_info"].get("base_url", config.backend_options.get("base_url"))
        pairs += [(k, old_opts.get(k), config.backend_options.get(k)) for k in _BACKEND_IDENTITY]
    diff = [(k, was, now) for k, was, now in pairs if was != now]
    if diff and not (samples.exists() and samples.stat().st_size > 0):
        return None  # the earlier run failed before its first sample: nothing to protect, start afresh
    for k, was, now in diff[:1]:
        raise VsgrpoError(f"{out} holds a run with {k}={was!r}, not {now!r} (--{k.replace('_', '-')}); choose "
                          "another --out (or pass --overwrite to start over)")
    return old


def run_eval(config: EvalConfig | None = None, *, backend_instance: Backend | None = None, **kwargs) -> dict:
    """Run (or resume) an evaluation and return its results (the ``results.json`` object).

    Either pass an :class:`EvalConfig` or its fields as keywords::

        from vsgrpo.eval import run_eval
        results = run_eval(model="tiny-model", questions="test-dev.parquet", videos="videos/",
                           out="runs/base", mode="vanilla", batch_size=8)
        results["overall"], results["scores"]["object_counting"], results["errors"]

    ``backend_instance``: an already built backend object (anything with ``generate``, see
    :class:`vsgrpo.eval.backends.Backend`), used instead of constructing ``config.backend``;
    handy to evaluate a model already in memory, e.g. during training.
    """
    if config is None:
        config = EvalConfig(**kwargs)
    elif kwargs:
        raise TypeError("pass either an EvalConfig or keyword fields, not both")
    if config.backend == "openai" and backend_instance is None:
        from .backends.openai import resolve_base_url

        # The server itself, not "whatever $OPENAI_BASE_URL says": stored in config.json and compared on resume.
        options = {**config.backend_options, "base_url": resolve_base_url(config.backend_options.get("base_url"))}
        config = replace(config, backend_options=options)
    questions = load_questions(config.questions, limit=config.limit, subset=config.subset)
    if not config.videos:  # stored resolved in config.json, so a rerun compares the folder actually read
        config = replace(config, videos=str(_default_videos(config)))
    videos = Path(config.videos)
    if not videos.is_dir() and not config.blind:
        raise VsgrpoError(f"videos folder not found: {videos} (expected {{dataset}}/{{scene_name}}.mp4 inside)")
    out = ensure_writable_dir(config.out)
    with run_lock(out, "eval run"):
        return _run_locked(out, questions, videos, config, backend_instance)


def _default_videos(config: EvalConfig) -> Path:
    """No ``--videos``: the build record's data root, else a fetched benchmark's own folder, else ``videos/``
    beside the questions (:func:`vsgrpo.questions_parquet.video_root`); a blind run reads no video, so never
    fails here."""
    from ..questions_parquet import video_root

    try:
        return video_root(config.questions)
    except VsgrpoError:
        if config.blind:
            return Path(config.questions).resolve().parent / "videos"
        raise


def _run_locked(out: Path, questions: list[dict], videos: Path, config: EvalConfig,
                backend_instance: Backend | None) -> dict:
    remove_stale_temps(out, recursive=False)
    old = _check_resume(out, config)
    meta = config.to_dict()
    meta["backend_info"] = (old or {}).get("backend_info", {})
    write_json(out / CONFIG_FILE, meta)  # the settings are on disk before the first sample is
    samples_path = out / SAMPLES_FILE
    done = load_samples(samples_path, repair=True)
    known = {q["id"] for q in questions}
    todo = [q for q in questions
            if q["id"] not in done or (config.retry_errors and done[q["id"]].get("error"))]
    if todo:
        backend = backend_instance
        own_backend = backend is None
        if own_backend:
            backend = make_backend(config.backend, config.model, **config.backend_options)
        meta["backend_info"] = backend.describe() if hasattr(backend, "describe") else {}
        write_json(out / CONFIG_FILE, meta)
        try:
            _generate_all(todo, config, backend, videos, samples_path)
            if hasattr(backend, "describe"):  # settings a backend resolved while running (openai: video or frames)
                meta["backend_info"] = backend.describe()
                write_json(out / CONFIG_FILE, meta)
        finally:
            if own_backend:
                backend.close()
    return finish_run(out, questions=questions, scoring=config.scoring, only=known)


def video_path(q: dict) -> str:
    """A question's video relative to the videos root: its ``video`` column when set (imported
    question sets), else VSI-Bench's ``{dataset}/{scene_name}.mp4``."""
    rel = q.get("video")
    return rel if isinstance(rel, str) and rel else f"{q['dataset']}/{q['scene_name']}.mp4"


def _generate_all(todo: list[dict], config: EvalConfig, backend: Backend, videos: Path, samples_path: Path) -> None:
    scoring = config.scoring
    cache = _FrameCache()
    bar = progress(desc=f"eval {config.mode}", total=len(todo), unit="q")
    with SampleWriter(samples_path) as writer:
        for start in range(0, len(todo), config.batch_size):
            chunk = todo[start:start + config.batch_size]
            rows, requests = [], []
            for q in chunk:
                options = q["options"] if metrics.answer_kind(q["question_type"]) == "mca" else None
                row = {"id": q["id"], "dataset": q["dataset"], "scene_name": q["scene_name"],
                       "question_type": q["question_type"], "ground_truth": q["ground_truth"],
                       "prompt": build_prompt(q["question"], options, mode=config.mode, style=config.style),
                       "prediction": None, "error": None, "seconds": None}
                if config.blind:  # the same prompt text, no frames: the video is never read
                    requests.append(Request(q["id"], row["prompt"], None, None))
                    rows.append(row)
                    continue
                try:
                    path = safe_join(videos, video_path(q))
                    frames, fps = cache.get(path, config.frames, config.frames_like)
                    requests.append(Request(q["id"], row["prompt"], frames, fps))
                except VsgrpoError as e:  # missing/corrupt video, or a path escaping the root
                    row["error"] = f"video: {e}"
                rows.append(row)
            t0 = time.perf_counter()
            outputs = backend.generate(requests, max_new_tokens=config.max_new_tokens) if requests else []
            if len(outputs) != len(requests):
                raise RuntimeError(f"backend returned {len(outputs)} outputs for {len(requests)} requests")
            seconds = (time.perf_counter() - t0) / max(1, len(requests))
            by_id = dict(zip((r.id for r in requests), outputs))
            for row, q in zip(rows, chunk):
                if row["error"] is None:
                    result = by_id[q["id"]]
                    if isinstance(result, Exception):
                        row["error"] = f"generation: {result}"
                    else:
                        row["prediction"] = result
                        row["seconds"] = round(seconds, 4)
                writer.write(_score_row(row, q, scoring))
            bar.update(len(chunk))
    bar.close()


def finish_run(out: str | Path, *, questions: list[dict], scoring: ScoringConfig, only: set[int] | None = None) -> dict:
    """Rescore the samples, compact ``samples.jsonl``, write results JSON, Markdown table and chart."""
    from .report import QUESTION_IDS_FILE, write_run_report

    out = Path(out)
    samples_path = out / SAMPLES_FILE
    by_id = {q["id"]: q for q in questions}
    rows = load_samples(samples_path, repair=True)
    scored, errors = [], 0
    for qid, row in rows.items():
        q = by_id.get(qid)
        if q is None:
            continue  # a sample of a question outside this --limit: kept, not counted
        _score_row(row, q, scoring)
        if only is not None and qid not in only:
            continue
        if row.get("error"):
            errors += 1
        else:
            scored.append(scored_row(q, row["score"]))
    # Rewrite with the fresh scores, one line per id, in question order.
    rewrite(samples_path, rows, [q["id"] for q in questions])
    answered = sum(1 for q in questions if q["id"] in rows and (only is None or q["id"] in only))
    total = len(only) if only is not None else len(questions)
    results = finish_results(scored, errors=errors, unanswered=total - answered, config=scoring)
    write_json(out / RESULTS_FILE, results)
    # Which questions the run covered, so `eval report` can tell runs on different question sets apart.
    write_json(out / QUESTION_IDS_FILE, {"ids": [q["id"] for q in questions if only is None or q["id"] in only]})
    # The chance rows of exactly the questions this run covers, printed above the model's row.
    covered = [q for q in questions if only is None or q["id"] in only]
    baselines = compute_baselines(covered)
    if scoring.subset == "all" and has_debiased(covered):  # the chance rows of VSI-Bench-Debiased too
        baselines["debiased"] = compute_baselines(q for q in covered if q["pruned"] is False)
    write_json(out / BASELINES_FILE, baselines)
    write_run_report(out, results, baselines=baselines)
    return results
