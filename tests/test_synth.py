"""Procedural rooms: catalogue, layout, placement, camera walk, renderer (fast, in memory)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from shapely.geometry import Polygon

from vsgrpo.scene import read_meta_file, write_meta_file
from vsgrpo.sources.synthetic import CATEGORIES, Renderer, generate_scene
from vsgrpo.sources.synthetic.camera import intrinsics
from vsgrpo.sources.synthetic.mesh import Mesh, box
from vsgrpo.sources.synthetic.placement import THEME_ITEMS

N_SCENES = 30


@pytest.fixture(scope="module")
def scenes():
    return [generate_scene(1, i, n_frames=60) for i in range(N_SCENES)]


def test_categories_are_vsibench_categories(vsibench_dir):
    real = set()
    for f in vsibench_dir.glob("*_meta_info_val.json"):
        for meta in json.loads(f.read_text()).values():
            real |= set(meta["object_counts"])
    assert len(CATEGORIES) >= 20
    assert set(CATEGORIES) <= real, set(CATEGORIES) - real
    used = {c for items in THEME_ITEMS.values() for c, *_ in items} | {"door", "window"}
    assert used == set(CATEGORIES)


@pytest.mark.parametrize("name", sorted(CATEGORIES))
def test_shape_fills_its_box_exactly(name):
    """The meta box is tight: the shape stays inside it and touches all six faces."""
    cat = CATEGORIES[name]
    rng = np.random.default_rng(0)
    for _ in range(5):
        size = cat.sample_size(rng)
        main, acc = cat.sample_colors(rng)
        lo, hi = Mesh.concat(cat.build(*size, main, acc, rng)).bounds()
        w, d, h = size
        np.testing.assert_allclose(lo, [-w / 2, -d / 2, 0], atol=5e-3)
        np.testing.assert_allclose(hi, [w / 2, d / 2, h], atol=5e-3)
        assert len(cat.build(*size, main, acc, rng)) >= 2  # several primitives


def test_sizes_are_real_world():
    assert 0.7 <= CATEGORIES["chair"].size[2][0] and CATEGORIES["chair"].size[2][1] <= 1.0
    assert CATEGORIES["bed"].size[1][0] >= 1.9  # bed length
    assert CATEGORIES["refrigerator"].size[2][0] >= 1.5


def test_rooms_sizes_shapes_and_themes(scenes):
    areas = [s.scene.room_size for s in scenes]
    assert min(areas) >= 8 - 1e-9 and max(areas) <= 80 + 1e-9
    assert {len(s.room.footprint) for s in scenes} == {4, 6}  # rectangles and L-shapes
    assert len({s.room.theme for s in scenes}) >= 4
    for s in scenes:
        plan = Polygon(s.scene.floor_plan.polygons[0])
        assert plan.is_valid and abs(plan.area - s.scene.room_size) < 1e-6
        assert s.scene.count("door") == 1


def _footprint(b):
    return Polygon(b.corners()[[0, 2, 6, 4], :2])


def test_objects_inside_room_and_never_interpenetrate(scenes):
    multi = single = 0
    for s in scenes:
        room = Polygon(s.scene.floor_plan.polygons[0])
        boxes = [b for bs in s.scene.objects.values() for b in bs]
        for b in boxes:
            slack = 0.08 if b.category in ("door", "window") else 1e-6  # openings straddle the wall
            assert room.buffer(slack).contains(_footprint(b)), (s.scene.name, b.category)
            assert b.extra["min"][2] >= -1e-9 and b.extra["max"][2] <= s.room.height + 1e-9
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                z_overlap = min(a.extra["max"][2], b.extra["max"][2]) - max(a.extra["min"][2], b.extra["min"][2])
                if z_overlap > 1e-6:
                    inter = _footprint(a).intersection(_footprint(b)).area
                    assert inter < 1e-6, (s.scene.name, a.category, b.category, inter)
        multi += sum(n > 1 for n in s.scene.object_counts.values())
        single += sum(n == 1 for n in s.scene.object_counts.values())
    assert multi >= N_SCENES and single >= 3 * N_SCENES  # counting and unique-object questions


def test_meta_round_trips_strictly(scenes, tmp_path):
    path = tmp_path / "synthetic_meta_info.json"
    write_meta_file([s.scene for s in scenes[:5]], path)
    back = read_meta_file(path, strict=True)
    for s in scenes[:5]:
        b = back[s.scene.name]
        assert b.dataset == "synthetic" and b.object_counts == s.scene.object_counts
        assert abs(b.room_size - s.scene.room_size) < 1e-9
        for c, boxes in s.scene.objects.items():
            for x, y in zip(boxes, b.objects[c]):
                assert x.same_as(y) and np.allclose(x.extra["min"], y.extra["min"])


def test_same_seed_and_index_same_scene_whatever_else_was_made():
    a = generate_scene(7, 3, n_frames=30)
    generate_scene(7, 2, n_frames=30)
    b = generate_scene(7, 3, n_frames=30)
    assert json.dumps(a.scene.to_meta()) == json.dumps(b.scene.to_meta())
    np.testing.assert_array_equal(a.poses, b.poses)
    c = generate_scene(8, 3, n_frames=30)
    assert json.dumps(a.scene.to_meta()) != json.dumps(c.scene.to_meta())


def test_camera_walk_stays_in_free_space_at_eye_height(scenes):
    for s in scenes:
        room = Polygon(s.scene.floor_plan.polygons[0])
        pos = s.poses[:, :3, 3]
        assert all(room.buffer(-0.15).contains(Polygon.from_bounds(*(p[:2] - 1e-3), *(p[:2] + 1e-3))) for p in pos)
        assert (pos[:, 2] > 1.25).all() and (pos[:, 2] < 1.7).all()
        for bs in s.scene.objects.values():
            for b in bs:
                if b.extra["min"][2] < 1.0 and b.category not in ("door", "window"):
                    fp = _footprint(b)
                    assert not any(fp.contains(Polygon.from_bounds(*(p[:2] - 1e-3), *(p[:2] + 1e-3))) for p in pos)
        R = s.poses[:, :3, :3]
        np.testing.assert_allclose(R.transpose(0, 2, 1) @ R, np.broadcast_to(np.eye(3), R.shape), atol=1e-9)
        steps = np.linalg.norm(np.diff(pos, axis=0), axis=1)
        assert steps.max() < 0.2  # smooth: a calm walk, no jumps between frames
        # looking around: the heading covers a wide range of directions
        fwd = R[:, :2, 2]
        ang = np.unwrap(np.arctan2(fwd[:, 1], fwd[:, 0]))
        assert ang.max() - ang.min() > np.deg2rad(80)


def test_renderer_ids_depth_and_projection():
    """A unit cube 3 m in front of the camera: mask where the intrinsics put it, depth 2.5 m."""
    mesh = box((-0.5, -0.5, -0.5), (0.5, 0.5, 0.5), (0.8, 0.2, 0.2)).transformed(np.eye(3), np.array([0, 0, 3.0]))
    r = Renderer(mesh, np.full(len(mesh.pos), 7, np.int32), 160, 120)
    K = intrinsics(160, 120)
    out = r.render(K, np.eye(4), with_depth=True)  # camera at origin looking down +z (OpenCV)
    ys, xs = np.nonzero(out["ids"] == 7)
    u = K[0, 0] * np.array([-0.5, 0.5]) / 2.5 + K[0, 2]
    v = K[1, 1] * np.array([-0.5, 0.5]) / 2.5 + K[1, 2]
    assert abs(xs.min() - u[0]) <= 1 and abs(xs.max() + 1 - u[1]) <= 1
    assert abs(ys.min() - v[0]) <= 1 and abs(ys.max() + 1 - v[1]) <= 1
    assert set(np.unique(out["ids"])) == {0, 7}
    assert abs(out["depth"][60, 80] - 2.5) < 0.01 and np.isinf(out["depth"][0, 0])
    assert out["rgb"].shape == (120, 160, 3) and out["rgb"][60, 80, 0] > out["rgb"][60, 80, 2]
    r.release()


def test_dropping_unseen_objects_keeps_doors_in_the_walls():
    from vsgrpo.sources.synthetic.scene_gen import drop_objects, object_mesh

    s = generate_scene(2, 2, n_frames=20)
    keep = np.array([c not in ("door", "chair") for c, _ in s.instances])
    t = drop_objects(s, keep, 2, 2)
    assert "door" not in t.scene.objects and "chair" not in t.scene.objects
    assert t.scene.object_counts == {c: n for c, n in s.scene.object_counts.items() if c not in ("door", "chair")}
    n_chair_vertices = sum(len(object_mesh(p).pos) for p in s.placed if p.category == "chair")
    assert len(t.mesh.pos) == len(s.mesh.pos) - n_chair_vertices  # the door is still drawn
    assert (t.ids == 0).sum() > (s.ids == 0).sum()  # ... as part of the room shell
    np.testing.assert_array_equal(t.poses, s.poses)


def _appearance_stats(seed: int, n_scenes: int):
    """Per scene: share of categories first seen within 1 s, and whether an appearance-order
    question can be made (default 120-frame walk, rendered small to keep the test fast)."""
    from vsgrpo.questions.appearance import AppearanceOrderTask, first_appearances
    from vsgrpo.questions.base import BuildConfig
    from vsgrpo.scene import Visibility
    from vsgrpo.sources.synthetic import SynthConfig
    from vsgrpo.sources.synthetic.writer import render_scene

    cfg = SynthConfig(frames=120, width=160, height=120, fps=10.0)
    task, early, yields = AppearanceOrderTask(), [], []
    for i in range(n_scenes):
        s = render_scene(generate_scene(seed, i, n_frames=cfg.frames, width=cfg.width, height=cfg.height), cfg)
        r = Renderer(s.mesh, s.ids, cfg.width, cfg.height)
        n = len(s.instances)
        pixels = np.stack([np.bincount(r.render(s.K, pose, with_rgb=False)["ids"].ravel(), minlength=n + 1)[1:n + 1]
                           for pose in s.poses])
        r.release()
        s.scene.visibility = Visibility(times=np.arange(cfg.frames) / cfg.fps, instances=s.instances, pixels=pixels)
        s.scene.cameras = s.cameras(cfg.fps)
        times = first_appearances(s.scene.visibility, task.threshold(s.scene))
        early.append(np.mean([t <= 1.0 for t in times.values()]))
        yields.append(bool(task.generate(s.scene, np.random.default_rng(0), BuildConfig(per_scene=None))))
    return np.array(early), np.array(yields)


def test_walk_reveals_the_room_gradually():
    """Acceptance (issue: appearance-order yield): the walk opens on a narrow view and pans into
    the room, so categories come into view over time, not half of them in the first second, and
    most scenes offer four categories first seen more than 1 s apart (VSI-Bench's rule).
    Measured: median 18% early, 5 of these 8 scenes; without the opening pan 76% and 1 scene."""
    early, yields = _appearance_stats(seed=2, n_scenes=8)
    assert np.median(early) < 0.3, early
    assert yields.sum() >= 4, yields


_RENDER_THEN_MODEL = """
import pathlib, sys
import torch
from vsgrpo.sources.synthetic import SynthConfig, generate_dataset
from vsgrpo.video import read_frames
root = pathlib.Path(sys.argv[1])
generate_dataset(root / "synth", SynthConfig(scenes=1, workers=1, frames=24, width=160, height=120),
                 show_progress=False)
from vsgrpo.models import inputs as I
from vsgrpo.models.loading import load_model_and_processor
from vsgrpo.models.tiny import build_tiny_model
model, processor = load_model_and_processor(build_tiny_model("qwen2_vl", root / "m", tokenizer="small"))
frames, fps = read_frames(next((root / "synth" / "videos").rglob("*.mp4")), 4)
logits = model(**I.encode_prompts(processor, ["How many chairs?"], [frames], [fps])).logits
assert torch.isfinite(logits).all()
print("forward ok", tuple(logits.shape))
"""


def test_render_in_process_then_model_forward(tmp_path):
    """Rendering in-process, then loading a Qwen-VL model, must not segfault (Mesa's global
    libLLVM used to clash with triton's LLVM; see render._load_triton_first). Runs in a child
    so a crash fails this test instead of killing pytest."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-X", "faulthandler", "-c", _RENDER_THEN_MODEL, str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stderr[-3000:]}"
    assert "forward ok (1, " in proc.stdout
