"""Tiny scans with known ground truth, written in each raw format (ingest tests and benchmarks/bench_ingest.py).

A :class:`FixtureRoom` is an L-shaped room (analytic floor area) with box-shaped objects, meshed
as grid patches (vertex spacing ``spacing``), and a camera turning on the spot. It renders RGB
and depth by z-buffered vertex splatting, so frames, depth, poses and meshes agree exactly.
``write_scannet`` / ``write_scannetpp`` / ``write_arkitscenes`` / ``write_custom`` lay it out as
each dataset ships it (the readers in vsgrpo.sources parse those layouts).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

L_ROOM = [(0.0, 0.0), (5.0, 0.0), (5.0, 3.0), (2.5, 3.0), (2.5, 4.5), (0.0, 4.5)]  # area 18.75 m^2
L_ROOM_AREA = 18.75
WALL_H = 2.5


@dataclass
class FixtureObject:
    label: str  # raw label as the dataset would write it
    centroid: tuple[float, float, float]
    extents: tuple[float, float, float]
    yaw: float = 0.0  # radians about z
    color: tuple[int, int, int] = (200, 60, 60)

    def axes(self) -> np.ndarray:
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        return np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])


DEFAULT_OBJECTS = [
    FixtureObject("desk", (1.2, 1.0, 0.375), (1.2, 0.6, 0.75), yaw=0.5, color=(180, 120, 60)),
    FixtureObject("chair", (3.5, 1.0, 0.45), (0.5, 0.5, 0.9), color=(60, 60, 200)),
    FixtureObject("chair", (3.8, 2.2, 0.45), (0.5, 0.5, 0.9), yaw=0.3, color=(60, 60, 200)),
    FixtureObject("tv", (1.2, 4.3, 1.2), (1.0, 0.1, 0.6), color=(30, 30, 30)),
]


def grid_objects(n: int = 30, seed: int = 0) -> list[FixtureObject]:
    """``n`` non-overlapping boxes on a grid over the L-shaped room (ScanNet raw labels)."""
    rng = np.random.default_rng(seed)
    cells = [(0.45 + 0.8 * i, 0.45 + 0.7 * j) for i in range(6) for j in range(4)]
    cells += [(0.45 + 0.8 * i, 3.35 + 0.7 * j) for i in range(3) for j in range(2)]
    labels = ["chair", "desk", "tv", "trash can"]
    colours = [(60, 60, 200), (180, 120, 60), (30, 30, 30), (60, 160, 60)]
    out = []
    for k, (x, y) in enumerate(cells[:n]):
        e = rng.uniform([0.25, 0.25, 0.3], [0.5, 0.45, 1.2])
        out.append(FixtureObject(labels[k % 4], (x, y, e[2] / 2), tuple(e), yaw=float(rng.uniform(0, 0.6)),
                                 color=colours[k % 4]))
    return out


def _patch(origin, du, dv, spacing):
    origin, du, dv = (np.asarray(x, float) for x in (origin, du, dv))
    nu = max(1, int(np.ceil(np.linalg.norm(du) / spacing)))
    nv = max(1, int(np.ceil(np.linalg.norm(dv) / spacing)))
    a, b = np.meshgrid(np.linspace(0, 1, nu + 1), np.linspace(0, 1, nv + 1), indexing="ij")
    verts = origin + a.reshape(-1, 1) * du + b.reshape(-1, 1) * dv
    idx = np.arange((nu + 1) * (nv + 1)).reshape(nu + 1, nv + 1)
    q = np.stack([idx[:-1, :-1], idx[1:, :-1], idx[1:, 1:], idx[:-1, 1:]], -1).reshape(-1, 4)
    faces = np.concatenate([q[:, [0, 1, 2]], q[:, [0, 2, 3]]])
    return verts, faces


@dataclass
class FixtureRoom:
    objects: list[FixtureObject] = field(default_factory=lambda: list(DEFAULT_OBJECTS))
    spacing: float = 0.1
    n_frames: int = 6
    width: int = 160
    height: int = 120
    fov_deg: float = 70.0
    cam_pos: tuple[float, float, float] = (1.8, 1.6, 1.4)

    def __post_init__(self):
        parts = []  # (verts, faces, instance id (-1 none), segment label, color)
        floor_color = (150, 150, 150)
        parts.append((*_patch((0, 0, 0), (5, 0, 0), (0, 3, 0), self.spacing), -1, "floor", floor_color))
        parts.append((*_patch((0, 3, 0), (2.5, 0, 0), (0, 1.5, 0), self.spacing), -1, "floor", floor_color))
        ring = L_ROOM + [L_ROOM[0]]
        for (x0, y0), (x1, y1) in zip(ring[:-1], ring[1:]):
            parts.append((*_patch((x0, y0, 0), (x1 - x0, y1 - y0, 0), (0, 0, WALL_H), self.spacing), -1, "wall",
                          (220, 220, 200)))
        for k, ob in enumerate(self.objects):
            c, e, a = np.asarray(ob.centroid), np.asarray(ob.extents), ob.axes()
            for axis in range(3):
                o1, o2 = [i for i in range(3) if i != axis]
                for sign in (-1, 1):
                    origin = c + sign * e[axis] / 2 * a[axis] - e[o1] / 2 * a[o1] - e[o2] / 2 * a[o2]
                    parts.append((*_patch(origin, e[o1] * a[o1], e[o2] * a[o2], self.spacing), k, ob.label, ob.color))
        verts, faces, inst, seg, colors, seg_labels = [], [], [], [], [], []
        n = 0
        for s, (v, f, k, label, col) in enumerate(parts):
            verts.append(v)
            faces.append(f + n)
            inst.append(np.full(len(v), k))
            seg.append(np.full(len(v), s))
            colors.append(np.tile(np.asarray(col, np.uint8), (len(v), 1)))
            seg_labels.append((label, k))
            n += len(v)
        self.vertices = np.concatenate(verts)
        self.faces = np.concatenate(faces)
        self.instance = np.concatenate(inst)  # -1: structure
        self.segment = np.concatenate(seg)
        self.colors = np.concatenate(colors)
        self.segment_labels = seg_labels  # per segment: (label, instance or -1)
        f = self.width / 2 / np.tan(np.radians(self.fov_deg) / 2)
        self.K = np.array([[f, 0, self.width / 2], [0, f, self.height / 2], [0, 0, 1.0]])
        self.poses = np.stack([self.pose(2 * np.pi * i / self.n_frames) for i in range(self.n_frames)])

    def pose(self, yaw: float, pitch: float = -0.2) -> np.ndarray:
        """Camera-to-world (OpenCV axes) at cam_pos looking along yaw, tilted down by pitch."""
        fwd = np.array([np.cos(yaw) * np.cos(pitch), np.sin(yaw) * np.cos(pitch), np.sin(pitch)])
        right = np.cross(fwd, [0, 0, 1.0])
        right /= np.linalg.norm(right)
        down = np.cross(fwd, right)
        T = np.eye(4)
        T[:3, :3] = np.stack([right, down, fwd], axis=1)
        T[:3, 3] = self.cam_pos
        return T

    def instance_mask(self, i: int, K=None, size=None) -> np.ndarray:
        """(H, W) int: the object index seen at each pixel, -1 for structure or nothing."""
        ids, _ = self.render(i, K, size, values=(self.instance + 1).astype(np.int64))
        return ids - 1

    def render(self, i: int, K=None, size=None, c2w=None, values=None) -> tuple[np.ndarray, np.ndarray]:
        """RGB uint8 and depth (metres, 0 = nothing) of frame ``i`` (or of camera ``c2w``).

        Each vertex is splatted as a square about as wide as the vertex spacing appears at its
        depth, so surfaces render closed and occlude what is behind them."""
        K = self.K if K is None else K
        w, h = (self.width, self.height) if size is None else size
        c2w = self.poses[i] if c2w is None else c2w
        pc = (self.vertices - c2w[:3, 3]) @ c2w[:3, :3]
        z = pc[:, 2]
        ok = z > 0.05
        u = np.floor(K[0, 0] * pc[ok, 0] / z[ok] + K[0, 2]).astype(int)
        v = np.floor(K[1, 1] * pc[ok, 1] / z[ok] + K[1, 2]).astype(int)
        src = self.colors if values is None else np.asarray(values).reshape(len(self.vertices), -1)
        zz, col = z[ok], src[ok]
        r = np.clip(np.ceil(K[0, 0] * self.spacing * 1.1 / zz), 1, 16).astype(int)
        buf = np.full(h * w, np.inf)
        offsets = [(du, dv) for du in range(int(r.max())) for dv in range(int(r.max()))]
        cells = []
        for du, dv in offsets:
            m = (r > max(du, dv))
            uu, vv = u[m] - r[m] // 2 + du, v[m] - r[m] // 2 + dv
            inb = (uu >= 0) & (uu < w) & (vv >= 0) & (vv < h)
            sel = np.nonzero(m)[0][inb]
            pix = vv[inb] * w + uu[inb]
            np.minimum.at(buf, pix, zz[sel])
            cells.append((pix, sel))
        img = np.zeros((h * w, col.shape[1]), col.dtype)
        for pix, sel in cells:
            hit = zz[sel] <= buf[pix] + 1e-9
            img[pix[hit]] = col[sel[hit]]
        depth = np.where(np.isfinite(buf), buf, 0).astype(np.float32)
        img = img.reshape(h, w, 3) if values is None else img.reshape(h, w)
        return img, depth.reshape(h, w)


def _write_ply(path: Path, verts, faces=None, colors=None, **props) -> None:
    from plyfile import PlyData, PlyElement

    fields = [("x", "f4"), ("y", "f4"), ("z", "f4")]
    if colors is not None:
        fields += [("red", "u1"), ("green", "u1"), ("blue", "u1")]
    fields += [(k, "i4") for k in props]
    arr = np.empty(len(verts), dtype=fields)
    arr["x"], arr["y"], arr["z"] = verts[:, 0], verts[:, 1], verts[:, 2]
    if colors is not None:
        arr["red"], arr["green"], arr["blue"] = colors[:, 0], colors[:, 1], colors[:, 2]
    for k, v in props.items():
        arr[k] = v
    elems = [PlyElement.describe(arr, "vertex")]
    if faces is not None:
        fa = np.empty(len(faces), dtype=[("vertex_indices", "i4", (3,))])
        fa["vertex_indices"] = faces
        elems.append(PlyElement.describe(fa, "face"))
    path.parent.mkdir(parents=True, exist_ok=True)
    PlyData(elems, text=False).write(str(path))


def _save_png(path: Path, img) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path)


def _depth_png(depth) -> np.ndarray:
    return np.clip(np.rint(depth * 1000), 0, 65535).astype(np.uint16)


def _mat_txt(path: Path, m) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(" ".join(f"{x:.9g}" for x in row) for row in np.asarray(m)) + "\n")


SCANNET_TSV = ("id\traw_category\tcategory\tcount\tnyu40id\teigen13id\tnyuClass\tnyu40class\teigen13class\n"
               "1\twall\twall\t8277\t1\t12\twall\twall\twall\n"
               "2\tchair\tchair\t4646\t5\t4\tchair\tchair\tchair\n"
               "3\tfloor\tfloor\t4279\t2\t5\tfloor\tfloor\tfloor\n"
               "4\tdesk\tdesk\t680\t14\t14\tdesk\tdesk\ttable\n"
               "5\ttv\ttv\t126\t25\t11\ttelevision\ttelevision\ttv\n"
               "6\ttrash can\ttrash can\t1090\t39\t7\tgarbage bin\totherfurniture\tfurniture\n")

SCANNET_ALIGN = np.array([[0.8, -0.6, 0, 1.0], [0.6, 0.8, 0, -2.0], [0, 0, 1, 0.1], [0, 0, 0, 1]])


def write_scannet(room: FixtureRoom, root: Path, name: str = "scene0999_00", *, frames: bool = True,
                  color_size: tuple[int, int] | None = None) -> Path:
    """ScanNet v2 layout. The mesh and poses are stored *unaligned*; ``<scene>.txt`` aligns them.

    ``color_size``: save colour frames at this size (ScanNet's are 1296x968) while depth stays at
    the room's render size (ScanNet's is 640x480)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / "scannetv2-labels.combined.tsv").write_text(SCANNET_TSV)
    d = root / "scans" / name
    inv = np.linalg.inv(SCANNET_ALIGN)
    raw_v = room.vertices @ inv[:3, :3].T + inv[:3, 3]
    _write_ply(d / f"{name}_vh_clean_2.ply", raw_v, room.faces, room.colors)
    (d / f"{name}_vh_clean_2.0.010000.segs.json").write_text(json.dumps(
        {"params": {"segMinVerts": 20}, "sceneId": name, "segIndices": room.segment.tolist()}))
    groups = []
    by_inst: dict[int, list[int]] = {}
    for s, (_label, k) in enumerate(room.segment_labels):
        if k >= 0:
            by_inst.setdefault(k, []).append(s)
    for k, segs in sorted(by_inst.items()):
        groups.append({"id": k, "objectId": k, "segments": segs, "label": room.objects[k].label})
    groups.append({"id": len(groups), "objectId": len(groups), "label": "wall",
                   "segments": [s for s, (lab, k) in enumerate(room.segment_labels) if lab == "wall"]})
    (d / f"{name}.aggregation.json").write_text(json.dumps({"sceneId": f"scannet.{name}", "segGroups": groups}))
    (d / f"{name}.txt").write_text("axisAlignment = " + " ".join(f"{x:.9g}" for x in SCANNET_ALIGN.reshape(-1))
                                   + f"\ncolorHeight = {room.height}\ncolorWidth = {room.width}\n")
    if frames:
        K4 = np.eye(4)
        K4[:3, :3] = room.K
        _mat_txt(d / "intrinsic" / "intrinsic_depth.txt", K4)
        if color_size is not None:
            K4[0] *= color_size[0] / room.width
            K4[1] *= color_size[1] / room.height
        _mat_txt(d / "intrinsic" / "intrinsic_color.txt", K4)
        for i in range(room.n_frames):
            img, depth = room.render(i)
            if color_size is not None:
                from PIL import Image

                img = np.asarray(Image.fromarray(img).resize(color_size, Image.BILINEAR))
            _save_jpg(d / "color" / f"{i}.jpg", img)
            _save_png(d / "depth" / f"{i}.png", _depth_png(depth))
            _mat_txt(d / "pose" / f"{i}.txt", inv @ room.poses[i])
    return d


def _save_jpg(path: Path, img) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path, quality=95)


def write_scannetpp(room: FixtureRoom, root: Path, name: str = "0a1b2c3d4e") -> Path:
    root = Path(root)
    d = root / "data" / name
    _write_ply(d / "scans" / "mesh_aligned_0.05.ply", room.vertices, room.faces, room.colors)
    (d / "scans" / "segments.json").write_text(json.dumps({"segIndices": room.segment.tolist()}))
    groups = []
    for k, ob in enumerate(room.objects):
        segs = [s for s, (lab, kk) in enumerate(room.segment_labels) if kk == k]
        groups.append({"id": k + 1, "objectId": k + 1, "label": ob.label, "segments": segs,
                       "obb": {"centroid": list(ob.centroid), "axesLengths": list(ob.extents),
                               "normalizedAxes": ob.axes().reshape(-1).tolist()}})
    (d / "scans" / "segments_anno.json").write_text(json.dumps({"sceneId": name, "segGroups": groups}))
    meta = {}
    for i in range(room.n_frames):
        img, depth = room.render(i)
        _save_jpg(d / "iphone" / "rgb" / f"frame_{i:06d}.jpg", img)
        _save_png(d / "iphone" / "depth" / f"frame_{i:06d}.png", _depth_png(depth))
        meta[f"frame_{i:06d}"] = {"timestamp": i / 30.0, "intrinsic": room.K.tolist(),
                                  "pose": np.eye(4).tolist(), "aligned_pose": room.poses[i].tolist(), "imu": {}}
    (d / "iphone" / "pose_intrinsic_imu.json").write_text(json.dumps(meta))
    return d


def write_arkitscenes(room: FixtureRoom, root: Path, name: str = "41000001", sky: str = "Up") -> Path:
    from scipy.spatial.transform import Rotation

    root = Path(root)
    d = root / name
    _write_ply(d / f"{name}_3dod_mesh.ply", room.vertices, room.faces, room.colors)
    data = [{"uid": f"u{k}", "label": ob.label, "segments": {"obbAligned": {
        "centroid": list(ob.centroid), "axesLengths": list(ob.extents),
        "normalizedAxes": ob.axes().reshape(-1).tolist()}}} for k, ob in enumerate(room.objects)]
    (d / f"{name}_3dod_annotation.json").write_text(json.dumps({"data": data, "skipped": False}))
    fd = d / f"{name}_frames"
    lines = []
    # sky "Left": the device was held rolled, so the sky is on the image's left; the reader must
    # turn frames 90 degrees clockwise and recover exactly room.poses / room.K.
    if sky not in ("Up", "Left"):
        raise ValueError("fixture supports sky 'Up' or 'Left'")
    roll = np.eye(4)
    K, size = room.K, (room.width, room.height)
    if sky == "Left":
        roll[:3, :3] = [[0, -1, 0], [1, 0, 0], [0, 0, 1]]  # p_upright = roll @ p_rolled
        K = np.array([[room.K[1, 1], 0, room.K[1, 2]], [0, room.K[0, 0], room.width - room.K[0, 2]], [0, 0, 1.0]])
        size = (room.height, room.width)
    for i in range(room.n_frames):
        t = 100.0 + i * 0.1
        c2w = room.poses[i] @ roll
        img, depth = room.render(i, K=K, size=size, c2w=c2w)
        _save_png(fd / "lowres_wide" / f"{name}_{t:.3f}.png", img)
        _save_png(fd / "lowres_depth" / f"{name}_{t:.3f}.png", _depth_png(depth))
        (fd / "lowres_wide_intrinsics").mkdir(parents=True, exist_ok=True)
        (fd / "lowres_wide_intrinsics" / f"{name}_{t:.3f}.pincam").write_text(
            f"{size[0]} {size[1]} {K[0, 0]} {K[1, 1]} {K[0, 2]} {K[1, 2]}\n")
        w2c = np.linalg.inv(c2w)
        rv = Rotation.from_matrix(w2c[:3, :3]).as_rotvec()
        lines.append(" ".join(f"{x:.9g}" for x in [t, *rv, *w2c[:3, 3]]))
    (fd / "lowres_wide.traj").write_text("\n".join(lines) + "\n")
    root.mkdir(parents=True, exist_ok=True)
    meta = root / "metadata.csv"
    rows = meta.read_text().splitlines() if meta.exists() else ["video_id,visit_id,sky_direction,fold"]
    rows.append(f"{name},1,{sky},Training")
    meta.write_text("\n".join(rows) + "\n")
    return d


def write_custom(room: FixtureRoom, root: Path, name: str = "site_a", *, labels: dict[str, str] | None = None,
                 boxes: list[dict] | None = None, depth: bool = True) -> Path:
    d = Path(root) / name
    inst = np.where(room.instance >= 0, room.instance + 1, 0)
    _write_ply(d / "points.ply", room.vertices, room.faces, room.colors, instance=inst)
    if labels is None:
        labels = {str(k + 1): ob.label for k, ob in enumerate(room.objects)}
    spec = {"labels": labels, "up": "z", "fps": 30, "depth_scale": 1000}
    if boxes:
        spec["boxes"] = boxes
    (d / "scene.json").write_text(json.dumps(spec, indent=2))
    for i in range(room.n_frames):
        img, dep = room.render(i)
        _save_png(d / "frames" / f"{i:06d}.png", img)
        if depth:
            _save_png(d / "depth" / f"{i:06d}.png", _depth_png(dep))
    (d / "cameras.json").write_text(json.dumps({"intrinsics": room.K.tolist(),
                                                "poses": [p.tolist() for p in room.poses]}))
    return d
