"""Fault suite, `data ingest`: kills at chosen moments, a full disk, a read-only folder, a second writer.

Two fixture ScanNet scans (tests/ingest_fixtures.py) are ingested; every case ends with a rerun
compared file by file with an uninterrupted run, and no ``.tmp`` video may be left behind.
"""

from __future__ import annotations

import json
import signal
import subprocess

import pytest

from fault_harness import error_line, file_size_limit, run_cli, run_killed, small_disk, start_paused, temp_files, tree
from ingest_fixtures import FixtureRoom, write_scannet

SCENES = ["scene0998_00", "scene0999_00"]

KILLS = [
    ("while encoding the first video", "vsgrpo.sources.assemble:_resize:3:after"),
    ("after the first scene's sidecars", "vsgrpo.sources.assemble:assemble:1:after"),
    ("mid-scene, a sidecar written but not renamed", "vsgrpo.io:commit:4:before"),
    ("all scenes done, meta not yet merged", "vsgrpo.sources.ingest:_merge_meta:1:before"),
]


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    root = tmp_path_factory.mktemp("scannet-raw")
    room = FixtureRoom(n_frames=4, width=80, height=60)
    for name in SCENES:
        write_scannet(room, root, name)
    return root


def _ingest(raw, out, **kw):
    return run_cli("data", "ingest", "--source", "scannet", "--root", raw, "--out", out, "--include-eval-scenes",
                   **kw)


def _killed(spec, raw, out):
    return run_killed(spec, "data", "ingest", "--source", "scannet", "--root", raw, "--out", out,
                      "--include-eval-scenes")


@pytest.fixture(scope="module")
def reference(raw, tmp_path_factory):
    out = tmp_path_factory.mktemp("ingest-ref")
    r = _ingest(raw, out)
    assert r.returncode == 0, r.stderr
    return tree(out)


def _assert_complete(out, reference):
    assert temp_files(out) == []
    assert tree(out) == reference
    meta = json.loads((out / "meta" / "scannet_meta_info.json").read_text())
    assert sorted(meta) == SCENES


@pytest.mark.parametrize("moment,spec", KILLS, ids=[k[0] for k in KILLS])
def test_kill_then_rerun_equals_uninterrupted(moment, spec, raw, reference, tmp_path):
    out = tmp_path / "root"
    _killed(spec, raw, out)
    r = _ingest(raw, out)
    assert r.returncode == 0, r.stderr
    _assert_complete(out, reference)


def test_kill_mid_video_leaves_no_temp_after_rerun(raw, reference, tmp_path):
    """Issue 14 item 7: a kill while encoding left `.scene.mp4.*.tmp` for good; the rerun removes it."""
    out = tmp_path / "root"
    _killed("vsgrpo.sources.assemble:_resize:3:after", raw, out)
    assert temp_files(out), "the kill should have caught a video half-written"
    assert _ingest(raw, out).returncode == 0
    assert temp_files(out) == []


def test_second_writer_is_refused_with_the_holders_pid(raw, reference, tmp_path):
    out = tmp_path / "root"
    first = start_paused("vsgrpo.sources.assemble:assemble:1:stop", "data", "ingest", "--source", "scannet",
                         "--root", raw, "--out", out, "--include-eval-scenes")
    try:
        assert f"PID {first.pid}" in error_line(_ingest(raw, out))
    finally:
        first.send_signal(signal.SIGCONT)
        first.wait(timeout=300)
    assert first.returncode == 0
    _assert_complete(out, reference)


def test_disk_full_then_rerun(raw, reference, tmp_path):
    with small_disk(0.03) as disk:
        if disk is None:
            out = tmp_path / "root"
            r = _ingest(raw, out, preexec_fn=file_size_limit(3000))
        else:
            out = disk / "root"
            r = _ingest(raw, out)
        # a full disk is not a broken scene: the run stops with one line instead of failing every scene
        assert "cannot write output" in error_line(r)
        assert temp_files(out) == []
        if disk is not None:
            assert subprocess.run(["mount", "-o", "remount,size=8m", str(disk)]).returncode == 0
        r = _ingest(raw, out)
        assert r.returncode == 0, r.stderr
        _assert_complete(out, reference)


# --- settings: one root, one set of settings per source (issue 14) ---------------------------

SETTINGS = "ingest_config.json"


def test_rerun_with_other_settings_is_refused_unless_overwrite(raw, reference, tmp_path):
    out = tmp_path / "root"
    assert _ingest(raw, out).returncode == 0
    line = error_line(_ingest_args(raw, out, "--frame-step", "2"))
    assert "--frame-step 1, not 2" in line and "--overwrite" in line
    assert tree(out) == reference  # nothing touched
    # what does not change a scene's files does not count: workers, which scenes
    r = _ingest_args(raw, out, "--workers", "2")
    assert r.returncode == 0, r.stderr
    assert tree(out) == reference
    r = _ingest_args(raw, out, "--scenes", SCENES[0])
    assert r.returncode == 0, r.stderr
    # --overwrite starts the source over: equals a fresh run with the new settings
    fresh = tmp_path / "fresh"
    assert _ingest_args(raw, fresh, "--frame-step", "2").returncode == 0
    r = _ingest_args(raw, out, "--frame-step", "2", "--overwrite")
    assert r.returncode == 0, r.stderr
    assert tree(out) == tree(fresh)
    assert "--frame-step 2, not 1" in error_line(_ingest(raw, out))


def test_other_label_map_is_another_setting(raw, tmp_path):
    out = tmp_path / "root"
    labels = tmp_path / "labels.tsv"  # ScanNet's --labels: its label table
    text = (raw / "scannetv2-labels.combined.tsv").read_text()
    labels.write_text(text)
    r = _ingest_args(raw, out, "--labels", labels)
    assert r.returncode == 0, r.stderr
    assert _ingest_args(raw, out, "--labels", labels).returncode == 0  # same contents: accepted
    labels.write_text(text + "999\tpouf\tchair\t1\t5\t4\tchair\tchair\tchair\n")
    assert "--labels" in error_line(_ingest_args(raw, out, "--labels", labels))


def test_older_root_without_settings_is_accepted_and_labelled(raw, reference, tmp_path):
    out = tmp_path / "root"
    assert _ingest(raw, out).returncode == 0
    (out / SETTINGS).unlink()
    assert _ingest_args(raw, out, "--frame-step", "2").returncode == 0  # unknown settings: accepted
    assert json.loads((out / SETTINGS).read_text())["scannet"]["frame_step"] == 2


def _ingest_args(raw, out, *extra):
    return run_cli("data", "ingest", "--source", "scannet", "--root", raw, "--out", out, "--include-eval-scenes",
                   *extra)
