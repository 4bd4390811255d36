"""ScanNet v2 -> RawScene.

Per scene directory ``ROOT/scans/<scene>/`` (or ``ROOT/<scene>/``), as released
(github.com/ScanNet/ScanNet, README "Data Organization"):

- ``<scene>_vh_clean_2.ply``: the annotation mesh (vertices x, y, z; faces);
- ``<scene>_vh_clean_2.0.010000.segs.json``: ``segIndices``, one over-segment id per vertex;
- ``<scene>.aggregation.json``: ``segGroups[]`` with ``objectId``, ``label`` (raw label) and
  ``segments`` (over-segment ids);
- ``<scene>.txt``: ``axisAlignment = m00 m01 ... m33`` (row-major 4x4; identity when absent, as
  for test scenes), applied to vertices and camera poses;
- frames exported from ``<scene>.sens`` by ScanNet's SensReader, in the scene directory (or its
  ``exported/`` or ``sens/`` subdirectory): ``color/<i>.jpg``, ``depth/<i>.png`` (uint16 mm),
  ``pose/<i>.txt`` (4x4 camera-to-world; all ``-inf`` where tracking was lost: such frames
  are dropped), ``intrinsic/intrinsic_color.txt`` and ``intrinsic_depth.txt`` (4x4).

Raw labels go through ``scannetv2-labels.combined.tsv`` (``raw_category`` -> ``category``),
then the VSI-Bench remap and vocabulary (:mod:`vsgrpo.sources.labels`). Video: 24 fps.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .assemble import DECODE_AT_LEAST, FrameSeq, Instance, RawScene, SceneLoader
from .base import Source
from .errors import IngestError
from .labels import read_scannet_tsv
from .rawio import image_size, numeric_sorted, read_depth, read_image, read_json, read_matrix, read_ply, require

# The VSI-Bench categories this source keeps, and remaps of its raw labels (lower case) into them.
SOURCE = Source(
    "scannet",
    vocabulary=(
        "backpack", "bed", "bicycle", "bookshelf", "chair", "clock", "closet", "computer mouse", "counter", "door",
        "fan", "guitar", "keyboard", "lamp", "mattress", "microwave", "mirror", "monitor", "nightstand", "oven",
        "piano", "pillow", "plant", "printer", "radiator", "refrigerator", "sofa", "table", "telephone", "towel",
        "trash bin", "tv", "washing machine", "window",
    ),
    remap={
        "desk": "table", "coffee table": "table", "end table": "table", "dining table": "table",
        "kitchen table": "table", "round table": "table", "side table": "table", "trash can": "trash bin",
        "recycling bin": "trash bin", "garbage bin": "trash bin", "wastebasket": "trash bin",
        "bookshelves": "bookshelf", "bookcase": "bookshelf", "kitchen counter": "counter",
        "bathroom counter": "counter", "mini fridge": "refrigerator", "fridge": "refrigerator", "television": "tv",
        "mouse": "computer mouse", "potted plant": "plant", "wardrobe closet": "closet", "wardrobe": "closet",
        "couch": "sofa", "phone": "telephone", "office chair": "chair", "armchair": "chair", "desk chair": "chair",
        "dining chair": "chair", "ceiling fan": "fan", "table lamp": "lamp", "desk lamp": "lamp",
        "floor lamp": "lamp", "washer": "washing machine", "computer monitor": "monitor",
    },
)
DATASET = SOURCE.name
FPS = 24.0
TSV_NAME = "scannetv2-labels.combined.tsv"


def scenes_dir(root: Path) -> Path:
    return root / "scans" if (root / "scans").is_dir() else root


def list_scenes(root: Path) -> list[str]:
    return sorted(p.name for p in scenes_dir(root).glob("scene*") if p.is_dir())


class Loader(SceneLoader):
    """ScanNet's ``--labels`` is its label tsv (raw label -> NYU40 / category), not an extra map."""

    source = SOURCE

    def __init__(self, root: Path, labels: Path | None = None, frame_step: int = 1):
        super().__init__(root, None, frame_step)
        self.tsv_path = Path(labels) if labels else self.root / TSV_NAME
        self.tsv = read_scannet_tsv(self.tsv_path)

    def load(self, name: str) -> RawScene:
        d = scenes_dir(self.root) / name
        require(d, "scene directory")
        mesh = d / f"{name}_vh_clean_2.ply"
        verts, faces, _ = read_ply(mesh)
        align = _axis_alignment(d / f"{name}.txt")
        verts = verts @ align[:3, :3].T + align[:3, 3]

        segs_path = d / f"{name}_vh_clean_2.0.010000.segs.json"
        segs = read_json(segs_path)
        seg_idx = np.asarray(segs.get("segIndices", []) if isinstance(segs, dict) else [], np.int64)
        if len(seg_idx) != len(verts):
            raise IngestError(segs_path,
                              f"segIndices has {len(seg_idx)} entries but the mesh has {len(verts)} vertices")
        agg_path = d / f"{name}.aggregation.json"
        agg = read_json(agg_path)
        groups = agg.get("segGroups") if isinstance(agg, dict) else None
        if not isinstance(groups, list):
            raise IngestError(agg_path, "missing segGroups list")
        instances = []
        for g in groups:
            raw_label = str(g.get("label", ""))
            key = " ".join(raw_label.strip().lower().split())
            if key not in self.tsv:
                raise IngestError(agg_path,
                                  f"label {raw_label!r} (object {g.get('objectId')}) is not in the label map "
                              f"{self.tsv_path}")
            cat = self.labels.category(self.tsv[key], key)
            if cat is None:
                continue
            vidx = np.nonzero(np.isin(seg_idx, np.asarray(g.get("segments", []), np.int64)))[0]
            if len(vidx) == 0:
                raise IngestError(agg_path,
                                  f"object {g.get('objectId')} ({raw_label!r}) has no vertices in {mesh.name}")
            instances.append(Instance(cat, vidx, source=str(agg_path)))
        raw = RawScene(name, DATASET, verts, faces, instances, mesh_file=str(mesh))
        raw.frames = self._frames(d, align, raw.notes)
        return raw

    def _frames(self, d: Path, align: np.ndarray, notes: list[str]) -> FrameSeq | None:
        base = next((b for b in (d, d / "exported", d / "sens") if (b / "color").is_dir()), None)
        if base is None:
            notes.append("no exported frames (color/): meta and floor plan only")
            return None
        colors = numeric_sorted([p for p in (base / "color").iterdir() if p.suffix.lower() in (".jpg", ".png")])
        colors = colors[:: self.frame_step]
        Kc = read_matrix(require(base / "intrinsic" / "intrinsic_color.txt"))[:3, :3]
        kd_path = base / "intrinsic" / "intrinsic_depth.txt"
        Kd = read_matrix(kd_path)[:3, :3] if kd_path.exists() else None
        keep, poses = [], []
        for c in colors:
            pose_path = base / "pose" / f"{c.stem}.txt"
            m = read_matrix(pose_path, allow_nonfinite=True)
            if np.isnan(m).any():
                raise IngestError(pose_path, "camera pose contains NaN")
            if not np.all(np.isfinite(m)):  # ScanNet marks lost tracking with -inf
                continue
            keep.append(c)
            poses.append(align @ m)
        dropped = len(colors) - len(keep)
        if dropped:
            notes.append(f"{dropped} frames without a valid pose (-inf) dropped")
        if not keep:
            raise IngestError(base / "pose", "no frame has a valid camera pose")
        w, h = image_size(keep[0])
        has_depth = (base / "depth").is_dir()

        def color(i):
            return read_image(keep[i], at_least=DECODE_AT_LEAST)

        def depth(i):
            p = base / "depth" / f"{keep[i].stem}.png"
            return read_depth(p) if p.exists() else None

        n = len(keep)
        return FrameSeq(n=n, color=color, K=np.repeat(Kc[None], n, 0), size=(w, h), poses=np.stack(poses),
                        fps=FPS, depth=depth if has_depth else None,
                        K_depth=None if Kd is None else np.repeat(Kd[None], n, 0),
                        pose_file=lambda i: str(base / "pose" / f"{keep[i].stem}.txt"))


def _axis_alignment(path: Path) -> np.ndarray:
    if not path.exists():
        return np.eye(4)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise IngestError(path, f"cannot read: {e}") from None
    for line in text.splitlines():
        if line.strip().startswith("axisAlignment"):
            try:
                vals = np.array(line.split("=", 1)[1].split(), dtype=float)
            except ValueError:
                raise IngestError(path, "axisAlignment is not 16 numbers") from None
            if vals.size != 16 or not np.all(np.isfinite(vals)):
                raise IngestError(path, "axisAlignment must be 16 finite numbers")
            return vals.reshape(4, 4)
    return np.eye(4)
