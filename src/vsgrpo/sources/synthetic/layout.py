"""Room layout: footprint (rectangle or L), wall height, surface colours, door and windows.

Rooms are built in a room frame whose axes follow the walls; :mod:`.scene_gen` later places the
whole room in the world with a random rotation and offset, as real scans are.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass, field

import numpy as np
from shapely.geometry import Polygon

from .mesh import CARPET, PLANKS, TILES

THEMES = ("living room", "bedroom", "kitchen", "office", "bathroom")
THEME_WEIGHTS = (0.25, 0.25, 0.2, 0.2, 0.1)
AREA = {"living room": (15, 80), "bedroom": (10, 28), "kitchen": (9, 30), "office": (12, 80), "bathroom": (8, 14)}
MIN_L_AREA = 14.0  # below this an L-shaped notch leaves no usable floor


@dataclass
class Wall:
    a: np.ndarray  # (2,) start, walking counter-clockwise around the room
    b: np.ndarray  # (2,) end

    @property
    def length(self) -> float:
        return float(np.linalg.norm(self.b - self.a))

    @property
    def direction(self) -> np.ndarray:
        return (self.b - self.a) / self.length

    @property
    def normal(self) -> np.ndarray:
        """Unit normal pointing into the room (left of the direction for a CCW polygon)."""
        d = self.direction
        return np.array([-d[1], d[0]])

    def point(self, t: float) -> np.ndarray:
        return self.a + t * (self.b - self.a) / self.length


@dataclass
class Room:
    theme: str
    footprint: np.ndarray  # (N, 2) counter-clockwise
    height: float
    wall_color: np.ndarray
    floor_color: np.ndarray
    floor_pattern: int
    ceiling_color: np.ndarray
    ceiling: bool = True
    walls: list[Wall] = field(default_factory=list)

    @property
    def polygon(self) -> Polygon:
        return Polygon(self.footprint)

    @property
    def area(self) -> float:
        return float(self.polygon.area)


def _rgb(h, s, v) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v), np.float32)


def make_room(rng: np.random.Generator, *, ceiling: bool = True) -> Room:
    """Sample a theme, an 8-80 m^2 rectangular or L-shaped footprint and surface colours."""
    theme = THEMES[rng.choice(len(THEMES), p=THEME_WEIGHTS)]
    area = rng.uniform(*AREA[theme])
    aspect = rng.uniform(1.0, 1.8)
    l_shaped = area >= MIN_L_AREA and rng.random() < 0.35
    if l_shaped:
        fa, fb = rng.uniform(0.3, 0.5), rng.uniform(0.3, 0.5)
        scale = np.sqrt(area / (aspect * (1 - fa * fb)))
        a, b = aspect * scale, scale
        ca, cb = fa * a, fb * b
        pts = np.array([[0, 0], [a, 0], [a, b - cb], [a - ca, b - cb], [a - ca, b], [0, b]])
    else:
        b = np.sqrt(area / aspect)
        a = aspect * b
        pts = np.array([[0, 0], [a, 0], [a, b], [0, b]])
    pts = pts - pts.mean(0)
    if rng.random() < 0.5:  # quarter turn: vary which side the notch / long side is on
        pts = pts[:, ::-1] * np.array([1, -1])
    pts = np.roll(pts, -int(np.argmin(pts[:, 0] + pts[:, 1])), axis=0)
    wall_hue = rng.uniform(0, 1)
    floor_pattern = {"bathroom": TILES, "kitchen": TILES}.get(theme, PLANKS if rng.random() < 0.7 else CARPET)
    floor_color = (_rgb(rng.uniform(0.06, 0.1), rng.uniform(0.35, 0.6), rng.uniform(0.35, 0.7)) if floor_pattern == PLANKS
                   else _rgb(rng.uniform(0, 1), rng.uniform(0.05, 0.3), rng.uniform(0.45, 0.85)))
    room = Room(theme=theme, footprint=pts, height=float(rng.uniform(2.5, 3.0)),
                wall_color=_rgb(wall_hue, rng.uniform(0.05, 0.35), rng.uniform(0.7, 0.92)),
                floor_color=floor_color, floor_pattern=floor_pattern,
                ceiling_color=_rgb(wall_hue, 0.03, 0.95), ceiling=ceiling)
    room.walls = [Wall(pts[i].astype(float), pts[(i + 1) % len(pts)].astype(float)) for i in range(len(pts))]
    return room
