"""`vsgrpo data synth` end to end: files on disk, geometry vs pixels, resume, kill and rerun."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from vsgrpo import scene_files as sf
from vsgrpo.cli import main as cli
from vsgrpo.scene import read_meta_file
from vsgrpo.sources.synthetic import Renderer, SynthConfig, generate_dataset, generate_scene
from vsgrpo.sources.synthetic.writer import render_scene
from vsgrpo.video import read_frames

CFG = SynthConfig(scenes=2, seed=3, frames=24, width=160, height=120, fps=8.0, workers=1)


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    generate_dataset(out, CFG, show_progress=False)
    return out


def test_layout_matches_scene_files(root):
    meta = read_meta_file(sf.meta_path(root, "synthetic"), strict=True)
    assert sorted(meta) == ["synth_s3_00000", "synth_s3_00001"]
    for name, scene in meta.items():
        assert scene.dataset == "synthetic" and scene.room_center is not None
        frames, fps = read_frames(sf.video_path(root, "synthetic", name), 8)
        assert frames.shape == (8, 120, 160, 3) and frames.std() > 10  # a real picture, not blank
        vis = sf.load_visibility(sf.visibility_path(root, "synthetic", name))
        boxes = [(c, i) for c, bs in scene.objects.items() for i in range(len(bs))]
        assert sorted(vis.instances) == sorted(boxes) and vis.pixels.shape == (CFG.frames, len(boxes))
        assert (vis.pixels.max(0) >= CFG.resolved_min_pixels()).all()  # every counted object is seen
        np.testing.assert_allclose(vis.times, np.arange(CFG.frames) / CFG.fps)
        cams = sf.load_cameras(sf.cameras_path(root, "synthetic", name))
        assert cams.poses.shape == (CFG.frames, 4, 4) and (cams.width, cams.height) == (160, 120)
        plan = sf.load_floor_plan(sf.floorplan_path(root, "synthetic", name))
        assert abs(plan.area() - scene.room_size) < 1e-6
        assert sf.preview_path(root, "synthetic", name).stat().st_size > 1000


def _project(K, pose, pts):
    cam = (pts - pose[:3, 3]) @ pose[:3, :3]  # world -> camera (OpenCV)
    return cam[:, 2], (cam[:, :2] / cam[:, 2:3]) * [K[0, 0], K[1, 1]] + [K[0, 2], K[1, 2]]


def test_instance_masks_lie_inside_projected_meta_boxes(root):
    """Geometry on disk (meta boxes + cameras) agrees with what was rendered, pixel by pixel."""
    checked = 0
    for idx in range(CFG.scenes):
        s = render_scene(generate_scene(CFG.seed, idx, n_frames=CFG.frames, width=160, height=120), CFG)
        name = s.scene.name
        meta = read_meta_file(sf.meta_path(root, "synthetic"), strict=True)[name]
        cams = sf.load_cameras(sf.cameras_path(root, "synthetic", name))
        vis = sf.load_visibility(sf.visibility_path(root, "synthetic", name))
        col = {inst: k for k, inst in enumerate(vis.instances)}
        r = Renderer(s.mesh, s.ids, cams.width, cams.height)
        for f in range(0, CFG.frames, 4):
            ids = r.render(cams.intrinsics[f], cams.poses[f], with_rgb=False)["ids"]
            for k, (cat, i) in enumerate(s.instances):
                mask = ids == k + 1
                assert mask.sum() == vis.pixels[f, col[(cat, i)]]  # visibility on disk = this mask
                if not mask.any():
                    continue
                z, uv = _project(cams.intrinsics[f], cams.poses[f], meta.objects[cat][i].corners())
                if (z < 0.05).any():  # box reaches behind the camera: its projection is unbounded
                    continue
                ys, xs = np.nonzero(mask)
                assert xs.min() >= np.floor(uv[:, 0].min()) - 1 and xs.max() <= np.ceil(uv[:, 0].max()) + 1, (name, f, cat)
                assert ys.min() >= np.floor(uv[:, 1].min()) - 1 and ys.max() <= np.ceil(uv[:, 1].max()) + 1, (name, f, cat)
                checked += 1
        r.release()
    assert checked > 50


def test_data_build_and_verify_agree_on_generated_scenes(root, tmp_path, capsys):
    """Acceptance: questions built from generated scenes re-derive to the same answers (100%)."""
    out = tmp_path / "qa"
    assert cli(["data", "build", "--meta", str(root / "meta"), "--out", str(out), "--per-scene", "all"]) == 0
    assert cli(["data", "verify", "--meta", str(root / "meta"), "--questions", str(out / "questions.parquet"),
                "--report", str(tmp_path / "report.json")]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["mismatches"] == [] and report["unchecked"] == {}
    assert len(report["tasks"]) >= 7, report["tasks"]  # incl. appearance order (uses visibility)
    assert all(t["rate"] == 1.0 and t["checked"] > 0 for t in report["tasks"].values())


def test_rerun_skips_finished_scenes_and_extends(root):
    video = sf.video_path(root, "synthetic", "synth_s3_00000")
    before = video.stat().st_mtime_ns
    generate_dataset(root, SynthConfig(**{**CFG.__dict__, "scenes": 3}), show_progress=False)
    assert video.stat().st_mtime_ns == before
    assert len(read_meta_file(sf.meta_path(root, "synthetic"), strict=True)) == 3


def test_cli_refuses_other_settings_and_bad_size(root, capsys):
    assert cli(["data", "synth", "--scenes", "1", "--seed", "3", "--out", str(root), "--frames", "30",
                "--size", "160x120", "--fps", "8"]) == 2
    assert "other settings" in capsys.readouterr().err
    assert cli(["data", "synth", "--scenes", "1", "--out", str(root), "--size", "big"]) == 2
    assert cli(["data", "synth", "--scenes", "1", "--out", str(root), "--size", "161x120"]) == 2


def _synth_cmd(out: Path, workers: int = 1) -> list[str]:
    return [sys.executable, "-m", "vsgrpo.cli", "data", "synth", "--scenes", "4", "--out", str(out), "--seed", "5",
            "--frames", "40", "--size", "96x72", "--workers", str(workers)]


def test_kill_during_generation_then_rerun(tmp_path):
    out = tmp_path / "killed"
    env = {**os.environ, "VSGRPO_PROGRESS": "0"}
    proc = subprocess.Popen(_synth_cmd(out), env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    markers = out / "meta" / ".synthetic_scenes"
    deadline = time.time() + 60
    while time.time() < deadline and not (markers.is_dir() and any(markers.glob("*.json"))):
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # mid-run: at least one scene done, the next one under way
    proc.wait()
    done = {p.stem for p in markers.glob("*.json")}
    assert 1 <= len(done) < 4
    meta_file = sf.meta_path(out, "synthetic")
    assert not meta_file.exists()  # merged only at the end of a run
    assert subprocess.run(_synth_cmd(out), env=env, capture_output=True).returncode == 0
    meta = read_meta_file(meta_file, strict=True)
    assert sorted(meta) == [f"synth_s5_{i:05d}" for i in range(4)]
    for sub in ("videos", "visibility", "cameras", "floorplans", "previews"):
        files = sorted(p.name for p in (out / sub / "synthetic").iterdir())  # hidden temp files too
        assert [f.split(".")[0] for f in files] == sorted(meta), (sub, files)  # one each, no leftovers
    # the resumed root is identical in content to an uninterrupted run in two processes
    clean = tmp_path / "clean"
    assert subprocess.run(_synth_cmd(clean, workers=2), env=env, capture_output=True).returncode == 0
    assert json.loads(meta_file.read_text()) == json.loads(sf.meta_path(clean, "synthetic").read_text())
    for name in meta:
        a = sf.load_visibility(sf.visibility_path(out, "synthetic", name))
        b = sf.load_visibility(sf.visibility_path(clean, "synthetic", name))
        np.testing.assert_array_equal(a.pixels, b.pixels)
