"""Training: vsGRPO (GRPO with video in every pass), SFT and DPO baselines.

Python API (names resolve lazily, so ``import vsgrpo.train`` stays light)::

    from vsgrpo.train import load_config, run_grpo, run_sft, run_dpo, run
    cfg = load_config("grpo", "recipes/tiny/grpo.yaml", ["max_steps=2"], model=..., data=...)
    out_dir = run_grpo(cfg, resume=False)   # -> Path with metrics.jsonl, samples.jsonl, checkpoints, final/

Modules: :mod:`.config` (one dataclass per method), :mod:`.data` (parquet + videos -> rows,
DPO negatives), :mod:`.grpo` (``VideoGRPOTrainer``), :mod:`.sft` (``VideoSFTTrainer``,
``VideoDPOTrainer``), :mod:`.collators`, :mod:`.runner` (the ``run_*`` functions),
:mod:`.run_folder` (run-folder layout, checkpoint checks, resume/overwrite policy),
:mod:`.trl_args` (TRL's arguments, ``--dry-run``), :mod:`.budget` (questions seen, steps,
epochs), :mod:`.model_card` (``final/README.md``), :mod:`.validation`, :mod:`.vllm_rollout`. See
docs/training.md.
"""

from __future__ import annotations

_EXPORTS = {
    "load_config": "config", "GRPORunConfig": "config", "SFTRunConfig": "config", "DPORunConfig": "config",
    "GRPOConfig": "config", "SFTConfig": "config", "DPOConfig": "config",
    "run_grpo": "runner", "run_sft": "runner", "run_dpo": "runner", "run": "runner", "last_checkpoint": "runner",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
