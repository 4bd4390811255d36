"""SFT and DPO trainers with video: TRL's trainers fed by our video collators.

They differ from stock TRL only in skipping TRL's text-only dataset preparation; the video
tensors reach every forward pass because the collators put them in the batch and TRL passes
the batch to the model as keyword arguments.
"""

from __future__ import annotations

import json
from pathlib import Path

from trl import DPOTrainer, SFTTrainer


def _last_logged(checkpoint, key: str, default):
    """The last value of ``key`` in a checkpoint's ``trainer_state.json`` log history."""
    try:
        history = json.loads((Path(checkpoint) / "trainer_state.json").read_text(encoding="utf-8"))["log_history"]
    except (OSError, ValueError, KeyError):
        return default
    values = [h[key] for h in history if isinstance(h, dict) and key in h]
    return type(default)(values[-1]) if values else default


class VideoSFTTrainer(SFTTrainer):
    """SFTTrainer over rows (prompt, answer, video) with :class:`~vsgrpo.train.collators.VideoSFTCollator`."""

    def train(self, resume_from_checkpoint=None, trial=None, ignore_keys_for_eval=None):
        # TRL counts trained tokens from 0 in every process; continue the count of the checkpoint.
        if resume_from_checkpoint:
            self._total_train_tokens = _last_logged(resume_from_checkpoint, "num_tokens", self._total_train_tokens)
        return super().train(resume_from_checkpoint, trial=trial, ignore_keys_for_eval=ignore_keys_for_eval)


class VideoDPOTrainer(DPOTrainer):
    """DPOTrainer over rows (prompt, chosen, rejected, video) with
    :class:`~vsgrpo.train.collators.VideoDPOCollator`."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if getattr(self, "ref_model", None) is not None:  # TRL loads it itself (full fine-tuning)
            from ..models.families import family_of

            ref = getattr(self.ref_model, "module", self.ref_model)  # under DDP
            family_of(ref).prepare_model(ref)

    def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
        return dataset  # the collator tokenises and decodes video on the fly
