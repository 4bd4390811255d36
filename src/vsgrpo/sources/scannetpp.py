"""ScanNet++ -> RawScene.

Per scene ``ROOT/data/<scene_id>/`` (or ``ROOT/<scene_id>/``), file names as in the official
toolkit (github.com/scannetpp/scannetpp, ``common/scene_release.py``, ``common/utils/anno.py``):

- ``scans/mesh_aligned_0.05.ply``: the aligned mesh (z-up, metres);
- ``scans/segments.json``: ``segIndices``, one segment id per mesh vertex;
- ``scans/segments_anno.json``: ``segGroups[]`` with ``objectId``, ``label``, ``segments`` and
  ``obb`` (``centroid``, ``axesLengths``, ``normalizedAxes``: three row vectors). The given
  ``obb`` is used as the box; without one, the gravity-aligned minimal box of the vertices;
- ``iphone/pose_intrinsic_imu.json``: ``{"frame_000000": {"intrinsic": 3x3, "aligned_pose":
  4x4 camera-to-world in the mesh frame, "pose", "timestamp", "imu"}, ...}``;
- ``iphone/rgb/frame_*.jpg`` (extracted by ``iphone/prepare_iphone_data.py``) or, when that
  folder is absent, ``iphone/rgb.mkv`` / ``rgb.mp4`` decoded in order;
- ``iphone/depth/frame_*.png`` (uint16 mm, optional).

Assumption (not stated by the toolkit): ``aligned_pose`` uses OpenCV camera axes (x right,
y down, z forward), as the projects that unproject ScanNet++ iPhone depth with it do.
The frame rate comes from the timestamps of the frames used (30 fps if absent).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .assemble import DECODE_AT_LEAST, FrameSeq, Instance, RawScene, SceneLoader
from .base import Source
from .errors import IngestError
from .rawio import image_size, numeric_sorted, read_depth, read_image, read_json, read_obb, read_ply, require

# The VSI-Bench categories this source keeps, and remaps of its raw labels (lower case) into them.
SOURCE = Source(
    "scannetpp",
    vocabulary=(
        "basket", "bed", "blanket", "bookshelf", "bowl", "bucket", "ceiling light", "chair", "clock",
        "coat hanger", "computer mouse", "computer tower", "crate", "cup", "cushion", "cutting board", "door",
        "exhaust fan", "headphones", "heater", "kettle", "keyboard", "laptop", "microwave", "monitor", "pan",
        "paper bag", "pillow", "plant", "power strip", "printer", "refrigerator", "shoe rack", "shoes", "sofa",
        "suitcase", "table", "table lamp", "telephone", "toilet", "trash can", "tv", "whiteboard",
    ),
    remap={
        "office chair": "chair", "desk": "table", "mouse": "computer mouse", "trash bin": "trash can",
        "fridge": "refrigerator", "coat rack": "coat hanger", "bookcase": "bookshelf", "couch": "sofa",
        "pc": "computer tower", "shoe": "shoes", "potted plant": "plant", "phone": "telephone",
    },
)
DATASET = SOURCE.name
DEFAULT_FPS = 30.0


def scenes_dir(root: Path) -> Path:
    return root / "data" if (root / "data").is_dir() else root


def list_scenes(root: Path) -> list[str]:
    return sorted(p.name for p in scenes_dir(root).iterdir() if (p / "scans").is_dir())


def fps_from_times(times, default: float = DEFAULT_FPS) -> float:
    t = np.asarray([x for x in times if x is not None], float)
    if len(t) < 2:
        return default
    dt = np.median(np.diff(np.sort(t)))
    return float(np.clip(round(1.0 / dt, 3), 1.0, 120.0)) if dt > 0 else default


class Loader(SceneLoader):
    source = SOURCE

    def load(self, name: str) -> RawScene:
        d = scenes_dir(self.root) / name
        require(d, "scene directory")
        mesh = d / "scans" / "mesh_aligned_0.05.ply"
        verts, faces, _ = read_ply(mesh)
        segs_path = d / "scans" / "segments.json"
        segs = read_json(segs_path)
        seg_idx = np.asarray(segs.get("segIndices", []) if isinstance(segs, dict) else [], np.int64)
        if len(seg_idx) != len(verts):
            raise IngestError(segs_path,
                              f"segIndices has {len(seg_idx)} entries but the mesh has {len(verts)} vertices")
        anno_path = d / "scans" / "segments_anno.json"
        anno = read_json(anno_path)
        groups = anno.get("segGroups") if isinstance(anno, dict) else None
        if not isinstance(groups, list):
            raise IngestError(anno_path, "missing segGroups list")
        instances = []
        for g in groups:
            cat = self.labels.category(str(g.get("label", "")))
            if cat is None:
                continue
            vidx = np.nonzero(np.isin(seg_idx, np.asarray(g.get("segments", []), np.int64)))[0]
            if len(vidx) == 0:
                raise IngestError(anno_path, f"object {g.get('objectId')} ({g.get('label')!r}) has no vertices")
            box = None
            obb = g.get("obb")
            if isinstance(obb, dict):
                box = read_obb(obb, anno_path, f"object {g.get('objectId')}: obb")
            instances.append(Instance(cat, vidx, box=box, source=str(anno_path)))
        raw = RawScene(name, DATASET, verts, faces, instances, mesh_file=str(mesh))
        raw.frames = self._frames(d / "iphone", raw.notes)
        return raw

    def _frames(self, ip: Path, notes: list[str]) -> FrameSeq | None:
        meta_path = ip / "pose_intrinsic_imu.json"
        if not meta_path.exists():
            notes.append("no iphone/pose_intrinsic_imu.json: meta and floor plan only")
            return None
        meta = read_json(meta_path)
        if not isinstance(meta, dict) or not meta:
            raise IngestError(meta_path, "expected an object keyed by frame name")
        rgb_dir = ip / "rgb"
        if rgb_dir.is_dir():
            files = {p.stem: p for p in rgb_dir.iterdir() if p.suffix.lower() in (".jpg", ".png")}
            names = [n for n in numeric_sorted(list(meta), key=lambda s: s) if n in files]
            video = None
        else:
            video = next((ip / f for f in ("rgb.mkv", "rgb.mp4") if (ip / f).exists()), None)
            if video is None:
                notes.append("no iphone/rgb/ frames or rgb video: meta and floor plan only")
                return None
            names = numeric_sorted(list(meta), key=lambda s: s)
        names = names[:: self.frame_step]
        if not names:
            raise IngestError(rgb_dir, "no frame has both an image and an entry in pose_intrinsic_imu.json")
        Ks, poses, times = [], [], []
        for n in names:
            e = meta[n]
            try:
                K = np.asarray(e["intrinsic"], float).reshape(3, 3)
                P = np.asarray(e["aligned_pose"], float).reshape(4, 4)
            except (KeyError, ValueError, TypeError):
                raise IngestError(meta_path, f"{n}: needs 'intrinsic' (3x3) and 'aligned_pose' (4x4)") from None
            if np.isnan(P).any() or np.isnan(K).any():
                raise IngestError(meta_path, f"{n}: camera pose or intrinsics contain NaN")
            Ks.append(K)
            poses.append(P)
            times.append(e.get("timestamp"))
        if video is not None:
            reader = _SequentialVideo(video, [int("".join(c for c in n if c.isdigit())) for n in names])
            first = reader(0)
        else:
            first = None
            reader = None
        h, w = first.shape[:2] if first is not None else image_size(files[names[0]])[::-1]
        depth_dir = ip / "depth"

        def color(i):
            if i == 0 and first is not None:
                return first
            return reader(i) if reader is not None else read_image(files[names[i]], at_least=DECODE_AT_LEAST)

        def depth(i):
            p = depth_dir / f"{names[i]}.png"
            return read_depth(p) if p.exists() else None

        return FrameSeq(n=len(names), color=color, K=np.stack(Ks), size=(w, h), poses=np.stack(poses),
                        fps=fps_from_times(times), depth=depth if depth_dir.is_dir() else None,
                        pose_file=lambda i: f"{meta_path} [{names[i]}]")


class _SequentialVideo:
    """Frames ``wanted[i]`` of a video, read in increasing ``i`` (decoding is sequential)."""

    def __init__(self, path: Path, wanted: list[int]):
        self.path, self.wanted = path, wanted
        self._it = None
        self._pos = -1
        self._cache: dict[int, np.ndarray] = {}

    def __call__(self, i: int) -> np.ndarray:
        import av

        if i in self._cache:
            return self._cache.pop(i)
        if self._it is None:
            try:
                self._container = av.open(str(self.path))
                self._it = self._container.decode(video=0)
            except (av.FFmpegError, OSError) as e:
                raise IngestError(self.path, f"cannot decode video: {e}") from None
        target = self.wanted[i]
        try:
            while self._pos < target:
                frame = next(self._it)
                self._pos += 1
            return frame.to_ndarray(format="rgb24")
        except StopIteration:
            raise IngestError(self.path, f"video ends before frame {target}") from None
        except av.FFmpegError as e:
            raise IngestError(self.path, f"cannot decode video: {e}") from None
