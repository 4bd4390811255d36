"""A site team's own scans -> RawScene: a small format any scanning pipeline can export.

One directory per scene, ``ROOT/<scene>/`` (full description and a worked example in
``docs/ingest.md``)::

    scene.json    {"labels": {"1": "forklift", "2": "pallet"},      # instance id -> category
                   "boxes": [{"category": "shelf", "centroid": [x, y, z],
                              "extents": [dx, dy, dz], "axes": [[...], [...], [...]]}],
                   "up": "z",            # or "y" (y-up exports are turned to z-up)
                   "fps": 30,            # video frame rate (default 30)
                   "depth_scale": 1000}  # depth PNG units per metre (default 1000: mm)
    points.ply    vertices x, y, z (metres) with an integer per-vertex property ``instance``
                  (0 or negative: no object); faces optional (better visibility estimates)
    frames/       optional RGB frames (jpg/png), in numeric name order
    cameras.json  with frames: {"intrinsics": 3x3 or one 3x3 per frame,
                                "poses": [one 4x4 camera-to-world per frame]}
                  (OpenCV camera axes: x right, y down, z forward)
    depth/        optional 16-bit depth PNGs named like the frames

Objects come from ``points.ply`` instances (their box: the gravity-aligned minimal box) and/or
``boxes`` given directly (``axes`` rows are unit directions; default identity). Every instance id
present in the points must be in ``labels``. Categories are free text (a site defines its own);
``--labels FILE`` can remap them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .assemble import DECODE_AT_LEAST, FrameSeq, Instance, RawScene, SceneLoader
from .base import Source
from .errors import IngestError
from .rawio import image_size, numeric_sorted, read_depth, read_image, read_json, read_ply, require

# A site defines its own categories: every label is kept (``--labels FILE`` can remap them).
SOURCE = Source("custom", vocabulary=None, remap={})
DATASET = SOURCE.name
Y_UP_TO_Z_UP = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])  # (x, y, z) -> (x, -z, y)


def list_scenes(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if (p / "scene.json").exists())


class Loader(SceneLoader):
    source = SOURCE

    def load(self, name: str) -> RawScene:
        d = self.root / name
        require(d, "scene directory")
        spec_path = d / "scene.json"
        spec = read_json(spec_path)
        if not isinstance(spec, dict):
            raise IngestError(spec_path, "expected a JSON object")
        up = spec.get("up", "z")
        if up not in ("z", "y"):
            raise IngestError(spec_path, f"'up' must be \"z\" or \"y\", got {up!r}")
        R = np.eye(3) if up == "z" else Y_UP_TO_Z_UP
        labels = spec.get("labels", {})
        if not isinstance(labels, dict):
            raise IngestError(spec_path, "'labels' must map instance id to category")
        mesh = d / "points.ply"
        verts, faces, props = read_ply(mesh, extra=("instance",))
        verts = verts @ R.T
        instances: list[Instance] = []
        if "instance" in props:
            ids = np.asarray(props["instance"]).astype(np.int64)
            for iid in np.unique(ids[ids > 0]):
                if str(int(iid)) not in labels:
                    raise IngestError(spec_path, f"instance id {int(iid)} in {mesh.name} is not in 'labels'")
            for key, label in labels.items():
                try:
                    iid = int(key)
                except ValueError:
                    raise IngestError(spec_path, f"label key {key!r} is not an integer instance id") from None
                vidx = np.nonzero(ids == iid)[0]
                if len(vidx) == 0:
                    raise IngestError(mesh, f"instance {iid} ({label!r}) has no vertices")
                cat = self.labels.category(str(label))
                if cat is not None:
                    instances.append(Instance(cat, vidx, source=str(mesh)))
        elif labels:
            raise IngestError(mesh, "'labels' given but the points have no 'instance' property")
        for k, b in enumerate(spec.get("boxes", []) or []):
            try:
                c = np.asarray(b["centroid"], float).reshape(3)
                e = np.asarray(b["extents"], float).reshape(3)
                a = np.asarray(b.get("axes", np.eye(3)), float).reshape(3, 3)
                label = str(b["category"])
            except (KeyError, TypeError, ValueError):
                raise IngestError(spec_path,
                                  f"boxes[{k}]: needs category, centroid (3), extents (3), "
                                  "optional axes (3x3)") from None
            cat = self.labels.category(label)
            if cat is not None:
                instances.append(Instance(cat, None, box=(R @ c, e, a @ R.T), source=str(spec_path)))
        raw = RawScene(name, DATASET, verts, faces, instances, mesh_file=str(mesh))
        raw.frames = self._frames(d, spec, spec_path, R)
        return raw

    def _frames(self, d: Path, spec: dict, spec_path: Path, R: np.ndarray) -> FrameSeq | None:
        fdir = d / "frames"
        if not fdir.is_dir():
            return None
        files = numeric_sorted([p for p in fdir.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png")])
        cam_path = d / "cameras.json"
        cams = read_json(cam_path)
        try:
            poses = np.asarray(cams["poses"], float).reshape(-1, 4, 4)
            K = np.asarray(cams["intrinsics"], float)
        except (KeyError, TypeError, ValueError):
            raise IngestError(cam_path,
                              "needs 'poses' (4x4 per frame) and 'intrinsics' (3x3 or one per frame)") from None
        if len(poses) != len(files):
            raise IngestError(cam_path, f"{len(poses)} poses for {len(files)} frames in {fdir}")
        K = np.repeat(K.reshape(1, 3, 3), len(files), 0) if K.size == 9 else K.reshape(-1, 3, 3)
        if len(K) != len(files):
            raise IngestError(cam_path, f"{len(K)} intrinsics for {len(files)} frames")
        bad = np.nonzero(np.isnan(poses).any(axis=(1, 2)))[0]
        if len(bad):
            raise IngestError(cam_path, f"pose of frame {int(bad[0])} ({files[bad[0]].name}) contains NaN")
        T = np.eye(4)
        T[:3, :3] = R
        poses = T @ poses
        sel = list(range(0, len(files), self.frame_step))
        files = [files[i] for i in sel]
        poses, K = poses[sel], K[sel]
        w, h = image_size(files[0])
        scale = float(spec.get("depth_scale", 1000.0))
        ddir = d / "depth"

        def color(i):
            return read_image(files[i], at_least=DECODE_AT_LEAST)

        def depth(i):
            p = ddir / f"{files[i].stem}.png"
            return read_depth(p, scale) if p.exists() else None

        return FrameSeq(n=len(files), color=color, K=K, size=(w, h), poses=poses,
                        fps=float(spec.get("fps", 30.0)), depth=depth if ddir.is_dir() else None,
                        pose_file=lambda i: str(cam_path))
