"""Geometry behind the answers: box distances, directions on the floor plane, room area.

Closest-point distance
----------------------
VSI-Bench measures "from the closest point of each object" by sampling each oriented box on
a grid and taking the smallest distance over all pairs of samples, rounded to 0.1 m. Per box
axis of full extent ``e`` the released code takes ``n = ceil(e / 0.05)`` values
``linspace(-e/2, e/2, n)`` (faces included, spacing about 5 cm), builds the 3D grid, drops
the inner core (points with ``|p_i| <= e_i / 4`` on every axis), maps the grid to the world
and finally crops the points to the box with Open3D (``|(p - c) . axis_i| <= e_i / 2``).

That last crop matters: the face points lie exactly on the boundary, so whether each one
survives is decided by floating-point rounding, and on the real data a good share of face
points are dropped. Neither the exact continuous box-box distance nor the uncropped grid
reproduces the released answers (about 68% agreement on abs distance), while replaying the
procedure operation by operation in float64 agrees on all of them. So
:func:`sample_box_points` replays it exactly, and :func:`closest_distance` finds the same
minimum as :func:`closest_distance_reference` (the straightforward all-pairs version) with
much less work: it samples only the part of each grid that can hold the closest pair (within
``r`` of the other box's bounding box, ``r`` grown from a lower bound of the distance until
the answer is below it; every operation after the grid is per point, so a restricted grid
yields exactly the same samples), prunes samples whose distance to the other *solid* box
exceeds an achieved pair distance, and hands the few left to a KD-tree. Samples and pair
distances are memoised per box (boxes are immutable).

Frames: world is z-up; a box's ``axes`` rows are its unit axis vectors (a local point ``p``
maps to ``centroid + p @ axes``).
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Sequence

import numpy as np

from .scene import ObjectBox

SAMPLE_SPACING = 0.05  # metres, VSI-Bench's grid spacing


# ---------------------------------------------------------------------------------------------
# sampling (the reference procedure) and the fast exact set distance


def sample_box_points(box: ObjectBox, spacing: float = SAMPLE_SPACING) -> np.ndarray:
    """VSI-Bench's sample set of a box in world coordinates, shape (N, 3), cached per box.

    Reproduces the released procedure operation by operation (float64, same order), because
    its final crop to the box decides face points by floating-point noise (see module doc).
    """
    if spacing == SAMPLE_SPACING:
        cached = _SAMPLES.get(box)
        if cached is not None:
            return cached
    pts = _sample(box, spacing)
    if spacing == SAMPLE_SPACING:
        pts.setflags(write=False)
        _SAMPLES[box] = pts
    return pts


_SAMPLES: "weakref.WeakKeyDictionary[ObjectBox, np.ndarray]" = weakref.WeakKeyDictionary()


def _sample(box: ObjectBox, spacing: float, region: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Replay of the released sampling; ``region`` (local lo, hi) keeps only grid values inside it.

    Restricting the grid per axis does not change any kept sample: every operation after the
    grid is per point.
    """
    e = np.asarray(box.extents, float)
    rot = np.asarray(box.axes, float).T  # columns are the box axes (Open3D's R)
    c = np.asarray(box.centroid, float)
    n = [int(np.ceil(v / spacing)) for v in e]
    grids = [np.linspace(-e[i] / 2, e[i] / 2, n[i]) for i in range(3)]
    if region is not None:
        lo, hi = region
        grids = [g[(g >= lo[i]) & (g <= hi[i])] for i, g in enumerate(grids)]
    xx, yy, zz = np.meshgrid(*grids)
    pts = np.vstack([xx.ravel(), yy.ravel(), zz.ravel()]).T
    pts = pts[np.any(np.abs(pts) > e / 4, axis=1)]
    pts = np.dot(pts, rot.T)
    pts += c
    # crop to the box the way Open3D's OrientedBoundingBox does: |(p - c) . axis_i| <= e_i / 2
    d = pts - c
    keep = np.ones(len(pts), bool)
    for i in range(3):
        ax = rot[:, i]
        keep &= np.abs(d[:, 0] * ax[0] + d[:, 1] * ax[1] + d[:, 2] * ax[2]) <= e[i] / 2
    pts = pts[keep]
    if region is None and len(pts) == 0 and np.all(e > 0) and spacing > 1e-4:
        return _sample(box, spacing * 0.5)  # as released: retry on a finer grid
    return pts


def clear_caches() -> None:
    """Forget memoised samples and pair distances (benchmarks measure cold calls)."""
    _SAMPLES.clear()
    _PAIRS.clear()


def point_box_distance(box: ObjectBox, points: np.ndarray) -> np.ndarray:
    """Exact distance from world points (N, 3) to the solid box (0 inside)."""
    local = (np.asarray(points, float) - box.centroid) @ box.axes.T
    gap = np.maximum(np.abs(local) - np.asarray(box.extents) / 2, 0.0)
    return np.sqrt((gap ** 2).sum(axis=1))


def closest_distance(a: ObjectBox, b: ObjectBox) -> float:
    """VSI-Bench's closest-point distance between two boxes (metres, unrounded).

    Equal to the smallest pairwise distance between the two sample sets, found without
    forming all pairs: a sample ``p`` of A can only be part of the closest pair if its
    distance to the solid box B (a lower bound of its distance to B's samples) is no more
    than an achieved pair distance ``ub``; the same for B. The few survivors go to a KD-tree.
    """
    memo_a = _PAIRS.setdefault(a, weakref.WeakKeyDictionary())
    memo_b = _PAIRS.setdefault(b, weakref.WeakKeyDictionary())
    if b in memo_a:
        return memo_a[b]
    d = _closest_distance(a, b)
    memo_a[b] = memo_b[a] = d
    return d


_PAIRS: "weakref.WeakKeyDictionary[ObjectBox, weakref.WeakKeyDictionary]" = weakref.WeakKeyDictionary()


def _closest_distance(a: ObjectBox, b: ObjectBox) -> float:
    # Only samples within r of the other box can be in a pair closer than r, and those lie in
    # the other box's bounding box (in this box's frame) grown by r; so sample just that region,
    # starting from a lower bound of the distance, and grow r until the answer is below it.
    r = separation_lower_bound(a, b) + 0.25
    for _ in range(3):
        pa, pb = _region_samples(a, b, r), _region_samples(b, a, r)
        d = _set_distance(a, b, pa, pb)
        if d <= r:
            return d
        r = d + 1e-6  # d is an achieved distance, so the next round is exact
    return _set_distance(a, b, sample_box_points(a), sample_box_points(b))


def _region_samples(box: ObjectBox, other: ObjectBox, r: float) -> np.ndarray:
    """Samples of ``box`` within the bounding box of ``other`` (in ``box``'s frame) grown by r.

    Falls back to all samples when the region holds none (then the released procedure's own
    fallback to a finer grid may apply).
    """
    local = (other.corners() - box.centroid) @ box.axes.T
    lo, hi = local.min(axis=0) - r - 1e-6, local.max(axis=0) + r + 1e-6
    half = np.asarray(box.extents) / 2
    if np.all(lo <= -half) and np.all(hi >= half):
        return sample_box_points(box)
    pts = _sample(box, SAMPLE_SPACING, (lo, hi))
    return pts if len(pts) else sample_box_points(box)


def separation_lower_bound(a: ObjectBox, b: ObjectBox) -> float:
    """A lower bound of the distance between two solid boxes: the largest gap between their
    projections on any of the six face normals (0 when they overlap on all six)."""
    gap = 0.0
    for box, other in ((a, b), (b, a)):
        local = (other.corners() - box.centroid) @ box.axes.T
        half = np.asarray(box.extents) / 2
        gap = max(gap, float(np.max(np.maximum(local.min(axis=0) - half, -half - local.max(axis=0)))))
    return max(gap, 0.0)


def _set_distance(a: ObjectBox, b: ObjectBox, pa: np.ndarray, pb: np.ndarray) -> float:
    """Smallest distance between sample sets ``pa`` (of a) and ``pb`` (of b)."""
    from scipy.spatial import cKDTree

    if len(pa) == 0 or len(pb) == 0:
        return math.inf
    la, lb = point_box_distance(b, pa), point_box_distance(a, pb)
    # an achieved distance: from A's sample nearest to box B to its nearest sample of B
    p = pa[int(np.argmin(la))]
    ub = float(np.sqrt(((pb - p) ** 2).sum(axis=1).min()))
    slack = 1e-9
    qa, qb = pa[la <= ub + slack], pb[lb <= ub + slack]
    if len(qa) * len(qb) <= 4096:
        d2 = ((qa[:, None, :] - qb[None, :, :]) ** 2).sum(-1)
        return float(np.sqrt(d2.min()))
    small, big = (qa, qb) if len(qa) <= len(qb) else (qb, qa)
    dist, _ = cKDTree(big).query(small, k=1, distance_upper_bound=ub + slack)
    return float(min(dist.min(), ub))


def closest_distance_reference(a: ObjectBox, b: ObjectBox, chunk: int = 1024) -> float:
    """The straightforward version, as released: sample both boxes, ``cdist``, minimum.

    (Row-chunked only to bound memory; used by tests and benchmarks.)
    """
    from scipy.spatial.distance import cdist

    pa, pb = _sample(a, SAMPLE_SPACING), _sample(b, SAMPLE_SPACING)
    if len(pa) == 0 or len(pb) == 0:
        return math.inf
    return float(min(cdist(pa[s:s + chunk], pb).min() for s in range(0, len(pa), chunk)))


def center_distance(a: ObjectBox, b: ObjectBox) -> float:
    """Distance between box centres (the paper's VSI-100k definition)."""
    return float(np.linalg.norm(a.centroid - b.centroid))


def box_distance(a: ObjectBox, b: ObjectBox, mode: str = "closest") -> float:
    """Distance between two boxes by ``mode``: ``closest`` (VSI-Bench) or ``center`` (VSI-100k)."""
    if mode == "closest":
        return closest_distance(a, b)
    if mode == "center":
        return center_distance(a, b)
    raise ValueError(f"unknown distance mode {mode!r}")


def category_distance(boxes_a: Sequence[ObjectBox], boxes_b: Sequence[ObjectBox], mode: str = "closest") -> float:
    """Smallest distance over all instance pairs of two categories."""
    return min((box_distance(a, b, mode) for a in boxes_a for b in boxes_b), default=math.inf)


# ---------------------------------------------------------------------------------------------
# directions on the floor plane


def floor_angle(p: np.ndarray, o: np.ndarray, q: np.ndarray) -> float:
    """Angle (degrees, [0, 360)) from ``o - p`` to ``q - p`` in the (x, y) plane, CCW positive.

    Standing at ``p`` facing ``o``: 90 is straight left, 270 straight right, 180 behind.
    """
    f = np.asarray(o, float)[:2] - np.asarray(p, float)[:2]
    t = np.asarray(q, float)[..., :2] - np.asarray(p, float)[:2]
    ang = np.degrees(np.arctan2(t[..., 1], t[..., 0]) - np.arctan2(f[1], f[0]))
    return np.mod(ang, 360.0)


# (start, end, label) bins over [0, 360); angle measured CCW from facing direction
QUADRANT_BINS = ((0.0, 90.0, "front-left"), (90.0, 180.0, "back-left"),
                 (180.0, 270.0, "back-right"), (270.0, 360.0, "front-right"))
LRB_BINS = ((0.0, 135.0, "left"), (135.0, 225.0, "back"), (225.0, 360.0, "right"))
LR_BINS = ((0.0, 180.0, "left"), (180.0, 360.0, "right"))


def bin_indices(angles, bins) -> np.ndarray:
    """Index into ``bins`` of each angle (degrees, any range; array in, array out)."""
    edges = np.array([lo for lo, _, _ in bins])
    a = np.mod(np.asarray(angles, float), 360.0)
    return np.clip(np.searchsorted(edges, a, side="right") - 1, 0, len(bins) - 1)


def angle_bin(angle: float, bins) -> str:
    """The label of the bin holding ``angle`` (degrees)."""
    return bins[int(bin_indices(angle, bins))][2]


def boundary_margins(angles, bins) -> np.ndarray:
    """Angular distance (degrees) from each angle to the nearest bin boundary (0/360 included)."""
    edges = np.array([lo for lo, _, _ in bins])
    diff = np.abs(np.mod(np.asarray(angles, float), 360.0)[..., None] - edges) % 360.0
    return np.minimum(diff, 360.0 - diff).min(axis=-1)


def boundary_margin(angle: float, bins) -> float:
    return float(boundary_margins(angle, bins))


# ---------------------------------------------------------------------------------------------
# room area


def alpha_shape_area(points_xy: np.ndarray, alpha: float = 5.0) -> float:
    """Area (m^2) of the alpha shape of floor-plane points (VSI-Bench used alpha 5).

    Delaunay triangles whose circumradius is below ``1 / alpha`` are kept and unioned.
    """
    from scipy.spatial import Delaunay
    from shapely.geometry import Polygon
    from shapely.ops import unary_union

    pts = np.unique(np.asarray(points_xy, float)[:, :2], axis=0)
    if len(pts) < 3:
        return 0.0
    tri = Delaunay(pts)
    t = pts[tri.simplices]
    a = np.linalg.norm(t[:, 1] - t[:, 2], axis=1)
    b = np.linalg.norm(t[:, 0] - t[:, 2], axis=1)
    c = np.linalg.norm(t[:, 0] - t[:, 1], axis=1)
    area2 = np.abs((t[:, 1, 0] - t[:, 0, 0]) * (t[:, 2, 1] - t[:, 0, 1])
                   - (t[:, 1, 1] - t[:, 0, 1]) * (t[:, 2, 0] - t[:, 0, 0]))
    with np.errstate(divide="ignore", invalid="ignore"):
        radius = a * b * c / (2.0 * area2)
    keep = np.isfinite(radius) & (radius < 1.0 / alpha)
    if not keep.any():
        return 0.0
    return float(unary_union([Polygon(x) for x in t[keep]]).area)
