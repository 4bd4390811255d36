"""The one way to turn (prompt text, decoded video frames) into model inputs, for any family.

Used by training (GRPO generation and log-prob passes, SFT, DPO) and by the ``hf`` evaluation
backend, so a model is trained and scored on byte-identical inputs. What differs between model
families (processor calls, visual tensor keys, per-token inputs, tokens to suppress) lives in
one adapter per family (:mod:`vsgrpo.models.families`); the functions here find the adapter
from the processor (or take ``family=``) and delegate.

Why per-sample processing: the processors accept one ``fps`` per call and Qwen2.5-VL / Qwen3-VL
need each video's sampled rate (temporal position ids, frame timestamps). The adapter calls the
processor once per sample and pads the token tensors itself (left padding by default, as
generation needs); the visual tensors are concatenated in sample order, exactly as a batched
processor call lays them out.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .families import VideoFamily, family_of


def user_message(prompt_text: str, *, with_video: bool = True) -> list[dict]:
    """Chat messages for one question: a user turn with a video part then the prompt text.

    Only ``type`` decides what a part is (our chat templates switch on it), so extra keys a
    datasets round-trip adds (``video: None``) are harmless.
    """
    content: list[dict] = [{"type": "video"}] if with_video else []
    content.append({"type": "text", "text": prompt_text})
    return [{"role": "user", "content": content}]


def _clean_messages(messages: Sequence[dict]) -> list[dict]:
    """Drop keys other than type/text from each part (defends custom templates that test key presence)."""
    out = []
    for m in messages:
        content = m["content"]
        if isinstance(content, list):
            content = [{k: v for k, v in part.items() if k in ("type", "text") and v is not None} for part in content]
        out.append({"role": m["role"], "content": content})
    return out


def render_prompt(processor, messages: Sequence[dict], *, add_generation_prompt: bool = True) -> str:
    """Chat-template text (not yet tokenised) with the family's video placeholder once per video part."""
    return processor.apply_chat_template(_clean_messages(messages), add_generation_prompt=add_generation_prompt,
                                         tokenize=False)


def encode(processor, texts: Sequence[str], videos: Sequence[np.ndarray | None], fps: Sequence[float | None], *,
           padding_side: str = "left", family: VideoFamily | str | None = None):
    """Tokenise ``texts`` (each with zero or one video placeholder) with their decoded ``videos``.

    ``videos[i]`` is uint8 (T, H, W, 3) or ``None`` (text-only sample); ``fps[i]`` its sampled
    rate. Returns a ``BatchFeature`` with ``input_ids``, ``attention_mask``, the family's
    per-token inputs (Qwen: ``mm_token_type_ids``) and, where there is video, its visual tensors
    (``family.video_keys``; Qwen: ``pixel_values_videos``, ``video_grid_thw``, Qwen2.5-VL also
    ``second_per_grid_ts``; LLaVA-OneVision: ``pixel_values_videos``).
    """
    fam = family_of(family if family is not None else processor)
    return fam.encode(processor, texts, videos, fps, padding_side=padding_side)


def encode_prompts(processor, prompt_texts: Sequence[str], videos: Sequence[np.ndarray | None],
                   fps: Sequence[float | None], *, family: VideoFamily | str | None = None):
    """Generation inputs for questions: chat template (user turn with video + text) then :func:`encode`.

    A ``None`` video (a blind evaluation) gives a text-only user turn with the same prompt text.
    """
    texts = [render_prompt(processor, user_message(p, with_video=v is not None)) for p, v in zip(prompt_texts, videos)]
    return encode(processor, texts, videos, fps, padding_side="left", family=family)


def vision_token_ids(processor, family: VideoFamily | str | None = None) -> list[int]:
    """Ids of the family's vision placeholder tokens, to pass as ``suppress_tokens`` during generation."""
    return family_of(family if family is not None else processor).suppress_token_ids(processor)
