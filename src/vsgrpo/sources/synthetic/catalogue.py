"""Furniture catalogue: VSI-Bench categories with real-world sizes, placement rule, colours, shape.

Sizes are full extents in metres, ``(width, depth, height)`` with width along the wall the
object usually stands against and depth pointing into the room; ranges follow the 10th-90th
percentiles of the released VSI-Bench meta info (ScanNet, ScanNet++, ARKitScenes) and common
furniture dimensions. Every shape is built from several primitives inside its box
``[-w/2, w/2] x [-d/2, d/2] x [0, h]`` (front = +y) and touches all six faces of it, so the meta
box is tight around what is rendered.

Placement rules:

- ``wall``: stands on the floor with its back to a wall (sofa, bed, bookshelf, ...).
- ``free``: stands on the floor anywhere with free space around it (table, stool, ...).
- ``mount``: hangs on a wall at ``mount`` height above the floor (tv, mirror, clock, ...).
- ``opening``: part of a wall (door, window); placed by the room layout, not here.
"""

from __future__ import annotations

import colorsys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .mesh import Mesh, box, cylinder, frustum, sphere

Builder = Callable[[float, float, float, np.ndarray, np.ndarray, np.random.Generator], list[Mesh]]


@dataclass(frozen=True)
class Category:
    name: str
    size: tuple[tuple[float, float], tuple[float, float], tuple[float, float]]  # (w, d, h) ranges
    placement: str  # wall | free | mount | opening
    main: tuple[tuple[float, float], tuple[float, float], tuple[float, float]]  # HSV ranges
    accent: tuple[tuple[float, float], tuple[float, float], tuple[float, float]]
    build: Builder
    mount: tuple[float, float] = (0.0, 0.0)  # height of the box bottom above the floor

    def sample_size(self, rng: np.random.Generator) -> np.ndarray:
        s = np.array([rng.uniform(*r) for r in self.size])
        if self.name in _ROUND:  # round footprint: the box stays tight
            s[1] = s[0]
        if self.name == "clock":
            s[2] = s[0]
        return s

    def sample_colors(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return _hsv(self.main, rng), _hsv(self.accent, rng)


def _hsv(ranges, rng) -> np.ndarray:
    h, s, v = (rng.uniform(*r) for r in ranges)
    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v), np.float32)


def shade(c, f: float) -> np.ndarray:
    return np.clip(np.asarray(c) * f, 0, 1).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# shapes (local frame: x width, y depth with front at +y, z up from 0)


def _legs(w, d, h, c, t=0.05, inset=0.0):
    xs, ys = (-w / 2 + inset, w / 2 - inset - t), (-d / 2 + inset, d / 2 - inset - t)
    return [box((x, y, 0), (x + t, y + t, h), c) for x in xs for y in ys]


def chair(w, d, h, main, acc, rng):
    seat = 0.45 * h
    return (_legs(w, d, seat, acc, 0.04)
            + [box((-w / 2, -d / 2, seat), (w / 2, d / 2, seat + 0.06), main),
               box((-w / 2, -d / 2, seat + 0.06), (w / 2, -d / 2 + 0.07, h), main)])


def stool(w, d, h, main, acc, rng):
    r = min(w, d) / 2
    return [cylinder((0, 0, h - 0.05), r, 0.05, main, segments=20),
            *(_legs(w * 0.72, d * 0.72, h - 0.05, acc, 0.035)),
            box((-w / 2, -0.015, 0), (w / 2, 0.015, 0.03), acc), box((-0.015, -d / 2, 0), (0.015, d / 2, 0.03), acc)]


def table(w, d, h, main, acc, rng):
    return [box((-w / 2, -d / 2, h - 0.04), (w / 2, d / 2, h), main)] + _legs(w, d, h - 0.04, acc, 0.06, 0.03)


def sofa(w, d, h, main, acc, rng):
    arm = 0.18
    return [box((-w / 2, -d / 2, 0), (w / 2, d / 2, 0.12), shade(main, 0.5)),
            box((-w / 2 + arm, -d / 2 + 0.2, 0.12), (w / 2 - arm, d / 2, 0.45), acc),
            box((-w / 2, -d / 2, 0.12), (w / 2, -d / 2 + 0.2, h), main),
            box((-w / 2, -d / 2, 0.12), (-w / 2 + arm, d / 2, 0.62), main),
            box((w / 2 - arm, -d / 2, 0.12), (w / 2, d / 2, 0.62), main)]


def bed(w, d, h, main, acc, rng):
    # w is the bed's width along the headboard wall, d its length into the room
    return [box((-w / 2, -d / 2, 0), (w / 2, d / 2, 0.3), main),
            box((-w / 2 + 0.03, -d / 2 + 0.08, 0.3), (w / 2 - 0.03, d / 2, 0.52), (0.93, 0.93, 0.9)),
            box((-w / 2 + 0.03, -d / 2 + 0.55, 0.52), (w / 2 - 0.03, d / 2, 0.56), acc),
            box((-w / 2 + 0.1, -d / 2 + 0.12, 0.52), (w / 2 - 0.1, -d / 2 + 0.45, 0.62), (0.98, 0.98, 0.98)),
            box((-w / 2, -d / 2, 0), (w / 2, -d / 2 + 0.08, h), shade(main, 0.8))]


def tv(w, d, h, main, acc, rng):
    return [box((-w / 2, -d / 2, 0), (w / 2, d / 2 - 0.01, h), main),
            box((-w / 2 + 0.03, d / 2 - 0.01, 0.03), (w / 2 - 0.03, d / 2, h - 0.03), acc)]


def lamp(w, d, h, main, acc, rng):
    r = min(w, d) / 2
    return [cylinder((0, 0, 0), r * 0.6, 0.03, acc), cylinder((0, 0, 0.03), 0.015, h - 0.33, acc, segments=8),
            frustum((0, 0, h - 0.32), r, r * 0.65, 0.32, main, segments=20)]


def plant(w, d, h, main, acc, rng):
    pot_h = min(0.35 * h, 0.4)
    r = min(w, d) / 2
    leaves = [sphere((0, 0, pot_h + (h - pot_h) * 0.5), (r, r, (h - pot_h) / 2), main)]
    for _ in range(3):
        a = rng.uniform(0, 2 * np.pi)
        rr = r * 0.45
        c = np.array([np.cos(a) * (r - rr), np.sin(a) * (r - rr), pot_h + (h - pot_h) * rng.uniform(0.3, 0.6)])
        leaves.append(sphere(c, (rr, rr, rr), shade(main, 0.75)))
    return [frustum((0, 0, 0), r * 0.55, r * 0.7, pot_h, acc, segments=14)] + leaves


def refrigerator(w, d, h, main, acc, rng):
    split = 0.62 * h
    return [box((-w / 2, -d / 2, 0), (w / 2, d / 2 - 0.03, h), main),
            box((-w / 2, d / 2 - 0.03, 0.02), (w / 2, d / 2 - 0.01, split - 0.01), shade(main, 0.96)),
            box((-w / 2, d / 2 - 0.03, split + 0.01), (w / 2, d / 2 - 0.01, h), shade(main, 0.96)),
            box((w / 2 - 0.09, d / 2 - 0.01, split - 0.45), (w / 2 - 0.06, d / 2, split - 0.1), acc),
            box((w / 2 - 0.09, d / 2 - 0.01, split + 0.1), (w / 2 - 0.06, d / 2, split + 0.35), acc)]


def toilet(w, d, h, main, acc, rng):
    seat = 0.42
    return [box((-w / 2, -d / 2, seat), (w / 2, -d / 2 + 0.2, h), main),
            frustum((0, 0.07, 0), 0.12, min(w / 2, (d - 0.22) / 2), seat - 0.02, main, segments=18),
            cylinder((0, 0.07, seat - 0.02), min(w / 2, (d - 0.22) / 2), 0.02, acc, segments=18),
            box((-0.1, -d / 2, 0), (0.1, 0.0, 0.2), main),
            box((-0.04, (d / 2 - 0.05), seat - 0.05), (0.04, d / 2, seat - 0.02), main)]


def trash_bin(w, d, h, main, acc, rng):
    r = min(w, d) / 2
    return [frustum((0, 0, 0), r * 0.85, r * 0.97, h - 0.03, main, segments=20),
            cylinder((0, 0, h - 0.03), r, 0.03, acc, segments=20)]


def nightstand(w, d, h, main, acc, rng):
    return [box((-w / 2, -d / 2, 0), (w / 2, d / 2 - 0.02, h), main),
            box((-w / 2 + 0.03, d / 2 - 0.02, h * 0.55), (w / 2 - 0.03, d / 2, h - 0.04), shade(main, 1.15)),
            box((-w / 2 + 0.03, d / 2 - 0.02, 0.05), (w / 2 - 0.03, d / 2, h * 0.5), shade(main, 1.15)),
            box((-0.05, d / 2 - 0.005, h * 0.75), (0.05, d / 2, h * 0.78), acc)]


def bookshelf(w, d, h, main, acc, rng):
    t = 0.03
    parts = [box((-w / 2, -d / 2, 0), (-w / 2 + t, d / 2, h), main), box((w / 2 - t, -d / 2, 0), (w / 2, d / 2, h), main),
             box((-w / 2, -d / 2, 0), (w / 2, -d / 2 + 0.015, h), shade(main, 0.7))]
    n = max(3, int(h / 0.38))
    for k in range(n + 1):
        z = k * (h - t) / n
        parts.append(box((-w / 2 + t, -d / 2, z), (w / 2 - t, d / 2, z + t), main))
        if k < n:
            x = -w / 2 + t
            while x < w / 2 - t - 0.05:
                bw = min(rng.uniform(0.025, 0.06), w / 2 - t - x)
                bh = rng.uniform(0.6, 0.9) * ((h - t) / n - t)
                col = _hsv(((0, 1), (0.4, 0.8), (0.3, 0.8)), rng)
                parts.append(box((x, -d / 2 + 0.02, z + t), (x + bw, d / 2 - 0.03, z + t + bh), col))
                x += bw + rng.uniform(0.0, 0.02)
    return parts


def washer(w, d, h, main, acc, rng):
    r = min(w, h) * 0.3
    return [box((-w / 2, -d / 2, 0), (w / 2, d / 2 - 0.02, h), main),
            cylinder((0, d / 2 - 0.02, h * 0.45), r, 0.02, acc, axis="y", segments=20),
            box((-w / 2 + 0.03, d / 2 - 0.02, h - 0.12), (w / 2 - 0.03, d / 2, h - 0.03), shade(main, 0.85))]


def bathtub(w, d, h, main, acc, rng):
    t = 0.07
    return [box((-w / 2, -d / 2, 0), (w / 2, d / 2, 0.12), main),
            box((-w / 2, -d / 2, 0.12), (w / 2, -d / 2 + t, h), main), box((-w / 2, d / 2 - t, 0.12), (w / 2, d / 2, h), main),
            box((-w / 2, -d / 2, 0.12), (-w / 2 + t, d / 2, h), main), box((w / 2 - t, -d / 2, 0.12), (w / 2, d / 2, h), main),
            box((-w / 2 + t, -d / 2 + t, 0.12), (w / 2 - t, d / 2 - t, h * 0.55), acc)]


def closet(w, d, h, main, acc, rng):
    return [box((-w / 2, -d / 2, 0), (w / 2, d / 2 - 0.02, h), main),
            box((-w / 2 + 0.02, d / 2 - 0.02, 0.08), (-0.005, d / 2, h - 0.03), shade(main, 1.12)),
            box((0.005, d / 2 - 0.02, 0.08), (w / 2 - 0.02, d / 2, h - 0.03), shade(main, 1.12)),
            box((-0.05, d / 2 - 0.005, h * 0.45), (-0.03, d / 2, h * 0.6), acc),
            box((0.03, d / 2 - 0.005, h * 0.45), (0.05, d / 2, h * 0.6), acc)]


def piano(w, d, h, main, acc, rng):
    return [box((-w / 2, -d / 2, 0), (w / 2, -d / 2 + 0.35, h), main),
            box((-w / 2, -d / 2 + 0.35, 0.62), (w / 2, d / 2, 0.72), main),
            box((-w / 2 + 0.08, -d / 2 + 0.35, 0.72), (w / 2 - 0.08, d / 2 - 0.03, 0.75), acc),
            box((-w / 2, d / 2 - 0.06, 0), (-w / 2 + 0.06, d / 2, 0.62), main),
            box((w / 2 - 0.06, d / 2 - 0.06, 0), (w / 2, d / 2, 0.62), main)]


def radiator(w, d, h, main, acc, rng):
    n = max(4, int(w / 0.06))
    fw = w / n
    return ([box((-w / 2 + k * fw + 0.008, -d / 2, 0.0), (-w / 2 + (k + 1) * fw - 0.008, d / 2, h), main) for k in range(n)]
            + [box((-w / 2, -d / 2 + 0.02, h * 0.1), (w / 2, d / 2 - 0.02, h * 0.18), acc)])


def fireplace(w, d, h, main, acc, rng):
    return [box((-w / 2, -d / 2, 0), (w / 2, d / 2, 0.1), shade(main, 0.8)),
            box((-w / 2, -d / 2, 0.1), (-w / 2 + 0.3, d / 2, h - 0.12), main),
            box((w / 2 - 0.3, -d / 2, 0.1), (w / 2, d / 2, h - 0.12), main),
            box((-w / 2 + 0.3, -d / 2, h * 0.6), (w / 2 - 0.3, d / 2, h - 0.12), main),
            box((-w / 2 + 0.3, -d / 2, 0.1), (w / 2 - 0.3, -d / 2 + 0.1, h * 0.6), (0.08, 0.06, 0.05)),
            box((-w / 2, -d / 2, h - 0.12), (w / 2, d / 2, h), acc)]


def counter(w, d, h, main, acc, rng):
    parts = [box((-w / 2, -d / 2, 0.08), (w / 2, d / 2 - 0.04, h - 0.04), main),
             box((-w / 2 + 0.04, -d / 2, 0), (w / 2 - 0.04, d / 2 - 0.1, 0.08), shade(main, 0.5)),
             box((-w / 2, -d / 2, h - 0.04), (w / 2, d / 2, h), acc)]
    n = max(1, int(w / 0.6))
    for k in range(n):
        x = -w / 2 + (k + 0.5) * w / n
        parts.append(box((x - 0.1, d / 2 - 0.04, h - 0.15), (x + 0.1, d / 2 - 0.02, h - 0.12), shade(acc, 0.6)))
    return parts


def stove(w, d, h, main, acc, rng):
    parts = [box((-w / 2, -d / 2, 0), (w / 2, d / 2 - 0.02, h - 0.02), main),
             box((-w / 2, -d / 2, h - 0.02), (w / 2, d / 2 - 0.02, h - 0.01), (0.08, 0.08, 0.08)),
             box((-w / 2 + 0.05, d / 2 - 0.02, 0.12), (w / 2 - 0.05, d / 2, h * 0.7), acc)]
    for sx in (-1, 1):
        for sy in (-1, 1):
            parts.append(cylinder((sx * w / 4, sy * d / 5, h - 0.01), 0.08, 0.01, (0.25, 0.25, 0.25), segments=12))
    return parts


def dishwasher(w, d, h, main, acc, rng):
    return [box((-w / 2, -d / 2, 0), (w / 2, d / 2 - 0.02, h), main),
            box((-w / 2 + 0.02, d / 2 - 0.02, 0.08), (w / 2 - 0.02, d / 2 - 0.005, h - 0.12), shade(main, 0.9)),
            box((-w / 2 + 0.08, d / 2 - 0.005, h - 0.1), (w / 2 - 0.08, d / 2, h - 0.07), acc)]


def backpack(w, d, h, main, acc, rng):
    return [box((-w / 2, -d / 2, 0), (w / 2, d / 2 - 0.07, h - 0.05), main),
            box((-w / 2 + 0.05, d / 2 - 0.07, 0.04), (w / 2 - 0.05, d / 2, h * 0.5), acc),
            box((-0.05, -d / 2 + 0.04, h - 0.05), (0.05, -d / 2 + 0.07, h), acc)]


def suitcase(w, d, h, main, acc, rng):
    return [box((-w / 2, -d / 2, 0.05), (w / 2, d / 2, h - 0.1), main),
            box((-0.1, -0.015, h - 0.1), (-0.08, 0.015, h), acc), box((0.08, -0.015, h - 0.1), (0.1, 0.015, h), acc),
            box((-0.1, -0.015, h - 0.02), (0.1, 0.015, h), acc),
            *(cylinder((sx * (w / 2 - 0.04), sy * (d / 2 - 0.04), 0), 0.025, 0.05, (0.1, 0.1, 0.1), segments=8)
              for sx in (-1, 1) for sy in (-1, 1))]


def fan(w, d, h, main, acc, rng):
    r = w / 2
    return [cylinder((0, 0, 0), min(w, d) / 2 * 0.8, 0.04, acc), cylinder((0, 0, 0.04), 0.02, h - 2 * r, acc, segments=8),
            cylinder((0, -d / 2, h - r), r, d, main, axis="y", segments=20),
            box((-0.03, -d / 2 + 0.02, h - r - 0.03), (0.03, d / 2, h - r + 0.03), acc)]


def mirror(w, d, h, main, acc, rng):
    return [box((-w / 2, -d / 2, 0), (w / 2, d / 2 - 0.005, h), acc),
            box((-w / 2 + 0.04, d / 2 - 0.005, 0.04), (w / 2 - 0.04, d / 2, h - 0.04), main)]


def whiteboard(w, d, h, main, acc, rng):
    return [box((-w / 2, -d / 2, 0.0), (w / 2, d / 2 - 0.05, h), acc),
            box((-w / 2 + 0.03, d / 2 - 0.06, 0.03), (w / 2 - 0.03, d / 2 - 0.045, h - 0.03), main),
            box((-w / 2 + 0.1, -d / 2, 0.0), (w / 2 - 0.1, d / 2, 0.03), acc)]


def clock(w, d, h, main, acc, rng):
    r = min(w, h) / 2
    return [cylinder((0, -d / 2, h / 2), r, d * 0.7, acc, axis="y", segments=24),
            cylinder((0, -d / 2, h / 2), r * 0.88, d, main, axis="y", segments=24),
            box((-0.01, d / 2 - 0.002, h / 2), (0.01, d / 2, h / 2 + r * 0.7), (0.05, 0.05, 0.05)),
            box((0, d / 2 - 0.002, h / 2 - 0.01), (r * 0.5, d / 2, h / 2 + 0.01), (0.05, 0.05, 0.05))]


def door(w, d, h, main, acc, rng):
    return [box((-w / 2, -d / 2, 0), (w / 2, d / 2, h), shade(main, 0.75)),
            box((-w / 2 + 0.06, -d / 2, 0), (w / 2 - 0.06, d / 2 + 0.0, h - 0.06), main),
            box((w / 2 - 0.16, d / 2 - 0.005, 0.95), (w / 2 - 0.08, d / 2, 1.0), acc)]


def window(w, d, h, main, acc, rng):
    f = 0.06
    return [box((-w / 2, -d / 2, 0), (w / 2, d / 2, f), acc), box((-w / 2, -d / 2, h - f), (w / 2, d / 2, h), acc),
            box((-w / 2, -d / 2, 0), (-w / 2 + f, d / 2, h), acc), box((w / 2 - f, -d / 2, 0), (w / 2, d / 2, h), acc),
            box((-0.02, -d / 2, 0), (0.02, d / 2 - 0.01, h), acc),
            box((-w / 2 + f, -d / 2, f), (w / 2 - f, d / 2 - 0.02, h - f), main)]


def _c(name, size, placement, main, accent, build, mount=(0.0, 0.0)) -> Category:
    return Category(name, size, placement, main, accent, build, mount)


_ROUND = {"lamp", "plant", "trash bin", "stool"}
WOOD = ((0.06, 0.1), (0.4, 0.7), (0.35, 0.75))
DARK = ((0.0, 1.0), (0.0, 0.15), (0.08, 0.2))
METAL = ((0.55, 0.6), (0.02, 0.08), (0.55, 0.75))
WHITE = ((0.1, 0.15), (0.0, 0.06), (0.88, 0.97))

CATEGORIES: dict[str, Category] = {c.name: c for c in [
    _c("chair", ((0.42, 0.55), (0.45, 0.55), (0.8, 0.98)), "free", ((0.55, 0.75), (0.3, 0.7), (0.35, 0.7)), DARK, chair),
    _c("stool", ((0.32, 0.42), (0.32, 0.42), (0.45, 0.75)), "free", ((0.0, 0.05), (0.6, 0.9), (0.5, 0.85)), METAL, stool),
    _c("table", ((0.8, 1.8), (0.6, 1.0), (0.7, 0.78)), "free", WOOD, DARK, table),
    _c("sofa", ((1.6, 2.4), (0.8, 1.0), (0.75, 0.95)), "wall", ((0.9, 1.05), (0.35, 0.7), (0.3, 0.6)),
       ((0.9, 1.05), (0.2, 0.5), (0.5, 0.75)), sofa),
    _c("bed", ((0.95, 1.8), (1.95, 2.15), (0.8, 1.2)), "wall", ((0.05, 0.12), (0.3, 0.6), (0.3, 0.55)),
       ((0.45, 0.7), (0.3, 0.6), (0.5, 0.8)), bed),
    _c("tv", ((0.8, 1.4), (0.05, 0.08), (0.5, 0.8)), "mount", DARK, ((0.6, 0.65), (0.5, 0.8), (0.15, 0.3)), tv, (0.9, 1.3)),
    _c("lamp", ((0.3, 0.45), (0.3, 0.45), (1.4, 1.8)), "wall", ((0.12, 0.16), (0.3, 0.6), (0.85, 1.0)), DARK, lamp),
    _c("plant", ((0.35, 0.6), (0.35, 0.6), (0.5, 1.4)), "free", ((0.27, 0.38), (0.5, 0.85), (0.3, 0.6)),
       ((0.03, 0.07), (0.6, 0.8), (0.45, 0.7)), plant),
    _c("refrigerator", ((0.6, 0.9), (0.6, 0.75), (1.6, 1.9)), "wall", ((0.55, 0.6), (0.0, 0.05), (0.8, 0.95)), DARK, refrigerator),
    _c("toilet", ((0.38, 0.45), (0.62, 0.75), (0.7, 0.8)), "wall", WHITE, ((0.55, 0.6), (0.0, 0.1), (0.8, 0.9)), toilet),
    _c("trash bin", ((0.25, 0.42), (0.25, 0.42), (0.35, 0.7)), "free", ((0.3, 0.6), (0.4, 0.8), (0.3, 0.55)), METAL, trash_bin),
    _c("nightstand", ((0.4, 0.6), (0.35, 0.5), (0.45, 0.65)), "wall", ((0.07, 0.1), (0.5, 0.7), (0.45, 0.65)), METAL, nightstand),
    _c("bookshelf", ((0.8, 1.6), (0.3, 0.42), (1.2, 2.1)), "wall", ((0.05, 0.09), (0.5, 0.8), (0.25, 0.45)), DARK, bookshelf),
    _c("washer", ((0.58, 0.62), (0.55, 0.62), (0.82, 0.88)), "wall", WHITE, ((0.55, 0.6), (0.2, 0.4), (0.2, 0.35)), washer),
    _c("bathtub", ((1.5, 1.8), (0.7, 0.85), (0.5, 0.6)), "wall", WHITE, ((0.5, 0.55), (0.3, 0.5), (0.75, 0.9)), bathtub),
    _c("closet", ((0.9, 2.0), (0.5, 0.65), (1.8, 2.2)), "wall", ((0.08, 0.12), (0.15, 0.35), (0.6, 0.85)), METAL, closet),
    _c("piano", ((1.4, 1.55), (0.55, 0.65), (1.05, 1.3)), "wall", DARK, WHITE, piano),
    _c("radiator", ((0.6, 1.4), (0.1, 0.18), (0.45, 0.7)), "wall", ((0.1, 0.15), (0.0, 0.05), (0.8, 0.9)), METAL, radiator),
    _c("fireplace", ((1.2, 1.8), (0.35, 0.6), (1.0, 1.3)), "wall", ((0.0, 0.04), (0.5, 0.7), (0.45, 0.65)),
       ((0.08, 0.1), (0.1, 0.3), (0.8, 0.9)), fireplace),
    _c("counter", ((1.2, 2.6), (0.6, 0.65), (0.88, 0.94)), "wall", ((0.1, 0.14), (0.05, 0.25), (0.7, 0.9)),
       ((0.0, 1.0), (0.0, 0.1), (0.2, 0.45)), counter),
    _c("stove", ((0.58, 0.62), (0.58, 0.65), (0.88, 0.94)), "wall", ((0.55, 0.6), (0.0, 0.05), (0.35, 0.55)),
       ((0.0, 1.0), (0.0, 0.05), (0.05, 0.15)), stove),
    _c("dishwasher", ((0.58, 0.62), (0.58, 0.62), (0.82, 0.88)), "wall", ((0.55, 0.6), (0.02, 0.06), (0.6, 0.72)),
       DARK, dishwasher),
    _c("backpack", ((0.28, 0.38), (0.2, 0.3), (0.4, 0.52)), "free", ((0.95, 1.05), (0.7, 0.9), (0.45, 0.8)),
       ((0.6, 0.7), (0.6, 0.9), (0.2, 0.4)), backpack),
    _c("suitcase", ((0.38, 0.5), (0.22, 0.3), (0.55, 0.75)), "free", ((0.45, 0.55), (0.5, 0.8), (0.25, 0.5)), DARK, suitcase),
    _c("fan", ((0.35, 0.45), (0.25, 0.32), (1.0, 1.3)), "free", ((0.5, 0.58), (0.1, 0.3), (0.7, 0.9)), METAL, fan),
    _c("mirror", ((0.5, 1.0), (0.03, 0.05), (0.7, 1.1)), "mount", ((0.5, 0.55), (0.05, 0.15), (0.82, 0.92)),
       ((0.08, 0.12), (0.5, 0.8), (0.6, 0.8)), mirror, (0.9, 1.2)),
    _c("whiteboard", ((1.2, 2.2), (0.06, 0.08), (0.9, 1.2)), "mount", WHITE, METAL, whiteboard, (0.8, 1.0)),
    _c("clock", ((0.28, 0.4), (0.04, 0.06), (0.28, 0.4)), "mount", WHITE, ((0.0, 1.0), (0.4, 0.8), (0.2, 0.5)), clock, (1.8, 2.0)),
    _c("door", ((0.8, 0.95), (0.06, 0.08), (2.0, 2.1)), "opening", ((0.06, 0.1), (0.25, 0.55), (0.55, 0.85)), METAL, door),
    _c("window", ((0.8, 1.6), (0.1, 0.14), (0.9, 1.4)), "opening", ((0.55, 0.6), (0.25, 0.45), (0.85, 1.0)), WHITE, window,
       (0.8, 1.0)),
]}
