"""From a parsed raw scan (:class:`RawScene`) to a :class:`~vsgrpo.scene.Scene` and its sidecar files.

Every real-scan source (ScanNet, ScanNet++, ARKitScenes, custom) parses its format into a
:class:`RawScene` and nothing else; this module does the shared work, identically for all:
boxes (given, or the gravity-aligned minimal box of the instance's vertices), counts, room size
and floor plan (alpha shape), the 640x480 video, per-frame visibility and the camera track,
written in the layout of :mod:`vsgrpo.scene_files`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..scene import CameraTrack, FloorPlan, ObjectBox, Scene, Visibility, parse_scene
from ..scene_files import (
    cameras_path,
    floorplan_path,
    save_cameras,
    save_floor_plan,
    save_visibility,
    video_path,
    visibility_path,
)
from .base import Source
from .errors import IngestError
from .fitting import min_oriented_box, points_in_box, room_footprint, scene_seed
from .labels import LabelMap
from .visibility import VisibilityModel

VIDEO_SIZE = (640, 480)  # VSI-Bench videos are 640x480 (portrait captures: 480x640)
DECODE_AT_LEAST = min(VIDEO_SIZE)  # frames may be decoded at reduced scale down to this size
SKY_DIRECTIONS = ("Up", "Down", "Left", "Right")


@dataclass
class Instance:
    """One annotated object. ``vertices``: indices into RawScene.vertices; ``box``: given box."""

    category: str
    vertices: np.ndarray | None = None
    box: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # centroid, extents, axes rows
    source: str = ""  # file that defined it, for messages


@dataclass
class FrameSeq:
    """A camera recording: ``n`` frames read lazily, poses camera-to-world (OpenCV axes)."""

    n: int
    color: Callable[[int], np.ndarray]  # frame i -> (H, W, 3) uint8 at native resolution
    K: np.ndarray  # (n, 3, 3) intrinsics of the native color image
    size: tuple[int, int]  # native color (width, height)
    poses: np.ndarray  # (n, 4, 4)
    fps: float
    depth: Callable[[int], np.ndarray | None] | None = None  # frame i -> metres, 0 = no reading
    K_depth: np.ndarray | None = None  # (n, 3, 3), depth camera (same pose as color)
    pose_file: Callable[[int], str] | None = None  # where frame i's pose came from (messages)
    sky_direction: str = "Up"  # ARKitScenes: rotate frames so the sky is up


@dataclass
class RawScene:
    name: str
    dataset: str
    vertices: np.ndarray  # (N, 3) world, z-up, metres
    faces: np.ndarray | None
    instances: list[Instance]
    frames: FrameSeq | None = None
    mesh_file: str = ""
    notes: list[str] = field(default_factory=list)


class SceneLoader:
    """Reads one source's raw scenes: ``load(name) -> RawScene``.

    Built once per ingest run (``Loader(root, labels, frame_step)``), so label tables load once
    and a bad label file fails before any scene is read. ``source`` is the module's ``SOURCE``
    (set by :func:`vsgrpo.sources.register_source` when a subclass does not set it).
    """

    source: ClassVar[Source]

    @property
    def dataset(self) -> str:
        return self.source.name

    def __init__(self, root: Path, labels: Path | None = None, frame_step: int = 1):
        self.root = Path(root)
        self.labels = LabelMap.for_source(self.source, labels)
        self.frame_step = max(1, int(frame_step))

    def load(self, name: str) -> RawScene:
        raise NotImplementedError


def _resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if img.shape[1] == size[0] and img.shape[0] == size[1]:
        return img
    from PIL import Image

    return np.asarray(Image.fromarray(img).resize(size, Image.BILINEAR))


def rotate_camera(K: np.ndarray, c2w: np.ndarray, size: tuple[int, int], sky: str):
    """Camera of an image rotated so that ``sky`` becomes up: returns ``(K', c2w', size', k)``.

    ``k`` is the number of 90-degree counter-clockwise turns for ``np.rot90``. ARKitScenes'
    convention (depth_upsampling/dataset.py): Left -> rotate 90 deg clockwise, Right -> 90 deg
    counter-clockwise, Down -> 180 deg.
    """
    w, h = size
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    if sky == "Up":
        return K, c2w, size, 0
    if sky == "Left":  # clockwise: (u, v) -> (h - v, u); new camera x' = -y, y' = x
        K2 = np.array([[fy, 0, h - cy], [0, fx, cx], [0, 0, 1.0]])
        M = np.array([[0, 1, 0], [-1, 0, 0], [0, 0, 1.0]])
        size2, k = (h, w), -1
    elif sky == "Right":  # counter-clockwise: (u, v) -> (v, w - u); x' = y, y' = -x
        K2 = np.array([[fy, 0, cy], [0, fx, w - cx], [0, 0, 1.0]])
        M = np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1.0]])
        size2, k = (h, w), 1
    elif sky == "Down":
        K2 = np.array([[fx, 0, w - cx], [0, fy, h - cy], [0, 0, 1.0]])
        M = np.diag([-1.0, -1.0, 1.0])
        size2, k = (w, h), 2
    else:
        raise ValueError(f"unknown sky direction {sky!r}; expected one of {SKY_DIRECTIONS}")
    c2w2 = c2w.copy()
    c2w2[:3, :3] = c2w[:3, :3] @ M  # p_old = M p_new
    return K2, c2w2, size2, k


def _boxes(raw: RawScene) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    out = []
    for inst in raw.instances:
        if inst.box is not None:
            c, e, a = (np.asarray(x, float) for x in inst.box)
            a = a.reshape(3, 3)
            if not (np.all(np.isfinite(c)) and np.all(np.isfinite(e)) and np.all(np.isfinite(a))):
                raise IngestError(inst.source or raw.mesh_file, f"box of a {inst.category!r} contains NaN or infinity")
            if np.abs(a @ a.T - np.eye(3)).max() > 1e-3:
                raise IngestError(inst.source or raw.mesh_file, f"box axes of a {inst.category!r} are not orthonormal")
            out.append((c, np.abs(e), a))
        else:
            if inst.vertices is None or len(inst.vertices) == 0:
                raise IngestError(inst.source or raw.mesh_file,
                                  f"an instance labelled {inst.category!r} has no vertices")
            out.append(min_oriented_box(raw.vertices[inst.vertices]))
    return out


def _visibility_model(raw: RawScene, boxes) -> VisibilityModel:
    """Vertex indices per instance for visibility. Box-only instances use the mesh vertices inside
    their box, or points sampled on the box surface when the mesh has none there (those points
    then carry the box's surface area and outward normals)."""
    verts = raw.vertices
    extra: list[tuple[np.ndarray, float, np.ndarray]] = []  # points, area each, normals
    members: list[np.ndarray] = []
    n = len(verts)
    for inst, (c, e, a) in zip(raw.instances, boxes):
        if inst.vertices is not None and len(inst.vertices):
            members.append(np.asarray(inst.vertices, np.int64))
            continue
        inside = np.nonzero(points_in_box(verts, c, e, a, margin=0.02))[0]
        if len(inside):
            members.append(inside)
            continue
        g = np.linspace(-0.5, 0.5, 5)
        local = np.array([[x, y, z] for x in g for y in g for z in g if max(abs(x), abs(y), abs(z)) == 0.5])
        normals = np.where(np.abs(local) == 0.5, np.sign(local), 0.0) @ a
        normals /= np.linalg.norm(normals, axis=1, keepdims=True)
        area = 2 * (e[0] * e[1] + e[1] * e[2] + e[0] * e[2]) / len(local)
        members.append(np.arange(n, n + len(local)))
        extra.append((c + (local * e) @ a, area, normals))
        n += len(local)
    model = VisibilityModel.build(verts, raw.faces, members)
    if extra:
        pts = np.concatenate([p for p, _, _ in extra])
        model.vertices = np.concatenate([model.vertices, pts])
        model.areas = np.concatenate([model.areas, *[np.full(len(p), ar) for p, ar, _ in extra]])
        if model.normals is not None:
            model.normals = np.concatenate([model.normals, *[nm for _, _, nm in extra]])
    return model


def assemble(raw: RawScene, out: str | Path, *, seed: int | None = None) -> Scene:
    """Compute the scene and write its sidecars under ``out``. On error nothing is left behind."""
    out = Path(out)
    v = np.asarray(raw.vertices, float)
    if v.ndim != 2 or v.shape[1] != 3 or len(v) == 0:
        raise IngestError(raw.mesh_file, "mesh has no vertices")
    if not np.all(np.isfinite(v)):
        raise IngestError(raw.mesh_file, "vertex coordinates contain NaN or infinity")
    boxes = _boxes(raw)
    objects: dict[str, list[ObjectBox]] = {}
    inst_index: list[tuple[str, int]] = []
    for inst, (c, e, a) in zip(raw.instances, boxes):
        lst = objects.setdefault(inst.category, [])
        inst_index.append((inst.category, len(lst)))
        lst.append(ObjectBox.create(inst.category, c, e, a))
    room = room_footprint(v, seed=scene_seed(raw.name) if seed is None else seed)
    scene = Scene(name=raw.name, dataset=raw.dataset, room_size=room.area, room_center=room.center,
                  object_counts={c: len(b) for c, b in objects.items()}, objects=objects,
                  extra={"video_path": f"videos/{raw.dataset}/{raw.name}.mp4"} if raw.frames else {})
    # strict: counts equal boxes, boxes finite and orthonormal (what we generate must be clean)
    parse_scene(raw.mesh_file, raw.name, scene.to_meta(), strict=True)
    scene.floor_plan = FloorPlan(polygons=room.polygons, floor_z=room.floor_z)

    written: list[Path] = []
    try:
        if raw.frames is not None and raw.frames.n > 0:
            _check_poses(raw.frames)
            model = _visibility_model(raw, boxes)
            vis, cams = _write_video_and_visibility(raw, model, inst_index, out, written)
            scene.visibility, scene.cameras = vis, cams
            scene.video = video_path(out, raw.dataset, raw.name)
            p = visibility_path(out, raw.dataset, raw.name)
            save_visibility(vis, p)
            written.append(p)
            p = cameras_path(out, raw.dataset, raw.name)
            save_cameras(cams, p)
            written.append(p)
        p = floorplan_path(out, raw.dataset, raw.name)
        save_floor_plan(scene.floor_plan, p)
        written.append(p)
    except BaseException:
        for p in written:
            p.unlink(missing_ok=True)
        raise
    return scene


def _check_poses(fr: FrameSeq) -> None:
    poses = np.asarray(fr.poses, float)
    if poses.shape != (fr.n, 4, 4):
        raise IngestError(fr.pose_file(0) if fr.pose_file else "poses", f"expected {fr.n} 4x4 poses, got {poses.shape}")
    bad = np.nonzero(~np.isfinite(poses).all(axis=(1, 2)))[0]
    if len(bad):
        where = fr.pose_file(int(bad[0])) if fr.pose_file else f"frame {bad[0]}"
        raise IngestError(where, f"camera pose contains NaN or infinity (frame {int(bad[0])})")
    K = np.asarray(fr.K, float)
    if not np.all(np.isfinite(K)) or np.any(K[:, 0, 0] <= 0) or np.any(K[:, 1, 1] <= 0):
        raise IngestError(fr.pose_file(0) if fr.pose_file else "intrinsics",
                          "intrinsics are invalid (NaN or non-positive focal length)")


def _write_video_and_visibility(raw: RawScene, model: VisibilityModel, inst_index, out: Path, written: list[Path]):
    from ..video import write_video

    fr = raw.frames
    w0, h0 = fr.size
    W, H = VIDEO_SIZE if w0 >= h0 else VIDEO_SIZE[::-1]
    sx, sy = W / w0, H / h0
    pixels = np.zeros((fr.n, len(inst_index)), np.int64)
    Ks, poses = [], []
    size_out: list[tuple[int, int]] = []

    def frames():
        for i in range(fr.n):
            img = fr.color(i)
            if img.ndim != 3 or img.shape[2] != 3:
                raise IngestError(f"frame {i}", f"expected an RGB image, got shape {img.shape}")
            K = np.array(fr.K[i], float)
            # native (w0, h0) -> video (W, H): scale pixel coordinates per axis
            K[0] *= sx
            K[1] *= sy
            c2w = np.asarray(fr.poses[i], float)
            depth = fr.depth(i) if fr.depth is not None else None
            Kd = fr.K_depth[i] if (depth is not None and fr.K_depth is not None) else None
            if depth is not None and Kd is None:  # depth registered to color at its own size
                Kd = np.array(fr.K[i], float)
                Kd[0] *= depth.shape[1] / w0
                Kd[1] *= depth.shape[0] / h0
            pixels[i] = model.frame_pixels(K, c2w, W, H, depth, Kd, c2w)
            img = _resize(np.ascontiguousarray(img[..., :3]), (W, H))
            K2, c2w2, size2, k = rotate_camera(K, c2w, (W, H), fr.sky_direction)
            if k:
                img = np.ascontiguousarray(np.rot90(img, k))
            Ks.append(K2)
            poses.append(c2w2)
            size_out.append(size2)
            yield img

    p = video_path(out, raw.dataset, raw.name)
    write_video(p, frames(), fps=fr.fps)
    written.append(p)
    times = np.arange(fr.n) / fr.fps
    vis = Visibility(times=times, instances=list(inst_index), pixels=pixels)
    cams = CameraTrack(intrinsics=np.stack(Ks), poses=np.stack(poses), width=size_out[0][0],
                       height=size_out[0][1], times=times)
    return vis, cams
