"""Run a model on VSI-Bench-schema questions: prompts, frames, generation, scoring, resume.

A run directory holds:

- ``config.json``: what was run (model, data, mode, style, frames, backend, scoring).
- ``samples.jsonl``: one line per question, appended (and fsync'ed) as each batch finishes:
  ``id, dataset, scene_name, question_type, ground_truth, prompt, prediction`` (raw model
  text), ``answer`` (after the ``<answer>``/option-text steps), ``parsed``, ``score`` (0-1),
  ``error``, ``seconds``.
- ``results.json`` (as ``vsgrpo eval score``), ``results.md`` and ``results.png`` at the end.

Rerunning the same command resumes: finished ids are skipped, a line torn by a crash is cut
off, and the file is compacted to one line per id at the end. Scoring settings may change
between attempts: every sample is rescored from its stored prediction when the run finishes.
"""

from __future__ import annotations

import json
import math
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from .. import metrics
from ..errors import VsgrpoError
from ..io import ensure_writable_dir, safe_join, write_json
from ..progress import progress
from ..prompts import MODES, STYLES, build_prompt
from .backends import BACKENDS, Backend, Request, make_backend
from .samples import SampleWriter, load_samples, rewrite
from .scoring import ScoringConfig, finish_results, load_questions

# Greedy decoding budget by mode: a word or number (VSI-Bench's own setting is 16), or room
# for a reasoning block before the answer.
MAX_NEW_TOKENS = {"vanilla": 16, "think": 1024, "observe": 1024}

SAMPLES_FILE, RESULTS_FILE, CONFIG_FILE = "samples.jsonl", "results.json", "config.json"
TABLE_FILE, CHART_FILE = "results.md", "results.png"

# Settings that define what a run's samples mean; a resumed run must match them.
_IDENTITY = ("model", "questions", "videos", "frames", "mode", "style", "backend", "max_new_tokens")


@dataclass
class EvalConfig:
    """Everything an evaluation run needs. Field comments double as CLI help."""

    model: str                      # hub id or local folder (openai: the served model name)
    questions: str                  # VSI-Bench-schema parquet
    videos: str                     # root holding {dataset}/{scene_name}.mp4
    out: str = "eval-run"           # run directory (created; rerun to resume)
    frames: int = 32                # frames sampled uniformly per video
    mode: str = "vanilla"           # vanilla | think | observe
    style: str = "bench"            # bench (options, letters) | train (VSI-100k form, no options)
    backend: str = "hf"             # hf | openai | vllm
    batch_size: int = 1             # hf/vllm: generation batch; openai: parallel requests
    limit: int | None = None        # first N questions only
    max_new_tokens: int | None = None  # default by mode (MAX_NEW_TOKENS)
    parser: str = "official"        # official | lmms-eval
    answer_tag: bool = True         # score the <answer> span when present
    option_text: bool = True        # map an answer equal to an option's text to its letter
    retry_errors: bool = False      # on resume, run again the samples that ended in an error
    backend_options: dict = field(default_factory=dict)  # passed to the backend constructor

    def __post_init__(self):
        if self.mode not in MODES:
            raise VsgrpoError(f"unknown mode {self.mode!r}; choose one of {', '.join(MODES)}")
        if self.style not in STYLES:
            raise VsgrpoError(f"unknown style {self.style!r}; choose one of {', '.join(STYLES)}")
        if self.backend not in BACKENDS:
            raise VsgrpoError(f"unknown backend {self.backend!r}; choose one of {', '.join(BACKENDS)}")
        if self.frames < 1:
            raise VsgrpoError(f"--frames must be at least 1, got {self.frames}")
        if self.batch_size < 1:
            raise VsgrpoError(f"--batch-size must be at least 1, got {self.batch_size}")
        if self.max_new_tokens is None:
            self.max_new_tokens = MAX_NEW_TOKENS[self.mode]
        self.scoring  # validates the parser

    @property
    def scoring(self) -> ScoringConfig:
        return ScoringConfig(parser=self.parser, answer_tag=self.answer_tag, option_text=self.option_text)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["questions"] = str(Path(self.questions).resolve())
        d["videos"] = str(Path(self.videos).resolve())
        return d


class _FrameCache:
    """The last few decoded videos: consecutive questions often share a scene."""

    def __init__(self, size: int = 4):
        self.size, self._items = size, OrderedDict()

    def get(self, path: Path, n: int):
        from ..video import read_frames

        key = (str(path), n)
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        value = read_frames(path, n)
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


def _check_resume(out: Path, config: EvalConfig) -> None:
    path = out / CONFIG_FILE
    if not path.exists():
        return
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return  # unreadable config (written atomically, so only by hand): overwrite it
    new = config.to_dict()
    diff = [k for k in _IDENTITY if k in old and old[k] != new[k]]
    if diff:
        k = diff[0]
        raise VsgrpoError(f"{out} holds a run with {k}={old[k]!r}, not {new[k]!r}; choose another --out "
                          "(or delete that folder to start over)")


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
    questions = load_questions(config.questions, limit=config.limit)
    videos = Path(config.videos)
    if not videos.is_dir():
        raise VsgrpoError(f"videos folder not found: {videos} (expected {{dataset}}/{{scene_name}}.mp4 inside)")
    out = ensure_writable_dir(config.out)
    _check_resume(out, config)
    samples_path = out / SAMPLES_FILE
    done = load_samples(samples_path, repair=True)
    known = {q["id"] for q in questions}
    todo = [q for q in questions
            if q["id"] not in done or (config.retry_errors and done[q["id"]].get("error"))]
    meta = config.to_dict()
    if todo:
        backend = backend_instance
        own_backend = backend is None
        if own_backend:
            backend = make_backend(config.backend, config.model, **config.backend_options)
        meta["backend_info"] = backend.describe() if hasattr(backend, "describe") else {}
        write_json(out / CONFIG_FILE, meta)
        try:
            _generate_all(todo, config, backend, videos, samples_path)
        finally:
            if own_backend:
                backend.close()
    else:  # nothing to generate: keep the recorded backend details, update the scoring settings
        try:
            meta["backend_info"] = json.loads((out / CONFIG_FILE).read_text(encoding="utf-8"))["backend_info"]
        except (OSError, ValueError, KeyError):
            pass
        write_json(out / CONFIG_FILE, meta)
    return finish_run(out, questions=questions, scoring=config.scoring, only=known)


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
                try:
                    path = safe_join(videos, str(q["dataset"]), f"{q['scene_name']}.mp4")
                    frames, fps = cache.get(path, config.frames)
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
    from .report import write_run_report

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
            scored.append((row["question_type"], row["score"]))
    # Rewrite with the fresh scores, one line per id, in question order.
    rewrite(samples_path, rows, [q["id"] for q in questions])
    answered = sum(1 for q in questions if q["id"] in rows and (only is None or q["id"] in only))
    total = len(only) if only is not None else len(questions)
    results = finish_results(scored, errors=errors, unanswered=total - answered, config=scoring)
    write_json(out / RESULTS_FILE, results)
    write_run_report(out, results)
    return results


def config_fields() -> list[str]:
    return [f.name for f in fields(EvalConfig)]
