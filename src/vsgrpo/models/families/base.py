"""``VideoFamily``: everything vsgrpo needs to know about one Hugging Face video-LM family.

Training (GRPO generation and log-prob passes, SFT, DPO), the ``hf`` evaluation backend, the
LoRA setup and the tiny-model factory call only these methods, so a new family is one module
in this package that defines a subclass and an instance named ``FAMILY`` (the registry in
:mod:`vsgrpo.models.families` finds it). A family says:

- what it is: ``name``, the ``model_types`` (``config.model_type``) and ``processor_classes``
  it serves (detection from a config, a model, a processor or a model folder);
- how to build a tiny random model: :meth:`tiny_config`, :meth:`tiny_processor`,
  ``model_class``, ``tiny_special_tokens``, ``chat_template``;
- how to encode (text, frames, fps) to model inputs: :meth:`encode` (per-sample processor
  calls, padded token tensors, visual tensors concatenated in sample order), and what a
  per-frame pixel budget means for it (:meth:`set_pixel_budget`);
- which inputs are per-token and derived from the ids (:meth:`token_inputs`, e.g. Qwen's
  ``mm_token_type_ids``), so completions appended after generation are covered;
- which keys are visual tensors (``video_keys``) and how to cut a batch's visual tensors into
  per-sample pieces (:meth:`split_video`) and join any subset back (:meth:`merge_video`), which
  is what chunked log-prob passes and TRL's shuffle/split of a generation batch need;
- which tokens must never be generated (``suppress_tokens``) and which token ends a turn
  (``end_of_turn``, supervised after SFT/DPO answers);
- what a loaded model needs to match the released checkpoints' conventions (:meth:`prepare_model`,
  e.g. Qwen2/2.5-VL's rotary positions after a video);
- where LoRA goes (:meth:`lora_target_regex`: the language model only, never the vision tower),
  where the vision tower is (:meth:`vision_tower`) and whether its per-video embeddings can be
  reused across passes (``reusable_video_embeddings``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from ...errors import VsgrpoError


class VideoFamily:
    name: ClassVar[str] = ""
    model_types: ClassVar[tuple[str, ...]] = ()
    processor_classes: ClassVar[tuple[str, ...]] = ()
    video_keys: ClassVar[tuple[str, ...]] = ("pixel_values_videos",)
    suppress_tokens: ClassVar[tuple[str, ...]] = ()
    end_of_turn: ClassVar[str] = "<|im_end|>"
    # Special tokens of the tiny tokenizers; the first is their bos/pad token, ``end_of_turn`` must be one.
    tiny_special_tokens: ClassVar[tuple[str, ...]] = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
    chat_template: ClassVar[str] = ""
    # Regex of the language model's module paths; LoRA targets are restricted to it.
    language_model_pattern: ClassVar[str] = r".*language_model.*"
    # Whether per-video embeddings of a frozen vision tower can be fed back to the model (as
    # ``mm_encoder_outputs``), so GRPO encodes each unique video once for all its generations.
    reusable_video_embeddings: ClassVar[bool] = False
    # Attribute of the inner model (``model.model``) that holds the vision tower.
    vision_tower_attr: ClassVar[str] = "vision_tower"

    # ------------------------------------------------------------------ detection
    def matches(self, model_type: str | None = None, processor_class: str | None = None) -> bool:
        return (model_type is not None and model_type in self.model_types) or (
            processor_class is not None and processor_class in self.processor_classes)

    # ------------------------------------------------------------------ tiny models
    @property
    def model_class(self):
        raise NotImplementedError

    def tiny_config(self, tokenizer, size: dict):
        """A config with tiny sizes for ``tokenizer`` (``size`` overrides hidden_size, layers, ...)."""
        raise NotImplementedError

    def tiny_processor(self, tokenizer):
        raise NotImplementedError

    def token_id(self, tokenizer, token: str) -> int:
        i = tokenizer.convert_tokens_to_ids(token)
        if i is None or i == getattr(tokenizer, "unk_token_id", None):
            raise VsgrpoError(f"{self.name}: tokenizer has no {token!r} token")
        return int(i)

    # ------------------------------------------------------------------ inputs
    def set_pixel_budget(self, processor, *, min_pixels: int | None = None, max_pixels: int | None = None) -> None:
        """Per-frame pixel range. Default: the family has none (its vision tower takes a fixed size)."""
        raise VsgrpoError(f"{self.name} resizes every frame to its vision tower's fixed input size; "
                          "min_pixels/max_pixels do not apply: leave them unset (train: delete them from the "
                          "recipe or override with min_pixels=null max_pixels=null; eval run: omit --min-pixels/"
                          "--max-pixels)")

    def prepare_frames(self, frames: np.ndarray) -> np.ndarray:
        """Frames as this family's processor wants them (after the uint8 (T, H, W, 3) check)."""
        return frames

    def processor_call(self, processor, text: str, frames: np.ndarray | None, fps: float | None) -> dict:
        """One sample through the processor: a dict of (1, ...) tensors."""
        if frames is None:
            return dict(processor(text=[text], return_tensors="pt"))
        # The frames are already sampled (vsgrpo.video.read_frames); the processor must not sample again.
        return dict(processor(text=[text], videos=[frames], return_tensors="pt",
                              videos_kwargs={"do_sample_frames": False}))

    def encode(self, processor, texts: Sequence[str], videos: Sequence[np.ndarray | None],
               fps: Sequence[float | None], *, padding_side: str = "left"):
        """Tokenise ``texts`` (each with zero or one video placeholder) with their decoded ``videos``.

        Per-sample processor calls (each with its own fps), token tensors padded here (left by
        default, as generation needs), per-token inputs from :meth:`token_inputs`, and the visual
        tensors joined by :meth:`merge_video` in sample order. Returns a ``BatchFeature``.
        """
        import torch
        from transformers import BatchFeature

        if not (len(texts) == len(videos) == len(fps)):
            raise VsgrpoError("encode(): texts, videos and fps must have the same length")
        rows: list[dict[str, Any]] = []
        for text, video, rate in zip(texts, videos, fps):
            frames = None if video is None else self.prepare_frames(check_frames(video))
            rows.append(self.processor_call(processor, text, frames, rate))
        tok = processor.tokenizer
        pad_id = tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)
        width = max(r["input_ids"].shape[1] for r in rows)

        def pad(t, value):
            filler = torch.full((1, width - t.shape[1]), value, dtype=t.dtype)
            return torch.cat([filler, t] if padding_side == "left" else [t, filler], dim=1)

        out: dict[str, Any] = {
            "input_ids": torch.cat([pad(r["input_ids"], pad_id) for r in rows]),
            "attention_mask": torch.cat([pad(r["attention_mask"], 0) for r in rows]),
        }
        out.update(self.token_inputs(out["input_ids"], processor))
        pieces = {k: [r[k] for r in rows if k in r] for k in self.video_keys}
        out.update(self.merge_video(pieces))
        return BatchFeature(out)

    def token_inputs(self, input_ids, processor_or_config) -> dict:
        """Per-token model inputs computed from the ids (beyond ``attention_mask``); none by default."""
        return {}

    def split_video(self, batch, n: int) -> dict[str, list]:
        """Per-sample pieces of the visual tensors of a batch with one video per sample (n samples).

        Default: every visual tensor has one leading row per sample.
        """
        import torch

        out = {}
        for k in self.video_keys:
            if k in batch and batch[k] is not None:
                t = torch.as_tensor(batch[k])
                if t.shape[0] != n:
                    raise VsgrpoError(f"expected one video per sample: {n} samples but {k} has {t.shape[0]} rows")
                out[k] = list(torch.split(t, 1))
        return out

    def merge_video(self, pieces: dict[str, list]) -> dict:
        """Inverse of :meth:`split_video` for any (reordered) subset of per-sample pieces."""
        import torch

        out = {}
        for k, v in pieces.items():
            if v is None or not len(v):
                continue
            shapes = {tuple(t.shape[1:]) for t in v}
            if len(shapes) > 1:
                raise MixedVideoShapes(f"{self.name}: {k} of different shapes {sorted(shapes)} cannot share a batch "
                                  "(every video needs the same number of frames and frame size)")
            out[k] = torch.cat([torch.as_tensor(t) for t in v])
        return out

    # ------------------------------------------------------------------ generation and LoRA
    def suppress_token_ids(self, processor_or_tokenizer) -> list[int]:
        """Ids of :attr:`suppress_tokens` present in the tokenizer (for ``generate(suppress_tokens=...)``)."""
        tok = getattr(processor_or_tokenizer, "tokenizer", processor_or_tokenizer)
        unk = getattr(tok, "unk_token_id", None)
        ids = [tok.convert_tokens_to_ids(t) for t in self.suppress_tokens]
        return sorted({int(i) for i in ids if i is not None and i != unk})

    def prepare_model(self, model):
        """Make a loaded model instance behave as the family's released checkpoints were trained.

        Every place vsgrpo loads a model calls it (:func:`vsgrpo.models.loading.load_model_and_processor`,
        and the trainers for the reference models TRL builds itself); it must be idempotent. Default:
        nothing to change. Returns ``model``.
        """
        return model

    def vision_tower(self, model):
        """The vision encoder module of a (possibly peft-wrapped) model of this family."""
        inner = model.get_base_model() if hasattr(model, "get_base_model") else model
        inner = getattr(inner, "model", inner)
        return getattr(inner, self.vision_tower_attr)

    def lora_target_regex(self, module_names: Sequence[str]) -> str:
        """peft ``target_modules`` regex: these leaf names, inside the language model only."""
        return rf"{self.language_model_pattern}\.({'|'.join(module_names)})"

    def __repr__(self) -> str:
        return f"<video family {self.name}>"


class MixedVideoShapes(VsgrpoError):
    """Videos whose visual tensors cannot share one batch (e.g. different frame counts for a family
    with fixed-shape video tensors); callers may retry the samples one by one."""


def check_frames(frames) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise VsgrpoError(f"video frames must be uint8 (T, H, W, 3); got {frames.dtype} {tuple(frames.shape)}")
    return frames
