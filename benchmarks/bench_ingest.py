"""Seconds per scene of `vsgrpo data ingest --source scannet` on a ScanNet-sized synthetic scan.

The fixture (tests/ingest_fixtures.py) is written in ScanNet's layout: ~100k mesh vertices,
30 instances, 300 frames with 1296x968 JPEG colour (ScanNet's size), 16-bit depth and poses.
Reported: per-phase times of one scene (load, boxes + room, video + visibility) and whole-run
seconds per scene with 1 and 2 workers, measured side by side.

    python benchmarks/bench_ingest.py [--frames 300] [--scenes 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("VSGRPO_PROGRESS", "0")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--scenes", type=int, default=2)
    ap.add_argument("--spacing", type=float, default=0.035, help="mesh vertex spacing (m); 0.035 -> ~100k vertices")
    args = ap.parse_args()

    from vsgrpo.sources import scannet
    from vsgrpo.sources.assemble import assemble
    from vsgrpo.sources.fitting import room_footprint
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the test fixtures live there
    from ingest_fixtures import FixtureRoom, grid_objects, write_scannet
    from vsgrpo.sources.ingest import IngestConfig, run_ingest

    room = FixtureRoom(objects=grid_objects(30), spacing=args.spacing, n_frames=args.frames, width=320, height=240)
    print(f"fixture: {len(room.vertices)} vertices, {len(room.faces)} faces, {len(room.objects)} instances, "
          f"{args.frames} frames (colour 1296x968 jpg, depth 320x240)")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        names = [f"scene09{i:02d}_00" for i in range(args.scenes)]
        write_scannet(room, tmp / "raw", names[0], color_size=(1296, 968))
        for n in names[1:]:  # identical copies under other names (rendering is the slow part)
            src = tmp / "raw" / "scans" / names[0]
            dst = tmp / "raw" / "scans" / n
            dst.mkdir(parents=True)
            for f in src.rglob("*"):
                if f.is_file():
                    target = dst / str(f.relative_to(src)).replace(names[0], n)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(f, target)
        print(f"writing the fixture: {time.perf_counter() - t:.1f} s")

        loader = scannet.Loader(tmp / "raw")
        room_footprint(room.vertices[:2000], seed=0)  # warm-up: imports of scipy.spatial / shapely
        t0 = time.perf_counter()
        raw = loader.load(names[0])
        t1 = time.perf_counter()
        room_footprint(raw.vertices, seed=0)
        t2 = time.perf_counter()
        raw.frames = None
        assemble(raw, tmp / "phase")
        t3 = time.perf_counter()
        raw = loader.load(names[0])
        assemble(raw, tmp / "phase2")
        t4 = time.perf_counter()
        print(f"phases of one scene: load {t1 - t0:.2f} s | room alpha shape {t2 - t1:.2f} s | "
              f"boxes+room+floor plan {t3 - t2:.2f} s | load + full assemble (video + visibility) {t4 - t3:.2f} s "
              f"= {(t4 - t3 - (t1 - t0) - (t3 - t2)) / args.frames * 1000:.0f} ms per frame for decode, resize, "
              f"visibility and encode")
        print(f"load average (1 min) during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

        for workers in (1, 2):
            t = time.perf_counter()
            rep = run_ingest(IngestConfig("scannet", tmp / "raw", tmp / f"out{workers}", workers=workers))
            dt = time.perf_counter() - t
            assert not rep.failures, rep.failures
            print(f"workers={workers}: {dt:.1f} s for {len(rep.written)} scenes = {dt / len(rep.written):.1f} s/scene")


if __name__ == "__main__":
    main()
