"""Evaluable model folders from training runs: a LoRA adapter is merged into its base model once."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import VsgrpoError
from ..io import atomic_path

MERGED_DIR = "merged"


def merged_model(run_dir: str | os.PathLike) -> Path:
    """The full model of a training run: ``final/``, or ``merged/`` made from a LoRA adapter in ``final/``.

    The evaluation harness loads full models (``config.json`` + safetensors). A LoRA run's
    ``final/`` holds only the adapter; it is merged into the base model named in its
    ``adapter_config.json`` and saved (with the run's processor) to ``merged/``, atomically.
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
    from peft import PeftModel

    from transformers import AutoProcessor

    from ..models.loading import load_model_and_processor

    base = json.loads(adapter.read_text(encoding="utf-8")).get("base_model_name_or_path")
    if not base:
        raise VsgrpoError(f"{adapter} does not name its base model")
    model, base_processor = load_model_and_processor(base)
    model = PeftModel.from_pretrained(model, str(final)).merge_and_unload()
    # The run saved its processor (with the training pixel budget) beside the adapter.
    processor = AutoProcessor.from_pretrained(str(final)) if (final / "tokenizer_config.json").is_file() else None
    processor = processor or base_processor
    with atomic_path(merged) as tmp:
        tmp.unlink(missing_ok=True)
        model.save_pretrained(str(tmp), safe_serialization=True)
        processor.save_pretrained(str(tmp))
    return merged
