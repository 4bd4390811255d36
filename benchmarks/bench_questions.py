"""Question-engine speed on the released VSI-Bench sample.

1. Closest-point distance: vsgrpo's exact fast version vs the straightforward replay of
   VSI-Bench's procedure (sample both boxes, all pairwise distances), side by side on every
   instance pair behind the released absolute-distance questions (cold caches for both), and
   whether the rounded answers are identical.
2. Answers derived per second: `data verify`'s re-derivation of all 3,588 released rows, and
   `data build --per-scene all` question generation.

    python benchmarks/bench_questions.py [--data tests/data/vsibench] [--limit N]
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import pandas as pd

from vsgrpo import geometry
from vsgrpo.dataset import build_questions, verify_questions
from vsgrpo.questions import BuildConfig, templates
from vsgrpo.questions.common import boxes_of
from vsgrpo.scene import load_meta_dir


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[1] / "tests" / "data" / "vsibench"))
    ap.add_argument("--limit", type=int, default=0, help="only the first N abs-distance questions (0: all)")
    ap.add_argument("--rel", action="store_true",
                    help="also compare on every (target, choice) pair of the released relative-distance questions")
    args = ap.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        index = load_meta_dir(args.data)
    df = pd.read_parquet(Path(args.data) / "test-dev.parquet")

    # 1. distance: fast vs all-pairs, per question (min over instance pairs), cold caches
    rows = df[df["question_type"] == "object_abs_distance"]
    if args.limit:
        rows = rows.head(args.limit)
    pairs = []
    for r in rows.itertuples():
        f = templates.parse(templates.ABS_DISTANCE, r.question)
        scene = index[(r.dataset, r.scene_name)]
        pairs.append((boxes_of(scene, f["a"]), boxes_of(scene, f["b"]), r.ground_truth))
    import scipy.spatial  # noqa: F401  (both versions use scipy: import it before timing)
    import scipy.spatial.distance  # noqa: F401

    t_fast = t_ref = 0.0
    same = agree_fast = agree_ref = n_inst = 0
    for ba, bb, gt in pairs:
        geometry.clear_caches()
        t0 = time.perf_counter()
        fast = min(geometry.closest_distance(a, b) for a in ba for b in bb)
        t1 = time.perf_counter()
        ref = min(geometry.closest_distance_reference(a, b) for a in ba for b in bb)
        t2 = time.perf_counter()
        t_fast += t1 - t0
        t_ref += t2 - t1
        n_inst += len(ba) * len(bb)
        rf, rr = f"{round(fast, 1):.1f}", f"{round(ref, 1):.1f}"
        same += rf == rr
        agree_fast += rf == gt
        agree_ref += rr == gt
    n = len(pairs)
    print(f"closest-point distance on {n} released abs-distance questions ({n_inst} instance pairs), cold caches")
    for label, t, agree in (("all-pairs sampling", t_ref, agree_ref), ("vsgrpo fast exact", t_fast, agree_fast)):
        print(f"  {label:<19}: {t:8.2f} s  ({t / n_inst * 1e3:7.2f} ms/pair)  agrees with release {agree}/{n}")
    print(f"  speed-up {t_ref / t_fast:.1f}x; identical rounded answers {same}/{n}")

    if args.rel:
        rel_pairs(index, df)

    # 2. answers per second
    geometry.clear_caches()
    t0 = time.perf_counter()
    rep = verify_questions(index, df)
    t1 = time.perf_counter()
    n_checked = sum(r["checked"] for r in rep["tasks"].values())
    print(f"verify: {n_checked} released answers re-derived in {t1 - t0:.2f} s = {n_checked / (t1 - t0):.0f} answers/s "
          f"({sum(rep['unchecked'].values())} rows unchecked)")
    geometry.clear_caches()
    t0 = time.perf_counter()
    qs = build_questions(index, BuildConfig(per_scene=None))
    t1 = time.perf_counter()
    print(f"build --per-scene all: {len(qs)} questions from {len(index)} scenes in {t1 - t0:.2f} s = "
          f"{len(qs) / (t1 - t0):.0f} questions/s")


def rel_pairs(index, df) -> None:
    """Fast vs all-pairs on the category pairs behind the released relative-distance questions."""
    seen, pairs = set(), []
    for r in df[df["question_type"] == "object_rel_distance"].itertuples():
        f = templates.parse(templates.REL_DISTANCE, r.question)
        scene = index[(r.dataset, r.scene_name)]
        for i in range(4):
            key = (r.dataset, r.scene_name, f["category"], f[f"c{i}"])
            if key not in seen:
                seen.add(key)
                pairs.append((boxes_of(scene, f["category"]), boxes_of(scene, f[f"c{i}"])))
    t_fast = t_ref = 0.0
    same = n_inst = 0
    for ba, bb in pairs:
        geometry.clear_caches()
        t0 = time.perf_counter()
        fast = [geometry.closest_distance(a, b) for a in ba for b in bb]
        t1 = time.perf_counter()
        ref = [geometry.closest_distance_reference(a, b) for a in ba for b in bb]
        t2 = time.perf_counter()
        t_fast += t1 - t0
        t_ref += t2 - t1
        n_inst += len(fast)
        same += sum(f"{x:.1f}" == f"{y:.1f}" for x, y in zip(fast, ref))
    print(f"relative-distance pairs: {len(pairs)} category pairs, {n_inst} instance pairs, cold caches: "
          f"all-pairs {t_ref:.2f} s, fast {t_fast:.2f} s, speed-up {t_ref / t_fast:.1f}x; "
          f"identical rounded distances {same}/{n_inst}")


if __name__ == "__main__":
    main()
