"""A camera walk like a handheld scan: eye height, through free floor, looking around.

1. Free floor = room shrunk by 0.5 m minus furniture footprints grown by 0.4 m (largest piece).
2. Waypoints spread over it by farthest-point sampling, visited in nearest-neighbour order,
   joined by shortest paths on a 10 cm grid (so the path never cuts through furniture).
3. The path is smoothed and resampled at constant speed, one pose per frame.
4. The view turns with the walking direction plus a left-right sweep (a person scanning the
   room), pitched a little down, with small smooth hand shake, never faster than ``MAX_TURN``.
5. A video of ``PAN_MIN_FRAMES`` or more opens on a narrow view (few categories, 90-180 degrees
   away from the walking direction) and pans slowly into the walk's heading, so the room is
   revealed gradually, as in a real handheld scan, rather than half of it in the first second
   (appearance-order questions need categories that first appear more than 1 s apart).

Poses are camera-to-world in the OpenCV convention (x right, y down, z forward).
"""

from __future__ import annotations

import heapq

import numpy as np
from scipy.ndimage import gaussian_filter1d
from shapely import contains_xy
from shapely.geometry import MultiPolygon, Polygon
from shapely.ops import unary_union

from .placement import Placed

CELL = 0.1
MAX_STEP = 0.1  # metres per frame on average: a calm walk at 10 fps
PAN_RATE = np.deg2rad(3.0)  # radians per frame of the opening pan: 30 deg/s at 10 fps
PAN_SHARE = 0.5  # ... or faster, so that it takes at most this share of the video
PAN_MIN_FRAMES = 60  # shorter clips (6 s at 10 fps) open straight on the room: too short to reveal it
MIN_PAN_DEG, MAX_PAN_DEG = 90, 180  # extent of the opening pan
MIN_VIEW = 1.2  # metres: an opening view closer than this (on average over the field of view) is a blank wall
SWEEPS = (2.0, 4.0)  # left-right sweeps per walk
SWEEP_DEG = (60, 90)  # their amplitude
HFOV_DEG = 66.0
MAX_TURN = np.deg2rad(15.0)  # radians per frame: the fastest turn of the head (150 deg/s at 10 fps)


def free_floor(room: Polygon, objects: list[Placed], wall_margin: float = 0.5, object_margin: float = 0.4) -> Polygon:
    """Largest connected piece of floor where the camera may stand."""
    for wm, om in ((wall_margin, object_margin), (0.35, 0.25), (0.25, 0.15)):
        blocked = unary_union([o.footprint(om) for o in objects if o.z0 < 1.2 and o.category != "window"])
        free = room.buffer(-wm).difference(blocked)
        parts = list(free.geoms) if isinstance(free, MultiPolygon) else [free]
        parts = [p for p in parts if not p.is_empty]
        if parts:
            best = max(parts, key=lambda p: p.area)
            if best.area > 0.5:
                return best
    return room.buffer(-0.25)


def _grid(free: Polygon):
    lo = np.array(free.bounds[:2])
    hi = np.array(free.bounds[2:])
    nx, ny = (np.ceil((hi - lo) / CELL).astype(int) + 1)
    xs, ys = lo[0] + np.arange(nx) * CELL, lo[1] + np.arange(ny) * CELL
    gx, gy = np.meshgrid(xs, ys, indexing="ij")
    ok = contains_xy(free, gx, gy)
    return lo, ok


def _shortest(ok: np.ndarray, a: tuple[int, int], b: tuple[int, int]) -> list[tuple[int, int]]:
    """Dijkstra on the 8-connected grid of free cells."""
    nx, ny = ok.shape
    dist = {a: 0.0}
    prev: dict = {}
    heap = [(0.0, a)]
    steps = [(dx, dy, np.hypot(dx, dy)) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if dx or dy]
    while heap:
        d, u = heapq.heappop(heap)
        if u == b:
            break
        if d > dist.get(u, np.inf):
            continue
        for dx, dy, c in steps:
            v = (u[0] + dx, u[1] + dy)
            if 0 <= v[0] < nx and 0 <= v[1] < ny and ok[v] and d + c < dist.get(v, np.inf):
                dist[v] = d + c
                prev[v] = u
                heapq.heappush(heap, (d + c, v))
    if b not in dist:
        return [a, b]
    path = [b]
    while path[-1] != a:
        path.append(prev[path[-1]])
    return path[::-1]


def _walk_points(free: Polygon, rng: np.random.Generator, start_near: np.ndarray, max_length: float) -> np.ndarray:
    """Waypoint tour as a dense polyline; fewer waypoints while it is longer than ``max_length``."""
    lo, ok = _grid(free)
    cells = np.argwhere(ok)
    if len(cells) < 2:
        c = np.array(free.representative_point().coords[0])
        return np.stack([c - 0.2, c + 0.2])
    n_way = int(np.clip(free.area / 2.5, 3, 8))
    state = rng.bit_generator.state
    while True:
        rng.bit_generator.state = state  # same draws for every tour length tried
        path = _tour(lo, ok, cells, n_way, rng, start_near)
        cum = np.r_[0, np.cumsum(np.linalg.norm(np.diff(path, axis=0), axis=1))]
        if cum[-1] <= max_length:
            return path
        if n_way <= 2:  # a huge room and a short video: walk part of the way
            return path[cum <= max_length]
        n_way -= 1


def _tour(lo, ok, cells, n_way, rng, start_near) -> np.ndarray:
    pts = lo + cells * CELL
    first = int(np.argmin(np.linalg.norm(pts - start_near, axis=1)))
    chosen = [first]
    d = np.linalg.norm(pts - pts[first], axis=1)
    for _ in range(n_way - 1):
        # farthest point, with jitter so equally far choices vary between scenes
        k = int(np.argmax(d * rng.uniform(0.8, 1.0, len(d))))
        chosen.append(k)
        d = np.minimum(d, np.linalg.norm(pts - pts[k], axis=1))
    order, rest = [chosen[0]], chosen[1:]
    while rest:  # nearest neighbour tour
        j = min(rest, key=lambda k: np.linalg.norm(pts[k] - pts[order[-1]]))
        order.append(j)
        rest.remove(j)
    path: list[tuple[int, int]] = []
    for a, b in zip(order[:-1], order[1:]):
        seg = _shortest(ok, tuple(cells[a]), tuple(cells[b]))
        path += seg if not path else seg[1:]
    return lo + np.array(path, float) * CELL


def _resample(points: np.ndarray, n: int) -> np.ndarray:
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    s = np.r_[0, np.cumsum(seg)]
    if s[-1] < 1e-6:
        return np.repeat(points[:1], n, axis=0)
    # ease in and out: a person starts and stops walking gently
    u = np.linspace(0, 1, n)
    u = u - np.sin(2 * np.pi * u) / (2 * np.pi) * 0.3
    t = u * s[-1]
    return np.stack([np.interp(t, s, points[:, 0]), np.interp(t, s, points[:, 1])], 1)


def _smooth_noise(rng, n: int, sigma: float, scale: float) -> np.ndarray:
    return gaussian_filter1d(rng.normal(0, 1, n), sigma, mode="nearest") * scale * np.sqrt(sigma)


def look_at_rotation(yaw: np.ndarray, pitch: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """Camera-to-world rotations (F, 3, 3), OpenCV axes, for heading ``yaw`` (from world +x,
    counter-clockwise), ``pitch`` (up positive) and ``roll``."""
    fwd = np.stack([np.cos(yaw) * np.cos(pitch), np.sin(yaw) * np.cos(pitch), np.sin(pitch)], -1)
    right = np.stack([np.sin(yaw), -np.cos(yaw), np.zeros_like(yaw)], -1)
    down = np.cross(fwd, right)
    c, s = np.cos(roll)[:, None], np.sin(roll)[:, None]
    right, down = c * right + s * down, -s * right + c * down
    return np.stack([right, down, fwd], -1)  # columns: camera x, y, z in the world


def _segments(room: Polygon, objects: list[Placed]) -> np.ndarray:
    """Edges (S, 2, 2) that block the view at eye height: walls and tall furniture."""
    rings = [np.asarray(room.exterior.coords)]
    rings += [np.asarray(o.footprint().exterior.coords) for o in objects
              if o.z0 < 0.5 and o.z0 + o.size[2] > 1.2 and o.category not in ("door", "window")]
    return np.concatenate([np.stack([r[:-1], r[1:]], 1) for r in rings])


def _free_distance(p: np.ndarray, yaw: np.ndarray, seg: np.ndarray) -> np.ndarray:
    """Distance from ``p`` along each heading in ``yaw`` to the first blocking edge."""
    d = np.stack([np.cos(yaw), np.sin(yaw)], -1)[:, None]  # (Y, 1, 2)
    a, e = seg[None, :, 0], seg[None, :, 1] - seg[None, :, 0]  # (1, S, 2)
    denom = d[..., 0] * e[..., 1] - d[..., 1] * e[..., 0]
    ap = a - p
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (ap[..., 0] * e[..., 1] - ap[..., 1] * e[..., 0]) / denom
        u = (ap[..., 0] * d[..., 1] - ap[..., 1] * d[..., 0]) / denom
    hit = (np.abs(denom) > 1e-9) & (t > 0) & (u >= 0) & (u <= 1)
    return np.where(hit, t, np.inf).min(1)


def _open_view(xy: np.ndarray, yaw: np.ndarray, seg: np.ndarray, min_view: float) -> np.ndarray:
    """Turn each desired heading by the smallest angle that leaves ``min_view`` metres of view:
    a person scanning a room looks into it, not at a wall at arm's length."""
    offsets = np.deg2rad(np.arange(-150, 151, 10))
    order = np.argsort(np.abs(offsets), kind="stable")
    out = yaw.copy()
    for i, (p, y) in enumerate(zip(xy, yaw)):
        dist = _free_distance(p, y + offsets[order], seg)
        ok = np.nonzero(dist >= min_view)[0]
        out[i] = y + offsets[order[ok[0] if len(ok) else int(np.argmax(dist))]]
    return out


def _in_view_counts(p: np.ndarray, headings: np.ndarray, seg: np.ndarray, objects: list[Placed]) -> np.ndarray:
    """How many categories a camera at ``p`` sees for each heading (roughly: an object counts when
    its footprint overlaps the horizontal field of view and is not behind a wall or tall furniture)."""
    seen: list[set[str]] = [set() for _ in headings]
    for o in objects:
        v = np.asarray(o.center) - p
        d = float(np.hypot(*v))
        radius = 0.5 * float(np.hypot(o.size[0], o.size[1]))
        bearing = float(np.arctan2(v[1], v[0]))
        if d < 1e-6 or d - radius > _free_distance(p, np.array([bearing]), seg)[0] + 0.05:
            continue
        off = np.abs((bearing - headings + np.pi) % (2 * np.pi) - np.pi)
        for k in np.nonzero(off <= np.deg2rad(HFOV_DEG / 2) + np.arcsin(min(1.0, radius / d)))[0]:
            seen[k].add(o.category)
    return np.array([len(c) for c in seen])


def _opening_pan(p: np.ndarray, yaw: np.ndarray, seg: np.ndarray, objects: list[Placed],
                 rng: np.random.Generator) -> np.ndarray:
    """The walk's headings ``yaw``, opening instead on a narrow view and a slow pan into the room.

    The first view is the heading (90-180 degrees from the walk's) that shows the fewest
    categories, not a blank wall at arm's length; from there the camera pans at a constant
    ``PAN_RATE`` (faster in clips too short for it) until it meets the walk's own heading, so the
    room's categories come into view one after another, as in a handheld scan, not all in frame 0."""
    turns = np.deg2rad(np.arange(MIN_PAN_DEG, MAX_PAN_DEG + 1, 5.0))
    turns = np.r_[turns, -turns]  # the pan's extent, either way round
    heads = yaw[0] + turns
    cone = np.mean([_free_distance(p, heads + np.deg2rad(a), seg)
                    for a in np.linspace(-HFOV_DEG / 2, HFOV_DEG / 2, 7)], axis=0)
    score = (_in_view_counts(p, heads, seg, objects) + (cone < MIN_VIEW) + 0.2 * np.abs(turns)
             + rng.uniform(0, 0.05, len(turns)))
    off = turns[int(np.argmin(score))]
    sign = np.sign(off)
    rate = max(PAN_RATE, abs(off) / (PAN_SHARE * len(yaw)))  # a short clip still shows the room
    pan = yaw[0] + off - sign * rate * np.arange(len(yaw))
    ahead = sign * (pan - yaw) > 0  # still turning towards the walk's heading
    meet = int(np.argmin(ahead)) if not ahead.all() else len(yaw)
    out = yaw.copy()
    out[:meet] = pan[:meet]
    return out


def _limit_rate(yaw: np.ndarray, max_step: float) -> np.ndarray:
    """Follow ``yaw`` turning at most ``max_step`` radians per frame: where the open-view rule
    swaps sides, a person turns quickly, not instantly."""
    out = yaw.copy()
    for k in range(1, len(out)):
        out[k] = out[k - 1] + np.clip(yaw[k] - out[k - 1], -max_step, max_step)
    return out


def camera_walk(room: Polygon, objects: list[Placed], n_frames: int, rng: np.random.Generator,
                start_near: np.ndarray | None = None) -> np.ndarray:
    """Camera-to-world poses (n_frames, 4, 4) in the room frame (floor at z = 0)."""
    free = free_floor(room, objects)
    start = np.asarray(start_near if start_near is not None else free.centroid.coords[0], float)
    pts = _walk_points(free, rng, start, max_length=MAX_STEP * n_frames)
    dense = _resample(pts, max(200, 4 * n_frames))
    for sigma in (12.0, 6.0, 3.0, 0.0):
        smooth = gaussian_filter1d(dense, sigma, axis=0, mode="nearest") if sigma else dense
        if contains_xy(free.buffer(0.2), smooth[:, 0], smooth[:, 1]).all():
            break
    xy = _resample(smooth, n_frames)
    n = n_frames
    xy = xy + np.stack([_smooth_noise(rng, n, 4, 0.006), _smooth_noise(rng, n, 4, 0.006)], 1)
    tangent = np.gradient(gaussian_filter1d(_resample(smooth, n * 4), 20, axis=0, mode="nearest"), axis=0)[::4]
    heading = np.unwrap(np.arctan2(tangent[:, 1], tangent[:, 0]))
    heading = gaussian_filter1d(heading, max(2.0, n / 40), mode="nearest")
    sweeps = rng.uniform(SWEEPS[0], SWEEPS[1])
    amp = np.deg2rad(rng.uniform(*SWEEP_DEG))
    phase = rng.uniform(0, 2 * np.pi)
    t = np.linspace(0, 1, n)
    yaw = heading + amp * np.sin(2 * np.pi * sweeps * t + phase)
    if yaw.max() - yaw.min() < np.pi:  # a short straight walk: pan round as well, like a scanner would
        yaw = yaw + rng.choice([-1, 1]) * (np.pi - (yaw.max() - yaw.min()) + 0.5) * t
    diag = float(np.hypot(*(np.array(room.bounds[2:]) - room.bounds[:2])))
    seg = _segments(room, objects)
    yaw = np.unwrap(_open_view(xy, yaw, seg, min_view=max(1.5, 0.4 * diag)))
    if n >= PAN_MIN_FRAMES:
        yaw = _opening_pan(xy[0], yaw, seg, objects, rng)
    yaw = _limit_rate(yaw, MAX_TURN)
    yaw = gaussian_filter1d(yaw, max(1.5, n / 60), mode="nearest") + _smooth_noise(rng, n, 3, 0.01)
    pitch = np.deg2rad(-14 + 7 * np.sin(2 * np.pi * rng.uniform(1, 2) * t + rng.uniform(0, 6))) + _smooth_noise(rng, n, 3, 0.008)
    roll = _smooth_noise(rng, n, 4, 0.01)
    eye = rng.uniform(1.35, 1.6) + _smooth_noise(rng, n, 5, 0.008)
    poses = np.tile(np.eye(4), (n, 1, 1))
    poses[:, :3, :3] = look_at_rotation(yaw, pitch, roll)
    poses[:, :2, 3] = xy
    poses[:, 2, 3] = eye
    return poses


def intrinsics(width: int, height: int, hfov_deg: float = HFOV_DEG) -> np.ndarray:
    """Pinhole intrinsics with square pixels and the principal point at the image centre."""
    f = width / 2 / np.tan(np.deg2rad(hfov_deg) / 2)
    return np.array([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1.0]])
