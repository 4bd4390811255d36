"""Triangle meshes built from primitives (boxes, cylinders, cones, spheres).

A :class:`Mesh` is flat arrays ready for the GPU: positions, normals and one RGB colour per
vertex, plus a surface pattern code per vertex (plain, planks, tiles) that the shader uses to
give floors a texture without image files. Faces are not shared between primitives, so normals
stay flat and lighting shows edges clearly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PLAIN, PLANKS, TILES, CARPET = 0, 1, 2, 3


@dataclass
class Mesh:
    """Unindexed triangles: every 3 consecutive rows of ``pos`` form one triangle."""

    pos: np.ndarray  # (V, 3) float32
    nrm: np.ndarray  # (V, 3) float32
    col: np.ndarray  # (V, 3) float32 in [0, 1]
    pat: np.ndarray  # (V,) float32 pattern code

    @staticmethod
    def empty() -> "Mesh":
        z = np.zeros((0, 3), np.float32)
        return Mesh(z, z.copy(), z.copy(), np.zeros(0, np.float32))

    @staticmethod
    def concat(meshes: list["Mesh"]) -> "Mesh":
        if not meshes:
            return Mesh.empty()
        return Mesh(*(np.concatenate([getattr(m, k) for m in meshes]) for k in ("pos", "nrm", "col", "pat")))

    def transformed(self, rot: np.ndarray, trans: np.ndarray) -> "Mesh":
        """Rotate (3x3, applied as ``R @ p``) then translate."""
        return Mesh((self.pos @ rot.T + trans).astype(np.float32), (self.nrm @ rot.T).astype(np.float32),
                    self.col, self.pat)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return self.pos.min(0), self.pos.max(0)


def _mesh(tris: np.ndarray, color, pattern: int = PLAIN) -> Mesh:
    """Mesh from triangles (T, 3, 3) with flat normals."""
    tris = np.asarray(tris, np.float64)
    n = np.cross(tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0])
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    pos = tris.reshape(-1, 3).astype(np.float32)
    nrm = np.repeat(n, 3, axis=0).astype(np.float32)
    col = np.broadcast_to(np.asarray(color, np.float32), pos.shape).copy()
    return Mesh(pos, nrm, col, np.full(len(pos), pattern, np.float32))


def quad(p0, p1, p2, p3, color, pattern: int = PLAIN) -> Mesh:
    """Planar quad with corners in counter-clockwise order seen from its front."""
    p = np.asarray([p0, p1, p2, p3], float)
    return _mesh(np.stack([p[[0, 1, 2]], p[[0, 2, 3]]]), color, pattern)


def box(lo, hi, color, pattern: int = PLAIN) -> Mesh:
    """Axis-aligned box from corner ``lo`` to corner ``hi`` (outward normals)."""
    (x0, y0, z0), (x1, y1, z1) = lo, hi
    c = np.array([[x, y, z] for x in (x0, x1) for y in (y0, y1) for z in (z0, z1)])
    faces = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    tris = []
    for a, b, cc, d in faces:
        tris += [c[[a, b, cc]], c[[a, cc, d]]]
    return _mesh(np.stack(tris), color, pattern)


def frustum(center_bottom, r0: float, r1: float, height: float, color, *, axis: str = "z",
            segments: int = 16, caps: bool = True) -> Mesh:
    """Cylinder (``r0 == r1``) or cone frustum along +``axis`` starting at ``center_bottom``."""
    t = np.linspace(0, 2 * np.pi, segments + 1)
    ring = np.stack([np.cos(t), np.sin(t)], 1)
    b = np.c_[ring * r0, np.zeros(len(t))]
    top = np.c_[ring * r1, np.full(len(t), height)]
    tris = []
    for i in range(segments):
        tris += [[b[i], b[i + 1], top[i + 1]], [b[i], top[i + 1], top[i]]]
    if caps:
        cb, ct = np.zeros(3), np.array([0, 0, height])
        for i in range(segments):
            tris.append([cb, b[i + 1], b[i]])
            if r1 > 0:
                tris.append([ct, top[i], top[i + 1]])
    tris = np.asarray(tris, float)
    if axis == "y":  # z -> y, keeping a right-handed frame
        tris = tris[..., [0, 2, 1]] * np.array([1, 1, 1])
        tris = tris[:, ::-1]  # the swap mirrored the winding
    elif axis == "-y":
        tris = tris[..., [0, 2, 1]] * np.array([1, -1, 1])
    elif axis != "z":
        raise ValueError(axis)
    return _mesh(tris + np.asarray(center_bottom, float), color)


def cylinder(center_bottom, radius: float, height: float, color, **kw) -> Mesh:
    return frustum(center_bottom, radius, radius, height, color, **kw)


def sphere(center, radii, color, *, rings: int = 8, segments: int = 12) -> Mesh:
    """Ellipsoid with semi-axes ``radii`` (low-poly UV sphere)."""
    th = np.linspace(0, np.pi, rings + 1)
    ph = np.linspace(0, 2 * np.pi, segments + 1)
    p = np.stack([np.sin(th)[:, None] * np.cos(ph)[None], np.sin(th)[:, None] * np.sin(ph)[None],
                  np.cos(th)[:, None] * np.ones_like(ph)[None]], -1) * np.asarray(radii, float)
    tris = []
    for i in range(rings):
        for j in range(segments):
            a, b, c, d = p[i, j], p[i + 1, j], p[i + 1, j + 1], p[i, j + 1]
            if i > 0:
                tris.append([a, b, d])
            if i < rings - 1:
                tris.append([b, c, d])
    return _mesh(np.asarray(tris) + np.asarray(center, float), color)
