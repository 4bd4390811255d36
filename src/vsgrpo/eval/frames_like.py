"""Frames as another harness samples them (``eval run --frames-like``).

- ``vsgrpo`` (default): ``--frames`` frames uniformly over the whole video, VSI-Bench's rule
  (:func:`vsgrpo.video.read_frames`), at the video's own size (the backend's processor then
  applies its pixel budget).
- ``lmms-eval``: as lmms-eval 0.7.3's ``qwen2_vl`` model (``lmms_eval/models/simple/qwen2_vl.py``)
  feeds a VSI-Bench video. It hands the video path to qwen-vl-utils' ``process_vision_info``,
  which reads the video at 2 fps (:func:`two_fps_indices`: ``total / fps * 2`` frames rounded
  down to an even number, at least 4, at most 768 and the frame count, placed by
  ``linspace(0, total - 1, n).round()``) and resizes every frame to one size
  (:func:`pixel_budget`, then Qwen's ``smart_resize`` with factor 28, bicubic with antialiasing);
  lmms-eval then keeps ``max_num_frames`` (``--frames``, its default 32) of those frames,
  ``unique(linspace(0, n - 1, max_num_frames, dtype=int))`` (:func:`lmms_eval_indices`).
  Its defaults are ``max_pixels=602112``, ``min_pixels=3136``; qwen-vl-utils further caps a
  frame at ``total_pixels / n * 2`` with ``total_pixels = 24576 * 28 * 28`` (``n``: the 2 fps
  frame count), so a long video gets smaller frames.

The prompt is the same in both (``--style bench --mode vanilla`` is VSI-Bench's, which lmms-eval's
``vsibench_doc_to_text`` also builds), as is greedy decoding.
"""

from __future__ import annotations

import math
import os

import numpy as np

LIKES = ("vsgrpo", "lmms-eval")

# lmms-eval 0.7.3 qwen2_vl defaults and qwen-vl-utils' video constants.
LMMS_MAX_PIXELS, LMMS_MIN_PIXELS = 602112, 3136
FPS, FRAME_FACTOR, FPS_MIN_FRAMES, FPS_MAX_FRAMES = 2.0, 2, 4, 768
IMAGE_FACTOR = 28
VIDEO_MAX_PIXELS = 768 * 28 * 28
VIDEO_TOTAL_PIXELS = 24576 * 28 * 28


def two_fps_indices(total_frames: int, video_fps: float) -> np.ndarray:
    """The frames qwen-vl-utils reads from a video of ``total_frames`` at ``video_fps`` (2 fps)."""
    n = total_frames / video_fps * FPS
    lo = math.ceil(FPS_MIN_FRAMES / FRAME_FACTOR) * FRAME_FACTOR
    hi = math.floor(min(FPS_MAX_FRAMES, total_frames) / FRAME_FACTOR) * FRAME_FACTOR
    n = min(min(max(n, lo), hi), total_frames)
    n = math.floor(n / FRAME_FACTOR) * FRAME_FACTOR
    if not FRAME_FACTOR <= n <= total_frames:
        raise ValueError(f"a video of {total_frames} frames is too short to sample at {FPS:g} fps")
    import torch

    # torch's float32 linspace, rounded, exactly as qwen-vl-utils places them
    return torch.linspace(0, total_frames - 1, int(n)).round().long().numpy()


def lmms_eval_indices(total_frames: int, video_fps: float, max_num_frames: int) -> np.ndarray:
    """The frames (indices into the whole video) lmms-eval's qwen2_vl model gives the model."""
    read = two_fps_indices(total_frames, video_fps)
    keep = np.unique(np.linspace(0, len(read) - 1, max_num_frames, dtype=int, endpoint=True))
    return read[keep]


def pixel_budget(total_frames: int, video_fps: float) -> tuple[int, float]:
    """``(min_pixels, max_pixels)`` per frame for that video: lmms-eval's settings, capped by
    qwen-vl-utils' total budget over the 2 fps frames."""
    n = len(two_fps_indices(total_frames, video_fps))
    cap = max(min(VIDEO_MAX_PIXELS, VIDEO_TOTAL_PIXELS / n * FRAME_FACTOR), int(LMMS_MIN_PIXELS * 1.05))
    return LMMS_MIN_PIXELS, min(LMMS_MAX_PIXELS, cap)


def read_frames_like_lmms_eval(path: str | os.PathLike, max_num_frames: int) -> tuple[np.ndarray, float]:
    """``(frames, sampled fps)`` as lmms-eval's qwen2_vl model samples and sizes them (uint8, T x H x W x 3)."""
    import torch
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms.functional import resize
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

    from ..video import read_frames_at

    budget: dict = {}

    def choose(total: int, rate: float) -> np.ndarray:
        budget["pixels"] = pixel_budget(total, rate)
        return lmms_eval_indices(total, rate, max_num_frames)

    frames, fps = read_frames_at(path, choose)
    min_pixels, max_pixels = budget["pixels"]
    h, w = frames.shape[1:3]
    rh, rw = smart_resize(h, w, factor=IMAGE_FACTOR, min_pixels=min_pixels, max_pixels=max_pixels)
    video = torch.from_numpy(frames).permute(0, 3, 1, 2)
    # qwen-vl-utils resizes the float frames (bicubic, antialiased) and hands them on unclipped;
    # frames here are uint8 like every backend's input, so the values are rounded and clipped.
    video = resize(video.float(), [rh, rw], interpolation=InterpolationMode.BICUBIC, antialias=True)
    out = video.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    return np.ascontiguousarray(out), fps
