"""End to end: tiny scans written in each raw format -> `data ingest` -> scenes we can check exactly.

The fixture room (tests/ingest_fixtures.py) is an L-shaped room of 18.75 m^2 with known boxes and
a camera turning on the spot; its renderer also gives each frame's true instance mask.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from ingest_fixtures import (
    DEFAULT_OBJECTS,
    L_ROOM_AREA,
    FixtureObject,
    FixtureRoom,
    write_arkitscenes,
    write_custom,
    write_scannet,
    write_scannetpp,
)
from vsgrpo.scene import read_meta_file
from vsgrpo.scene_files import attach_sidecars, load_cameras, load_floor_plan, load_visibility
from vsgrpo.sources.ingest import IngestConfig, run_ingest
from vsgrpo.video import read_frames


@pytest.fixture(scope="module")
def room():
    return FixtureRoom()


def _corners(c, e, a):
    s = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float)
    return np.asarray(c) + (s * np.asarray(e) / 2) @ np.asarray(a).reshape(3, 3)


def _same_box(meta_box, obj: FixtureObject, tol=1e-4):
    got = _corners(meta_box["centroid"], meta_box["axesLengths"], meta_box["normalizedAxes"])
    want = _corners(obj.centroid, obj.extents, obj.axes())
    d = np.linalg.norm(got[:, None] - want[None], axis=2)
    return d.min(axis=1).max() < tol


def _check_boxes(meta, room, category_of):
    """Every fixture object appears once, with its exact box, under its mapped category."""
    expected: dict[str, list[FixtureObject]] = {}
    for ob in room.objects:
        if category_of(ob.label):
            expected.setdefault(category_of(ob.label), []).append(ob)
    assert meta["object_counts"] == {c: len(v) for c, v in expected.items()}
    for cat, objs in expected.items():
        boxes = meta["object_bbox"][cat]
        assert len(boxes) == len(objs)
        for ob in objs:
            assert sum(_same_box(b, ob) for b in boxes) == 1, (cat, ob)


def _check_visibility(vis, room, cats, upright_K=None):
    """Visible where the true mask shows the object, invisible where it does not, area within 2.5x."""
    K = room.K.copy() if upright_K is None else upright_K.copy()
    K[0] *= 640 / room.width
    K[1] *= 480 / room.height
    assert vis.pixels.shape == (room.n_frames, len(room.objects))
    for i in range(room.n_frames):
        mask = room.instance_mask(i, K=K, size=(640, 480))
        for k, (cat, idx) in enumerate(vis.instances):
            ob = [o for o in room.objects if cats(o.label) == cat][idx]
            true = int((mask == room.objects.index(ob)).sum())
            got = int(vis.pixels[i, k])
            if true == 0:
                assert got == 0, (i, cat, got)
            elif true > 2000:
                assert 0.5 * true <= got <= 2.5 * true, (i, cat, got, true)


def _check_video(path, room, n, fps):
    frames, rate = read_frames(path, 1000)
    assert frames.shape == (n, 480, 640, 3)
    assert rate == pytest.approx(fps, rel=1e-3)
    ref = np.asarray(Image.fromarray(room.render(0)[0]).resize((640, 480), Image.BILINEAR), float)
    assert np.abs(frames[0].astype(float) - ref).mean() < 8  # H.264 at crf 23 on flat colours


def _scannet_cat(label):
    return {"desk": "table", "chair": "chair", "tv": "tv"}.get(label)


def test_scannet_end_to_end(room, tmp_path):
    raw = tmp_path / "scannet"
    write_scannet(room, raw, "scene0999_00")
    rep = run_ingest(IngestConfig("scannet", raw, tmp_path / "out"))
    assert rep.written == ["scene0999_00"] and rep.failures == []
    scenes = read_meta_file(tmp_path / "out" / "meta" / "scannet_meta_info.json", strict=True)
    meta = scenes["scene0999_00"].to_meta()
    assert meta["dataset"] == "scannet"
    _check_boxes(meta, room, _scannet_cat)  # desk -> table; walls dropped; axisAlignment applied
    assert meta["room_size"] == pytest.approx(L_ROOM_AREA, rel=0.01)
    plan = load_floor_plan(tmp_path / "out" / "floorplans" / "scannet" / "scene0999_00.json")
    assert plan.area() == pytest.approx(L_ROOM_AREA, rel=0.01)
    cams = load_cameras(tmp_path / "out" / "cameras" / "scannet" / "scene0999_00.npz")
    np.testing.assert_allclose(cams.poses, room.poses, atol=1e-5)  # aligned back into the room frame
    assert (cams.width, cams.height) == (640, 480)
    vis = load_visibility(tmp_path / "out" / "visibility" / "scannet" / "scene0999_00.npz")
    np.testing.assert_allclose(vis.times, np.arange(room.n_frames) / 24.0)
    _check_visibility(vis, room, _scannet_cat)
    _check_video(tmp_path / "out" / "videos" / "scannet" / "scene0999_00.mp4", room, room.n_frames, 24.0)
    # the scene loads back through the shared layout like a `data synth` root
    from vsgrpo.scene import load_meta_dir

    idx = attach_sidecars(load_meta_dir(tmp_path / "out" / "meta", strict=True), tmp_path / "out")
    s = idx.find("scannet", "scene0999_00")
    assert s.video is not None and s.visibility is not None and s.floor_plan is not None and s.cameras is not None


def test_scannetpp_uses_given_obbs_and_iphone_frames(room, tmp_path):
    raw = tmp_path / "scannetpp"
    write_scannetpp(room, raw, "0a1b2c3d4e")
    rep = run_ingest(IngestConfig("scannetpp", raw, tmp_path / "out", workers=1))
    assert rep.failures == []
    meta = json.loads((tmp_path / "out" / "meta" / "scannetpp_meta_info.json").read_text())["0a1b2c3d4e"]
    _check_boxes(meta, room, lambda lab: {"desk": "table", "chair": "chair", "tv": "tv"}[lab])
    assert meta["room_size"] == pytest.approx(L_ROOM_AREA, rel=0.01)
    _check_video(tmp_path / "out" / "videos" / "scannetpp" / "0a1b2c3d4e.mp4", room, room.n_frames, 30.0)


def test_arkitscenes_boxes_and_upright_rotation(tmp_path):
    objs = [FixtureObject("table", o.centroid, o.extents, o.yaw, o.color) if o.label == "desk" else
            FixtureObject("tv_monitor", o.centroid, o.extents, o.yaw, o.color) if o.label == "tv" else o
            for o in DEFAULT_OBJECTS]
    room = FixtureRoom(objects=objs)
    raw = tmp_path / "arkit"
    write_arkitscenes(room, raw, "41000001", sky="Left")  # device held sideways
    rep = run_ingest(IngestConfig("arkitscenes", raw, tmp_path / "out"))
    assert rep.failures == []
    meta = json.loads((tmp_path / "out" / "meta" / "arkitscenes_meta_info.json").read_text())["41000001"]
    cat = {"table": "table", "chair": "chair", "tv_monitor": "tv"}.get
    _check_boxes(meta, room, cat)
    # the stored cameras are the upright ones: rotating the sideways frames undid the roll
    cams = load_cameras(tmp_path / "out" / "cameras" / "arkitscenes" / "41000001.npz")
    np.testing.assert_allclose(cams.poses, room.poses, atol=1e-6)
    K = room.K * [[4], [4], [1]]
    np.testing.assert_allclose(cams.intrinsics[0], K, atol=1e-6)
    _check_video(tmp_path / "out" / "videos" / "arkitscenes" / "41000001.mp4", room, room.n_frames, 10.0)
    vis = load_visibility(tmp_path / "out" / "visibility" / "arkitscenes" / "41000001.npz")
    _check_visibility(vis, room, cat)


def test_custom_point_instances_and_direct_boxes_without_depth(room, tmp_path):
    raw = tmp_path / "custom"
    labels = {"1": "Workbench", "2": "chair", "3": "chair", "4": "monitor wall"}
    box = {"category": "pallet", "centroid": [4.5, 0.5, 0.1], "extents": [1.2, 0.8, 0.2],
           "axes": [[1, 0, 0], [0, 1, 0], [0, 0, 1]]}
    lamp = {"category": "lamp", "centroid": [2.0, 2.8, 1.5], "extents": [0.3, 0.3, 0.3]}  # no points inside
    write_custom(room, raw, "bay_1", labels=labels, boxes=[box, lamp], depth=False)
    rep = run_ingest(IngestConfig("custom", raw, tmp_path / "out"))
    assert rep.failures == []
    meta = json.loads((tmp_path / "out" / "meta" / "custom_meta_info.json").read_text())["bay_1"]
    assert meta["object_counts"] == {"workbench": 1, "chair": 2, "monitor wall": 1, "pallet": 1, "lamp": 1}
    got = meta["object_bbox"]["pallet"][0]
    np.testing.assert_allclose(got["centroid"], box["centroid"])
    np.testing.assert_allclose(got["axesLengths"], box["extents"])
    vis = load_visibility(tmp_path / "out" / "visibility" / "custom" / "bay_1.npz")
    names = {"desk": "workbench", "chair": "chair", "tv": "monitor wall"}
    lamp_col = vis.instances.index(("lamp", 0))
    # the hanging lamp is in view (and unoccluded) at yaw 60 deg, behind the camera at 240 deg
    assert vis.pixels[1, lamp_col] > 1000 and vis.pixels[4, lamp_col] == 0
    point_cols = [k for k, (c, _) in enumerate(vis.instances) if c not in ("pallet", "lamp")]
    from vsgrpo.scene import Visibility

    sub = Visibility(vis.times, [vis.instances[k] for k in point_cols], vis.pixels[:, point_cols])
    _check_visibility(sub, room, names.get)  # no depth: the z-buffer decides occlusion
    assert vis.first_appearance("chair", 1000) == 0.0


def test_eval_scenes_are_excluded_unless_asked(room, tmp_path):
    raw = tmp_path / "scannet"
    write_scannet(room, raw, "scene0025_01", frames=False)  # a VSI-Bench evaluation scene
    write_scannet(room, raw, "scene0999_00", frames=False)
    rep = run_ingest(IngestConfig("scannet", raw, tmp_path / "out"))
    assert rep.excluded == ["scene0025_01"] and rep.written == ["scene0999_00"]
    summary = json.loads((tmp_path / "out" / "ingest_summary.json").read_text())
    assert summary["excluded_eval_scenes"] == ["scene0025_01"]
    rep = run_ingest(IngestConfig("scannet", raw, tmp_path / "out", include_eval_scenes=True))
    assert rep.excluded == [] and sorted(rep.written) == ["scene0025_01", "scene0999_00"]
    # the second run merged into the same meta file
    meta = json.loads((tmp_path / "out" / "meta" / "scannet_meta_info.json").read_text())
    assert sorted(meta) == ["scene0025_01", "scene0999_00"]
    assert not (tmp_path / "out" / "videos").exists()  # no frames exported: meta + floor plan only
    extra = tmp_path / "evals.txt"
    extra.write_text("# more eval scenes\nscannet/scene0999_00\n")
    rep = run_ingest(IngestConfig("scannet", raw, tmp_path / "out2", eval_scenes_file=extra))
    assert sorted(rep.excluded) == ["scene0025_01", "scene0999_00"] and rep.written == []


def test_shipped_eval_scene_list_covers_the_vsibench_sample(vsibench_dir):
    import pandas as pd

    from vsgrpo.sources.ingest import load_eval_scenes

    df = pd.read_parquet(vsibench_dir / "test-dev.parquet", columns=["dataset", "scene_name"])
    sample = {f"{d}/{s}" for d, s in zip(df.dataset, df.scene_name)}
    shipped = load_eval_scenes()
    assert sample <= shipped and len(sample) == 192
    for ds in ("scannet", "scannetpp", "arkitscenes"):  # the meta files name the same scenes
        meta = json.loads((vsibench_dir / f"{ds}_meta_info_val.json").read_text())
        assert {f"{ds}/{s}" for s in meta} <= shipped
