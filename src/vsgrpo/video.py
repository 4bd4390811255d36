"""Video decode (uniform frame sampling) and encode, with PyAV.

transformers reads a video *path* only through torchcodec, which needs system FFmpeg; we decode
with PyAV (self-contained wheels) and hand models decoded frames instead.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import numpy as np

from .errors import VsgrpoError


class VideoError(VsgrpoError):
    """A video that is missing, unreadable or empty."""


def uniform_indices(n_total: int, n_sample: int) -> np.ndarray:
    """Indices of ``n_sample`` frames spread uniformly over ``n_total`` (VSI-Bench's sampling:
    ``linspace(0, n_total - 1, n_sample)`` rounded down). Fewer frames than asked: all of them."""
    if n_total <= 0:
        return np.zeros(0, dtype=int)
    if n_sample >= n_total:
        return np.arange(n_total)
    return np.linspace(0, n_total - 1, n_sample).astype(int)


def read_frames(path: str | os.PathLike, num_frames: int) -> tuple[np.ndarray, float]:
    """Decode ``num_frames`` uniformly sampled RGB frames.

    Returns ``(frames, fps)`` with frames uint8 of shape (T, H, W, 3). ``fps`` is the
    *sampled* rate (frames per second of video time), which Qwen2.5-VL needs for its temporal
    position ids.
    """
    path = Path(path)
    if not path.is_file():
        raise VideoError(f"video not found: {path}")
    n_header, rate = _probe(path)
    wanted = uniform_indices(n_header, num_frames) if n_header > 0 else None
    kept, n_decoded = _decode(path, None if wanted is None else set(wanted.tolist()))
    if wanted is not None and n_decoded != n_header:
        # The header's frame count was wrong (truncated or variable-rate file): decode everything.
        kept, n_decoded = _decode(path, None)
    if not kept:
        raise VideoError(f"video has no frames: {path}")
    idx = uniform_indices(n_decoded, num_frames)
    duration = n_decoded / rate
    sampled_fps = len(idx) / duration if duration > 0 else rate
    return np.stack([kept[i] for i in idx]), sampled_fps


def read_frames_at(path: str | os.PathLike, choose) -> tuple[np.ndarray, float]:
    """Decode the RGB frames ``choose(frame count, frame rate)`` picks (an index array).

    Like :func:`read_frames` with another sampling rule (e.g. another harness's, see
    :mod:`vsgrpo.eval.frames_like`); returns ``(frames, sampled fps)``.
    """
    path = Path(path)
    if not path.is_file():
        raise VideoError(f"video not found: {path}")

    def pick(n: int) -> np.ndarray:
        try:
            return np.asarray(choose(n, rate), dtype=np.int64)
        except ValueError as e:
            raise VideoError(f"{path}: {e}") from None

    n_header, rate = _probe(path)
    kept, n_decoded = _decode(path, set(pick(n_header).tolist()) if n_header > 0 else None)
    if n_header > 0 and n_decoded != n_header:
        # The header's frame count was wrong (truncated or variable-rate file): decode everything.
        kept, n_decoded = _decode(path, None)
    if not kept:
        raise VideoError(f"video has no frames: {path}")
    idx = pick(n_decoded)
    duration = n_decoded / rate
    return np.stack([kept[int(i)] for i in idx]), (len(idx) / duration if duration > 0 else rate)


def _probe(path: Path) -> tuple[int, float]:
    """(frame count from the header or 0, frame rate)."""
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            rate = float(stream.average_rate or stream.base_rate or 0) or 24.0
            return int(stream.frames or 0), rate
    except (av.FFmpegError, IndexError, OSError, ValueError) as e:
        raise VideoError(f"cannot decode video {path}: {e}") from None


def _decode(path: Path, wanted: set[int] | None) -> tuple[dict[int, np.ndarray], int]:
    """Decode frames, converting only those in ``wanted`` (all when None): a 2-minute 640x480
    video is ~3 GB as RGB arrays, so we never hold frames we will not use."""
    import av

    kept: dict[int, np.ndarray] = {}
    n = 0
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(container.streams.video[0]):
                if wanted is None or n in wanted:
                    kept[n] = frame.to_ndarray(format="rgb24")
                n += 1
    except (av.FFmpegError, IndexError, OSError, ValueError) as e:
        raise VideoError(f"cannot decode video {path}: {e}") from None
    return kept, n


# x264's macroblock-tree rate control (its SIMD path) reads memory it never wrote: the same frames
# encoded twice in one process, or in two processes under load, gave different bitstreams (decoded
# frames up to 60 grey levels apart). Without it, and with one thread, the bytes are a function of
# the frames alone (tests/test_video.py, tests/test_synth_determinism.py).
DETERMINISTIC_X264 = "mbtree=0"


def write_video(path: str | os.PathLike, frames: Iterable[np.ndarray], fps: float = 24.0,
                *, crf: int = 23) -> int:
    """Encode RGB uint8 frames (H, W, 3) to an H.264 mp4. Returns the number of frames written.

    The same frames always give the same bytes, whatever the load or core count (see
    :data:`DETERMINISTIC_X264`), so procedural data is reproducible file for file.

    Writes to a temporary name first, so an interrupted encode never leaves a valid-looking mp4.
    """
    import av

    from .io import atomic_path

    path = Path(path)
    n = 0
    with atomic_path(path) as tmp:
        with av.open(str(tmp), mode="w", format="mp4") as out:
            stream = None
            for frame in frames:
                frame = np.ascontiguousarray(frame, dtype=np.uint8)
                if stream is None:
                    h, w = frame.shape[:2]
                    stream = out.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
                    stream.width, stream.height = w - w % 2, h - h % 2
                    stream.pix_fmt = "yuv420p"
                    stream.options = {"crf": str(crf), "preset": "veryfast", "x264-params": DETERMINISTIC_X264}
                    stream.codec_context.thread_count = 1  # frame threads change the bitstream with the core count
                frame = frame[: stream.height, : stream.width]
                for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                    out.mux(packet)
                n += 1
            if stream is None:
                raise VideoError(f"no frames to write to {path}")
            for packet in stream.encode():
                out.mux(packet)
    return n


def encode_clip(frames: np.ndarray, fps: float) -> bytes:
    """Sampled frames as one lossless mp4 in memory (H.264 RGB, ``libx264rgb`` at crf 0).

    Used to send a server exactly the frames vsgrpo sampled, as one video: decoding it gives the
    same RGB values back, frame for frame, and the frame rate carries the sampled timestamps
    (``fps`` = sampled frames per second of the original video).
    """
    import io

    import av

    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or not len(frames):
        raise VideoError(f"frames must be uint8 (T, H, W, 3) with T >= 1, got {frames.dtype} {frames.shape}")
    if not (fps > 0 and math.isfinite(fps)):
        raise VideoError(f"fps must be positive, got {fps}")
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as out:
        stream = out.add_stream("libx264rgb", rate=Fraction(fps).limit_denominator(10000))
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "rgb24"
        stream.options = {"crf": "0", "preset": "ultrafast"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()
