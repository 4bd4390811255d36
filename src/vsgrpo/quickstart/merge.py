"""Evaluable model folders from training runs: a LoRA adapter is merged into its base model once."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import VsgrpoError

MERGED_DIR = "merged"


def merged_model(run_dir: str | os.PathLike) -> Path:
    """The full model of a training run: ``final/``, or ``merged/`` made from a LoRA adapter in ``final/``.

    The evaluation harness loads full models (``config.json`` + safetensors). A LoRA run's
    ``final/`` holds only the adapter; it is merged into the base model named in its
    ``adapter_config.json`` and saved (with the run's processor) to ``merged/``, atomically
    (:func:`vsgrpo.models.loading.save_merged`, as ``vsgrpo model merge``).
    """
    run = Path(run_dir)
    final = run / "final"
    adapter = final / "adapter_config.json"
    if (final / "config.json").is_file() and not adapter.is_file():
        return final
    if not adapter.is_file():
        raise VsgrpoError(f"{run} has no trained model (no final/ folder); did the training stage finish?")
    merged = run / MERGED_DIR
    if (merged / "config.json").is_file():
        return merged
    from ..models.loading import save_merged

    return save_merged(final, merged)  # the one loading path: base from the adapter's record, the run's processor
