"""Furniture placement: which categories a room gets, where each instance goes.

Rules that keep rooms plausible and the ground truth exact:

- each room theme has a list of categories with instance-count ranges (some always several:
  counting questions; most usually one: distance, size and direction questions);
- ``wall`` furniture stands with its back 2-5 cm from a wall, facing into the room; beds get
  nightstands beside them; chairs go around tables when there is one;
- no two objects interpenetrate: footprints (plus a 5 cm margin) may only overlap when their
  height ranges do not (a tv above a low sofa is fine);
- a door keeps 1 m of floor in front of it free, a window keeps 35 cm in front of it clear of
  anything that reaches its sill, and floor furniture covers at most 40% of the floor so the
  camera can walk through the room.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from shapely.geometry import Polygon
from shapely.prepared import prep

from .catalogue import CATEGORIES
from .layout import Room, Wall

# (category, min count, max count, probability the category appears at all)
THEME_ITEMS: dict[str, list[tuple[str, int, int, float]]] = {
    "living room": [("sofa", 1, 1, 1.0), ("tv", 1, 1, 0.9), ("table", 1, 2, 0.9), ("chair", 2, 4, 0.7),
                    ("lamp", 1, 2, 0.7), ("plant", 1, 4, 0.8), ("bookshelf", 1, 2, 0.5), ("trash bin", 1, 2, 0.5),
                    ("piano", 1, 1, 0.25), ("fireplace", 1, 1, 0.3), ("radiator", 1, 2, 0.4), ("fan", 1, 1, 0.25),
                    ("clock", 1, 1, 0.4), ("stool", 2, 3, 0.3), ("backpack", 1, 1, 0.3)],
    "bedroom": [("bed", 1, 1, 1.0), ("nightstand", 1, 2, 0.9), ("closet", 1, 1, 0.7), ("lamp", 1, 2, 0.5),
                ("chair", 1, 2, 0.5), ("table", 1, 1, 0.5), ("tv", 1, 1, 0.4), ("plant", 1, 2, 0.5),
                ("mirror", 1, 1, 0.4), ("trash bin", 1, 1, 0.5), ("backpack", 1, 2, 0.4), ("suitcase", 1, 2, 0.4),
                ("radiator", 1, 1, 0.3), ("clock", 1, 1, 0.3)],
    "kitchen": [("refrigerator", 1, 1, 1.0), ("stove", 1, 1, 0.9), ("counter", 1, 2, 1.0), ("dishwasher", 1, 1, 0.5),
                ("table", 1, 1, 0.7), ("chair", 2, 4, 0.7), ("stool", 2, 3, 0.4), ("trash bin", 1, 2, 0.9),
                ("plant", 1, 2, 0.5), ("washer", 1, 1, 0.3), ("clock", 1, 1, 0.4), ("radiator", 1, 1, 0.3)],
    "office": [("table", 1, 3, 1.0), ("chair", 2, 6, 1.0), ("bookshelf", 1, 2, 0.7), ("whiteboard", 1, 1, 0.6),
               ("trash bin", 1, 3, 0.9), ("plant", 1, 3, 0.7), ("lamp", 1, 1, 0.3), ("backpack", 1, 3, 0.5),
               ("clock", 1, 1, 0.4), ("tv", 1, 1, 0.3), ("closet", 1, 1, 0.3), ("fan", 1, 1, 0.3),
               ("sofa", 1, 1, 0.3), ("radiator", 1, 2, 0.4)],
    "bathroom": [("toilet", 1, 1, 1.0), ("bathtub", 1, 1, 0.6), ("washer", 1, 1, 0.4), ("mirror", 1, 1, 0.9),
                 ("trash bin", 1, 1, 0.8), ("plant", 1, 1, 0.3), ("radiator", 1, 1, 0.4), ("stool", 1, 1, 0.3)],
}
FLOOR_SHARE = 0.40
MARGIN = 0.05
ATTEMPTS = 60


@dataclass
class Placed:
    """One object instance in the room frame."""

    category: str
    center: np.ndarray  # (2,) footprint centre
    yaw: float  # angle of the local x (width) axis; the front (+y local) faces yaw + 90 deg
    size: np.ndarray  # (3,) width, depth, height
    z0: float  # height of the box bottom
    main: np.ndarray
    accent: np.ndarray
    shape_seed: int

    @property
    def rotation(self) -> np.ndarray:
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])

    def footprint(self, grow: float = 0.0) -> Polygon:
        w, d = self.size[0] / 2 + grow, self.size[1] / 2 + grow
        r = self.rotation[:2, :2]
        return Polygon(np.array([[-w, -d], [w, -d], [w, d], [-w, d]]) @ r.T + self.center)

    @property
    def z_range(self) -> tuple[float, float]:
        return self.z0, self.z0 + float(self.size[2])


@dataclass
class _Keepout:
    area: Polygon
    z0: float
    z1: float


class _Layout:
    """Placed objects plus keep-out zones, with the collision test."""

    def __init__(self, room: Room):
        self.room = room
        self.inside = prep(room.polygon.buffer(-0.005))
        self.objects: list[Placed] = []
        self.keepouts: list[_Keepout] = []
        self.floor_used = 0.0

    def free(self, p: Placed, *, opening: bool = False) -> bool:
        fp = p.footprint()
        if not opening and not self.inside.contains(fp):
            return False
        z0, z1 = p.z_range
        grown = p.footprint(MARGIN)
        for o in self.objects:
            oz0, oz1 = o.z_range
            if z0 < oz1 and oz0 < z1 and grown.intersects(o.footprint()):
                return False
        if not opening:
            for k in self.keepouts:
                if z0 < k.z1 and k.z0 < z1 and fp.intersects(k.area):
                    return False
        return True

    def add(self, p: Placed) -> None:
        self.objects.append(p)
        if p.z0 < 0.01:
            self.floor_used += p.footprint().area


def _yaw_of(wall: Wall) -> float:
    d = wall.direction
    return float(np.arctan2(d[1], d[0]))


def _new(cat: str, rng: np.random.Generator, center, yaw, size=None, z0=None) -> Placed:
    c = CATEGORIES[cat]
    size = c.sample_size(rng) if size is None else size
    main, acc = c.sample_colors(rng)
    z0 = (rng.uniform(*c.mount) if c.placement in ("mount", "opening") else 0.0) if z0 is None else z0
    return Placed(cat, np.asarray(center, float), float(yaw), size, float(z0), main, acc, int(rng.integers(2**31)))


def _pick_wall(room: Room, rng, min_len: float) -> Wall | None:
    walls = [w for w in room.walls if w.length >= min_len]
    if not walls:
        return None
    lengths = np.array([w.length for w in walls])
    return walls[rng.choice(len(walls), p=lengths / lengths.sum())]


def _against_wall(wall: Wall, t: float, size, gap: float) -> tuple[np.ndarray, float]:
    return wall.point(t) + wall.normal * (size[1] / 2 + gap), _yaw_of(wall)


def _place_openings(lay: _Layout, rng) -> None:
    room = lay.room
    door = _new("door", rng, (0, 0), 0, z0=0.0)
    for _ in range(ATTEMPTS):
        wall = _pick_wall(room, rng, door.size[0] + 0.4)
        t = rng.uniform(door.size[0] / 2 + 0.15, wall.length - door.size[0] / 2 - 0.15)
        door.center, door.yaw = wall.point(t), _yaw_of(wall)
        if lay.free(door, opening=True):
            lay.add(door)
            swing = Placed("door", wall.point(t) + wall.normal * 0.5, door.yaw,
                           np.array([door.size[0] + 0.2, 1.0, 2.2]), 0.0, door.main, door.accent, 0)
            lay.keepouts.append(_Keepout(swing.footprint(), 0.0, 2.2))
            break
    n_windows = int(rng.integers(0, 2)) if room.theme == "bathroom" else int(rng.integers(1, 2 + min(2, room.area // 20)))
    for _ in range(n_windows):
        win = _new("window", rng, (0, 0), 0)
        win.size[2] = min(win.size[2], room.height - 0.15 - win.z0)
        for _ in range(ATTEMPTS):
            wall = _pick_wall(room, rng, win.size[0] + 0.5)
            if wall is None:
                break
            t = rng.uniform(win.size[0] / 2 + 0.25, wall.length - win.size[0] / 2 - 0.25)
            win.center, win.yaw = wall.point(t), _yaw_of(wall)
            if lay.free(win, opening=True):
                lay.add(win)
                front = Placed("window", wall.point(t) + wall.normal * 0.2, win.yaw,
                               np.array([win.size[0], 0.4, 1.0]), 0, win.main, win.accent, 0)
                lay.keepouts.append(_Keepout(front.footprint(), win.z0, win.z0 + win.size[2]))
                break


def _candidates(cat: str, lay: _Layout, rng, size) -> list[tuple[np.ndarray, float]]:
    """Candidate (centre, yaw) poses for one instance, most plausible first."""
    room, out = lay.room, []
    placement = CATEGORIES[cat].placement
    if cat == "nightstand":
        for bed in (o for o in lay.objects if o.category == "bed"):
            x_axis = bed.rotation[:2, 0]
            y_axis = bed.rotation[:2, 1]
            back = bed.center - y_axis * bed.size[1] / 2
            for side in rng.permutation([-1, 1]):
                c = back + x_axis * side * (bed.size[0] / 2 + size[0] / 2 + 0.06) + y_axis * (size[1] / 2)
                out.append((c, bed.yaw))
    if cat == "chair":
        tables = [o for o in lay.objects if o.category == "table"]
        for _ in range(12 if tables and rng.random() < 0.8 else 0):
            tb = tables[rng.integers(len(tables))]
            side = rng.integers(4)
            ax = tb.rotation[:2, side % 2]  # x axis for sides 0/2, y axis for 1/3
            sign = 1 if side < 2 else -1
            half = tb.size[side % 2] / 2
            along = tb.rotation[:2, 1 - side % 2] * rng.uniform(-0.3, 0.3) * tb.size[1 - side % 2]
            c = tb.center + ax * sign * (half + size[1] / 2 - 0.1) + along
            facing = -ax * sign  # the chair's front looks at the table
            out.append((c, float(np.arctan2(facing[1], facing[0])) - np.pi / 2))
    for _ in range(ATTEMPTS):
        if placement in ("wall", "mount") or (cat in ("lamp", "plant", "trash bin") and rng.random() < 0.5):
            wall = _pick_wall(room, rng, size[0] + 0.1)
            if wall is None:
                continue
            t = rng.uniform(size[0] / 2 + 0.05, wall.length - size[0] / 2 - 0.05)
            gap = 0.01 if placement == "mount" else rng.uniform(0.02, 0.05)
            out.append(_against_wall(wall, t, size, gap))
        else:
            lo, hi = room.footprint.min(0) + 0.3, room.footprint.max(0) - 0.3
            c = rng.uniform(lo, hi)
            yaw = (rng.integers(4) * np.pi / 2 + rng.normal(0, 0.15)) if rng.random() < 0.6 else rng.uniform(0, 2 * np.pi)
            out.append((c, float(yaw)))
    return out


def place_furniture(room: Room, rng: np.random.Generator) -> list[Placed]:
    """Door, windows and the theme's furniture, never interpenetrating."""
    lay = _Layout(room)
    _place_openings(lay, rng)
    wanted: list[str] = []
    for cat, lo, hi, p in THEME_ITEMS[room.theme]:
        if rng.random() < p:
            wanted += [cat] * int(rng.integers(lo, hi + 1))
    # big and anchoring things first, dependants (nightstands, chairs) after, wall hangings last
    order = {"mount": 2}
    wanted.sort(key=lambda c: (order.get(CATEGORIES[c].placement, 0), c in ("nightstand", "chair"),
                               -np.prod(CATEGORIES[c].size[0]) * np.prod(CATEGORIES[c].size[1])))
    for cat in wanted:
        size = CATEGORIES[cat].sample_size(rng)
        if CATEGORIES[cat].placement != "mount" and lay.floor_used + size[0] * size[1] > FLOOR_SHARE * room.area:
            continue
        for center, yaw in _candidates(cat, lay, rng, size):
            p = _new(cat, rng, center, yaw, size=size)
            if CATEGORIES[cat].placement == "mount":
                p.z0 = min(p.z0, room.height - 0.1 - p.size[2])
            if lay.free(p):
                lay.add(p)
                break
    return lay.objects
