"""The scene: VSI-Bench meta info (oriented boxes, counts, room size) plus optional attachments.

Every data source (procedural rooms, ScanNet, ScanNet++, ARKitScenes, a user's own scans)
converts its raw format into :class:`Scene`; everything downstream is source-agnostic.

Meta info is read and written exactly in its released form: one JSON object per file mapping
scene name to ``{"room_size", "room_center", "object_counts", "object_bbox", ...}``, where each
box is ``{"centroid", "axesLengths", "normalizedAxes", "min", "max"}``. World frames are z-up,
metres. ``normalizedAxes`` holds three row vectors, one per box axis; ``axesLengths[i]`` is the
full extent along row ``i``.

Optional attachments, written by sources beside the meta info:

- ``video``: path of the scene's mp4.

The on-disk layout of a data root is defined in :mod:`vsgrpo.scene_files`.
- ``visibility``: pixels of each object instance in each frame (appearance order).
- ``floor_plan``: the room footprint polygon (route planning, room size).
- ``cameras``: per-frame intrinsics and camera-to-world poses (projection checks).

Rules applied to inconsistencies in the released data (each emits :class:`MetaWarning`):

1. Exact duplicate boxes (same category, centroid, extents and axes to 1e-6) are dropped; the
   released ScanNet meta has three such printers.
2. When ``object_counts[c]`` still differs from the number of boxes of ``c``, the released
   count is kept for counting questions (VSI-Bench's answers follow it: these are
   hand-corrected counts) and the boxes are kept for geometry. With ``strict=True`` (used for
   meta that vsgrpo generates itself) this is an error instead.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import MetaError, MetaWarning, VsgrpoError

ORTHONORMAL_TOL = 1e-3
_BOX_KEYS = ("centroid", "axesLengths", "normalizedAxes")


@dataclass(frozen=True, eq=False)
class ObjectBox:
    """One oriented 3D box. ``axes`` rows are unit vectors; ``extents`` are full lengths (m)."""

    category: str
    centroid: np.ndarray  # (3,)
    extents: np.ndarray  # (3,)
    axes: np.ndarray  # (3, 3), row i = direction of extent i
    extra: Mapping[str, Any] = field(default_factory=dict)  # "min"/"max" and unknown keys, kept verbatim

    @classmethod
    def create(cls, category: str, centroid, extents, axes) -> "ObjectBox":
        """Build a box and fill in the axis-aligned ``min``/``max`` the released format carries."""
        c = np.asarray(centroid, float)
        e = np.asarray(extents, float)
        a = np.asarray(axes, float).reshape(3, 3)
        box = cls(category, c, e, a, {})
        corners = box.corners()
        object.__setattr__(box, "extra", {"min": corners.min(0).tolist(), "max": corners.max(0).tolist()})
        return box

    def corners(self) -> np.ndarray:
        """The 8 corners, shape (8, 3)."""
        signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], float)
        return self.centroid + (signs * (self.extents / 2)) @ self.axes

    def to_meta(self) -> dict:
        out = {
            "centroid": [float(v) for v in self.centroid],
            "axesLengths": [float(v) for v in self.extents],
            "normalizedAxes": [float(v) for v in self.axes.reshape(-1)],
        }
        for k, v in self.extra.items():
            out[k] = v
        return out

    def same_as(self, other: "ObjectBox", tol: float = 1e-6) -> bool:
        return (self.category == other.category
                and np.allclose(self.centroid, other.centroid, atol=tol)
                and np.allclose(self.extents, other.extents, atol=tol)
                and np.allclose(self.axes, other.axes, atol=tol))


@dataclass
class Visibility:
    """Per-frame visibility: ``pixels[f, k]`` = pixels of instance ``instances[k]`` in frame ``f``.

    ``instances`` are ``(category, index)`` with ``index`` into ``Scene.objects[category]``.
    ``times`` are frame timestamps in seconds.
    """

    times: np.ndarray  # (F,)
    instances: list[tuple[str, int]]
    pixels: np.ndarray  # (F, K) int

    def first_appearance(self, category: str, threshold: int) -> float | None:
        """Time (s) of the first frame where any instance of ``category`` shows > threshold pixels."""
        cols = [k for k, (c, _) in enumerate(self.instances) if c == category]
        if not cols:
            return None
        seen = np.nonzero((self.pixels[:, cols] > threshold).any(axis=1))[0]
        return float(self.times[seen[0]]) if len(seen) else None


@dataclass
class FloorPlan:
    """Room footprint in the world (x, y) plane, as one or more polygons (outer rings, metres)."""

    polygons: list[np.ndarray]  # each (N, 2)
    floor_z: float = 0.0

    def area(self) -> float:
        from shapely.geometry import Polygon
        from shapely.ops import unary_union

        return float(unary_union([Polygon(p) for p in self.polygons]).area)


@dataclass
class CameraTrack:
    """Per-frame pinhole cameras: ``intrinsics`` (F,3,3) or (3,3), ``poses`` (F,4,4) camera-to-world.

    Camera convention: OpenCV (x right, y down, z forward).
    """

    intrinsics: np.ndarray
    poses: np.ndarray
    width: int
    height: int
    times: np.ndarray | None = None


@dataclass
class Scene:
    """One scene: the released meta fields plus optional attachments."""

    name: str
    dataset: str
    room_size: float
    room_center: np.ndarray | None
    object_counts: dict[str, int]
    objects: dict[str, list[ObjectBox]]
    extra: dict[str, Any] = field(default_factory=dict)  # keys like video_path, kept verbatim
    video: Path | None = None
    visibility: Visibility | None = None
    floor_plan: FloorPlan | None = None
    cameras: CameraTrack | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.dataset, self.name)

    def count(self, category: str) -> int:
        return int(self.object_counts.get(category, 0))

    def unique_categories(self) -> list[str]:
        """Categories that occur exactly once (by count and by box list), sorted for determinism."""
        return sorted(c for c, boxes in self.objects.items() if len(boxes) == 1 and self.count(c) == 1)

    def box(self, category: str) -> ObjectBox:
        """The single box of a unique category."""
        boxes = self.objects.get(category, [])
        if len(boxes) != 1:
            raise KeyError(f"{category!r} is not unique in scene {self.name} ({len(boxes)} boxes)")
        return boxes[0]

    def to_meta(self) -> dict:
        """The scene in the released meta-info form (key order as released for known keys)."""
        out: dict[str, Any] = {}
        for k, v in self.extra.items():
            out[k] = v
        out["dataset"] = self.dataset
        out["room_size"] = float(self.room_size)
        if self.room_center is not None:
            out["room_center"] = [float(v) for v in self.room_center]
        out["object_counts"] = {c: int(n) for c, n in self.object_counts.items()}
        out["object_bbox"] = {c: [b.to_meta() for b in boxes] for c, boxes in self.objects.items()}
        return out


# ---------------------------------------------------------------------------------------------
# reading and validation


def _finite_vector(file, scene, fld, value, n) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise MetaError(file, scene, fld, f"expected {n} numbers, got {value!r:.80}") from None
    if arr.shape != (n,):
        raise MetaError(file, scene, fld, f"expected {n} numbers, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise MetaError(file, scene, fld, "contains NaN or infinity")
    return arr


def _parse_box(file, scene, category, i, raw) -> ObjectBox:
    where = f"object_bbox.{category}[{i}]"
    if not isinstance(raw, Mapping):
        raise MetaError(file, scene, where, "expected an object with centroid, axesLengths, normalizedAxes")
    for k in _BOX_KEYS:
        if k not in raw:
            raise MetaError(file, scene, f"{where}.{k}", "missing key")
    c = _finite_vector(file, scene, f"{where}.centroid", raw["centroid"], 3)
    e = _finite_vector(file, scene, f"{where}.axesLengths", raw["axesLengths"], 3)
    if np.any(e < 0):
        raise MetaError(file, scene, f"{where}.axesLengths", f"negative extent {e.tolist()}")
    a = _finite_vector(file, scene, f"{where}.normalizedAxes", raw["normalizedAxes"], 9).reshape(3, 3)
    if np.abs(a @ a.T - np.eye(3)).max() > ORTHONORMAL_TOL:
        raise MetaError(file, scene, f"{where}.normalizedAxes", "axes are not orthonormal")
    extra = {k: v for k, v in raw.items() if k not in _BOX_KEYS}
    for k in ("min", "max"):
        if k in extra:
            _finite_vector(file, scene, f"{where}.{k}", extra[k], 3)
    return ObjectBox(category, c, e, a, extra)


def parse_scene(file, name: str, raw: Any, *, dataset: str | None = None, strict: bool = False) -> Scene:
    """Validate and convert one scene's meta dict. ``file`` is only used in messages."""
    if not isinstance(raw, Mapping):
        raise MetaError(file, name, None, "expected a JSON object")
    for k in ("room_size", "object_counts", "object_bbox"):
        if k not in raw:
            raise MetaError(file, name, k, "missing key")
    try:
        room_size = float(raw["room_size"])
    except (TypeError, ValueError):
        raise MetaError(file, name, "room_size", f"expected a number, got {raw['room_size']!r:.40}") from None
    if not math.isfinite(room_size):
        raise MetaError(file, name, "room_size", "is NaN or infinity")
    if room_size < 0:
        raise MetaError(file, name, "room_size", f"negative room size {room_size}")
    room_center = None
    if raw.get("room_center") is not None:
        room_center = _finite_vector(file, name, "room_center", raw["room_center"], 3)
    counts_raw = raw["object_counts"]
    if not isinstance(counts_raw, Mapping):
        raise MetaError(file, name, "object_counts", "expected an object mapping category to count")
    counts: dict[str, int] = {}
    for c, n in counts_raw.items():
        if isinstance(n, bool) or not isinstance(n, (int, float)) or not math.isfinite(n) or n < 0 or int(n) != n:
            raise MetaError(file, name, f"object_counts.{c}", f"expected a non-negative integer, got {n!r}")
        counts[c] = int(n)
    bbox_raw = raw["object_bbox"]
    if not isinstance(bbox_raw, Mapping):
        raise MetaError(file, name, "object_bbox", "expected an object mapping category to a list of boxes")
    objects: dict[str, list[ObjectBox]] = {}
    for c, boxes in bbox_raw.items():
        if not isinstance(boxes, list):
            raise MetaError(file, name, f"object_bbox.{c}", "expected a list of boxes")
        parsed: list[ObjectBox] = []
        for i, b in enumerate(boxes):
            box = _parse_box(file, name, c, i, b)
            if any(box.same_as(p) for p in parsed):
                if strict:
                    raise MetaError(file, name, f"object_bbox.{c}[{i}]", "duplicate of an earlier box")
                warnings.warn(f"{file}: scene {name!r}: field 'object_bbox.{c}[{i}]': exact duplicate box dropped",
                              MetaWarning, stacklevel=2)
                continue
            parsed.append(box)
        objects[c] = parsed
    for c in sorted(set(counts) | set(objects)):
        n_boxes = len(objects.get(c, []))
        if counts.get(c, 0) != n_boxes:
            msg = f"count {counts.get(c, 0)} disagrees with {n_boxes} boxes"
            if strict:
                raise MetaError(file, name, f"object_counts.{c}", msg)
            warnings.warn(f"{file}: scene {name!r}: field 'object_counts.{c}': {msg}; "
                          "keeping the released count for counting and the boxes for geometry",
                          MetaWarning, stacklevel=2)
    ds = raw.get("dataset", dataset)
    if not isinstance(ds, str) or not ds:
        raise MetaError(file, name, "dataset", "missing: set it in the meta or name the file {dataset}_*.json")
    extra = {k: v for k, v in raw.items()
             if k not in ("room_size", "room_center", "object_counts", "object_bbox", "dataset")}
    return Scene(name=name, dataset=ds, room_size=room_size, room_center=room_center,
                 object_counts=counts, objects=objects, extra=extra)


def _dataset_from_filename(path: Path) -> str | None:
    """``scannet`` from ``scannet_meta_info_val.json``: the released naming, which ``data ingest`` and
    ``data synth`` also write (``{dataset}_meta_info.json``), so any registered source's files are
    read without a list of dataset names here. ``None`` for another name (the meta's own
    ``dataset`` field must then say it)."""
    dataset, sep, _ = path.name.partition("_meta_info")
    return dataset if sep and dataset else None


def read_meta_file(path: str | os.PathLike, *, strict: bool = False) -> dict[str, Scene]:
    """Read one released meta-info JSON file: ``{scene_name: meta}``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise VsgrpoError(f"meta info file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise MetaError(path, None, None, f"cannot read: {e}") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as e:
        raise MetaError(path, None, None, f"not valid JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(raw, dict):
        raise MetaError(path, None, None, "expected a JSON object mapping scene name to meta info")
    ds = _dataset_from_filename(path)
    return {name: parse_scene(path, name, m, dataset=ds, strict=strict) for name, m in raw.items()}


def write_meta_file(scenes: Iterable[Scene], path: str | os.PathLike) -> None:
    """Write scenes in the released form (atomically)."""
    from .io import write_json

    write_json(path, {s.name: s.to_meta() for s in scenes}, indent=None)


class SceneIndex(dict):
    """Scenes keyed by ``(dataset, scene_name)``, loaded from every ``*.json`` in a directory."""

    def find(self, dataset: str, scene_name: str) -> Scene:
        try:
            return self[(dataset, scene_name)]
        except KeyError:
            raise VsgrpoError(f"scene {dataset}/{scene_name} is not in the meta info") from None


def load_meta_dir(path: str | os.PathLike, *, strict: bool = False) -> SceneIndex:
    """Load every ``*.json`` meta file directly in ``path`` (or a single file)."""
    path = Path(path)
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(p for p in path.glob("*.json") if not p.name.startswith("."))
        if not files:
            raise VsgrpoError(f"no *.json meta info files in {path}")
    else:
        raise VsgrpoError(f"meta info directory not found: {path}")
    index = SceneIndex()
    for f in files:
        for scene in read_meta_file(f, strict=strict).values():
            if scene.key in index:
                raise MetaError(f, scene.name, None, f"scene {scene.dataset}/{scene.name} appears in two files")
            index[scene.key] = scene
    return index
