"""SFT and DPO trainers with video: TRL's trainers fed by our video collators.

They differ from stock TRL only in skipping TRL's text-only dataset preparation; the video
tensors reach every forward pass because the collators put them in the batch and TRL passes
the batch to the model as keyword arguments.
"""

from __future__ import annotations

from trl import DPOTrainer, SFTTrainer


class VideoSFTTrainer(SFTTrainer):
    """SFTTrainer over rows (prompt, answer, video) with :class:`~vsgrpo.train.collators.VideoSFTCollator`."""


class VideoDPOTrainer(DPOTrainer):
    """DPOTrainer over rows (prompt, chosen, rejected, video) with
    :class:`~vsgrpo.train.collators.VideoDPOCollator`."""

    def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
        return dataset  # the collator tokenises and decodes video on the fly
