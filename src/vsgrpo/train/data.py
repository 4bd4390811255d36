"""Training data: the parquet of ``vsgrpo data build --style train`` plus a video root.

Kept outside the trainers so other engines (verl, a newer TRL) reuse it. Each training row
becomes ``prompt`` (the text after the video, from :func:`vsgrpo.prompts.build_prompt`),
``video`` (absolute path, checked to stay inside the video root), and the scoring columns
``ground_truth``, ``question_type``, ``options`` that the reward functions read. Videos are
decoded lazily by :class:`VideoLoader` inside the trainer, never stored in the dataset.
"""

from __future__ import annotations

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
DIRECTION_ANSWERS = {
    "object_rel_direction_easy": ("left", "right"),
    "object_rel_direction_medium": ("left", "right", "back"),
    "object_rel_direction_hard": ("front-left", "front-right", "back-left", "back-right"),
}


def _options(value) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    opts = [str(o) for o in list(value)]
    return opts or None


def default_video_root(data: str | os.PathLike) -> Path:
    return Path(data).resolve().parent / "videos"


def load_rows(data: str | os.PathLike, video_root: str | os.PathLike | None = None, *, mode: str = "vanilla",
              question_types: list[str] | None = None, max_samples: int = 0, seed: int = 0,
              check_videos: bool = True) -> list[dict]:
    """Rows ready for training, as dicts (see the module doc). Errors name what to fix."""
    from ..dataset import read_questions

    path = Path(data)
    df = read_questions(path, required=REQUIRED_COLUMNS,
                        what="training data (build it: vsgrpo data build --style train)")
    if question_types:
        df = df[df["question_type"].isin(question_types)]
    root = Path(video_root) if video_root else default_video_root(path)
    if not root.is_dir():
        raise VsgrpoError(f"video root {root} does not exist; set video_root to the folder holding "
                          "{dataset}/{scene_name}.mp4")
    rows = []
    for rec in df.to_dict("records"):
        rel = rec.get("video")
        rel = rel if isinstance(rel, str) and rel else f"{rec['dataset']}/{rec['scene_name']}.mp4"
        video = safe_join(root, rel)
        if check_videos and not video.is_file():
            raise VsgrpoError(f"video {rel} of question {rec.get('id')} not found under {root}")
        options = _options(rec.get("options"))
        style = "bench" if options else "train"
        rows.append({
            "id": str(rec.get("id", len(rows))),
            "prompt": build_prompt(rec["question"], options, mode=mode, style=style),
            "video": str(video),
            "question": rec["question"],
            "question_type": rec["question_type"],
            "ground_truth": str(rec["ground_truth"]),
            "options": options,
        })
    if not rows:
        raise VsgrpoError(f"no training questions in {path}" + (f" of types {question_types}" if question_types else ""))
    rng = random.Random(seed)
    rng.shuffle(rows)
    if max_samples and max_samples > 0:
        rows = rows[:max_samples]
    return rows


def to_dataset(rows: list[dict]):
    """A ``datasets.Dataset``; ``options`` is stored as a list column (empty list for none)."""
    from datasets import Dataset

    return Dataset.from_list([{**r, "options": r["options"] or []} for r in rows])


class VideoLoader:
    """Decode ``num_frames`` uniformly sampled frames per video, with a small LRU cache.

    GRPO repeats each question ``num_generations`` times in a batch; the cache decodes it once.
    """

    def __init__(self, num_frames: int, cache_size: int = 8):
        self.num_frames = num_frames
        self.cache_size = cache_size
        self._cache: OrderedDict[str, tuple[np.ndarray, float]] = OrderedDict()

    def __call__(self, path: str) -> tuple[np.ndarray, float]:
        from ..video import read_frames

        if path in self._cache:
            self._cache.move_to_end(path)
            return self._cache[path]
        item = read_frames(path, self.num_frames)
        self._cache[path] = item
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return item


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
    qt = row["question_type"]
    if qt in DIRECTION_ANSWERS:
        return list(DIRECTION_ANSWERS[qt])
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
    from ..metrics import NA_QUESTION_TYPES
    from ..answers import normalize_text_answer

    gt = answer_text(row)
    if row["question_type"] in NA_QUESTION_TYPES:
        y = float(gt)
        value = y * na_factor if rng.random() < 0.5 or y <= 0 else y / (2 * na_factor)
        text = _format_number(value, gt)
        if float(text) == y or float(text) <= 0:
            text = _format_number(y * na_factor + 1, gt)
        return text
    others = [c for c in mca_candidates(row) if normalize_text_answer(c) != normalize_text_answer(gt)]
    return rng.choice(others) if others else None
