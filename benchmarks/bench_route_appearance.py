"""Yield and speed of route-planning and appearance-order questions on a data root.

    python benchmarks/bench_route_appearance.py ROOT [--seed 0]

ROOT is a data root written by ``vsgrpo data synth`` (or ``data ingest``): meta/, floorplans/,
visibility/, cameras/. Prints, per scene, how many route and appearance-order questions are
valid and, when none, why; then the share of scenes yielding at least one of each, and the CPU
time per scene of each generator.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

import numpy as np

from vsgrpo.dataset import load_scenes
from vsgrpo.questions.appearance import AppearanceOrderTask, first_appearances, order_is_robust, valid_combinations
from vsgrpo.questions.base import BuildConfig
from vsgrpo.questions.route import RoutePlanningTask


def appearance_reason(task: AppearanceOrderTask, scene) -> str:
    if scene.visibility is None:
        return "no visibility"
    th = task.threshold(scene)
    times = first_appearances(scene.visibility, th)
    if len(times) < 4:
        return f"only {len(times)} categories ever above {th} px"
    combos = valid_combinations(times, task.min_gap)
    if not combos:
        early = sum(t <= task.min_gap for t in times.values())
        return (f"no 4 categories with first appearances >{task.min_gap:g} s apart "
                f"({early}/{len(times)} categories first seen within the first {task.min_gap:g} s)")
    if not any(order_is_robust(scene.visibility, c, th, task.robust_factor) for c in combos):
        return "every valid order changes when the threshold is halved or doubled"
    return "ok"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    index = load_scenes(f"{args.root}/meta")
    route, app = RoutePlanningTask(), AppearanceOrderTask()
    cfg = BuildConfig(per_scene=None)
    n_route = n_app = n_both = 0
    t_route = t_app = 0.0
    why_route, why_app = Counter(), Counter()
    print(f"{'scene':<22} {'type':<12} {'area':>5} {'lmk':>4} {'routes':>6} {'orders':>6}  why none")
    for key in sorted(index):
        s = index[key]
        reasons = Counter()
        t0 = time.process_time()
        routes = route.candidate_routes(s, np.random.default_rng(args.seed), reasons)
        t1 = time.process_time()
        orders = app.generate(s, np.random.default_rng(args.seed), cfg)
        t2 = time.process_time()
        t_route += t1 - t0
        t_app += t2 - t1
        notes = []
        if routes:
            n_route += 1
        else:
            rej = {k: v for k, v in reasons.items() if k != "accepted"}
            r = max(rej, key=rej.get) if rej else "no candidates"
            why_route[r] += 1
            notes.append(f"route: {r} {dict(rej)}")
        if orders:
            n_app += 1
        else:
            r = appearance_reason(app, s)
            why_app[r.split(" (")[0]] += 1
            notes.append(f"order: {r}")
        n_both += bool(routes) and bool(orders)
        n_lmk = len(route.world(s).landmarks) if s.floor_plan is not None else 0
        print(f"{s.name:<22} {str(s.extra.get('room_type', '')):<12} {s.room_size:>5.1f} {n_lmk:>4} "
              f"{len(routes):>6} {len(orders):>6}  {'; '.join(notes)}")
    n = len(index)
    print(f"\nscenes: {n}")
    print(f"  >=1 valid route:            {n_route}/{n} = {n_route / n:.0%}")
    print(f"  >=1 appearance order:       {n_app}/{n} = {n_app / n:.0%}")
    print(f"  both:                       {n_both}/{n} = {n_both / n:.0%}")
    print(f"  CPU per scene: routes {t_route / n:.2f} s, appearance order {t_app / n * 1000:.1f} ms")
    print(f"  no route, main reason: {dict(why_route)}")
    print(f"  no appearance order: {dict(why_app)}")


if __name__ == "__main__":
    main()
