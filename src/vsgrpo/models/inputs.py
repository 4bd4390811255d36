"""The one way to turn (prompt text, decoded video frames) into Qwen-VL model inputs.

Used by training (GRPO generation and log-prob passes, SFT, DPO) and by the ``hf`` evaluation
backend, so a model is trained and scored on byte-identical inputs.

Why per-sample processing: the processors accept one ``fps`` per call and Qwen2.5-VL / Qwen3-VL
need each video's sampled rate (temporal position ids, frame timestamps). We call the processor
once per sample with that sample's :class:`~transformers.video_utils.VideoMetadata` and pad the
token tensors ourselves (left padding by default, as generation needs); the visual tensors are
concatenated in sample order, exactly as a batched processor call lays them out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import VsgrpoError

# Visual tensors a Qwen-VL forward pass needs for video, in the order the model takes them.
# ``second_per_grid_ts`` exists only for Qwen2.5-VL; the others for all three families.
VIDEO_KEYS = ("pixel_values_videos", "video_grid_thw", "second_per_grid_ts")

# Tokens that must never be generated: the model would emit placeholders with no pixels behind them.
VISION_TOKENS = ("<|vision_start|>", "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>")


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
    """Chat-template text (not yet tokenised) with one ``<|video_pad|>`` placeholder per video part."""
    return processor.apply_chat_template(_clean_messages(messages), add_generation_prompt=add_generation_prompt,
                                         tokenize=False)


def _metadata(frames: np.ndarray, fps: float):
    from transformers.video_utils import VideoMetadata

    n = int(frames.shape[0])
    return VideoMetadata(total_num_frames=n, fps=float(fps), frames_indices=list(range(n)),
                         height=int(frames.shape[1]), width=int(frames.shape[2]))


def _check_frames(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise VsgrpoError(f"video frames must be uint8 (T, H, W, 3); got {frames.dtype} {tuple(frames.shape)}")
    if frames.shape[0] % 2:
        # Qwen-VL merges frames in temporal pairs; repeat the last frame as the processors do.
        frames = np.concatenate([frames, frames[-1:]], axis=0)
    return frames


def encode(processor, texts: Sequence[str], videos: Sequence[np.ndarray | None], fps: Sequence[float | None], *,
           padding_side: str = "left"):
    """Tokenise ``texts`` (each with zero or one video placeholder) with their decoded ``videos``.

    ``videos[i]`` is uint8 (T, H, W, 3) or ``None`` (text-only sample); ``fps[i]`` its sampled
    rate. Returns a ``BatchFeature`` with ``input_ids``, ``attention_mask``, ``mm_token_type_ids``
    and, where there is video, ``pixel_values_videos``, ``video_grid_thw`` and (Qwen2.5-VL)
    ``second_per_grid_ts``.
    """
    import torch
    from transformers import BatchFeature

    if not (len(texts) == len(videos) == len(fps)):
        raise VsgrpoError("encode(): texts, videos and fps must have the same length")
    vp = getattr(processor, "video_processor", None)
    if vp is not None and getattr(vp, "cap_pixels_per_frame", False) is None:
        vp.cap_pixels_per_frame = False  # the recipe's max_pixels is the budget; no hidden second cap
    rows: list[dict[str, Any]] = []
    for text, video, rate in zip(texts, videos, fps):
        if video is None:
            enc = processor(text=[text], return_tensors="pt")
        else:
            video = _check_frames(video)
            enc = processor(text=[text], videos=[video], return_tensors="pt",
                            videos_kwargs={"video_metadata": [_metadata(video, rate or 1.0)],
                                           "do_sample_frames": False})
        rows.append(dict(enc))
    pad_id = processor.tokenizer.pad_token_id
    width = max(r["input_ids"].shape[1] for r in rows)

    def pad(t, value):
        extra = width - t.shape[1]
        filler = torch.full((1, extra), value, dtype=t.dtype)
        return torch.cat([filler, t] if padding_side == "left" else [t, filler], dim=1)

    out: dict[str, Any] = {
        "input_ids": torch.cat([pad(r["input_ids"], pad_id) for r in rows]),
        "attention_mask": torch.cat([pad(r["attention_mask"], 0) for r in rows]),
    }
    if all("mm_token_type_ids" in r for r in rows):
        out["mm_token_type_ids"] = torch.cat([pad(r["mm_token_type_ids"], 0) for r in rows])
    with_video = [r for r in rows if "pixel_values_videos" in r]
    if with_video:
        out["pixel_values_videos"] = torch.cat([r["pixel_values_videos"] for r in with_video])
        out["video_grid_thw"] = torch.cat([r["video_grid_thw"] for r in with_video])
        if "second_per_grid_ts" in with_video[0]:
            out["second_per_grid_ts"] = torch.cat([torch.as_tensor(r["second_per_grid_ts"], dtype=torch.float32)
                                                   for r in with_video])
    return BatchFeature(out)


def encode_prompts(processor, prompt_texts: Sequence[str], videos: Sequence[np.ndarray], fps: Sequence[float]):
    """Generation inputs for questions: chat template (user turn with video + text) then :func:`encode`."""
    texts = [render_prompt(processor, user_message(p)) for p in prompt_texts]
    return encode(processor, texts, videos, fps, padding_side="left")


def mm_token_type_ids(input_ids, processor_or_config):
    """Modality of each token (0 text, 1 image, 2 video), as the Qwen-VL M-RoPE needs it.

    Computed from the ids, so it also covers completions appended after generation.
    """
    image_id, video_id = _image_video_ids(processor_or_config)
    out = (input_ids == image_id).long()
    out[input_ids == video_id] = 2
    return out


def _image_video_ids(obj) -> tuple[int, int]:
    if hasattr(obj, "video_token_id") and hasattr(obj, "image_token_id"):
        return int(obj.image_token_id), int(obj.video_token_id)
    tok = getattr(obj, "tokenizer", obj)
    return int(tok.convert_tokens_to_ids("<|image_pad|>")), int(tok.convert_tokens_to_ids("<|video_pad|>"))


def vision_token_ids(processor_or_tokenizer) -> list[int]:
    """Ids of the vision placeholder tokens, to pass as ``suppress_tokens`` during generation."""
    tok = getattr(processor_or_tokenizer, "tokenizer", processor_or_tokenizer)
    unk = getattr(tok, "unk_token_id", None)
    ids = [tok.convert_tokens_to_ids(t) for t in VISION_TOKENS]
    return sorted({int(i) for i in ids if i is not None and i != unk})


def split_video_fields(batch, n: int) -> dict[str, list]:
    """Per-sample pieces of the video tensors of a batch with one video per sample (n samples).

    TRL shuffles and splits generation batches sample-wise; keeping video as per-sample lists
    lets it travel alongside ``prompt_ids`` untouched.
    """
    import torch

    grid = batch["video_grid_thw"]
    if grid.shape[0] != n:
        raise VsgrpoError(f"expected one video per sample: {n} samples but {grid.shape[0]} videos")
    rows = grid.prod(-1).tolist()
    out = {"pixel_values_videos": list(torch.split(batch["pixel_values_videos"], rows)),
           "video_grid_thw": list(torch.split(grid, 1))}
    if "second_per_grid_ts" in batch:
        out["second_per_grid_ts"] = list(torch.split(torch.as_tensor(batch["second_per_grid_ts"]), 1))
    return out


def merge_video_fields(fields: dict[str, list]) -> dict:
    """Inverse of :func:`split_video_fields` for a (possibly reordered) subset of samples."""
    import torch

    return {k: torch.cat(v) for k, v in fields.items() if v is not None and len(v)}
