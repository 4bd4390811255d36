"""Navigation in a floor plan: occupancy grid, A* paths, landmark routes and a move executor.

This is the ground truth behind ``route_planning`` questions (see docs/routes_and_appearance.md).

- :func:`build_world` turns a :class:`~vsgrpo.scene.FloorPlan` plus the scene's object boxes into
  an :class:`OccupancyGrid` (a cell is free when a disc of radius ``clearance`` centred on it stays
  inside the room and off every obstacle footprint) and a set of named landmark footprints.
- :func:`astar` finds the shortest 8-connected grid path (the geometric reference a route is
  compared against).
- A route is a list of moves: ``("turn", "left" | "right" | "back")`` or ``("forward", name)``,
  meaning "go forward until {name}". :meth:`World.execute` runs moves from a :class:`Pose`:
  turns rotate the heading by exactly 90 / 180 degrees; a forward move walks the heading ray
  and stops at the first point whose distance to the landmark's floor footprint is at most
  ``reach``; it fails if the agent would enter a blocked cell before that point, or never gets
  there. "Go forward until the wall" (:data:`WALL`) stops where the room boundary blocks the ray.
- :func:`plan_routes` searches over these moves (a uniform-cost search whose edges are turns and
  landmark-terminated straight runs executed in the grid), i.e. it plans the path already
  simplified into "Go forward until ..." moves and turns; :func:`shortest_path_length` (the
  same metric as :func:`astar`) bounds its detour.
- :func:`route_is_unambiguous` applies the acceptance rules: the route works from every
  perturbed start pose, and no other filling of its turns works from any of them.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

TURNS = ("left", "right", "back")
WALL = "wall"
"""Pseudo-landmark: "Go forward until the wall" walks until the room boundary stops the agent."""
_TURN_ANGLE = {"left": math.pi / 2, "right": -math.pi / 2, "back": math.pi}

Move = tuple[str, str]  # ("turn", "left") or ("forward", landmark name)


@dataclass(frozen=True)
class NavConfig:
    """Geometry of the agent and of the rules that define a route (all lengths in metres)."""

    resolution: float = 0.05
    """Occupancy-grid cell size."""
    clearance: float = 0.20
    """Agent radius: free cells keep at least this distance from walls and obstacle footprints."""
    reach: float = 0.50
    """'Go forward until X' ends at the first point within this distance of X's footprint."""
    agent_height: float = 1.5
    """Boxes whose bottom is above this (ceiling lights, high shelves) are neither obstacles nor landmarks."""
    min_obstacle_height: float = 0.05
    """Boxes whose top is below this (rugs, mats) are not obstacles."""
    min_forward: float = 0.5
    """Each forward move of a generated route covers at least this distance."""
    min_start_distance: float = 1.0
    """The facing object is at least this far from the start position (so 'facing' is well defined)."""
    turn_cost: float = 1.0
    """Route search: cost of one turn, in metres of walking."""
    max_detour: float = 1.5
    """A route may be at most this many times the A* shortest path length (plus ``detour_slack``)."""
    detour_slack: float = 1.0
    min_moves: int = 2
    max_moves: int = 5
    heading_jitter_deg: float = 5.0
    """Unambiguity: the answer must hold when the start heading is off by this much either way..."""
    position_jitter: float = 0.10
    """...and when the start position is moved this far along or across the heading."""
    step: float | None = None
    """Ray-march step of forward moves (default: half a grid cell)."""

    @property
    def march_step(self) -> float:
        return self.step if self.step is not None else self.resolution / 2


@dataclass(frozen=True)
class Pose:
    """Agent position (world x, y; metres) and heading (radians, counter-clockwise from +x)."""

    x: float
    y: float
    heading: float

    @property
    def xy(self) -> np.ndarray:
        return np.array([self.x, self.y])

    @property
    def direction(self) -> np.ndarray:
        return np.array([math.cos(self.heading), math.sin(self.heading)])

    def turned(self, turn: str) -> "Pose":
        return Pose(self.x, self.y, _wrap(self.heading + _TURN_ANGLE[turn]))


def _wrap(a: float) -> float:
    return (a + math.pi) % (2 * math.pi) - math.pi


# ---------------------------------------------------------------------------------------------
# occupancy grid


@dataclass
class OccupancyGrid:
    """Boolean grid over the floor: ``free[iy, ix]``; cell (0, 0) has its lower-left corner at ``origin``."""

    origin: np.ndarray  # (2,)
    resolution: float
    free: np.ndarray  # (H, W) bool
    wall: np.ndarray | None = None  # (H, W) bool: blocked by the room boundary (not by furniture alone)

    @property
    def shape(self) -> tuple[int, int]:
        return self.free.shape

    def cell_of(self, xy) -> tuple[np.ndarray, np.ndarray]:
        """(ix, iy) integer indices of world points ``xy`` (..., 2)."""
        q = np.floor((np.asarray(xy, float) - self.origin) / self.resolution).astype(int)
        return q[..., 0], q[..., 1]

    def center(self, ix, iy) -> np.ndarray:
        return self.origin + (np.stack([np.asarray(ix), np.asarray(iy)], -1) + 0.5) * self.resolution

    def is_free(self, xy) -> np.ndarray:
        """Whether each world point lies in a free cell (points off the grid are blocked)."""
        return self._lookup(self.free, xy, False)

    def is_wall(self, xy) -> np.ndarray:
        """Whether each world point is blocked by the room boundary only (off the grid counts as wall)."""
        if self.wall is None:
            return np.zeros(np.shape(np.asarray(xy))[:-1], bool)
        return self._lookup(self.wall, xy, True)

    def _lookup(self, mask: np.ndarray, xy, outside: bool) -> np.ndarray:
        ix, iy = self.cell_of(xy)
        h, w = mask.shape
        inside = (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)
        out = np.full(np.shape(ix), outside, bool)
        out[inside] = mask[iy[inside], ix[inside]]
        return out


def footprint(box) -> "object":
    """Floor footprint (shapely geometry) of an :class:`~vsgrpo.scene.ObjectBox`: hull of its corners in (x, y)."""
    from shapely.geometry import MultiPoint

    return MultiPoint([tuple(p) for p in box.corners()[:, :2]]).convex_hull


@dataclass
class World:
    """What routes are planned and executed in: an occupancy grid plus named landmark footprints."""

    grid: OccupancyGrid
    landmarks: dict[str, object]  # name -> shapely geometry (floor footprint, convex)
    config: NavConfig = field(default_factory=NavConfig)
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    # -- geometry --------------------------------------------------------------------------
    def distance(self, name: str, xy) -> np.ndarray:
        """Distance (m) from world points ``xy`` (N, 2) to the footprint of landmark ``name``.

        Exact point-to-convex-polygon distance in numpy (0 inside); footprints are convex hulls,
        possibly degenerate (a segment or a point for a flat box).
        """
        key = ("edges", name)
        if key not in self._cache:
            self._cache[key] = _edges(self.landmarks[name])
        a, d, dd, closed = self._cache[key]
        p = np.atleast_2d(np.asarray(xy, float))
        rel = p[:, None, :] - a[None]  # (N, E, 2)
        t = np.clip(np.einsum("nek,ek->ne", rel, d) / dd, 0.0, 1.0)
        diff = rel - t[..., None] * d[None]
        dist = np.sqrt(np.einsum("nek,nek->ne", diff, diff).min(axis=1))
        if closed:
            cross = d[None, :, 0] * rel[..., 1] - d[None, :, 1] * rel[..., 0]
            inside = (cross >= 0).all(axis=1) | (cross <= 0).all(axis=1)
            dist[inside] = 0.0
        return dist

    def _may_reach(self, a: np.ndarray, b: np.ndarray, name: str) -> bool:
        """Cheap pre-test: can segment a-b come within reach of ``name``'s bounding circle?"""
        key = ("circle", name)
        if key not in self._cache:
            start, d, _, _ = _edges(self.landmarks[name])
            c = start.mean(axis=0)
            self._cache[key] = (c, float(np.linalg.norm(start - c, axis=1).max()))
        c, r = self._cache[key]
        ab = b - a
        t = float(np.clip((c - a) @ ab / max(ab @ ab, 1e-18), 0.0, 1.0))
        return float(np.linalg.norm(a + t * ab - c)) <= r + self.config.reach + 1e-9

    def reached(self, pose: Pose, name: str) -> bool:
        return bool(self.distance(name, pose.xy[None])[0] <= self.config.reach)

    def _ray(self, pose: Pose) -> tuple[np.ndarray, bool]:
        """Points along the heading from ``pose`` (excluded) up to the last free point before a
        block, and whether that block is the room boundary alone (a wall, not furniture)."""
        cached = self._cache.get(("ray", pose))
        if cached is not None:
            return cached
        if len(self._cache) > 50_000:  # rays dominate the cache; keep memory bounded
            self._cache = {k: v for k, v in self._cache.items() if k[0] != "ray"}
        step = self.config.march_step
        h, w = self.grid.shape
        n_max = int(math.ceil(math.hypot(h, w) * self.grid.resolution / step)) + 2
        pts = pose.xy + np.outer(np.arange(1, n_max + 1) * step, pose.direction)
        free = self.grid.is_free(pts)
        blocked = np.nonzero(~free)[0]
        end = blocked[0] if len(blocked) else len(pts) - 1
        out = (pts[:end], bool(self.grid.is_wall(pts[end][None])[0]))
        self._cache[("ray", pose)] = out
        return out

    def forward_stops(self, pose: Pose, names: Iterable[str]) -> dict[str, Pose]:
        """Where "go forward until X" ends for each X of ``names`` that the move reaches (see :meth:`forward`)."""
        pts, at_wall = self._ray(pose)
        out: dict[str, Pose] = {}
        if not len(pts):
            return out
        for name in names:
            if name == WALL:
                if at_wall:
                    out[name] = Pose(float(pts[-1][0]), float(pts[-1][1]), pose.heading)
                continue
            if name not in self.landmarks or not self._may_reach(pts[0], pts[-1], name):
                continue
            if self.reached(pose, name):
                continue
            hit = np.nonzero(self.distance(name, pts) <= self.config.reach)[0]
            if len(hit):
                p = pts[hit[0]]
                out[name] = Pose(float(p[0]), float(p[1]), pose.heading)
        return out

    # -- moves -----------------------------------------------------------------------------
    def forward(self, pose: Pose, name: str) -> tuple[Pose | None, str]:
        """Go forward until ``name``: the new pose, or ``(None, why)`` when the move fails.

        For a landmark: the first point of the heading ray within ``reach`` of its footprint,
        provided no blocked cell comes first. For :data:`WALL`: the last free point before the
        ray is blocked, provided the room boundary (not furniture) blocks it.
        """
        if name != WALL and name not in self.landmarks:
            return None, f"unknown landmark {name!r}"
        stop = self.forward_stops(pose, [name]).get(name)
        if stop is not None:
            return stop, ""
        if name != WALL and self.reached(pose, name):
            return None, f"already at the {name}"
        if not len(self._ray(pose)[0]):
            return None, "blocked straight ahead"
        if name == WALL:
            return None, "furniture, not a wall, stops the agent"
        return None, f"the {name} is not reached before a wall or obstacle"

    def execute(self, pose: Pose, moves: Sequence[Move]) -> "Execution":
        """Run ``moves`` from ``pose``; stops at the first failing move."""
        poses = [pose]
        for i, (kind, arg) in enumerate(moves):
            if kind == "turn":
                if arg not in _TURN_ANGLE:
                    return Execution(False, poses, f"move {i + 1}: unknown turn {arg!r}")
                pose = pose.turned(arg)
            elif kind == "forward":
                nxt, why = self.forward(pose, arg)
                if nxt is None:
                    return Execution(False, poses, f"move {i + 1}: {why}")
                pose = nxt
            else:
                return Execution(False, poses, f"move {i + 1}: unknown move {kind!r}")
            poses.append(pose)
        return Execution(True, poses, "")

    def arrives(self, pose: Pose, moves: Sequence[Move], destination: str) -> bool:
        """Whether ``moves`` run without failure from ``pose`` and end within reach of ``destination``."""
        run = self.execute(pose, moves)
        return run.ok and self.reached(run.poses[-1], destination)

    # -- start poses -----------------------------------------------------------------------
    def start_pose(self, start: str, facing: str) -> Pose | None:
        """Standing at ``start`` facing ``facing``.

        The position is on the side of the start object that faces the other object: among the
        free cells within ``reach`` of the start footprint and ahead of the start centroid, the
        one closest to the line from the start centroid to the facing object's centroid (ties:
        nearer the start object). The heading points at the facing object's footprint centroid.
        ``None`` when no such cell exists or the facing object is nearer than
        ``min_start_distance``.

        ``start == facing`` ("at the sink and facing the sink", common in VSI-Bench): the free
        cell within reach that is nearest the object's centroid, facing that centroid.
        """
        cfg = self.config
        ys, xs = np.nonzero(self.grid.free)
        if not len(xs):
            return None
        centers = self.grid.center(xs, ys)
        d_start = self.distance(start, centers)
        near = d_start <= cfg.reach
        a = np.asarray(self.landmarks[start].centroid.coords[0])
        target = np.asarray(self.landmarks[facing].centroid.coords[0])
        if not near.any():
            return None
        if start == facing:
            cand = centers[near]
            best = cand[int(np.argmin(np.linalg.norm(cand - a, axis=1)))]
            v = a - best
            return Pose(float(best[0]), float(best[1]), math.atan2(v[1], v[0]))
        u = target - a
        if np.linalg.norm(u) < 1e-9:
            return None
        u = u / np.linalg.norm(u)
        rel = centers - a
        along = rel @ u
        perp = np.abs(rel @ np.array([-u[1], u[0]]))
        ok = near & (along > 0)
        if not ok.any():
            return None
        score = np.where(ok, perp + 0.1 * d_start, np.inf)
        best = centers[int(np.argmin(score))]
        if self.distance(facing, best[None])[0] < cfg.min_start_distance:
            return None
        v = target - best
        return Pose(float(best[0]), float(best[1]), math.atan2(v[1], v[0]))

    def perturbed_starts(self, pose: Pose, start: str) -> list[Pose]:
        """``pose`` plus headings off by +-jitter and positions moved along / across the heading.

        Perturbed positions must stay free and within reach of the start object.
        """
        cfg = self.config
        out = [pose]
        dj = math.radians(cfg.heading_jitter_deg)
        d, n = pose.direction, np.array([-pose.direction[1], pose.direction[0]])
        offsets = [np.zeros(2)] + [s * cfg.position_jitter * v for v in (d, n) for s in (-1, 1)]
        for off in offsets:
            xy = pose.xy + off
            if not (self.grid.is_free(xy[None])[0] and self.distance(start, xy[None])[0] <= cfg.reach):
                continue
            for dh in (0.0, -dj, dj):
                if not off.any() and dh == 0.0:
                    continue
                out.append(Pose(float(xy[0]), float(xy[1]), _wrap(pose.heading + dh)))
        return out


@dataclass
class Execution:
    ok: bool
    poses: list[Pose]
    reason: str


def _edges(geom) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Edge starts, edge vectors, squared lengths and whether ``geom`` is a polygon (has an inside)."""
    if geom.geom_type == "Polygon":
        ring = np.asarray(geom.exterior.coords, float)  # closed: last == first
        closed = True
    else:
        ring = np.asarray(geom.coords, float)
        closed = False
        if len(ring) == 1:
            ring = np.vstack([ring, ring])
    a, b = ring[:-1], ring[1:]
    d = b - a
    dd = np.maximum(np.einsum("ek,ek->e", d, d), 1e-18)
    return a, d, dd, closed


def _is_obstacle(box, floor_z: float, cfg: NavConfig) -> bool:
    zmin, zmax = box.corners()[:, 2].min() - floor_z, box.corners()[:, 2].max() - floor_z
    return zmin < cfg.agent_height and zmax > cfg.min_obstacle_height


def _is_landmark(box, floor_z: float, cfg: NavConfig) -> bool:
    return box.corners()[:, 2].min() - floor_z < cfg.agent_height


def build_world(floor_plan, objects: Mapping[str, Sequence], config: NavConfig | None = None,
                landmark_names: Iterable[str] | None = None) -> World:
    """Occupancy grid and landmarks from a floor plan and ``{category: [ObjectBox, ...]}``.

    Every box between ``min_obstacle_height`` and ``agent_height`` is an obstacle. Landmarks are
    the categories with exactly one box (names must identify one object) that reach below
    ``agent_height``; ``landmark_names`` restricts them further.
    """
    from shapely import contains_xy
    from shapely.geometry import Polygon
    from shapely.ops import unary_union

    cfg = config or NavConfig()
    room = unary_union([Polygon(p) for p in floor_plan.polygons])
    fz = float(floor_plan.floor_z)
    obstacles = [footprint(b) for boxes in objects.values() for b in boxes if _is_obstacle(b, fz, cfg)]
    free_region = room.buffer(-cfg.clearance)
    if obstacles:
        free_region = free_region.difference(unary_union(obstacles).buffer(cfg.clearance))
    minx, miny, maxx, maxy = room.bounds
    res = cfg.resolution
    origin = np.array([minx, miny]) - res
    w = int(math.ceil((maxx - minx) / res)) + 2
    h = int(math.ceil((maxy - miny) / res)) + 2
    grid = OccupancyGrid(origin=origin, resolution=res, free=np.zeros((h, w), bool))
    iy, ix = np.mgrid[0:h, 0:w]
    c = grid.center(ix, iy)
    grid.free[:] = contains_xy(free_region, c[..., 0], c[..., 1])
    grid.wall = ~contains_xy(room.buffer(-cfg.clearance), c[..., 0], c[..., 1])
    if obstacles:
        grid.wall &= ~contains_xy(unary_union(obstacles).buffer(cfg.clearance), c[..., 0], c[..., 1])
    wanted = set(landmark_names) if landmark_names is not None else None
    landmarks = {cat: footprint(boxes[0]) for cat, boxes in objects.items()
                 if len(boxes) == 1 and _is_landmark(boxes[0], fz, cfg) and (wanted is None or cat in wanted)}
    return World(grid, landmarks, cfg)


# ---------------------------------------------------------------------------------------------
# A* on the grid


_NEIGHBOURS = [(dx, dy, math.hypot(dx, dy)) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if dx or dy]


def astar(grid: OccupancyGrid, start_xy, goal: np.ndarray) -> list[tuple[int, int]] | None:
    """Shortest 8-connected path of free cells from the cell of ``start_xy`` to any cell in ``goal``.

    ``goal`` is a boolean mask like ``grid.free``. Diagonal steps may not cut blocked corners.
    Returns cells ``(ix, iy)`` from start to goal, or ``None`` when no path exists.
    """
    h, w = grid.shape
    sx, sy = (int(v) for v in grid.cell_of(np.asarray(start_xy, float)))
    if not (0 <= sx < w and 0 <= sy < h) or not grid.free[sy, sx]:
        return None
    gy, gx = np.nonzero(goal & grid.free)
    if not len(gx):
        return None
    # Admissible heuristic: octile distance to the goal cells' bounding box.
    x0, x1, y0, y1 = gx.min(), gx.max(), gy.min(), gy.max()

    def heur(x: int, y: int) -> float:
        dx = max(x0 - x, 0, x - x1)
        dy = max(y0 - y, 0, y - y1)
        return max(dx, dy) + (math.sqrt(2) - 1) * min(dx, dy)

    free = grid.free
    best = {(sx, sy): 0.0}
    parent: dict[tuple[int, int], tuple[int, int]] = {}
    tie = itertools.count()
    heap = [(heur(sx, sy), next(tie), 0.0, (sx, sy))]
    while heap:
        _, _, g, cur = heapq.heappop(heap)
        if g > best.get(cur, math.inf):
            continue
        x, y = cur
        if goal[y, x]:
            path = [cur]
            while path[-1] in parent:
                path.append(parent[path[-1]])
            return path[::-1]
        for dx, dy, cost in _NEIGHBOURS:
            nx, ny = x + dx, y + dy
            if not (0 <= nx < w and 0 <= ny < h) or not free[ny, nx]:
                continue
            if dx and dy and not (free[y, nx] and free[ny, x]):
                continue
            ng = g + cost
            if ng < best.get((nx, ny), math.inf):
                best[(nx, ny)] = ng
                parent[(nx, ny)] = cur
                heapq.heappush(heap, (ng + heur(nx, ny), next(tie), ng, (nx, ny)))
    return None


def path_length(grid: OccupancyGrid, cells: Sequence[tuple[int, int]]) -> float:
    c = np.asarray(cells, float)
    return float(np.linalg.norm(np.diff(c, axis=0), axis=1).sum() * grid.resolution) if len(c) > 1 else 0.0


def goal_mask(world: World, name: str) -> np.ndarray:
    """Free cells within ``reach`` of landmark ``name`` (cached per world)."""
    key = ("goal", name)
    if key not in world._cache:
        ys, xs = np.nonzero(world.grid.free)
        mask = np.zeros_like(world.grid.free)
        if len(xs):
            ok = world.distance(name, world.grid.center(xs, ys)) <= world.config.reach
            mask[ys[ok], xs[ok]] = True
        world._cache[key] = mask
    return world._cache[key]


def _grid_graph(grid: OccupancyGrid):
    """The graph :func:`astar` searches, as a sparse matrix over cells (8-connected, no corner cutting)."""
    from scipy.sparse import coo_matrix

    h, w = grid.shape
    free = grid.free
    idx = np.arange(h * w).reshape(h, w)
    rows, cols, vals = [], [], []
    for dx, dy, cost in _NEIGHBOURS:
        ys, xs = np.nonzero(free)
        nx, ny = xs + dx, ys + dy
        ok = (nx >= 0) & (nx < w) & (ny >= 0) & (ny < h)
        xs, ys, nx, ny = xs[ok], ys[ok], nx[ok], ny[ok]
        ok = free[ny, nx]
        if dx and dy:
            ok &= free[ys, nx] & free[ny, xs]
        rows.append(idx[ys[ok], xs[ok]])
        cols.append(idx[ny[ok], nx[ok]])
        vals.append(np.full(int(ok.sum()), cost))
    n = h * w
    return coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)).tocsr()


def distance_field(world: World, destination: str) -> np.ndarray:
    """Shortest 8-connected path length (m) from every cell to ``destination``'s reach zone.

    The same metric as :func:`astar` (checked in the tests), computed once per destination with
    a multi-source Dijkstra so that many start poses can be compared cheaply; inf = unreachable.
    """
    from scipy.sparse.csgraph import dijkstra

    key = ("field", destination)
    if key not in world._cache:
        if "graph" not in world._cache:
            world._cache["graph"] = _grid_graph(world.grid)
        goal = np.flatnonzero(goal_mask(world, destination))
        if not len(goal):
            field_ = np.full(world.grid.shape, np.inf)
        else:
            field_ = dijkstra(world._cache["graph"], indices=goal, min_only=True).reshape(world.grid.shape)
        world._cache[key] = field_ * world.grid.resolution
    return world._cache[key]


def shortest_path_length(world: World, pose: Pose, destination: str) -> float | None:
    """Shortest collision-free path length (m) from ``pose`` to within reach of ``destination``, or None."""
    ix, iy = (int(v) for v in world.grid.cell_of(pose.xy))
    h, w = world.grid.shape
    if not (0 <= ix < w and 0 <= iy < h):
        return None
    d = float(distance_field(world, destination)[iy, ix])
    return None if not np.isfinite(d) else d


# ---------------------------------------------------------------------------------------------
# route search and acceptance


@dataclass(frozen=True)
class Route:
    """A simplified route: moves from a start pose, their walking length and number of turns."""

    start: Pose
    moves: tuple[Move, ...]
    length: float

    @property
    def turns(self) -> list[str]:
        return [a for k, a in self.moves if k == "turn"]

    @property
    def destination(self) -> str:
        return self.moves[-1][1]


def plan_routes(world: World, start_pose: Pose, exclude: Iterable[str] = (),
                use_wall: bool = True) -> dict[str, Route]:
    """Cheapest route (walking length + ``turn_cost`` per turn) from ``start_pose`` to every landmark.

    Routes alternate turns and forward moves (an optional turn first, which may be "back"; later
    turns are left or right), have at most ``max_moves`` moves and contain at least one turn
    (a question needs at least one blank); a destination whose cheapest route is a single
    straight move gets no route. Forward moves cover at least ``min_forward`` and stop
    at landmarks not in ``exclude`` or (``use_wall``) at the wall; a landmark reached mid-route
    is not walked to again; the destination is a landmark, never the wall. Search order is by cost (uniform-cost / A* with a zero heuristic), so the
    first route found to a landmark is its cheapest.
    """
    cfg = world.config
    names = [n for n in world.landmarks if n not in set(exclude)]
    if use_wall and WALL not in world.landmarks:
        names.append(WALL)
    tie = itertools.count()
    # state: (cost, tie, pose, moves, length, last_was_forward)
    heap = [(0.0, next(tie), start_pose, (), 0.0, False)]
    found: dict[str, Route] = {}
    decided: set[str] = set()  # destinations whose cheapest route has been seen
    while heap:
        cost, _, pose, moves, length, last_fwd = heapq.heappop(heap)
        dest = moves[-1][1] if last_fwd else None
        if dest is not None and dest != WALL and dest not in decided:
            decided.add(dest)
            # the cheapest way there; if it needs no turn (straight ahead), a route with turns
            # would be a contrived detour, so the destination yields no route
            if len(moves) >= cfg.min_moves and any(k == "turn" for k, _ in moves):
                found[dest] = Route(start_pose, moves, length)
        if len(moves) >= cfg.max_moves:
            continue
        if last_fwd or not moves:
            allowed = TURNS if not moves else ("left", "right")
            for t in allowed:
                heapq.heappush(heap, (cost + cfg.turn_cost, next(tie), pose.turned(t), moves + (("turn", t),),
                                      length, False))
        if last_fwd:
            continue
        visited = {a for k, a in moves if k == "forward"} - {WALL}
        for name, new in world.forward_stops(pose, [n for n in names if n not in visited]).items():
            d = float(np.linalg.norm(new.xy - pose.xy))
            if d < cfg.min_forward:
                continue
            heapq.heappush(heap, (cost + d, next(tie), new, moves + (("forward", name),), length + d, True))
    return found


def fillings(moves: Sequence[Move]) -> list[tuple[Move, ...]]:
    """Every way to fill the route's turns with left / right / back (the route's own included)."""
    slots = [i for i, (k, _) in enumerate(moves) if k == "turn"]
    out = []
    for combo in itertools.product(TURNS, repeat=len(slots)):
        m = list(moves)
        for i, t in zip(slots, combo):
            m[i] = ("turn", t)
        out.append(tuple(m))
    return out


def route_is_unambiguous(world: World, route: Route, start: str) -> tuple[bool, str]:
    """Acceptance rules of a route (see module docstring). Returns ``(ok, reason if not)``."""
    dest = route.destination
    starts = world.perturbed_starts(route.start, start)
    for pose in starts:
        if not world.arrives(pose, route.moves, dest):
            return False, "the route fails from a slightly perturbed start"
    for alt in fillings(route.moves):
        if alt == route.moves:
            continue
        for pose in starts:
            if world.arrives(pose, alt, dest):
                turns = ", ".join(a for k, a in alt if k == "turn")
                return False, f"another turn sequence ({turns}) also reaches the {dest}"
    return True, ""


def route_within_detour(world: World, route: Route) -> tuple[bool, str]:
    """The route is not much longer than the A* shortest path."""
    ref = shortest_path_length(world, route.start, route.destination)
    if ref is None:
        return False, "destination unreachable on the grid"
    limit = world.config.max_detour * ref + world.config.detour_slack
    if route.length > limit:
        return False, f"route {route.length:.1f} m vs shortest path {ref:.1f} m"
    return True, ""
