"""Train / held-out splits of a question set with no video, scene or site on both sides.

A question about a room that also appears in training measures memory of that room, not
spatial reasoning: ``data split`` therefore assigns whole groups (every question of one video,
one scene or one site) to one side. Groups are shuffled by the seed and taken for the held-out
side until it holds the requested share of questions, so the split is reproducible and its
held-out share is as close as whole groups allow.

Output (``DIR``)::

    train/questions.parquet     the training rows, unchanged
    heldout/questions.parquet   the held-out rows, unchanged
    split.json                  settings, the groups on each side, counts per question type

Rows keep their ``video`` paths, so both files read their videos from the source's video root
(pass it as ``video_root`` / ``--videos``).
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import numpy as np

from .errors import VsgrpoError

SPLIT_BY = ("video", "scene", "site")

# Below this many held-out questions a type's 95% interval is wider than about +-15 points of
# accuracy (binomial at p = 0.5): the split still works, but its score says little.
MIN_HELDOUT_PER_TYPE = 30


def group_keys(df, by: str) -> list[str]:
    """The group of every row: its video, its scene ("dataset/scene_name") or its site."""
    if by not in SPLIT_BY:
        raise VsgrpoError(f"--by must be one of {', '.join(SPLIT_BY)}, not {by!r}")
    if by == "site":
        # A 'site' column when the file has one; else the dataset, which for an imported set is the
        # first folder of the video path (site_a/walk1.mp4 -> site_a).
        sites = df["site"] if "site" in df.columns else df["dataset"]
        if sites.isna().any() or (sites.astype(str).str.strip() == "").any():
            raise VsgrpoError("--by site: some rows have no site; give every row a site name")
        return sites.astype(str).tolist()
    scenes = (df["dataset"].astype(str) + "/" + df["scene_name"].astype(str)).tolist()
    if by == "scene" or "video" not in df.columns:
        return [s if by == "scene" else s + ".mp4" for s in scenes]
    return [str(v) if isinstance(v, str) and v else s + ".mp4" for v, s in zip(df["video"], scenes)]


def choose_heldout(keys: list[str], held_out: float, seed: int) -> set[str]:
    """Groups whose questions make up about ``held_out`` of all rows (at least one group per side)."""
    if not 0.0 < held_out < 1.0:
        raise VsgrpoError(f"--held-out must be a fraction between 0 and 1 (exclusive), not {held_out}")
    sizes = Counter(keys)
    if len(sizes) < 2:
        raise VsgrpoError(f"only {len(sizes)} group(s) to split; a split needs at least two (try a finer --by)")
    groups = sorted(sizes)
    order = np.random.default_rng(seed).permutation(len(groups))
    target = held_out * len(keys)
    chosen: list[str] = []
    count = 0
    for i in order:
        g = groups[i]
        # Take the next group while that brings the held-out count closer to the target.
        if abs(count + sizes[g] - target) < abs(count - target) or not chosen:
            chosen.append(g)
            count += sizes[g]
        if count >= target:
            break
    if len(chosen) == len(groups):
        chosen.pop()
    return set(chosen)


def split_questions(questions: str | os.PathLike, out: str | os.PathLike, *, by: str = "scene",
                    held_out: float = 0.2, seed: int = 0, overwrite: bool = False) -> dict:
    """Write ``out/train`` and ``out/heldout`` question files; returns the summary stored in split.json."""
    from .io import atomic_path, check_settings, ensure_writable_dir, run_lock, write_json
    from .questions_parquet import read_questions

    df = read_questions(questions)
    if df.empty:
        raise VsgrpoError(f"{questions} has no questions to split")
    keys = group_keys(df, by)
    heldout_groups = choose_heldout(keys, held_out, seed)
    is_held = np.array([k in heldout_groups for k in keys])
    sides = {"train": df[~is_held], "heldout": df[is_held]}
    types = sorted(set(df["question_type"].astype(str)))
    counts = {side: {t: int((part["question_type"] == t).sum()) for t in types} for side, part in sides.items()}
    warnings = [f"{t}: {counts['heldout'][t]} held-out question(s); below {MIN_HELDOUT_PER_TYPE} its score's "
                "interval is too wide to compare runs" for t in types if counts["heldout"][t] < MIN_HELDOUT_PER_TYPE]
    settings = {"questions": str(Path(questions).resolve()), "by": by, "held_out": held_out, "seed": seed}
    out = ensure_writable_dir(out)
    with run_lock(out, "data split"):
        check_settings(out / "split_config.json", settings, overwrite=overwrite, what="a split",
                       flags={"by": "--by", "held_out": "--held-out", "seed": "--seed", "questions": "QUESTIONS"})
        for side, part in sides.items():
            (out / side).mkdir(exist_ok=True)
            with atomic_path(out / side / "questions.parquet") as tmp:
                part.reset_index(drop=True).to_parquet(tmp, index=False)
        summary = {**settings, "questions_total": len(df),
                   "groups": {"train": sorted(set(keys) - heldout_groups), "heldout": sorted(heldout_groups)},
                   "counts": counts, "warnings": warnings}
        write_json(out / "split.json", summary)
    return summary


def format_split(summary: dict) -> str:
    """The per-type table ``data split`` prints."""
    c = summary["counts"]
    rows = [f"{'question type':34s} {'train':>6s} {'held-out':>9s}"]
    for t in c["train"]:
        rows.append(f"{t:34s} {c['train'][t]:6d} {c['heldout'][t]:9d}")
    n_tr, n_ho = sum(c["train"].values()), sum(c["heldout"].values())
    g = summary["groups"]
    rows.append(f"{'all':34s} {n_tr:6d} {n_ho:9d}   ({len(g['train'])} / {len(g['heldout'])} {summary['by']}s)")
    rows += [f"warning: {w}" for w in summary["warnings"]]
    return "\n".join(rows)
