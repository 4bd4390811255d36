"""Readers for the raw files of scan datasets; every failure names the file (:class:`IngestError`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .errors import IngestError


def require(path: Path, what: str = "file") -> Path:
    if not path.exists():
        raise IngestError(path, f"{what} not found")
    return path


def read_json(path: Path):
    require(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise IngestError(path, f"not valid JSON ({e.msg} at line {e.lineno})") from None
    except (OSError, UnicodeDecodeError) as e:
        raise IngestError(path, f"cannot read: {e}") from None


def read_ply(path: Path, *, extra: tuple[str, ...] = ()) -> tuple[np.ndarray, np.ndarray | None, dict[str, np.ndarray]]:
    """``(vertices (N,3) float64, faces (F,3) int64 or None, {name: per-vertex array})``.

    ``extra`` names per-vertex properties to return when present (e.g. ``instance``).
    """
    from plyfile import PlyData

    require(path, "mesh")
    try:
        try:  # fast path: triangle meshes read vectorised (plyfile otherwise loops per face)
            ply = PlyData.read(str(path), known_list_len={"face": {"vertex_indices": 3}})
        except Exception:
            ply = PlyData.read(str(path))
        vert = ply["vertex"].data
        xyz = np.stack([np.asarray(vert[k], np.float64) for k in ("x", "y", "z")], axis=1)
        faces = None
        if "face" in ply and len(ply["face"].data):
            fd = ply["face"].data
            name = "vertex_indices" if "vertex_indices" in fd.dtype.names else fd.dtype.names[0]
            col = fd[name]
            if col.dtype != object and col.ndim == 2:  # fixed-length lists (fast path)
                faces = np.array(col, np.int64) if col.shape[1] == 3 else None
            else:  # polygons of any size: keep the triangles
                tris = [np.asarray(f, np.int64) for f in col if len(f) == 3]
                faces = np.stack(tris) if tris else None
        xyz = np.array(xyz)  # detach from a memory map before the file closes
        props = {k: np.array(vert[k]) for k in extra if k in vert.dtype.names}
    except IngestError:
        raise
    except Exception as e:  # plyfile raises many types on truncated or malformed files
        raise IngestError(path, f"cannot read PLY mesh (truncated or malformed?): {type(e).__name__}: {e}") from None
    if faces is not None and (faces.min() < 0 or faces.max() >= len(xyz)):
        raise IngestError(path, "face indices out of range")
    return xyz, faces, props


def read_image(path: Path, *, at_least: int | None = None) -> np.ndarray:
    """RGB uint8 (H, W, 3). ``at_least``: a JPEG may be decoded at 1/2, 1/4, 1/8 scale as long as
    both sides stay >= this many pixels (much faster for 1296x968 frames bound for 640x480)."""
    from PIL import Image, UnidentifiedImageError

    require(path, "frame")
    try:
        with Image.open(path) as im:
            if at_least:
                im.draft("RGB", (at_least, at_least))
            return np.asarray(im.convert("RGB"))
    except (OSError, UnidentifiedImageError) as e:
        raise IngestError(path, f"cannot decode image: {e}") from None


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the header only."""
    from PIL import Image, UnidentifiedImageError

    require(path, "frame")
    try:
        with Image.open(path) as im:
            return im.size
    except (OSError, UnidentifiedImageError) as e:
        raise IngestError(path, f"cannot decode image: {e}") from None


def read_depth(path: Path, scale: float = 1000.0) -> np.ndarray:
    """A 16-bit depth PNG in ``1/scale`` metres (millimetres by default) -> float32 metres."""
    from PIL import Image, UnidentifiedImageError

    require(path, "depth image")
    try:
        with Image.open(path) as im:
            d = np.asarray(im, dtype=np.float32)
    except (OSError, UnidentifiedImageError) as e:
        raise IngestError(path, f"cannot decode depth image: {e}") from None
    if d.ndim != 2:
        raise IngestError(path, f"depth image must have one channel, got shape {d.shape}")
    return d / scale


def read_matrix(path: Path, shape: tuple[int, int] = (4, 4), *, allow_nonfinite: bool = False) -> np.ndarray:
    """A whitespace-separated text matrix (ScanNet pose/intrinsic files)."""
    require(path)
    try:
        vals = np.array(path.read_text(encoding="utf-8").split(), dtype=np.float64)
    except (ValueError, OSError, UnicodeDecodeError) as e:
        raise IngestError(path, f"expected {shape[0]}x{shape[1]} numbers: {e}") from None
    if vals.size != shape[0] * shape[1]:
        raise IngestError(path, f"expected {shape[0] * shape[1]} numbers, found {vals.size}")
    m = vals.reshape(shape)
    if not allow_nonfinite and not np.all(np.isfinite(m)):
        raise IngestError(path, "contains NaN or infinity")
    return m


def read_obb(obb, path: Path, what: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An oriented box in the released meta form (``centroid``, ``axesLengths``, ``normalizedAxes``,
    which ScanNet++ and ARKitScenes annotations share) as (centre (3,), extents (3,), axes (3, 3))."""
    try:
        return (np.asarray(obb["centroid"], float).reshape(3), np.asarray(obb["axesLengths"], float).reshape(3),
                np.asarray(obb["normalizedAxes"], float).reshape(3, 3))
    except (KeyError, TypeError, ValueError):
        raise IngestError(path, f"{what} needs centroid, axesLengths, normalizedAxes") from None


def numeric_sorted(paths, key=lambda p: p.stem):
    """Sort frame files by the number in their name (0, 1, ..., 10, not 0, 1, 10)."""
    def k(p):
        s = key(p)
        digits = "".join(ch for ch in s if ch.isdigit() or ch == ".")
        try:
            return (0, float(digits.strip(".") or "nan"), s)
        except ValueError:
            return (1, 0.0, s)
    return sorted(paths, key=k)
