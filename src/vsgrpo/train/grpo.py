"""``VideoGRPOTrainer``: TRL 1.16's GRPOTrainer with real video in every pass.

Stock TRL hands a video to ``generate()`` at best and then silently drops it from the
policy, old-policy and reference log-prob passes (training then runs on placeholder tokens).
This subclass does one thing: carry the video tensors of each sample through. Prompt text,
rewards and data stay outside (:mod:`vsgrpo.train.data`, :mod:`vsgrpo.rewards`).

How (TRL 1.16 private methods, hence the exact pin in pyproject.toml):

- ``_generate_and_score_completions``: decodes the batch's videos, encodes prompts with
  :func:`vsgrpo.models.inputs.encode_prompts` (the same code evaluation uses), and stores the
  video tensors as the *active video* while TRL generates and runs the old/reference passes;
  then attaches them to the output as per-sample lists, so TRL's shuffle/split of the
  generation batch moves them together with ``prompt_ids``.
- ``_tokenize_prompts``: returns those prompt ids and video tensors to TRL's generation.
- ``_compute_loss``: makes the micro-batch's video the active video for the policy pass.
- ``_get_per_token_logps_and_entropies``: when a video is active, runs the forward in chunks
  with each chunk's ``pixel_values_videos``/``video_grid_thw``/``second_per_grid_ts`` and
  ``mm_token_type_ids`` computed from the full (prompt + completion) ids.
"""

from __future__ import annotations

from typing import Any

import torch
from trl import GRPOTrainer

from ..models.inputs import (VIDEO_KEYS, encode_prompts, merge_video_fields, mm_token_type_ids,
                             split_video_fields)


class VideoGRPOTrainer(GRPOTrainer):
    """GRPO whose dataset rows carry ``prompt`` (text) and ``video`` (path); see the module doc."""

    def __init__(self, *args, video_loader, **kwargs):
        self.video_loader = video_loader
        self._active_video: dict[str, torch.Tensor] | None = None
        self._pending_prompt: tuple[list[list[int]], dict[str, Any]] | None = None
        super().__init__(*args, **kwargs)

    # ------------------------------------------------------------------ generation batch
    def _encode_batch(self, inputs: list[dict]):
        videos, fps = zip(*(self.video_loader(x["video"]) for x in inputs))
        return encode_prompts(self.processing_class, [x["prompt"] for x in inputs], list(videos), list(fps))

    def _generate_and_score_completions(self, inputs):
        batch = self._encode_batch(inputs)
        device = self.accelerator.device
        mask = batch["attention_mask"].bool()
        ids = [row[m].tolist() for row, m in zip(batch["input_ids"], mask)]
        mm = [row[m].tolist() for row, m in zip(batch["mm_token_type_ids"], mask)]
        video = {k: batch[k].to(device) for k in VIDEO_KEYS if k in batch}
        self._pending_prompt = (ids, {**video, "mm_token_type_ids": mm})
        self._active_video = video
        try:
            output = super()._generate_and_score_completions(inputs)
        finally:
            self._pending_prompt = None
            self._active_video = None
        output.update(split_video_fields(video, len(inputs)))
        return output

    def _tokenize_prompts(self, prompts: list):
        if self._pending_prompt is None:  # not reached through our batch path (should not happen)
            raise RuntimeError("VideoGRPOTrainer: prompts must come from _generate_and_score_completions")
        ids, fields = self._pending_prompt
        return ids, None, dict(fields)

    # ------------------------------------------------------------------ loss
    def _compute_loss(self, model, inputs):
        inputs = dict(inputs)
        pieces = {k: inputs.pop(k) for k in VIDEO_KEYS if k in inputs}
        self._active_video = merge_video_fields(pieces) if pieces else None
        try:
            return super()._compute_loss(model, inputs)
        finally:
            self._active_video = None

    def _get_per_token_logps_and_entropies(self, model, input_ids, attention_mask, logits_to_keep, batch_size=None,
                                           compute_entropy=False, compute_aux_loss=False, **kwargs):
        video = self._active_video
        if video is None:
            return super()._get_per_token_logps_and_entropies(
                model, input_ids, attention_mask, logits_to_keep, batch_size=batch_size,
                compute_entropy=compute_entropy, compute_aux_loss=compute_aux_loss, **kwargs)
        grid = video["video_grid_thw"]
        if grid.shape[0] != input_ids.shape[0]:
            raise RuntimeError(f"video batch mismatch: {grid.shape[0]} videos for {input_ids.shape[0]} sequences")
        rows = torch.cat([grid.new_zeros(1), grid.prod(-1).cumsum(0)]).tolist()
        mm_types = mm_token_type_ids(input_ids, self.processing_class)
        batch_size = batch_size or input_ids.size(0)
        all_logps, all_entropies, all_aux = [], [], []
        for start in range(0, input_ids.size(0), batch_size):
            end = min(start + batch_size, input_ids.size(0))
            ids = input_ids[start:end]
            model_inputs = {
                "input_ids": ids,
                "attention_mask": attention_mask[start:end],
                "mm_token_type_ids": mm_types[start:end],
                "pixel_values_videos": video["pixel_values_videos"][rows[start]:rows[end]],
                "video_grid_thw": grid[start:end],
            }
            if "second_per_grid_ts" in video:
                model_inputs["second_per_grid_ts"] = video["second_per_grid_ts"][start:end]
            if compute_aux_loss:
                model_inputs["output_router_logits"] = True
            labels = ids.masked_fill(attention_mask[start:end] == 0, -100)
            labels[:, :-logits_to_keep] = -100
            with self.accelerator.autocast():
                outputs = model(**model_inputs, labels=labels, fused_lm_head=True)
            all_logps.append(outputs.log_probs[:, -logits_to_keep:])
            if compute_entropy:
                all_entropies.append(outputs.entropy[:, -logits_to_keep:])
            if compute_aux_loss:
                all_aux.append(outputs.aux_loss)
        logps = torch.cat(all_logps, dim=0)
        entropies = torch.cat(all_entropies, dim=0) if compute_entropy else None
        aux = torch.stack(all_aux).mean() if compute_aux_loss else None
        return logps, entropies, aux
