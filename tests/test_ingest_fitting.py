"""Geometry behind ingest: minimal boxes, alpha-shape room area, camera rotation, label maps."""

from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import Point, Polygon

from vsgrpo.sources import get_source
from vsgrpo.sources.assemble import rotate_camera
from vsgrpo.sources.fitting import alpha_shape, min_area_rectangle, min_oriented_box, points_in_box, room_footprint
from vsgrpo.sources.labels import LabelMap


def _yaw(t):
    return np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1.0]])


def test_min_box_recovers_a_rotated_box_from_its_surface_points():
    rng = np.random.default_rng(0)
    local = rng.uniform(-1, 1, (2000, 3)) * [1.0, 0.4, 0.3]  # inside the box, plus its corners
    corners = np.array([[x, y, z] for x in (-1, 1) for y in (-.4, .4) for z in (-.3, .3)])
    pts = np.concatenate([local, corners]) @ _yaw(0.7).T + [2.0, -1.0, 0.5]
    c, e, a = min_oriented_box(pts)
    np.testing.assert_allclose(c, [2.0, -1.0, 0.5], atol=1e-9)
    np.testing.assert_allclose(e, [2.0, 0.8, 0.6], atol=1e-9)
    assert abs(abs(a[0] @ [np.cos(0.7), np.sin(0.7), 0]) - 1) < 1e-9
    np.testing.assert_allclose(a @ a.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(a) > 0
    assert points_in_box(pts, c, e, a, margin=1e-9).all()


def test_min_area_rectangle_is_no_larger_than_any_rotation():
    rng = np.random.default_rng(1)
    for _ in range(5):
        xy = rng.normal(size=(60, 2)) * [2.0, 0.5]
        _, sizes, axes = min_area_rectangle(xy)
        best = sizes.prod()
        for t in np.linspace(0, np.pi, 181):
            R = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
            p = xy @ R
            assert best <= np.ptp(p[:, 0]) * np.ptp(p[:, 1]) + 1e-9
        proj = xy @ axes.T
        np.testing.assert_allclose(np.ptp(proj, axis=0), sizes, atol=1e-9)


def test_min_area_rectangle_degenerate_inputs():
    c, s, _ = min_area_rectangle(np.array([[1.0, 2.0], [1.0, 2.0]]))
    np.testing.assert_allclose(c, [1, 2])
    np.testing.assert_allclose(s, [0, 0])
    c, s, a = min_area_rectangle(np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]))
    np.testing.assert_allclose(s, [np.sqrt(8), 0], atol=1e-9)
    np.testing.assert_allclose(c, [1, 1], atol=1e-9)


def test_alpha_shape_area_of_an_l_shaped_room_and_separated_parts():
    L = Polygon([(0, 0), (6, 0), (6, 2), (3, 2), (3, 4), (0, 4)])  # 18 m^2
    g = np.stack(np.meshgrid(np.arange(0, 6.01, 0.05), np.arange(0, 4.01, 0.05)), -1).reshape(-1, 2)
    pts = np.array([p for p in g if L.covers(Point(p))])
    shape = alpha_shape(pts, 5.0)
    assert shape.area == pytest.approx(18.0, rel=2e-3)  # concave corner rounds off slightly
    # two rooms 1 m apart: gaps wider than 2/alpha are not bridged
    two = np.concatenate([pts[pts[:, 0] <= 1.0], pts[pts[:, 0] <= 1.0] + [3.0, 0]])
    assert len(alpha_shape(two, 5.0).geoms) == 2


def test_room_footprint_is_seeded_and_samples_ten_thousand():
    rng = np.random.default_rng(2)
    v = np.c_[rng.uniform(0, 4, (30000, 2)), rng.uniform(0, 2.5, 30000)]
    a = room_footprint(v, seed=7)
    b = room_footprint(v, seed=7)
    c = room_footprint(v, seed=8)
    assert a.area == b.area and a.area != c.area
    assert 15.0 < a.area <= 16.0
    np.testing.assert_allclose(a.center, v.mean(0))


@pytest.mark.parametrize("sky", ["Left", "Right", "Down"])
def test_rotate_camera_matches_rotated_pixels(sky):
    rng = np.random.default_rng(3)
    K = np.array([[300.0, 0, 150], [0, 310.0, 100], [0, 0, 1]])
    w, h = 320, 200
    c2w = np.eye(4)
    c2w[:3, :3] = _yaw(0.3)
    c2w[:3, 3] = [0.5, -0.2, 1.0]
    K2, c2w2, size2, k = rotate_camera(K, c2w, (w, h), sky)
    img = np.zeros((h, w), int)
    for p_cam in rng.uniform([-1, -1, 2], [1, 1, 4], (20, 3)):
        pw = c2w[:3, :3] @ p_cam + c2w[:3, 3]
        u, v = (K @ p_cam)[:2] / p_cam[2]
        ui, vi = int(u), int(v)
        if not (0 <= ui < w and 0 <= vi < h):
            continue
        img[:] = 0
        img[vi, ui] = 1
        rot = np.rot90(img, k)
        assert rot.shape[::-1] == size2
        vr, ur = np.argwhere(rot)[0]
        q = (pw - c2w2[:3, 3]) @ c2w2[:3, :3]
        u2, v2 = (K2 @ q)[:2] / q[2]
        assert abs(u2 - (ur + (u - ui))) < 1.01 and abs(v2 - (vr + (v - vi))) < 1.01


def test_label_map_remaps_and_filters(tmp_path):
    lm = LabelMap.for_source(get_source("scannet").SOURCE)
    assert lm.category("desk") == "table"
    assert lm.category("Trash  Can") == "trash bin"
    assert lm.category("wall") is None
    assert lm.category("kitchen counter", "counter") == "counter"
    extra = tmp_path / "map.json"
    extra.write_text('{"wall": "partition"}')
    assert LabelMap.for_source(get_source("scannet").SOURCE, extra).category("wall") == "partition"
    assert LabelMap.for_source(get_source("arkitscenes").SOURCE).category("tv_monitor") == "tv"
    assert LabelMap.for_source(get_source("custom").SOURCE).category("Forklift") == "forklift"


def test_room_footprint_fills_holes_like_the_alphashape_package():
    g = np.stack(np.meshgrid(np.arange(0, 4.001, 0.05), np.arange(0, 4.001, 0.05)), -1).reshape(-1, 2)
    ring = g[~((np.abs(g[:, 0] - 2) < 0.99) & (np.abs(g[:, 1] - 2) < 0.99))]  # 2x2 m unscanned patch
    v = np.c_[ring, np.zeros(len(ring))]
    assert alpha_shape(ring, 5.0).area == pytest.approx(16 - 2**2, rel=0.01)  # the triangles alone
    room = room_footprint(v, seed=0, n_samples=len(v))
    assert room.area == pytest.approx(16.0, rel=1e-6)  # enclosed region counts as floor
    assert len(room.polygons) == 1
