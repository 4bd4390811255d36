"""The training budget in the units a user reasons about: questions seen, epochs, optimizer steps.

A recipe states its budget as ``train_questions`` (questions seen) or ``num_train_epochs``;
``max_steps`` (a number of optimizer steps) means a different amount of data on each number of
GPUs. Per optimizer step, the run sees::

    GRPO:     per_device_train_batch_size x gradient_accumulation_steps x GPUs / num_generations  questions
    SFT, DPO: per_device_train_batch_size x gradient_accumulation_steps x GPUs                    questions

(a GRPO micro-batch holds completions, ``num_generations`` per question). Steps for a budget of
Q questions: ceil(Q / questions per step); for E epochs over N questions: about E x N / questions
per step (the trainer drops an incomplete last batch). The cost of a run is
then steps x seconds per step (docs/training.md, "Budget").
"""

from __future__ import annotations

import math
from pathlib import Path

from ..errors import VsgrpoError
from .config import GRPOConfig, TrainConfig


def questions_per_step(cfg: TrainConfig, gpus: int = 1) -> float:
    """Questions one optimizer step sees on ``gpus`` GPUs (see the module doc)."""
    sequences = cfg.per_device_train_batch_size * cfg.gradient_accumulation_steps * gpus
    if isinstance(cfg, GRPOConfig):
        return sequences / cfg.num_generations
    return float(sequences)


def data_questions(cfg: TrainConfig) -> int | None:
    """Questions the run trains on (after ``question_types`` and ``max_samples``); ``None`` when the data is absent."""
    if not cfg.data or not Path(cfg.data).is_file():
        return None
    import pyarrow.parquet as pq

    try:
        if cfg.question_types:
            types = pq.read_table(cfg.data, columns=["question_type"]).column("question_type").to_pylist()
            n = sum(t in set(cfg.question_types) for t in types)
        else:
            n = pq.ParquetFile(cfg.data).metadata.num_rows
    except Exception as e:  # noqa: BLE001 - pyarrow raises several types for a file that is not a parquet
        raise VsgrpoError(f"data {cfg.data} cannot be read as a parquet: {str(e).splitlines()[0]}") from None
    return min(n, cfg.max_samples) if cfg.max_samples else n


def max_steps(cfg: TrainConfig, gpus: int = 1) -> int:
    """The ``max_steps`` to give the trainer: the recipe's, or the steps of ``train_questions`` on ``gpus``
    GPUs, or -1 (the trainer counts epochs)."""
    if cfg.max_steps > 0:
        return cfg.max_steps
    if cfg.train_questions > 0:
        return max(1, math.ceil(cfg.train_questions / questions_per_step(cfg, gpus)))
    return -1


def budget(cfg: TrainConfig, *, gpus: int = 1) -> dict:
    """``{"gpus", "questions_per_step", "completions_per_step" (GRPO), "steps", "questions_seen", "epochs",
    "data_questions", "set_by"}`` of a run on ``gpus`` GPUs. ``steps``/``epochs`` are ``None`` where they
    depend on the data and it is absent."""
    if gpus < 1:
        raise VsgrpoError("--gpus must be >= 1")
    qps = questions_per_step(cfg, gpus)
    n = data_questions(cfg)
    steps = max_steps(cfg, gpus)
    set_by = "max_steps" if cfg.max_steps > 0 else "train_questions" if cfg.train_questions > 0 else "num_train_epochs"
    if steps < 0:  # epochs
        steps = None if n is None else max(1, math.ceil(cfg.num_train_epochs * max(math.floor(n / qps), 1)))
    seen = None if steps is None else steps * qps
    out = {"gpus": gpus, "questions_per_step": qps, "steps": steps, "questions_seen": seen,
           "epochs": None if seen is None or not n else round(seen / n, 3), "data_questions": n, "set_by": set_by}
    if isinstance(cfg, GRPOConfig):
        out["completions_per_step"] = int(qps * cfg.num_generations)
    return out


def describe(b: dict) -> str:
    """One line for humans: ``8 GPUs: 2,000 steps x 32 questions = 64,000 questions (0.55 epochs of 116,900)``."""
    q = b["questions_per_step"]
    q_text = f"{q:g}"
    if b["steps"] is None:
        return (f"{b['gpus']} GPU(s): {q_text} questions per step; steps depend on the data size "
                f"({b['set_by']}), and the data is not there")
    data = f" ({b['epochs']:g} epochs of {b['data_questions']:,})" if b["epochs"] is not None else ""
    return (f"{b['gpus']} GPU(s): {b['steps']:,} steps x {q_text} questions = {b['questions_seen']:,.0f} "
            f"questions{data}; set by {b['set_by']}")
