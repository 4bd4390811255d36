"""Occupancy grid, A*, move executor, route search and the unambiguity rules on hand-made rooms."""

import math

import numpy as np
import pytest

from vsgrpo import navigation as nav
from vsgrpo.scene import FloorPlan, ObjectBox


def box(cat, cx, cy, sx, sy, z0=0.0, z1=1.0):
    return ObjectBox.create(cat, [cx, cy, (z0 + z1) / 2], [sx, sy, z1 - z0], np.eye(3))


def square(side):
    return FloorPlan([np.array([[0, 0], [side, 0], [side, side], [0, side]], float)])


def living_room():
    """6 x 6 m room. Known route: from the sofa (south wall) facing the tv (north wall), walk north
    until the cabinet (west wall), turn right, walk east until the refrigerator (east wall)."""
    objs = {
        "sofa": [box("sofa", 1.0, 0.5, 1.6, 0.6, 0, 0.8)],
        "tv": [box("tv", 1.0, 5.8, 1.0, 0.2, 0.5, 1.1)],
        "cabinet": [box("cabinet", 0.45, 3.0, 0.7, 0.8, 0, 1.0)],
        "refrigerator": [box("refrigerator", 5.6, 2.3, 0.6, 0.7, 0, 1.8)],
        "ceiling light": [box("ceiling light", 3, 3, 0.3, 0.3, 2.4, 2.5)],
        "rug": [box("rug", 3, 4, 1.0, 1.0, 0, 0.01)],
    }
    return square(6.0), objs


KNOWN = (("forward", "cabinet"), ("turn", "right"), ("forward", "refrigerator"))


@pytest.fixture(scope="module")
def world():
    plan, objs = living_room()
    return nav.build_world(plan, objs)


def test_grid_keeps_clearance_from_walls_and_obstacles(world):
    cfg = world.config
    free = lambda x, y: bool(world.grid.is_free(np.array([[x, y]]))[0])  # noqa: E731
    assert free(3.0, 3.0)
    assert not free(0.1, 3.0)  # within clearance of the west wall
    assert not free(5.5, 2.3)  # inside the refrigerator
    assert not free(0.8 + cfg.clearance - 0.03, 3.0)  # just inside the cabinet's clearance
    assert free(0.8 + cfg.clearance + 0.05, 3.0)
    assert free(3.0, 4.0)  # a rug is not an obstacle
    assert free(3.0, 3.0)  # nor is a ceiling light overhead
    assert not free(-1.0, 3.0)  # off the grid
    # landmarks: unique objects reaching below the agent's height (the rug counts, the light does not)
    assert set(world.landmarks) == {"sofa", "tv", "cabinet", "refrigerator", "rug"}


def test_astar_shortest_path_matches_geometry():
    plan = square(4.0)
    w = nav.build_world(plan, {"lamp": [box("lamp", 3.5, 2.0, 0.3, 0.3)]})
    goal = nav.goal_mask(w, "lamp")
    path = nav.astar(w.grid, (0.6, 2.0), goal)
    assert path is not None and goal[path[-1][1], path[-1][0]]
    # straight line in an empty room: from x=0.6 to within reach (0.5) of the lamp's face x=3.35
    assert nav.path_length(w.grid, path) == pytest.approx(3.35 - 0.5 - 0.6, abs=0.1)
    assert all(w.grid.free[y, x] for x, y in path)


def test_astar_goes_around_a_wall_and_fails_when_sealed():
    plan = square(5.0)
    wall = box("partition", 2.5, 1.75, 0.2, 3.5, 0, 2.0)  # leaves a gap at the north
    objs = {"partition": [wall], "lamp": [box("lamp", 4.5, 0.5, 0.3, 0.3)]}
    w = nav.build_world(plan, objs)
    path = nav.astar(w.grid, (0.7, 0.5), nav.goal_mask(w, "lamp"))
    assert path is not None
    ys = [w.grid.center(x, y)[1] for x, y in path]
    assert max(ys) > 3.5  # had to pass north of the partition
    assert nav.path_length(w.grid, path) > 2 * (3.5 - 0.5)
    sealed = {"partition": [box("partition", 2.5, 2.5, 0.2, 5.0, 0, 2.0)], "lamp": objs["lamp"]}
    w2 = nav.build_world(plan, sealed)
    assert nav.astar(w2.grid, (0.7, 0.5), nav.goal_mask(w2, "lamp")) is None


def test_executor_runs_the_known_route_and_rejects_wrong_turns(world):
    pose = world.start_pose("sofa", "tv")
    assert pose is not None
    assert abs(math.degrees(pose.heading) - 90) < 3  # facing north, at the sofa's tv side
    assert world.reached(pose, "sofa")
    run = world.execute(pose, KNOWN)
    assert run.ok and world.reached(run.poses[-1], "refrigerator")
    # every pose on the way is collision free
    for a, b in zip(run.poses, run.poses[1:]):
        seg = a.xy + np.outer(np.linspace(0, 1, 50), b.xy - a.xy)
        assert world.grid.is_free(seg).all()
    for turn in ("left", "back"):
        moves = (KNOWN[0], ("turn", turn), KNOWN[2])
        assert not world.arrives(pose, moves, "refrigerator")
    why = world.execute(pose, (("turn", "left"), ("forward", "refrigerator"))).reason
    assert "not reached" in why


def test_forward_stops_at_first_point_within_reach(world):
    pose = world.start_pose("sofa", "tv")
    nxt, why = world.forward(pose, "cabinet")
    assert why == ""
    d = world.distance("cabinet", nxt.xy[None])[0]
    assert d <= world.config.reach
    back = nxt.xy - world.config.march_step * nxt.direction
    assert world.distance("cabinet", back[None])[0] > world.config.reach
    again, why = world.forward(nxt, "cabinet")
    assert again is None and "already" in why


def test_collision_ends_a_forward_move():
    plan = square(5.0)
    objs = {"box": [box("box", 2.5, 2.5, 1.0, 1.0)], "lamp": [box("lamp", 2.5, 4.7, 0.3, 0.3)],
            "sofa": [box("sofa", 2.5, 0.3, 1.0, 0.5)]}
    w = nav.build_world(plan, objs)
    pose = nav.Pose(2.5, 1.0, math.pi / 2)  # the box stands between us and the lamp
    nxt, why = w.forward(pose, "lamp")
    assert nxt is None and "before a wall or obstacle" in why
    assert w.forward(nav.Pose(1.2, 1.0, math.pi / 2), "lamp")[0] is None  # passes too far west
    assert w.forward(nav.Pose(2.5, 1.0, math.pi / 2), "box")[0] is not None  # the box itself is reachable


def test_planner_finds_the_known_route_and_it_is_unambiguous(world):
    pose = world.start_pose("sofa", "tv")
    routes = nav.plan_routes(world, pose, exclude={"sofa"})
    route = routes["refrigerator"]
    assert route.moves == KNOWN
    # the tv is straight ahead: a route with turns to it would be a contrived detour
    assert world.forward(pose, "tv")[0] is not None and "tv" not in routes
    assert nav.route_is_unambiguous(world, route, "sofa") == (True, "")
    assert nav.route_within_detour(world, route)[0]
    alternatives = [m for m in nav.fillings(route.moves) if m != route.moves]
    assert len(alternatives) == 2
    assert not any(world.arrives(pose, m, "refrigerator") for m in alternatives)
    for r in routes.values():  # every planned route executes as planned
        run = world.execute(r.start, r.moves)
        assert run.ok and world.reached(run.poses[-1], r.destination)
        assert 2 <= len(r.moves) <= world.config.max_moves and r.turns


def test_a_route_two_turns_reach_is_ambiguous():
    """A big table to the south-west: turning left or turning back both end beside it."""
    plan = square(5.0)
    objs = {"table": [box("table", 0.9, 0.9, 1.4, 1.4, 0, 0.8)], "door": [box("door", 4.9, 2.0, 0.1, 0.9, 0, 2.0)]}
    w = nav.build_world(plan, objs)
    pose = nav.Pose(2.0, 2.0, math.pi / 2)
    left = nav.Route(pose, (("turn", "left"), ("forward", "table")), 1.0)
    assert w.arrives(pose, left.moves, "table")
    assert w.arrives(pose, (("turn", "back"), ("forward", "table")), "table")
    ok, why = nav.route_is_unambiguous(w, left, "door")
    assert not ok and "another turn sequence (back)" in why


def test_a_marginal_route_fails_the_perturbation_rule():
    """Passing the cabinet 0.43 m away with reach 0.5: a 0.1 m shift of the start breaks the route."""
    plan, objs = living_room()
    objs["cabinet"] = [box("cabinet", 0.35, 3.0, 0.5, 0.8, 0, 1.0)]
    w = nav.build_world(plan, objs)
    pose = w.start_pose("sofa", "tv")
    route = nav.Route(pose, KNOWN, 5.0)
    assert w.arrives(pose, KNOWN, "refrigerator")
    ok, why = nav.route_is_unambiguous(w, route, "sofa")
    assert not ok and "perturbed" in why


def test_detour_rule_rejects_long_routes(world):
    pose = world.start_pose("sofa", "tv")
    fake = nav.Route(pose, KNOWN, 100.0)
    ok, why = nav.route_within_detour(world, fake)
    assert not ok and "shortest path" in why


def test_distance_field_agrees_with_astar():
    plan = square(5.0)
    objs = {"partition": [box("partition", 2.5, 1.75, 0.2, 3.5, 0, 2.0)], "lamp": [box("lamp", 4.5, 0.5, 0.3, 0.3)]}
    w = nav.build_world(plan, objs)
    goal = nav.goal_mask(w, "lamp")
    for start in [(0.7, 0.5), (1.5, 4.2), (3.5, 3.0), (4.0, 1.5)]:
        path = nav.astar(w.grid, start, goal)
        got = nav.shortest_path_length(w, nav.Pose(*start, 0.0), "lamp")
        assert path is not None and got == pytest.approx(nav.path_length(w.grid, path), abs=1e-9)
    assert nav.shortest_path_length(w, nav.Pose(2.5, 1.0, 0.0), "lamp") is None  # inside the partition


def test_forward_until_the_wall_stops_at_the_wall_but_not_at_furniture(world):
    cfg = world.config
    nxt, why = world.forward(nav.Pose(3.0, 3.0, -math.pi / 2), nav.WALL)  # south, open floor
    assert why == "" and nxt.y == pytest.approx(cfg.clearance, abs=cfg.resolution)
    assert not world.grid.is_free((nxt.xy + [0, -cfg.resolution])[None])[0]
    nxt, why = world.forward(nav.Pose(3.0, 2.3, 0.0), nav.WALL)  # east, the refrigerator is in the way
    assert nxt is None and "furniture" in why
    # the planner may use the wall mid-route but never as the destination
    pose = world.start_pose("sofa", "tv")
    assert nav.WALL not in nav.plan_routes(world, pose, exclude={"sofa"})
