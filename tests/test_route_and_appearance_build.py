"""Route planning and appearance order through `data build` / `data verify`, and on procedural rooms."""

from collections import Counter

import numpy as np
import pandas as pd
import pytest

from vsgrpo.cli import main
from vsgrpo.dataset import build, verify
from vsgrpo.questions.base import BuildConfig
from vsgrpo.questions.route import RoutePlanningTask, parse_route_question, parse_turn_text
from vsgrpo.scene import FloorPlan, ObjectBox, Scene, Visibility, write_meta_file
from vsgrpo.scene_files import floorplan_path, meta_path, save_floor_plan, save_visibility, visibility_path

TASKS = ("route_planning", "obj_appearance_order")


def box(cat, cx, cy, sx, sy, z0=0.0, z1=1.0):
    return ObjectBox.create(cat, [cx, cy, (z0 + z1) / 2], [sx, sy, z1 - z0], np.eye(3))


def scene(name, shift):
    """A 6 x 6 m room (shifted by ``shift`` along x) with floor plan and a walkthrough's visibility."""
    objs = {
        "sofa": [box("sofa", shift + 1.0, 0.5, 1.6, 0.6, 0, 0.8)],
        "tv": [box("tv", shift + 1.0, 5.8, 1.0, 0.2, 0.5, 1.1)],
        "cabinet": [box("cabinet", shift + 0.45, 3.0, 0.7, 0.8, 0, 1.0)],
        "refrigerator": [box("refrigerator", shift + 5.6, 2.3, 0.6, 0.7, 0, 1.8)],
        "table": [box("table", shift + 3.5, 3.5, 1.2, 0.8, 0, 0.75)],
        "lamp": [box("lamp", shift + 5.6, 5.6, 0.3, 0.3, 0, 1.6)],
    }
    plan = FloorPlan([np.array([[0, 0], [6, 0], [6, 6], [0, 6]], float) + [shift, 0]])
    inst = [(c, 0) for c in objs]
    times = np.arange(40) * 0.5
    px = np.zeros((40, len(inst)), int)
    for k, start in enumerate([0, 4, 8, 12, 20, 28]):  # 0, 2, 4, 6, 10, 14 s
        px[start:, k] = 2000
    vis = Visibility(times=times, instances=inst, pixels=px)
    return Scene(name, "synthetic", 36.0, None, {c: len(b) for c, b in objs.items()}, objs,
                 floor_plan=plan, visibility=vis)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("root")
    scenes = [scene("toy_a", 0.0), scene("toy_b", 10.0)]
    write_meta_file(scenes, meta_path(root, "synthetic"))
    for s in scenes:
        save_floor_plan(s.floor_plan, floorplan_path(root, s.dataset, s.name))
        save_visibility(s.visibility, visibility_path(root, s.dataset, s.name))
    return root


@pytest.mark.parametrize("style", ["bench", "train"])
def test_build_then_verify_agrees_on_every_row(data_root, tmp_path, style):
    out = tmp_path / style
    summary = build(data_root / "meta", out, BuildConfig(style=style, tasks=TASKS))
    assert all(summary["counts"][t] > 0 for t in TASKS)
    df = pd.read_parquet(out / "questions.parquet")
    assert set(df.question_type) == set(TASKS)
    app = df[df.question_type == "obj_appearance_order"]
    if style == "bench":
        assert all(len(o) == 4 for o in app.options)
        assert all(o[0].startswith("A. ") for o in df.options)
        letters = Counter(app.ground_truth)
        assert set(letters) == set("ABCD") and max(letters.values()) - min(letters.values()) <= 1
    else:
        assert df.options.isna().all()
        # train style: the answer is the ordered list of names
        for q, gt in zip(app.question, app.ground_truth):
            assert sorted(gt.split(", ")) == sorted(q.split(": ")[1].rstrip("?").split(", "))
            order = ["sofa", "tv", "cabinet", "refrigerator", "table", "lamp"]
            assert gt.split(", ") == sorted(gt.split(", "), key=order.index)
    report = verify(data_root / "meta", out / "questions.parquet")
    for t in TASKS:
        assert report["tasks"][t]["checked"] == (df.question_type == t).sum()
        assert report["tasks"][t]["rate"] == 1.0
    assert report["mismatches"] == [] and report["unchecked"] == {}


def test_verify_catches_a_wrong_answer_and_reports_missing_sidecars(data_root, tmp_path, capsys):
    out = tmp_path / "q"
    build(data_root / "meta", out, BuildConfig(tasks=TASKS))
    df = pd.read_parquet(out / "questions.parquet")
    i = df.index[df.question_type == "route_planning"][0]
    j = df.index[df.question_type == "obj_appearance_order"][0]
    for k in (i, j):
        df.loc[k, "ground_truth"] = next(o[0] for o in df.loc[k, "options"] if o[0] != df.loc[k, "ground_truth"])
    bad = tmp_path / "bad.parquet"
    df.to_parquet(bad)
    report = verify(data_root / "meta", bad)
    assert {m["id"] for m in report["mismatches"]} == {int(df.loc[i, "id"]), int(df.loc[j, "id"])}
    # meta alone (no data root around it): both types are unchecked, with the reason
    meta_only = tmp_path / "meta_only"
    meta_only.mkdir()
    (meta_only / "synthetic_meta_info.json").write_bytes((data_root / "meta" / "synthetic_meta_info.json").read_bytes())
    assert main(["data", "verify", "--meta", str(meta_only), "--questions", str(out / "questions.parquet")]) == 0
    text = capsys.readouterr().out
    assert "unchecked route_planning" in text and "no floor plan" in text
    assert "unchecked obj_appearance_order" in text and "no per-frame visibility" in text


def test_procedural_rooms_correct_route_arrives_and_distractors_do_not():
    """Acceptance on procedural rooms (layout only, no rendering needed for routes)."""
    from vsgrpo.sources.synthetic.scene_gen import generate_scene

    task = RoutePlanningTask()
    n_questions = 0
    for index in (0, 2, 5):
        s = generate_scene(0, index, n_frames=8).scene
        qs = task.generate(s, np.random.default_rng(index), BuildConfig())
        world = task.world(s)
        for q in qs:
            start, facing, dest, moves = parse_route_question(q.question)
            pose = world.start_pose(start, facing)
            for choice in q.choices:
                turns = iter(parse_turn_text(choice))
                filled = [("turn", next(turns)) if k == "turn" else (k, a) for k, a in moves]
                run = world.execute(pose, filled)
                arrives = run.ok and world.reached(run.poses[-1], dest)
                assert arrives == (choice == q.answer)
                if arrives:
                    for a, b in zip(run.poses, run.poses[1:]):
                        seg = a.xy + np.outer(np.linspace(0, 1, 60), b.xy - a.xy)
                        assert world.grid.is_free(seg).all()
            n_questions += 1
    assert n_questions >= 3


def test_cli_appearance_threshold_travels_with_the_rows(data_root, tmp_path, capsys):
    import json

    from vsgrpo.questions import get_task

    before = get_task("obj_appearance_order")
    out = tmp_path / "cli"
    assert main(["data", "build", "--meta", str(data_root / "meta"), "--out", str(out),
                 "--tasks", "obj_appearance_order", "--appearance-threshold", "900"]) == 0
    assert get_task("obj_appearance_order") is before  # the registry is restored
    df = pd.read_parquet(out / "questions.parquet")
    assert len(df) and all(json.loads(e)["pixel_threshold"] == 900 for e in df.extra)
    capsys.readouterr()
    assert main(["data", "verify", "--meta", str(data_root / "meta"), "--questions", str(out / "questions.parquet")]) == 0
    assert "100.00%" in capsys.readouterr().out
    assert main(["data", "build", "--meta", str(data_root / "meta"), "--out", str(out),
                 "--appearance-threshold", "0"]) == 2
