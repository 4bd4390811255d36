"""One procedural scene: room + furniture + camera walk, as a :class:`vsgrpo.scene.Scene`.

Everything is drawn from ``numpy.random.default_rng([seed, index])``, so scene ``index`` of a
seed is the same whatever else is generated, in whatever order or process.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from shapely import constrained_delaunay_triangles
from shapely.geometry import Polygon

from ...scene import CameraTrack, FloorPlan, ObjectBox, Scene
from .camera import camera_walk, intrinsics
from .catalogue import CATEGORIES
from .layout import Room, make_room
from .mesh import PLAIN, Mesh, _mesh, quad
from .placement import Placed, place_furniture

DATASET = "synthetic"


def scene_name(seed: int, index: int) -> str:
    return f"synth_s{seed}_{index:05d}"


@dataclass
class SynthScene:
    """A generated scene in world coordinates, ready to render."""

    scene: Scene  # meta info (boxes in the world frame) + floor plan
    room: Room
    placed: list[Placed]  # room frame, same order as ``instances``
    instances: list[tuple[str, int]]  # renderer id k + 1 <-> instances[k]
    world: np.ndarray  # (4, 4) room frame -> world
    mesh: Mesh  # world frame
    ids: np.ndarray  # (V,) instance id per vertex, 0 = room shell
    poses: np.ndarray | None = None  # (F, 4, 4) camera-to-world, world frame
    K: np.ndarray | None = None
    scene_index: int = 0
    fixtures: list[Placed] = field(default_factory=list)  # unseen doors/windows: drawn as room shell, not in meta

    def cameras(self, fps: float) -> CameraTrack:
        n = len(self.poses)
        return CameraTrack(intrinsics=np.repeat(self.K[None], n, 0), poses=self.poses,
                           width=int(round(self.K[0, 2] * 2)), height=int(round(self.K[1, 2] * 2)),
                           times=np.arange(n) / fps)


def room_shell(room: Room) -> Mesh:
    """Floor, walls and (optionally) ceiling of the room, in the room frame."""
    poly = Polygon(room.footprint)
    tris = [np.array(t.exterior.coords)[:3] for t in constrained_delaunay_triangles(poly).geoms]
    parts = []
    for t in tris:
        t3 = np.c_[t, np.zeros(3)]
        parts.append(_mesh(t3[None], room.floor_color, room.floor_pattern))
        if room.ceiling:
            parts.append(_mesh(np.c_[t, np.full(3, room.height)][None], room.ceiling_color, PLAIN))
    h = room.height
    for w in room.walls:
        a, b = w.a, w.b
        parts.append(quad((*a, 0), (*b, 0), (*b, h), (*a, h), room.wall_color))
        # a skirting board makes the floor-wall edge visible from afar
        n = w.normal * 0.012
        parts.append(quad((*(a + n), 0), (*(b + n), 0), (*(b + n), 0.08), (*(a + n), 0.08), room.wall_color * 0.7))
    return Mesh.concat(parts)


def object_mesh(p: Placed) -> Mesh:
    cat = CATEGORIES[p.category]
    rng = np.random.default_rng(p.shape_seed)
    parts = cat.build(*p.size, p.main, p.accent, rng)
    return Mesh.concat(parts).transformed(p.rotation, np.array([*p.center, p.z0]))


def _to_world(world: np.ndarray, p: Placed) -> ObjectBox:
    R = world[:3, :3] @ p.rotation
    centroid = world[:3, :3] @ np.array([*p.center, p.z0 + p.size[2] / 2]) + world[:3, 3]
    return ObjectBox.create(p.category, centroid, p.size, R.T)  # rows = box axes


def generate_scene(seed: int, index: int, *, n_frames: int = 120, width: int = 320, height: int = 240,
                   ceiling: bool = True) -> SynthScene:
    """Build scene ``index`` of ``seed``: layout, furniture, meta info, camera walk."""
    rng = np.random.default_rng([seed, index])
    room = make_room(rng, ceiling=ceiling)
    placed = place_furniture(room, rng)
    theta = rng.uniform(0, 2 * np.pi)
    world = np.eye(4)
    world[:2, :2] = [[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]]
    world[:2, 3] = rng.uniform(-4, 4, 2)
    door = next((p for p in placed if p.category == "door"), None)
    start = None if door is None else door.center + door.rotation[:2, 1] * 1.0
    poses_room = camera_walk(room.polygon, placed, n_frames, rng, start_near=start)
    return assemble(room, placed, world, poses_room, intrinsics(width, height), seed, index)


def assemble(room: Room, placed: list[Placed], world: np.ndarray, poses_room: np.ndarray, K: np.ndarray,
             seed: int, index: int, fixtures: list[Placed] = ()) -> SynthScene:
    """Meta info, meshes and cameras in the world frame (also used after dropping objects).

    ``fixtures`` are drawn with id 0 like walls and are not objects of the meta info."""
    placed = sorted(placed, key=lambda p: p.category)  # stable: instance order within a category kept
    objects: dict[str, list[ObjectBox]] = {}
    instances: list[tuple[str, int]] = []
    for p in placed:
        objects.setdefault(p.category, []).append(_to_world(world, p))
        instances.append((p.category, len(objects[p.category]) - 1))
    R, t = world[:3, :3], world[:3, 3]
    footprint_w = room.footprint @ R[:2, :2].T + t[:2]
    centroid = np.array(Polygon(room.footprint).centroid.coords[0])
    scene = Scene(name=scene_name(seed, index), dataset=DATASET, room_size=room.area,
                  room_center=R @ np.array([*centroid, room.height / 2]) + t,
                  object_counts={c: len(b) for c, b in objects.items()}, objects=objects,
                  extra={"room_type": room.theme},
                  floor_plan=FloorPlan(polygons=[footprint_w], floor_z=0.0))
    meshes, ids = [room_shell(room)] + [object_mesh(p) for p in fixtures], [0] * (1 + len(fixtures))
    for k, p in enumerate(placed):
        meshes.append(object_mesh(p))
        ids.append(k + 1)
    id_per_vertex = np.concatenate([np.full(len(m.pos), i, np.int32) for m, i in zip(meshes, ids)])
    mesh = Mesh.concat(meshes).transformed(R, t)
    poses = np.einsum("ij,fjk->fik", world, poses_room)
    return SynthScene(scene, room, placed, instances, world, mesh, id_per_vertex, poses, K, index, list(fixtures))


def drop_objects(s: SynthScene, keep: np.ndarray, seed: int, index: int) -> SynthScene:
    """The same scene without the objects whose ``keep`` flag is False (camera unchanged).

    A dropped door or window stays in the walls (it is part of the room), drawn like the walls
    and left out of the meta info; dropped furniture is removed altogether."""
    room_poses = np.einsum("ij,fjk->fik", np.linalg.inv(s.world), s.poses)
    gone = [p for p, k in zip(s.placed, keep) if not k]
    fixtures = s.fixtures + [p for p in gone if p.category in ("door", "window")]
    out = assemble(s.room, [p for p, k in zip(s.placed, keep) if k], s.world, room_poses, s.K, seed, index, fixtures)
    out.poses = s.poses  # the very same cameras, without a round trip through the inverse
    return out
