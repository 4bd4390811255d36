"""Training data: the parquet of ``vsgrpo data build --style train`` plus a video root.

Kept outside the trainers so other engines (verl, a newer TRL) reuse it. Each training row
becomes ``prompt`` (the text after the video, from :func:`vsgrpo.prompts.build_prompt`),
``video`` (absolute path, checked to stay inside the video root), and the scoring columns
``ground_truth``, ``question_type``, ``options`` that the reward functions read. Videos are
decoded lazily by :class:`VideoLoader` inside the trainer, never stored in the dataset.
"""

from __future__ import annotations

import bisect
import math
import os
import random
import re
from collections import OrderedDict
from pathlib import Path

import numpy as np

from ..errors import VsgrpoError
from ..io import safe_join
from ..prompts import build_prompt

REQUIRED_COLUMNS = ("dataset", "scene_name", "question_type", "question", "ground_truth")


def _options(value) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    opts = [str(o) for o in list(value)]
    return opts or None


def load_rows(data: str | os.PathLike, video_root: str | os.PathLike | None = None, *, mode: str = "vanilla",
              question_types: list[str] | None = None, max_samples: int = 0, seed: int = 0,
              check_videos: bool = True, skip_invalid: bool = False) -> list[dict]:
    """Rows ready for training, as dicts (see the module doc). Errors name what to fix.

    Every row is checked before training starts (:func:`row_problem`): a row that cannot be
    scored (unknown question type, a numeric type whose ground truth is not a positive number,
    a ground truth its own reward would not give 1, a missing video) is reported by id, all of
    them in one error, instead of crashing the run at the step that draws it.
    ``skip_invalid=True`` drops those rows with a warning instead.
    """
    from .. import metrics
    from ..questions_parquet import read_questions
    from ..questions_parquet import video_root as find_video_root

    path = Path(data)
    df = read_questions(path, required=REQUIRED_COLUMNS,
                        what="training data (build it: vsgrpo data build --style train)")
    for qt in question_types or []:
        try:
            metrics.answer_kind(qt)  # a typo in the recipe's list: the same check as evaluation
        except VsgrpoError as e:
            raise VsgrpoError(f"question_types: {e}") from None
    if question_types:
        df = df[df["question_type"].isin(question_types)]
    root = find_video_root(path, video_root, setting="video_root")  # given, else the build's record, else videos/
    if not root.is_dir():
        raise VsgrpoError(f"video root {root} does not exist; set video_root to the folder holding "
                          "{dataset}/{scene_name}.mp4")
    df = drop_flagged(df, root)
    rows, problems = [], []
    exists: dict[str, bool] = {}
    for rec in df.to_dict("records"):
        rel = rec.get("video")
        rel = rel if isinstance(rel, str) and rel else f"{rec['dataset']}/{rec['scene_name']}.mp4"
        qid = str(rec.get("id", len(rows) + len(problems)))
        try:
            video = safe_join(root, rel)
        except VsgrpoError as e:
            problems.append((qid, rec.get("question_type"), f"video path: {e}"))
            continue
        if check_videos:
            key = str(video)
            if key not in exists:
                exists[key] = video.is_file()
            if not exists[key]:
                problems.append((qid, rec.get("question_type"), f"video {rel} not found under {root}"))
                continue
        options = _options(rec.get("options"))
        style = "bench" if options else "train"
        row = {
            "id": qid,
            "prompt": build_prompt(rec["question"], options, mode=mode, style=style),
            "video": str(video),
            "question": rec["question"],
            "question_type": rec["question_type"],
            "ground_truth": str(rec["ground_truth"]),
            "options": options,
        }
        problem = row_problem(row)
        if problem:
            problems.append((qid, row["question_type"], problem))
            continue
        rows.append(row)
    if problems:
        listed = "\n".join(f"  id {i} ({qt}): {why}" for i, qt, why in problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        text = (f"{path}: {len(problems)} of {len(problems) + len(rows)} training rows cannot be scored:\n"
                f"{listed}{more}")
        if not skip_invalid:
            raise VsgrpoError(text + "\nfix or drop them (or set skip_invalid_rows: true to train without them)")
        import warnings

        warnings.warn(text + "\nthese rows are skipped (skip_invalid_rows)", stacklevel=2)
    if not rows:
        raise VsgrpoError(f"no training questions in {path}" + (f" of types {question_types}" if question_types else ""))
    rng = random.Random(seed)
    rng.shuffle(rows)
    if max_samples and max_samples > 0:
        rows = rows[:max_samples]
    return rows


def drop_flagged(df, video_root: str | os.PathLike):
    """``df`` without the questions flagged as wrong in the data root's ``flags.json``
    (``vsgrpo data browse``; the root is the folder holding ``video_root``)."""
    import sys

    from ..flags import FLAGS_FILE, load_flags, root_of_videos, row_key

    data_root = root_of_videos(Path(video_root).resolve())
    flags = load_flags(data_root) if data_root is not None else {}
    if not flags or df.empty:
        return df
    keep = [row_key(rec) not in flags for rec in df.to_dict("records")]
    dropped = len(keep) - sum(keep)
    if dropped:
        print(f"vsgrpo: left out {dropped} training question(s) flagged as wrong in {data_root / FLAGS_FILE}",
              file=sys.stderr)
    return df[keep]


def row_problem(row: dict) -> str | None:
    """Why a training row cannot be scored by the accuracy reward, or ``None``.

    The test is the reward itself: the row's own ground truth, written as the model would
    answer, must score 1.0 (numeric rows need a positive number; multiple-choice rows an answer
    the reward can match).
    """
    from .. import metrics
    from ..rewards import score_answer

    qt, gt = row["question_type"], row["ground_truth"]
    try:
        kind = metrics.answer_kind(qt)
    except VsgrpoError:
        return f"unknown question_type {qt!r}"
    if kind == "na":
        try:
            value = float(gt)
        except (TypeError, ValueError):
            return f"numeric question with non-numeric ground truth {gt!r}"
        if not math.isfinite(value) or value <= 0:
            return f"numeric ground truth {gt!r} is not a positive number (every prediction would score 0)"
    elif not str(gt).strip():
        return "empty ground truth"
    try:
        own = score_answer(answer_text(row), gt, qt, row.get("options"))
    except VsgrpoError as e:
        return str(e)
    if own < 1.0:
        return f"its own ground truth {gt!r} scores {own:g}, not 1 (options {row.get('options')})"
    return None


def to_dataset(rows: list[dict]):
    """A ``datasets.Dataset``; ``options`` is stored as a list column (empty list for none)."""
    from datasets import Dataset

    return Dataset.from_list([{**r, "options": r["options"] or []} for r in rows])


class VideoLoader:
    """``num_frames`` uniformly sampled frames per video, decoded once and kept in a byte-bounded LRU cache.

    GRPO repeats each question ``num_generations`` times and VSI-100k-style data asks dozens of
    questions per scene, so one decode serves many rows. The cache holds at most ``cache_bytes``
    of frames (least recently used videos are evicted; 0 disables it); callers share the cached
    arrays and must not modify them. Frames are decoded only around the sampled indices (:func:`read_sampled_frames`),
    with the result byte-identical to :func:`vsgrpo.video.read_frames`.
    """

    def __init__(self, num_frames: int, cache_bytes: int = 2 * 2**30, *, seek: bool = True):
        self.num_frames = num_frames
        self.cache_bytes = int(cache_bytes)
        self.seek = seek
        self._cache: OrderedDict[tuple, tuple[np.ndarray, float]] = OrderedDict()
        self._bytes = 0
        self.hits = self.misses = 0

    def __call__(self, path: str) -> tuple[np.ndarray, float]:
        try:
            st = os.stat(path)
            key = (str(path), st.st_size, st.st_mtime_ns)  # a rewritten file is another video
        except OSError:
            key = (str(path), None, None)  # the reader raises its own clear error
        if key in self._cache:
            self._cache.move_to_end(key)
            self.hits += 1
            return self._cache[key]
        self.misses += 1
        if self.seek:
            frames, fps = read_sampled_frames(path, self.num_frames)
        else:
            from ..video import read_frames

            frames, fps = read_frames(path, self.num_frames)
        item = (frames, fps)
        if 0 < frames.nbytes <= self.cache_bytes:
            self._cache[key] = item
            self._bytes += frames.nbytes
            while self._bytes > self.cache_bytes:
                _, (old, _) = self._cache.popitem(last=False)
                self._bytes -= old.nbytes
        return item

    @property
    def cached_bytes(self) -> int:
        return self._bytes


def read_sampled_frames(path: str | os.PathLike, num_frames: int) -> tuple[np.ndarray, float]:
    """:func:`vsgrpo.video.read_frames`, decoding only from the keyframe before each sampled frame to it.

    A first pass reads the packet index (no decoding): the presentation timestamps give the
    exact frame count and each frame's position, the keyframe flags where decoding can start.
    Then for each keyframe that precedes sampled frames: seek there and decode up to the last
    of them. Groups of pictures with no sampled frame are never decoded. Anything unusual (no
    timestamps, a frame not found where the index put it) falls back to the sequential reader.
    """
    import av

    from ..video import VideoError, read_frames, uniform_indices

    path = Path(path)
    if not path.is_file():
        raise VideoError(f"video not found: {path}")
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            rate = float(stream.average_rate or stream.base_rate or 0) or 24.0
            pts, keys = [], []
            for packet in container.demux(stream):
                if packet.pts is None or packet.size == 0:
                    if packet.size:
                        return read_frames(path, num_frames)  # no timestamps: sequential
                    continue
                if getattr(packet, "is_discard", False):
                    return read_frames(path, num_frames)  # edit lists: let the decoder decide
                pts.append(int(packet.pts))
                if packet.is_keyframe:
                    keys.append(int(packet.pts))
            if not pts or not keys:
                return read_frames(path, num_frames)
            order = sorted(pts)
            if len(set(order)) != len(order) or min(keys) > order[0]:
                return read_frames(path, num_frames)
            idx = uniform_indices(len(order), num_frames)
            wanted = [order[i] for i in idx]
            keys.sort()
            groups: OrderedDict[int, list[int]] = OrderedDict()
            for p in wanted:
                k = keys[max(0, bisect.bisect_right(keys, p) - 1)]
                groups.setdefault(k, []).append(p)
            got: dict[int, np.ndarray] = {}
            for k, targets in groups.items():
                container.seek(k, stream=stream, backward=True, any_frame=False)
                last, need = max(targets), set(targets)
                for frame in container.decode(stream):
                    if frame.pts is None:
                        return read_frames(path, num_frames)
                    if frame.pts in need:
                        got[frame.pts] = frame.to_ndarray(format="rgb24")
                    if frame.pts >= last:
                        break
            if any(p not in got for p in wanted):
                return read_frames(path, num_frames)
    except (av.FFmpegError, IndexError, OSError, ValueError) as e:
        raise VideoError(f"cannot decode video {path}: {e}") from None
    duration = len(order) / rate
    sampled_fps = len(idx) / duration if duration > 0 else rate
    return np.stack([got[p] for p in wanted]), sampled_fps


# ------------------------------------------------------------------------- SFT / DPO targets

def answer_text(row: dict) -> str:
    """The supervised answer: the ground truth as the model should write it (vanilla mode)."""
    return str(row["ground_truth"]).strip()


def _format_number(value: float, like: str) -> str:
    if re.fullmatch(r"[-+]?\d+", like.strip()):
        return str(int(round(value)))
    return f"{value:.2f}".rstrip("0").rstrip(".")


def mca_candidates(row: dict) -> list[str]:
    """Answer candidates of a multiple-choice row: option letters, or the words the question allows."""
    from ..answers import option_letters

    if row.get("options"):
        return option_letters(row["options"])
    from ..questions import TASK_REGISTRY

    words = getattr(TASK_REGISTRY.get(row["question_type"]), "answer_words", None)
    if words:
        return list(words)
    m = re.search(r"\(([^()]*,[^()]*)\)", row.get("question", ""))
    if m:
        return [c.strip() for c in m.group(1).split(",") if c.strip()]
    return []


def wrong_answer(row: dict, rng: random.Random, *, na_factor: float = 2.0) -> str | None:
    """The correct answer changed to a wrong one (DPO's rejected answer), or ``None`` if impossible.

    Multiple choice: another candidate (another option letter; in train style another direction
    word or another object listed in the question). Numeric: the answer multiplied by
    ``na_factor`` (>= 2 by default, so every reward shape and VSI-Bench's MRA give it 0), or
    divided by ``2 * na_factor``, chosen at random.
    """
    from ..answers import normalize_text_answer
    from ..metrics import answer_kind

    gt = answer_text(row)
    if answer_kind(row["question_type"]) == "na":
        y = float(gt)
        value = y * na_factor if rng.random() < 0.5 or y <= 0 else y / (2 * na_factor)
        text = _format_number(value, gt)
        if float(text) == y or float(text) <= 0:
            text = _format_number(y * na_factor + 1, gt)
        return text
    others = [c for c in mca_candidates(row) if normalize_text_answer(c) != normalize_text_answer(gt)]
    return rng.choice(others) if others else None
