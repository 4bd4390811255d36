"""The predictions of ``eval run`` folders, matched to a questions file, for ``data browse --run``.

A run folder is what ``vsgrpo eval run --out RUN`` (or a quickstart stage, ``quickstart/eval/grpo``)
writes: its ``samples.jsonl`` holds one line per question with the raw model text
(``prediction``), the parsed value (``parsed``) and the score (``score``, 0-1; ``None`` when the
sample ended in an error). :func:`load_runs` reads each folder's samples and matches them to the
questions by id; a sample matches when its id is in the questions file *and* its dataset, scene
and question type agree with that row (the same id in another question set is another question).

- a folder without ``samples.jsonl`` is not an eval output: :class:`~vsgrpo.errors.VsgrpoError`;
- a run none of whose samples match the questions: :class:`~vsgrpo.errors.VsgrpoError` naming the
  questions file the run was made with (its ``config.json``);
- a run only some of whose samples match: a notice (shown on the page and printed) saying how many
  did not; those samples are left out.

Verdicts per question and run: ``right`` (score >= :data:`RIGHT_AT`), ``wrong``, or ``none`` (no
sample, or an error). Runs *disagree* on a question when their parsed answers differ (no answer
counts as an answer); they are *split* when one is right and another wrong.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import VsgrpoError

SAMPLES_FILE, CONFIG_FILE = "samples.jsonl", "config.json"  # as vsgrpo.eval.runner writes them
RIGHT_AT = 0.5  # a score at or above counts as right (numeric questions: the MRA score)


@dataclass
class Run:
    """One run folder: its display name, path, settings and the samples that match the questions."""

    name: str
    path: Path
    config: dict
    samples: dict[int, dict] = field(default_factory=dict)
    unmatched: int = 0  # samples whose id is not (or is another question) in the questions file

    def describe(self) -> dict:
        return {"name": self.name, "path": str(self.path), "model": str(self.config.get("model") or ""),
                "mode": str(self.config.get("mode") or ""), "answered": len(self.samples),
                "unmatched": self.unmatched}


def recorded_questions(run_dir: str | os.PathLike) -> Path | None:
    """The questions file a run's ``config.json`` names, when it still exists."""
    config = _config(Path(run_dir))
    path = config.get("questions")
    return Path(path) if isinstance(path, str) and path and Path(path).is_file() else None


def _config(path: Path) -> dict:
    try:
        config = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return config if isinstance(config, dict) else {}


def _names(paths: list[Path]) -> list[str]:
    """Short distinct names: the folder name, with as many parent folders as it takes to tell two runs
    apart (``a/eval/grpo``, ``b/eval/grpo``); the same folder given twice is numbered."""
    parts = [p.absolute().parts for p in paths]
    depth = [1] * len(paths)
    while True:
        names = ["/".join(pp[-d:]) for pp, d in zip(parts, depth)]
        grow = [i for i, n in enumerate(names) if depth[i] < len(parts[i])
                and any(m == n and parts[j] != parts[i] for j, m in enumerate(names))]
        if not grow:
            break
        for i in grow:
            depth[i] += 1
    seen: dict[str, int] = {}
    for i, n in enumerate(names):
        seen[n] = seen.get(n, 0) + 1
        if seen[n] > 1:
            names[i] = f"{n} ({seen[n]})"
    return names


def load_runs(run_dirs: list[str | os.PathLike], by_id: dict[int, dict], questions_path) -> list[Run]:
    """The runs of ``run_dirs``, each with its samples matched to ``by_id`` (question rows by id)."""
    import warnings

    from .eval.samples import load_samples

    paths = [Path(p).expanduser() for p in run_dirs]
    runs = []
    for path, name in zip(paths, _names(paths)):
        if not path.is_dir():
            raise VsgrpoError(f"--run {path}: folder not found")
        if not (path / SAMPLES_FILE).is_file():
            raise VsgrpoError(f"--run {path} is not an eval run folder: it has no {SAMPLES_FILE} "
                              "(`vsgrpo eval run --out RUN` writes one)")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a damaged line is skipped; the counts below say what was read
            samples = load_samples(path / SAMPLES_FILE)
        if not samples:
            raise VsgrpoError(f"--run {path}: {SAMPLES_FILE} holds no samples")
        run = Run(name, path, _config(path))
        for qid, sample in samples.items():
            if _same_question(sample, by_id.get(qid)):
                run.samples[qid] = sample
            else:
                run.unmatched += 1
        if not run.samples:
            made_with = run.config.get("questions")
            hint = f" (it was made with --questions {made_with})" if made_with else ""
            raise VsgrpoError(f"--run {path}: none of its {len(samples)} answers matches a question of "
                              f"{questions_path} by id, scene and type{hint}; pass the questions the run answered")
        runs.append(run)
    return runs


def _same_question(sample: dict, row: dict | None) -> bool:
    if row is None:
        return False
    return all(str(sample[k]) == str(row[k]) for k in ("dataset", "scene_name", "question_type") if k in sample)


def notices(runs: list[Run], n_questions: int) -> list[str]:
    """One line per run that covers the questions only in part."""
    out = []
    for run in runs:
        if run.unmatched:
            out.append(f"run {run.name}: {run.unmatched} of {run.unmatched + len(run.samples)} answers match no "
                       "question of the questions file (by id, scene and type) and are not shown")
        if len(run.samples) < n_questions:
            out.append(f"run {run.name} answered {len(run.samples)} of the {n_questions} questions")
    return out


def verdict(sample: dict | None) -> str:
    """``right``, ``wrong`` or ``none`` (no sample, an error, or no score)."""
    score = None if sample is None or sample.get("error") else sample.get("score")
    if not isinstance(score, (int, float)) or isinstance(score, bool) or not math.isfinite(score):
        return "none"
    return "right" if score >= RIGHT_AT else "wrong"


def _answer_key(sample: dict | None) -> str:
    """What a run answered, comparable across runs: numbers by value, text without case or spaces."""
    parsed = None if sample is None or sample.get("error") else sample.get("parsed")
    if parsed is None:
        return ""
    if isinstance(parsed, (int, float)) and not isinstance(parsed, bool):
        return f"{float(parsed):.6g}"
    return str(parsed).strip().lower()


def compare(samples: list[dict | None]) -> dict:
    """Per-question facts across runs: verdicts, and whether the runs disagree or are split."""
    verdicts = [verdict(s) for s in samples]
    return {"verdicts": verdicts,
            "disagree": len(samples) > 1 and len({_answer_key(s) for s in samples}) > 1,
            "split": "right" in verdicts and "wrong" in verdicts}


def shown(sample: dict | None) -> dict | None:
    """The part of a sample the page shows."""
    if sample is None:
        return None
    parsed = sample.get("parsed")
    if isinstance(parsed, float) and not math.isfinite(parsed):
        parsed = str(parsed)
    score = sample.get("score")
    return {"prediction": sample.get("prediction"), "answer": sample.get("answer"), "parsed": parsed,
            "score": score if isinstance(score, (int, float)) and not isinstance(score, bool)
            and math.isfinite(score) else None,
            "error": sample.get("error"), "verdict": verdict(sample)}
