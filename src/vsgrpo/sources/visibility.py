"""Per-frame visibility of object instances: project their vertices, test occlusion, count pixels.

For one frame with camera ``K`` (video pixels) and camera-to-world pose (OpenCV axes), a vertex is
*visible* when it lies in front of the camera, projects inside the image, and is not occluded:

- with a depth map (the sensor's, in its own camera): ``z <= depth + tol(z)``, ``tol = 0.05 m +
  3% of z`` (sensor noise and pose error grow with range; the far side of an object thinner
  than ``tol``, e.g. a wall-mounted tv, also counts as visible);
- where the depth map has no reading (0: glass, black screens, out of range), or when the source
  has no depth at all: against a coarse z-buffer (8-pixel cells) splatted from every scene
  vertex, each covering about its spacing to its neighbours as seen from the camera, so near
  surfaces are closed.

The pixel count of an instance is the projected area of its visible vertices: each vertex carries
its share of the mesh surface (a third of its faces' areas) and the mesh normal there, and covers
``a * |cos(theta)| * fx * fy * d / z**3`` pixels (d: distance, theta: angle between normal and
viewing ray). Bare point clouds (no faces) use the squared median spacing of neighbouring points
and ignore orientation, which over-counts slanted surfaces. Good for thresholds such as "first
frame with more than N pixels"; not a pixel-exact mask.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEPTH_TOL_ABS = 0.05
DEPTH_TOL_REL = 0.03
ZBUF_CELL = 8
ZBUF_MAX_RADIUS = 8  # cells: a vertex hides at most 64 px around it
NEAR = 0.05


def vertex_areas(vertices: np.ndarray, faces: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Surface area (m^2) each vertex stands for, and unit vertex normals (None without faces)."""
    v = np.asarray(vertices, float)
    if faces is not None and len(faces):
        f = np.asarray(faces, np.int64)
        tri = v[f]
        cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])  # |cross| = 2 * area
        area = 0.5 * np.linalg.norm(cross, axis=1)
        out = np.zeros(len(v))
        normals = np.zeros((len(v), 3))
        for k in range(3):
            np.add.at(out, f[:, k], area / 3)
            np.add.at(normals, f[:, k], cross)
        norm = np.linalg.norm(normals, axis=1, keepdims=True)
        normals = np.divide(normals, norm, out=np.zeros_like(normals), where=norm > 0)
        return out, normals
    from scipy.spatial import cKDTree

    if len(v) < 2:
        return np.full(len(v), 1e-4), None
    d, _ = cKDTree(v).query(v, k=2)
    spacing = float(np.median(d[:, 1])) or 1e-2
    return np.full(len(v), spacing**2), None


@dataclass
class VisibilityModel:
    """Everything about the scene that does not change per frame."""

    vertices: np.ndarray  # (N, 3) world; all of them occlude
    areas: np.ndarray  # (N,)
    normals: np.ndarray | None  # (N, 3) unit, None for bare point clouds
    member_vertex: np.ndarray  # (M,) vertex index of each (vertex, instance) membership
    member_inst: np.ndarray  # (M,) instance index; a vertex may belong to several (nested boxes)
    n_instances: int

    @classmethod
    def build(cls, vertices, faces, members: list[np.ndarray]) -> "VisibilityModel":
        """``members[k]``: vertex indices of instance ``k``."""
        mv = np.concatenate([np.asarray(m, np.int64) for m in members]) if members else np.zeros(0, np.int64)
        mi = np.concatenate([np.full(len(m), k, np.int64) for k, m in enumerate(members)]) if members \
            else np.zeros(0, np.int64)
        areas, normals = vertex_areas(vertices, faces)
        return cls(np.asarray(vertices, float), areas, normals, mv, mi, len(members))

    def frame_pixels(self, K: np.ndarray, c2w: np.ndarray, width: int, height: int,
                     depth: np.ndarray | None = None, K_depth: np.ndarray | None = None,
                     c2w_depth: np.ndarray | None = None) -> np.ndarray:
        """Visible pixels of each instance in one frame, shape ``(n_instances,)`` int64."""
        pc = _to_camera(self.vertices, c2w)
        z = pc[:, 2]
        front = z > NEAR
        with np.errstate(divide="ignore", invalid="ignore"):
            u = K[0, 0] * pc[:, 0] / z + K[0, 2]
            v = K[1, 1] * pc[:, 1] / z + K[1, 2]
        inside = front & (u >= 0) & (u < width) & (v >= 0) & (v < height)
        if not inside.any():
            return np.zeros(self.n_instances, np.int64)
        halfwidth = 0.75 * K[0, 0] * np.sqrt(self.areas[inside]) / z[inside]
        zbuf = _zbuffer(u[inside], v[inside], z[inside], width, height, halfwidth)
        cu = np.minimum((u / ZBUF_CELL).astype(np.int64, copy=False), zbuf.shape[1] - 1)
        cv = np.minimum((v / ZBUF_CELL).astype(np.int64, copy=False), zbuf.shape[0] - 1)
        tol = DEPTH_TOL_ABS + DEPTH_TOL_REL * z
        keep = inside[self.member_vertex]
        idx = self.member_vertex[keep]
        inst = self.member_inst[keep]
        visible = np.zeros(len(idx), bool)
        by_zbuf = z[idx] <= zbuf[cv[idx], cu[idx]] + tol[idx]
        if depth is not None:
            Kd = K if K_depth is None else K_depth
            pd = pc[idx] if c2w_depth is None else _to_camera(self.vertices[idx], c2w_depth)
            zd = pd[:, 2]
            dh, dw = depth.shape
            with np.errstate(divide="ignore", invalid="ignore"):
                ud = np.floor(Kd[0, 0] * pd[:, 0] / zd + Kd[0, 2])
                vd = np.floor(Kd[1, 1] * pd[:, 1] / zd + Kd[1, 2])
            ok = (zd > NEAR) & (ud >= 0) & (ud < dw) & (vd >= 0) & (vd < dh)
            meas = np.zeros(len(idx))
            meas[ok] = depth[vd[ok].astype(np.int64), ud[ok].astype(np.int64)]
            has = ok & (meas > 0) & np.isfinite(meas)
            visible[has] = zd[has] <= meas[has] + DEPTH_TOL_ABS + DEPTH_TOL_REL * zd[has]
            visible[~has] = by_zbuf[~has]
        else:
            visible = by_zbuf
        vi = idx[visible]
        # pinhole: a patch of area a at distance d, depth z, tilted by theta to the viewing ray
        # covers a * |cos theta| * fx * fy * d / z^3 pixels
        d = np.linalg.norm(pc[vi], axis=1)
        if self.normals is None:
            cos = 1.0
        else:
            rays = pc[vi] @ c2w[:3, :3].T  # camera -> vertex, world axes
            cos = np.abs(np.einsum("ij,ij->i", self.normals[vi], rays)) / d
        px = self.areas[vi] * cos * (K[0, 0] * K[1, 1]) * d / z[vi] ** 3
        counts = np.bincount(inst[visible], weights=px, minlength=self.n_instances)
        return np.minimum(np.rint(counts), width * height).astype(np.int64)


def _to_camera(points: np.ndarray, c2w: np.ndarray) -> np.ndarray:
    R, t = c2w[:3, :3], c2w[:3, 3]
    return (points - t) @ R  # R^T (p - t), row-vector form


def _zbuffer(u, v, z, width, height, halfwidth) -> np.ndarray:
    """Coarse depth buffer: each vertex covers the cells within ``halfwidth`` pixels of it
    (about half its spacing to its neighbours as seen from the camera), so near surfaces are
    closed and hide what is behind them."""
    gw, gh = -(-width // ZBUF_CELL), -(-height // ZBUF_CELL)
    cu = (u // ZBUF_CELL).astype(np.int64)
    cv = (v // ZBUF_CELL).astype(np.int64)
    rc = np.clip(np.ceil(halfwidth / ZBUF_CELL), 0, ZBUF_MAX_RADIUS).astype(np.int64)
    buf = np.full(gw * gh, np.inf)
    for r in range(int(rc.max()) + 1):
        sel = np.nonzero(rc >= r)[0]  # vertices whose footprint reaches ring r
        if not len(sel):
            break
        su, sv, sz = cu[sel], cv[sel], z[sel]
        ring = [(dx, dy) for dx in range(-r, r + 1) for dy in range(-r, r + 1) if max(abs(dx), abs(dy)) == r]
        for dx, dy in ring:
            uu, vv = su + dx, sv + dy
            ok = (uu >= 0) & (uu < gw) & (vv >= 0) & (vv < gh)
            np.minimum.at(buf, vv[ok] * gw + uu[ok], sz[ok])
    return buf.reshape(gh, gw)
