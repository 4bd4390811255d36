"""``VideoGRPOTrainer``: TRL 1.16's GRPOTrainer with real video in every pass.

Stock TRL hands a video to ``generate()`` at best and then silently drops it from the
policy, old-policy and reference log-prob passes (training then runs on placeholder tokens).
This subclass does one thing: carry the video tensors of each sample through. Prompt text,
rewards and data stay outside (:mod:`vsgrpo.train.data`, :mod:`vsgrpo.rewards`).

What a model family needs (visual tensor keys, per-sample slicing, per-token inputs such as
Qwen's ``mm_token_type_ids``) comes from its adapter, :class:`~vsgrpo.models.families.VideoFamily`
(detected from the model, or passed as ``family=``); nothing here names a family.

How (TRL 1.16 private methods, hence the exact pin in pyproject.toml):

- ``_generate_and_score_completions``: decodes the batch's videos, encodes prompts with
  :func:`vsgrpo.models.inputs.encode_prompts` (the same code evaluation uses), and makes their
  per-sample visual pieces (``family.split_video``) the *active video* while TRL generates and
  runs the old/reference passes; then attaches the pieces to the output as per-sample lists, so
  TRL's shuffle/split of the generation batch moves them together with ``prompt_ids``.
- ``_tokenize_prompts``: returns those prompt ids, per-token inputs and visual tensors to TRL's
  generation.
- ``_compute_loss``: makes the micro-batch's pieces the active video for the policy pass.
- ``_get_per_token_logps_and_entropies``: when a video is active, runs the forward in chunks,
  each with ``family.merge_video`` of its samples' pieces and ``family.token_inputs`` computed
  from the full (prompt + completion) ids.
"""

from __future__ import annotations

from typing import Any

import torch
from trl import GRPOTrainer

from ..models.families import VideoFamily, family_of
from ..models.inputs import encode_prompts


class VideoGRPOTrainer(GRPOTrainer):
    """GRPO whose dataset rows carry ``prompt`` (text) and ``video`` (path); see the module doc."""

    def __init__(self, *args, video_loader, family: VideoFamily | str | None = None,
                 drop_zero_std_groups: bool = False, **kwargs):
        self.video_loader = video_loader
        self.drop_zero_std_groups = drop_zero_std_groups
        self.family = family_of(family if family is not None else kwargs.get("model", args[0] if args else None))
        self._active_video: dict[str, list] | None = None  # per-sample visual pieces
        self._pending_prompt: tuple[list[list[int]], dict[str, Any]] | None = None
        super().__init__(*args, **kwargs)

    # ------------------------------------------------------------------ generation batch
    def _encode_batch(self, inputs: list[dict]):
        videos, fps = zip(*(self.video_loader(x["video"]) for x in inputs))
        return encode_prompts(self.processing_class, [x["prompt"] for x in inputs], list(videos), list(fps),
                              family=self.family)

    def _generate_and_score_completions(self, inputs):
        batch = self._encode_batch(inputs)
        device = self.accelerator.device
        mask = batch["attention_mask"].bool()
        ids = [row[m].tolist() for row, m in zip(batch["input_ids"], mask)]
        per_token = {k: [row[m].tolist() for row, m in zip(v, mask)]
                     for k, v in self.family.token_inputs(batch["input_ids"], self.processing_class).items()}
        video = {k: batch[k].to(device) for k in self.family.video_keys if k in batch}
        pieces = self.family.split_video(video, len(inputs))
        self._pending_prompt = (ids, {**video, **per_token})
        self._active_video = pieces
        rollout = self.vllm_generation if self.use_vllm else None  # vsgrpo.train.vllm_rollout (use_vllm)
        if rollout is not None:
            rollout.prepare(inputs, ids)
        try:
            output = super()._generate_and_score_completions(inputs)
            if rollout is not None:
                rollout.log_gap(output)  # inside: the batch's video is still active for a log-prob pass
        finally:
            self._pending_prompt = None
            self._active_video = None
        output.update(pieces)
        return output

    def _tokenize_prompts(self, prompts: list):
        if self._pending_prompt is None:  # not reached through our batch path (should not happen)
            raise RuntimeError("VideoGRPOTrainer: prompts must come from _generate_and_score_completions")
        ids, fields = self._pending_prompt
        return ids, None, dict(fields)

    # ------------------------------------------------------------------ loss
    def _compute_loss(self, model, inputs):
        inputs = dict(inputs)
        pieces = {k: inputs.pop(k) for k in self.family.video_keys if k in inputs}
        self._active_video = pieces or None
        try:
            return super()._compute_loss(model, inputs)
        finally:
            self._active_video = None

    def _get_per_token_logps_and_entropies(self, model, input_ids, attention_mask, logits_to_keep, batch_size=None,
                                           compute_entropy=False, compute_aux_loss=False, **kwargs):
        pieces = self._active_video
        if pieces is None:
            return super()._get_per_token_logps_and_entropies(
                model, input_ids, attention_mask, logits_to_keep, batch_size=batch_size,
                compute_entropy=compute_entropy, compute_aux_loss=compute_aux_loss, **kwargs)
        n_videos = {len(v) for v in pieces.values()}
        if n_videos != {input_ids.shape[0]}:
            raise RuntimeError(f"video batch mismatch: {sorted(n_videos)} videos for {input_ids.shape[0]} sequences")
        per_token = self.family.token_inputs(input_ids, self.processing_class)
        batch_size = batch_size or input_ids.size(0)
        all_logps, all_entropies, all_aux = [], [], []
        for start in range(0, input_ids.size(0), batch_size):
            end = min(start + batch_size, input_ids.size(0))
            ids = input_ids[start:end]
            model_inputs = {"input_ids": ids, "attention_mask": attention_mask[start:end],
                            **{k: v[start:end] for k, v in per_token.items()},
                            **self.family.merge_video({k: v[start:end] for k, v in pieces.items()})}
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
