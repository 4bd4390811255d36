"""ARKitScenes (3DOD) -> RawScene.

Per video ``ROOT/<video_id>/`` (or ``ROOT/{Training,Validation}/<video_id>/``), as read by the
official loaders (github.com/apple/ARKitScenes: ``threedod/benchmark_scripts/utils/
tenFpsDataLoader.py``, ``depth_upsampling/dataset.py``):

- ``<id>_3dod_annotation.json``: ``data[]`` with ``label`` and ``segments.obbAligned`` (falling
  back to ``segments.obb``): ``centroid``, ``axesLengths`` (full sizes), ``normalizedAxes`` (9
  numbers, three row vectors). World is z-up, metres;
- ``<id>_3dod_mesh.ply``: the reconstructed mesh (room size, occlusion, object points: the mesh
  vertices inside each box stand for the object in visibility);
- ``<id>_frames/lowres_wide/<id>_<t>.png`` with ``lowres_wide_intrinsics/<id>_<t>.pincam``
  (``w h fx fy cx cy``), optional ``lowres_depth/<id>_<t>.png`` (uint16 mm), and
  ``lowres_wide.traj``: lines ``t rx ry rz tx ty tz``, an axis-angle rotation and translation
  from world to camera (the loader inverts it to get camera-to-world). A frame takes the pose
  of the nearest trajectory time within 50 ms, else it is dropped;
- ``metadata.csv`` (in ROOT or a parent): column ``sky_direction`` per ``video_id``. Frames are
  turned upright for the video as ARKitScenes does (Left: 90 deg clockwise, Right: 90 deg
  counter-clockwise, Down: 180 deg); the stored cameras are rotated with them. Missing: "Up".

Labels: ``tv_monitor`` -> ``tv``; cabinet, shelf, sink, oven are outside VSI-Bench's vocabulary.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from .assemble import DECODE_AT_LEAST, SKY_DIRECTIONS, FrameSeq, Instance, RawScene, SceneLoader
from .base import Source
from .errors import IngestError
from .rawio import image_size, read_depth, read_image, read_json, read_obb, read_ply, require
from .scannetpp import fps_from_times

# The VSI-Bench categories this source keeps, and remaps of its raw labels (lower case) into them.
SOURCE = Source(
    "arkitscenes",
    vocabulary=(
        "bathtub", "bed", "chair", "dishwasher", "fireplace", "refrigerator", "sofa", "stool", "stove", "table",
        "toilet", "tv", "washer",
    ),
    remap={
        "tv_monitor": "tv", "tv monitor": "tv",
    },
)
DATASET = SOURCE.name
POSE_MATCH_S = 0.05


def _video_dirs(root: Path) -> dict[str, Path]:
    out = {}
    for base in (root, root / "Training", root / "Validation"):
        if base.is_dir():
            for p in base.iterdir():
                if p.is_dir() and ((p / f"{p.name}_3dod_annotation.json").exists()
                                   or (p / f"{p.name}_3dod_mesh.ply").exists()):
                    out.setdefault(p.name, p)
    return out


def list_scenes(root: Path) -> list[str]:
    return sorted(_video_dirs(root))


def read_sky_directions(root: Path) -> dict[str, str]:
    for base in (root, root.parent, root.parent.parent):
        p = base / "metadata.csv"
        if p.exists():
            try:
                rows = list(csv.DictReader(p.read_text(encoding="utf-8").splitlines()))
            except (OSError, UnicodeDecodeError) as e:
                raise IngestError(p, f"cannot read: {e}") from None
            if rows and "video_id" in rows[0] and "sky_direction" in rows[0]:
                return {str(r["video_id"]).strip(): str(r["sky_direction"]).strip() for r in rows}
    return {}


def traj_to_poses(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(times (T,), camera-to-world (T, 4, 4))`` from a ``.traj`` file."""
    from scipy.spatial.transform import Rotation

    require(path, "trajectory")
    times, mats = [], []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        tok = line.split()
        if len(tok) != 7:
            raise IngestError(path, f"line {i}: expected 7 numbers (t rx ry rz tx ty tz), got {len(tok)}")
        try:
            vals = np.array(tok, float)
        except ValueError:
            raise IngestError(path, f"line {i}: not numbers") from None
        if not np.all(np.isfinite(vals)):
            raise IngestError(path, f"line {i}: camera pose contains NaN or infinity")
        w2c = np.eye(4)
        w2c[:3, :3] = Rotation.from_rotvec(vals[1:4]).as_matrix()
        w2c[:3, 3] = vals[4:7]
        times.append(vals[0])
        mats.append(np.linalg.inv(w2c))
    if not mats:
        raise IngestError(path, "trajectory is empty")
    return np.array(times), np.stack(mats)


def _pincam(path: Path) -> tuple[np.ndarray, int, int]:
    try:
        w, h, fx, fy, cx, cy = np.array(path.read_text(encoding="utf-8").split(), float)
    except (ValueError, OSError):
        raise IngestError(path, "expected 6 numbers: w h fx fy cx cy") from None
    return np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1.0]]), int(w), int(h)


class Loader(SceneLoader):
    source = SOURCE

    def __init__(self, root: Path, labels: Path | None = None, frame_step: int = 1):
        super().__init__(root, labels, frame_step)
        self.dirs = _video_dirs(self.root)
        self.sky = read_sky_directions(self.root)

    def load(self, name: str) -> RawScene:
        d = self.dirs.get(name, self.root / name)
        require(d, "scene directory")
        mesh = d / f"{name}_3dod_mesh.ply"
        verts, faces, _ = read_ply(mesh)
        anno_path = d / f"{name}_3dod_annotation.json"
        anno = read_json(anno_path)
        data = anno.get("data") if isinstance(anno, dict) else None
        if not isinstance(data, list):
            raise IngestError(anno_path, "missing 'data' list of boxes")
        instances = []
        for k, obj in enumerate(data):
            cat = self.labels.category(str(obj.get("label", "")))
            if cat is None:
                continue
            seg = obj.get("segments") or {}
            obb = seg.get("obbAligned") or seg.get("obb")
            box = read_obb(obb, anno_path, f"data[{k}] ({obj.get('label')!r}): segments.obbAligned")
            instances.append(Instance(cat, None, box=box, source=str(anno_path)))
        raw = RawScene(name, DATASET, verts, faces, instances, mesh_file=str(mesh))
        raw.frames = self._frames(d / f"{name}_frames", name, raw.notes)
        return raw

    def _frames(self, fd: Path, name: str, notes: list[str]) -> FrameSeq | None:
        img_dir = fd / "lowres_wide"
        if not img_dir.is_dir():
            notes.append("no lowres_wide frames: meta and floor plan only")
            return None
        ttimes, tposes = traj_to_poses(fd / "lowres_wide.traj")
        files = sorted(img_dir.glob(f"{name}_*.png"), key=lambda p: float(p.stem.split("_")[-1]))
        files = files[:: self.frame_step]
        keep, Ks, poses, times = [], [], [], []
        for f in files:
            t = float(f.stem.split("_")[-1])
            j = int(np.argmin(np.abs(ttimes - t)))
            if abs(ttimes[j] - t) > POSE_MATCH_S:
                continue
            pc = fd / "lowres_wide_intrinsics" / f"{f.stem}.pincam"
            if not pc.exists():  # the official loader also tries +-1 ms
                alts = [fd / "lowres_wide_intrinsics" / f"{name}_{t + dt:.3f}.pincam" for dt in (-0.001, 0.001)]
                pc = next((a for a in alts if a.exists()), pc)
            K, _, _ = _pincam(require(pc, "intrinsics"))
            keep.append(f)
            Ks.append(K)
            poses.append(tposes[j])
            times.append(t)
        if len(keep) < len(files):
            notes.append(f"{len(files) - len(keep)} frames without a trajectory pose "
                         f"within {POSE_MATCH_S * 1000:.0f} ms dropped")
        if not keep:
            raise IngestError(fd / "lowres_wide.traj", "no frame has a trajectory pose")
        sky = self.sky.get(name, "Up")
        if sky not in SKY_DIRECTIONS:
            raise IngestError(self.root / "metadata.csv",
                              f"sky_direction {sky!r} of {name} is not one of {SKY_DIRECTIONS}")
        w, h = image_size(keep[0])
        depth_dir = fd / "lowres_depth"

        def color(i):
            return read_image(keep[i], at_least=DECODE_AT_LEAST)

        def depth(i):
            p = depth_dir / keep[i].name
            return read_depth(p) if p.exists() else None

        return FrameSeq(n=len(keep), color=color, K=np.stack(Ks), size=(w, h), poses=np.stack(poses),
                        fps=fps_from_times(times, 10.0), depth=depth if depth_dir.is_dir() else None,
                        pose_file=lambda i: str(fd / "lowres_wide.traj"), sky_direction=sky)
