"""Geometry fitted to raw scans: gravity-aligned minimal boxes and the alpha-shape room footprint.

Conventions (world z-up, metres):

- :func:`min_oriented_box` returns the box of smallest *floor footprint* among boxes whose third
  axis is world z: the minimum-area rectangle of the points' (x, y) projection (convex hull +
  rotating calipers: the optimal rectangle has one side collinear with a hull edge), times the
  z range. Furniture stands upright, so this is the box VSI-Bench-style questions need
  ("longest dimension", closest points) and it is deterministic.
- :func:`alpha_shape` keeps the Delaunay triangles whose circumradius is below ``1/alpha`` and
  unions them (the convention of the ``alphashape`` package VSI-Bench used; alpha 5 -> 0.2 m).
- :func:`room_footprint` samples 10,000 mesh vertices (seeded; VSI-Bench's sampling was not),
  projects them on the floor plane and returns the alpha shape's area with holes filled, a room
  centre and the footprint polygons. Holes are filled because the ``alphashape`` package
  polygonizes the *edges* of the kept triangles, so any region enclosed by kept edges (a hole
  under a table, an unscanned patch) becomes a polygon and counts as floor.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

ROOM_ALPHA = 5.0
ROOM_SAMPLES = 10_000


def min_area_rectangle(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum-area enclosing rectangle of 2D points: ``(centre (2,), sizes (2,), axes (2, 2))``.

    ``axes`` rows are unit directions; ``sizes[i]`` is the full side length along row ``i``.
    Degenerate inputs (one point, collinear points) give zero sizes, never an error.
    """
    from scipy.spatial import ConvexHull, QhullError

    xy = np.asarray(xy, float)
    uniq = np.unique(np.round(xy, 9), axis=0)
    if len(uniq) >= 3:
        try:
            hull = uniq[ConvexHull(uniq).vertices]
        except QhullError:  # all collinear
            hull = None
    else:
        hull = None
    if hull is None:
        if len(uniq) == 1:
            return uniq[0].copy(), np.zeros(2), np.eye(2)
        # collinear: the principal direction, zero width
        centre0 = uniq.mean(0)
        _, _, vt = np.linalg.svd(uniq - centre0)
        d = vt[0] / np.linalg.norm(vt[0])
        hull = uniq
        edges = d[None, :]
    else:
        edges = np.roll(hull, -1, axis=0) - hull
        norms = np.linalg.norm(edges, axis=1)
        edges = edges[norms > 1e-12] / norms[norms > 1e-12, None]
    # For each candidate direction u (hull edge), v = u rotated +90 degrees.
    u = edges
    v = np.stack([-u[:, 1], u[:, 0]], axis=1)
    pu = hull @ u.T  # (H, E)
    pv = hull @ v.T
    w = pu.max(0) - pu.min(0)
    h = pv.max(0) - pv.min(0)
    best = int(np.argmin(w * h + 1e-12 * (w + h)))  # tie-break: smaller perimeter
    cu = (pu[:, best].max() + pu[:, best].min()) / 2
    cv = (pv[:, best].max() + pv[:, best].min()) / 2
    centre = cu * u[best] + cv * v[best]
    sizes = np.array([w[best], h[best]])
    axes = np.stack([u[best], v[best]])
    # Canonical form: first axis is the longer side, pointing to +x (or +y when vertical), so
    # the same object always yields the same numbers.
    if sizes[1] > sizes[0] + 1e-12:
        sizes = sizes[::-1].copy()
        axes = np.stack([axes[1], -axes[0]])
    if axes[0, 0] < -1e-12 or (abs(axes[0, 0]) <= 1e-12 and axes[0, 1] < 0):
        axes = -axes
    return centre, sizes, axes


def min_oriented_box(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gravity-aligned minimal box of 3D points: ``(centroid (3,), extents (3,), axes (3, 3))``.

    Rows of ``axes`` are (u, v, z) with u, v horizontal, forming a right-handed frame.
    """
    p = np.asarray(points, float).reshape(-1, 3)
    if len(p) == 0:
        raise ValueError("no points")
    c2, s2, a2 = min_area_rectangle(p[:, :2])
    zmin, zmax = float(p[:, 2].min()), float(p[:, 2].max())
    centroid = np.array([c2[0], c2[1], (zmin + zmax) / 2])
    extents = np.array([s2[0], s2[1], zmax - zmin])
    u = np.array([a2[0, 0], a2[0, 1], 0.0])
    v = np.array([-u[1], u[0], 0.0])  # z x u: right-handed with z up
    axes = np.stack([u, v, [0.0, 0.0, 1.0]])
    return centroid, extents, axes


def points_in_box(points: np.ndarray, centroid, extents, axes, margin: float = 0.0) -> np.ndarray:
    """Boolean mask of points inside an oriented box (``axes`` rows = box directions)."""
    local = (np.asarray(points, float) - np.asarray(centroid, float)) @ np.asarray(axes, float).T
    return np.all(np.abs(local) <= np.asarray(extents, float) / 2 + margin, axis=1)


def alpha_shape(xy: np.ndarray, alpha: float = ROOM_ALPHA):
    """Alpha shape of 2D points as a shapely geometry (Polygon/MultiPolygon; empty if none).

    Triangles of the Delaunay triangulation with circumradius < 1/alpha are kept and unioned.
    """
    from scipy.spatial import Delaunay, QhullError
    from shapely import union_all
    from shapely.geometry import Polygon

    pts = np.unique(np.asarray(xy, float), axis=0)
    if len(pts) < 3:
        return Polygon()
    try:
        tri = Delaunay(pts)
    except QhullError:
        return Polygon()
    t = pts[tri.simplices]  # (T, 3, 2)
    a = np.linalg.norm(t[:, 1] - t[:, 2], axis=1)
    b = np.linalg.norm(t[:, 0] - t[:, 2], axis=1)
    c = np.linalg.norm(t[:, 0] - t[:, 1], axis=1)
    d1, d2 = t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]
    cross = d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0]
    area = np.abs(cross) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        radius = a * b * c / (4 * area)
    keep = np.isfinite(radius) & (radius < 1.0 / alpha)
    if not keep.any():
        return Polygon()
    import shapely

    polys = shapely.polygons(t[keep])
    # Delaunay triangles never overlap, so the fast coverage union is exact here
    try:
        return shapely.coverage_union_all(polys)
    except Exception:  # GEOS rejects a degenerate coverage: fall back to the general union
        return union_all(polys)


@dataclass
class RoomFootprint:
    area: float
    center: np.ndarray  # (3,)
    polygons: list[np.ndarray]  # outer rings, (N, 2) each
    floor_z: float


def scene_seed(name: str) -> int:
    """A stable per-scene seed (Python's hash() is salted per process)."""
    return zlib.crc32(name.encode("utf-8"))


def room_footprint(vertices: np.ndarray, *, seed: int, alpha: float = ROOM_ALPHA,
                   n_samples: int = ROOM_SAMPLES) -> RoomFootprint:
    """Room size as VSI-Bench computes it: alpha shape of ``n_samples`` sampled vertices' (x, y).

    ``area`` is the area inside the alpha shape's outer rings (holes filled, see the module
    docstring); ``polygons`` are those rings (the floor plan, so ``FloorPlan.area()`` equals
    ``area``); ``center`` is the mean of all vertices; ``floor_z`` the 1st percentile of z.
    """
    v = np.asarray(vertices, float)
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(v), size=n_samples, replace=False) if len(v) > n_samples else np.arange(len(v))
    from shapely.geometry import Polygon

    shape = alpha_shape(v[idx, :2], alpha)
    geoms = list(getattr(shape, "geoms", [shape])) if not shape.is_empty else []
    filled = [Polygon(g.exterior) for g in geoms if g.area > 0]
    polygons = [np.asarray(g.exterior.coords, float)[:-1] for g in filled]
    return RoomFootprint(area=float(sum(g.area for g in filled)), center=v.mean(0),
                         polygons=polygons, floor_z=float(np.percentile(v[:, 2], 1)))
