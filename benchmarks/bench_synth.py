"""Procedural rooms: renderer frames per second, alone and with H.264 encoding, and scenes/min.

    python benchmarks/bench_synth.py [--frames 120] [--repeats 3]

Prints one line per measurement; the medians of ``--repeats`` runs (the machine is shared and
noisy). "renderer" = draw + read back RGB and instance ids + per-instance pixel counts (what
``data synth`` does per frame); "+ encode" adds libx264 encoding through vsgrpo.video.write_video.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np

from vsgrpo.sources.synthetic import Renderer, SynthConfig, generate_dataset, generate_scene
from vsgrpo.sources.synthetic.camera import intrinsics
from vsgrpo.video import write_video


def render_fps(scene, width, height, encode: bool, path: str) -> float:
    r = Renderer(scene.mesh, scene.ids, width, height)
    K = intrinsics(width, height)
    n_inst = len(scene.instances) + 1

    def frames():
        for pose in scene.poses:
            out = r.render(K, pose)
            np.bincount(out["ids"].ravel(), minlength=n_inst)
            yield out["rgb"]

    t = time.perf_counter()
    if encode:
        write_video(path, frames(), 10.0)
    else:
        for _ in frames():
            pass
    dt = time.perf_counter() - t
    r.release()
    return len(scene.poses) / dt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--scenes", type=int, default=4, help="scenes for the end-to-end scenes/min line")
    args = ap.parse_args()
    scenes = [generate_scene(0, i, n_frames=args.frames) for i in range(3)]
    tris = [len(s.mesh.pos) // 3 for s in scenes]
    print(f"cpu cores: {os.cpu_count()}, scenes of {min(tris)}-{max(tris)} triangles, {args.frames} frames each")
    with tempfile.TemporaryDirectory() as tmp:
        render_fps(scenes[0], 320, 240, False, "")  # warm up: context creation, shader compile
        for w, h in ((320, 240), (640, 480)):
            for encode in (False, True):
                runs = [statistics.mean(render_fps(s, w, h, encode, f"{tmp}/v.mp4") for s in scenes)
                        for _ in range(args.repeats)]
                label = "renderer + encode" if encode else "renderer alone   "
                print(f"{w}x{h} {label}: {statistics.median(runs):7.1f} fps  (runs: {', '.join(f'{x:.0f}' for x in runs)})")
        for workers in (1, 2):
            cfg = SynthConfig(scenes=args.scenes, seed=100 + workers, frames=args.frames, workers=workers)
            t = time.perf_counter()
            generate_dataset(f"{tmp}/root{workers}", cfg, show_progress=False)
            dt = time.perf_counter() - t
            print(f"data synth 320x240 x{args.frames} frames, workers={workers}: {args.scenes / dt * 60:6.1f} scenes/min "
                  f"({dt / args.scenes:.2f} s/scene incl. visibility pass, encode, sidecars, preview)")


if __name__ == "__main__":
    main()
