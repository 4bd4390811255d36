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

Each video's work once per question (``share_video_work``, default on): a generation batch holds
every question G times; the processor runs once per unique (video, prompt) and the G samples
share references to its tensors. When the vision tower is frozen (LoRA on the language model)
and the family's embeddings are reusable (``family.reusable_video_embeddings``: Qwen2-VL,
Qwen2.5-VL), the tower runs once per unique video without gradient; its embeddings reach
``generate()`` (through ``get_video_features``, shadowed for the call) and every log-prob pass
(as ``mm_encoder_outputs``), so no pass re-encodes pixels and no gradient flows into the frozen
tower (TRL's ``enable_input_require_grads`` would otherwise make the loss pass back-propagate
through it under LoRA + gradient checkpointing).

Group filtering (``drop_zero_std_groups``): samples whose group's rewards are all equal carry
no policy-gradient signal; they are left out of the loss pass (``groups/dropped_frac`` logged).
"""

from __future__ import annotations

from typing import Any

import torch
from trl import GRPOTrainer

from ..models.families import VideoFamily, family_of
from ..models.inputs import encode_prompts

# Per-sample piece holding the frozen vision tower's output for a sample's video (shared by its G generations).
EMBEDS_KEY = "video_embeds"


class VideoGRPOTrainer(GRPOTrainer):
    """GRPO whose dataset rows carry ``prompt`` (text) and ``video`` (path); see the module doc.

    ``share_video_work`` (default on): the processor runs once per unique (video, prompt) of a
    generation batch (not once per generation) and, when the vision tower is frozen (LoRA on the
    language model) and the family allows it, the vision tower runs once per unique video: its
    embeddings (no gradient) feed generation and the old-policy, reference and loss passes of
    all G generations. Off: every generation row is processed and encoded on its own (the path
    before issue 12, kept for benchmarks).
    ``drop_zero_std_groups``: groups whose rewards are all equal are left out of the loss pass.
    """

    def __init__(self, *args, video_loader, family: VideoFamily | str | None = None,
                 drop_zero_std_groups: bool = False, share_video_work: bool = True, **kwargs):
        self.video_loader = video_loader
        self.drop_zero_std_groups = drop_zero_std_groups
        self.share_video_work = share_video_work
        self.family = family_of(family if family is not None else kwargs.get("model", args[0] if args else None))
        self._active_video: dict[str, list] | None = None  # per-sample visual pieces
        self._pending_prompt: tuple[list[list[int]], dict[str, Any]] | None = None
        self._gen_embeds: list | None = None
        self._last_rewards = None
        super().__init__(*args, **kwargs)
        if self.ref_model is not None:  # TRL loads it itself (full fine-tuning with beta > 0)
            self.family.prepare_model(self.ref_model)
        self._unhook_frozen_tower()

    def _unhook_frozen_tower(self) -> None:
        """Undo ``enable_input_require_grads`` inside a frozen vision tower.

        Under LoRA + gradient checkpointing TRL calls ``model.enable_input_require_grads()``, which
        hooks every input-embedding layer, the vision patch embedding included: the loss pass then
        builds a graph through the whole frozen tower and back-propagates through it for nothing (no
        parameter there trains; the language model's inputs still require grad through the text
        embeddings). Removing the hook inside a frozen tower stops that (with ``share_video_work``, also
        for families whose embeddings are not reused, e.g. Qwen3-VL). Called after
        construction and before every log-prob pass: re-enabling gradient checkpointing (after each
        generation, at ``train()``) re-applies the hook.
        """
        if not self.share_video_work:  # the path before issue 12, kept as it was for comparison
            return
        try:
            tower = self.family.vision_tower(self._hf_model())
        except AttributeError:
            return
        if tower is None or any(p.requires_grad for p in tower.parameters()):
            return
        for module in tower.modules():
            for key, fn in list(module._forward_hooks.items()):
                if getattr(fn, "__name__", "") == "make_inputs_require_grads":
                    del module._forward_hooks[key]

    # ------------------------------------------------------------------ shared vision work
    def _hf_model(self):
        model = self.accelerator.unwrap_model(self.model)
        return model.get_base_model() if hasattr(model, "get_base_model") else model

    def shares_vision(self) -> bool:
        """Whether this run encodes each unique video once and reuses the embeddings in every pass."""
        if not self.share_video_work or not self.family.reusable_video_embeddings or self.ref_model is not None:
            return False
        hf = self._hf_model()
        inner = getattr(hf, "base_model", None)
        tower = self.family.vision_tower(hf)
        if tower is None or not hasattr(inner, "get_video_features") or not hf._supports_mm_encoder_outputs():
            return False
        return not any(p.requires_grad for p in tower.parameters())

    def _encode_unique_videos(self, video: dict) -> list:
        """Per-video embeddings of the (unique) videos of a batch, without gradient."""
        inner = self._hf_model().base_model
        with torch.no_grad(), self.accelerator.autocast():
            out = inner.get_video_features(pixel_values_videos=video["pixel_values_videos"],
                                           video_grid_thw=video["video_grid_thw"], return_dict=True)
        return [e.detach() for e in out.pooler_output]

    # ------------------------------------------------------------------ generation batch
    def _encode_batch(self, inputs: list[dict]):
        videos, fps = zip(*(self.video_loader(x["video"]) for x in inputs))
        return encode_prompts(self.processing_class, [x["prompt"] for x in inputs], list(videos), list(fps),
                              family=self.family)

    def _generate_and_score_completions(self, inputs):
        device = self.accelerator.device
        index, unique, seen = [], [], {}
        for x in inputs:
            key = (x["video"], x["prompt"]) if self.share_video_work else len(unique)
            if key not in seen:
                seen[key] = len(unique)
                unique.append(x)
            index.append(seen[key])
        batch = self._encode_batch(unique)  # one processor call per unique (video, prompt)
        mask = batch["attention_mask"].bool()
        ids_u = [row[m].tolist() for row, m in zip(batch["input_ids"], mask)]
        per_token_u = {k: [row[m].tolist() for row, m in zip(v, mask)]
                       for k, v in self.family.token_inputs(batch["input_ids"], self.processing_class).items()}
        video_u = {k: batch[k].to(device) for k in self.family.video_keys if k in batch}
        pieces_u = self.family.split_video(video_u, len(unique))
        ids = [ids_u[j] for j in index]
        per_token = {k: [v[j] for j in index] for k, v in per_token_u.items()}
        pieces = {k: [v[j] for j in index] for k, v in pieces_u.items()}  # shared references, no copies
        gen_fields = dict(per_token)
        if self.shares_vision():
            embeds_u = self._encode_unique_videos(video_u)
            pieces = {k: v for k, v in pieces.items() if k != "pixel_values_videos"}
            pieces[EMBEDS_KEY] = [embeds_u[j] for j in index]
            merged = self.family.merge_video({k: v for k, v in pieces.items() if k != EMBEDS_KEY})
            # generate() asks get_video_features for the embeddings (see _generate_single_turn); the pixel tensor
            # it is handed is only a marker.
            gen_fields.update(merged, pixel_values_videos=torch.zeros(len(inputs), 1, device=device))
            self._gen_embeds = pieces[EMBEDS_KEY]
        else:
            gen_fields.update(self.family.merge_video(pieces))
        self._pending_prompt = (ids, gen_fields)
        self._active_video = pieces
        rollout = self.vllm_generation if self.use_vllm else None  # use_vllm: vsgrpo.train.vllm_rollout
        if rollout is not None:
            rollout.prepare(inputs, ids)  # the same rows, frames and prompt ids go to vLLM
        try:
            output = super()._generate_and_score_completions(inputs)
            if rollout is not None:
                rollout.log_gap(output)  # vLLM-vs-policy log-prob gap (video still active for a pass)
        finally:
            self._pending_prompt = None
            self._active_video = None
            self._gen_embeds = None
        output.update(pieces)
        if self.drop_zero_std_groups:
            output["keep"] = self._keep_mask(len(inputs), device)
        return output

    def _generate_single_turn(self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False):
        embeds = self._gen_embeds
        if embeds is None:
            return super()._generate_single_turn(prompt_ids, images, multimodal_fields, num_generations,
                                                 has_tool_images)
        from transformers.modeling_outputs import BaseModelOutputWithPooling

        inner = self._hf_model().base_model

        def cached_video_features(pixel_values_videos=None, video_grid_thw=None, **kwargs):
            return BaseModelOutputWithPooling(pooler_output=tuple(embeds))

        inner.get_video_features = cached_video_features  # instance attribute: shadows the method for generate()
        try:
            return super()._generate_single_turn(prompt_ids, images, multimodal_fields, num_generations,
                                                 has_tool_images)
        finally:
            del inner.get_video_features

    # ------------------------------------------------------------------ group filtering
    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self._last_rewards = rewards
        return rewards

    def _keep_mask(self, n_local: int, device) -> torch.Tensor:
        """Local samples whose group's (weighted) rewards are not all equal; logs the fraction of groups dropped."""
        rewards = (self._last_rewards * self.reward_weights.to(self._last_rewards.device).unsqueeze(0)).nansum(dim=1)
        grouped = rewards.view(-1, self.num_generations)
        flat = (grouped.max(dim=1).values - grouped.min(dim=1).values).abs() <= 1e-6
        self._metrics["train"]["groups/dropped_frac"].append(flat.float().mean().item())
        keep = (~flat).repeat_interleave(self.num_generations)
        i = self.accelerator.process_index
        return keep[i * n_local:(i + 1) * n_local].to(device)

    def _tokenize_prompts(self, prompts: list):
        if self._pending_prompt is None:  # not reached through our batch path (should not happen)
            raise RuntimeError("VideoGRPOTrainer: prompts must come from _generate_and_score_completions")
        ids, fields = self._pending_prompt
        return ids, None, dict(fields)

    # ------------------------------------------------------------------ loss
    def _compute_loss(self, model, inputs):
        inputs = dict(inputs)
        keep = inputs.pop("keep", None)
        scale = 1.0
        if keep is not None and not bool(keep.all()):
            rows = keep.nonzero().flatten().tolist()
            if not rows:  # nothing to learn from: one row through the usual forward (DDP), loss times 0
                rows, scale = [0], 0.0
            inputs = _select_rows(inputs, rows, keep.shape[0])
        pieces = {k: inputs.pop(k) for k in (*self.family.video_keys, EMBEDS_KEY) if k in inputs}
        self._active_video = pieces or None
        try:
            loss = super()._compute_loss(model, inputs)
        finally:
            self._active_video = None
        return loss * scale if scale != 1.0 else loss

    def _get_per_token_logps_and_entropies(self, model, input_ids, attention_mask, logits_to_keep, batch_size=None,
                                           compute_entropy=False, compute_aux_loss=False, pixel_values=None,
                                           image_grid_thw=None, num_images=None, pixel_attention_mask=None,
                                           spatial_shapes=None, num_tiles=None, image_sizes=None, token_type_ids=None,
                                           mm_token_type_ids=None, image_position_ids=None):
        # TRL 1.16's exact signature (tests/test_trl_overrides.py): TRL's image inputs, passed on unchanged when
        # no video is active; with a video, the family's inputs replace them.
        self._unhook_frozen_tower()  # generation re-enables gradient checkpointing, which re-applies the hook
        pieces = self._active_video
        if pieces is None:
            return super()._get_per_token_logps_and_entropies(
                model, input_ids, attention_mask, logits_to_keep, batch_size=batch_size,
                compute_entropy=compute_entropy, compute_aux_loss=compute_aux_loss, pixel_values=pixel_values,
                image_grid_thw=image_grid_thw, num_images=num_images, pixel_attention_mask=pixel_attention_mask,
                spatial_shapes=spatial_shapes, num_tiles=num_tiles, image_sizes=image_sizes,
                token_type_ids=token_type_ids, mm_token_type_ids=mm_token_type_ids,
                image_position_ids=image_position_ids)
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
                            **self.family.merge_video({k: v[start:end] for k, v in pieces.items()
                                                       if k != EMBEDS_KEY})}
            if EMBEDS_KEY in pieces:  # the frozen tower's output, computed once per unique video
                from transformers.modeling_outputs import BaseModelOutputWithPooling

                model_inputs["mm_encoder_outputs"] = {
                    "video": BaseModelOutputWithPooling(pooler_output=tuple(pieces[EMBEDS_KEY][start:end]))}
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


def _select_rows(inputs: dict, rows: list[int], n: int) -> dict:
    """The samples ``rows`` of a micro-batch: tensors and lists with ``n`` leading entries are indexed."""
    out = {}
    index = None
    for k, v in inputs.items():
        if isinstance(v, torch.Tensor) and v.dim() > 0 and v.shape[0] == n:
            if index is None or index.device != v.device:
                index = torch.tensor(rows, device=v.device)
            out[k] = v.index_select(0, index)
        elif isinstance(v, list) and len(v) == n:
            out[k] = [v[i] for i in rows]
        else:
            out[k] = v
    return out
