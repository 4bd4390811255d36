"""`vsgrpo data build` / `vsgrpo data verify`: the README job, output shapes, bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vsgrpo.cli import main
from vsgrpo.dataset import load_scenes

VSI_COLUMNS = ["id", "dataset", "scene_name", "question_type", "question", "ground_truth", "options"]


def _run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_readme_main_job(tmp_path, example_meta):
    """The README's main job, run as a user would (installed console script)."""
    out = tmp_path / "sample"
    exe = shutil.which("vsgrpo") or sys.executable
    cmd = [exe] if exe.endswith("vsgrpo") else [exe, "-m", "vsgrpo.cli"]
    res = subprocess.run(cmd + ["data", "build", "--meta", str(example_meta), "--out", str(out), "--per-scene", "all"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    df = pd.read_parquet(out / "questions.parquet")
    summary = json.loads((out / "summary.json").read_text())
    assert list(df.columns[:7]) == VSI_COLUMNS
    assert summary["questions"] == len(df) and summary["scenes"] == 6
    assert summary["counts"] == {t: int((df["question_type"] == t).sum()) for t in summary["counts"]}
    assert (df["video"] == df["dataset"] + "/" + df["scene_name"] + ".mp4").all()
    assert df["id"].tolist() == list(range(len(df)))
    schema = pq.read_schema(out / "questions.parquet")
    assert schema.field("options").type == pa.list_(pa.string())
    assert schema.field("id").type == pa.int64()


def test_build_then_verify_round_trip(tmp_path, example_meta, capsys):
    out = tmp_path / "o"
    rc, stdout, _ = _run(capsys, "data", "build", "--meta", str(example_meta), "--out", str(out), "--seed", "3",
                         "--tasks", "object_counting,object_rel_direction_hard,object_rel_distance")
    assert rc == 0 and "questions from 6 scenes" in stdout
    df = pd.read_parquet(out / "questions.parquet")
    assert set(df["question_type"]) == {"object_counting", "object_rel_direction_hard", "object_rel_distance"}
    report = tmp_path / "r.json"
    rc, stdout, _ = _run(capsys, "data", "verify", "--meta", str(example_meta), "--questions",
                         str(out / "questions.parquet"), "--report", str(report))
    assert rc == 0 and "object_rel_direction_hard" in stdout and "100.00%" in stdout
    rep = json.loads(report.read_text())
    assert set(rep) >= {"tasks", "mismatches", "unchecked"}
    assert rep["mismatches"] == [] and rep["unchecked"] == {}
    for r in rep["tasks"].values():
        assert set(r) == {"checked", "agree", "rate"} and r["rate"] == 1.0


def test_verify_prints_unchecked_with_reason(tmp_path, vsibench_dir, capsys):
    df = pd.read_parquet(vsibench_dir / "test-dev.parquet")
    small = df[df["scene_name"].isin(df["scene_name"].unique()[:4])]
    q = tmp_path / "q.parquet"
    small.to_parquet(q)
    rc, stdout, _ = _run(capsys, "data", "verify", "--meta", str(vsibench_dir), "--questions", str(q))
    assert rc == 0
    assert "unchecked route_planning" in stdout and "human-annotated" in stdout


def test_train_style_flags(tmp_path, example_meta, capsys):
    out = tmp_path / "t"
    rc, _, _ = _run(capsys, "data", "build", "--meta", str(example_meta), "--out", str(out), "--style", "train",
                    "--distance", "center", "--per-scene", "2")
    assert rc == 0
    df = pd.read_parquet(out / "questions.parquet")
    assert df["options"].isna().all()
    assert df.groupby(["scene_name", "question_type"]).size().max() <= 2
    assert json.loads((out / "summary.json").read_text())["config"]["distance"] == "center"
    rc, stdout, _ = _run(capsys, "data", "verify", "--meta", str(example_meta), "--questions",
                         str(out / "questions.parquet"))
    assert rc == 0 and "unchecked" not in stdout
    assert stdout.count("100.00%") == len(set(df["question_type"])) + 1  # every type + the total


def test_data_root_sidecars_are_attached(tmp_path, example_meta):
    from vsgrpo.scene import FloorPlan
    from vsgrpo.scene_files import floorplan_path, save_floor_plan, video_path
    from vsgrpo.video import write_video

    root = tmp_path / "root"
    shutil.copytree(example_meta, root / "meta")
    write_video(video_path(root, "scannet", "scene0050_01"), np.zeros((4, 32, 32, 3), np.uint8), 4)
    save_floor_plan(FloorPlan([np.array([[0, 0], [4, 0], [4, 3], [0, 3]], float)]),
                    floorplan_path(root, "scannet", "scene0050_01"))
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        index = load_scenes(root / "meta")
    scene = index[("scannet", "scene0050_01")]
    assert scene.video is not None and scene.video.exists()
    assert scene.floor_plan.area() == pytest.approx(12.0)


# --- bad input: one clear line, exit 2, nothing written ---------------------------------------


def _assert_user_error(rc, err, *words):
    assert rc == 2
    lines = [x for x in err.strip().splitlines() if x.startswith("vsgrpo: error:")]
    assert len(lines) == 1 and "Traceback" not in err
    for w in words:
        assert w in lines[0]


def test_meta_not_json(tmp_path, capsys):
    meta = tmp_path / "meta"
    meta.mkdir()
    (meta / "scannet_meta_info_val.json").write_text("{not json")
    out = tmp_path / "out"
    rc, _, err = _run(capsys, "data", "build", "--meta", str(meta), "--out", str(out))
    _assert_user_error(rc, err, "not valid JSON", "scannet_meta_info_val.json")
    assert not out.exists() or not any(out.iterdir())


def test_parquet_without_required_column(tmp_path, vsibench_dir, capsys):
    df = pd.read_parquet(vsibench_dir / "test-dev.parquet").head(20).drop(columns=["ground_truth"])
    q = tmp_path / "q.parquet"
    df.to_parquet(q)
    rc, _, err = _run(capsys, "data", "verify", "--meta", str(vsibench_dir), "--questions", str(q))
    _assert_user_error(rc, err, "ground_truth")


def test_questions_file_that_is_not_parquet(tmp_path, vsibench_dir, capsys):
    q = tmp_path / "q.parquet"
    q.write_text("id,question\n1,hello\n")
    rc, _, err = _run(capsys, "data", "verify", "--meta", str(vsibench_dir), "--questions", str(q))
    _assert_user_error(rc, err, "not a readable parquet")


def test_unknown_question_type(tmp_path, vsibench_dir, capsys):
    df = pd.read_parquet(vsibench_dir / "test-dev.parquet").head(5).copy()
    df.loc[df.index[0], "question_type"] = "object_colour"
    q = tmp_path / "q.parquet"
    df.to_parquet(q)
    rc, _, err = _run(capsys, "data", "verify", "--meta", str(vsibench_dir), "--questions", str(q))
    _assert_user_error(rc, err, "unknown question type 'object_colour'")
    rc, _, err = _run(capsys, "data", "build", "--meta", str(vsibench_dir), "--out", str(tmp_path / "o"),
                      "--tasks", "object_colour")
    _assert_user_error(rc, err, "object_colour")
    assert not (tmp_path / "o" / "questions.parquet").exists()


def test_scene_missing_from_meta(tmp_path, vsibench_dir, example_meta, capsys):
    df = pd.read_parquet(vsibench_dir / "test-dev.parquet")
    q = tmp_path / "q.parquet"
    df.to_parquet(q)
    rc, _, err = _run(capsys, "data", "verify", "--meta", str(example_meta), "--questions", str(q))
    _assert_user_error(rc, err, "is not in the meta info")


def test_unwritable_out(tmp_path, example_meta, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    rc, _, err = _run(capsys, "data", "build", "--meta", str(example_meta), "--out", str(blocker / "sub"))
    _assert_user_error(rc, err, "cannot create output directory")


def test_bad_per_scene_value(tmp_path, example_meta, capsys):
    assert main(["data", "build", "--meta", str(example_meta), "--out", str(tmp_path), "--per-scene", "0"]) == 2
    assert "--per-scene: must be >= 1, got 0" in capsys.readouterr().err


def test_crash_while_writing_leaves_nothing(tmp_path, example_meta, monkeypatch, capsys):
    """A failure while writing the parquet leaves neither output file (nor temporaries) behind."""
    out = tmp_path / "o"

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", boom)
    with pytest.raises(OSError):
        main(["data", "build", "--meta", str(example_meta), "--out", str(out), "--tasks", "object_counting"])
    # the lock file stays, by design, and so do the settings (stored before the work)
    assert sorted(p.name for p in out.iterdir() if p.name != ".vsgrpo.lock") == ["build_config.json"]
