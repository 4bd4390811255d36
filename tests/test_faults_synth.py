"""Fault suite, `data synth`: kills at chosen moments, a full disk, a read-only folder, a second writer.

Each case ends with a plain rerun and compares the data root file by file (sha256, the mp4 bytes
included) with an uninterrupted run: nothing lost, nothing duplicated, no temporary file left.
That holds on a loaded machine because the encoder is deterministic (tests/test_synth_determinism.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess

import pytest

from fault_harness import error_line, file_size_limit, run_cli, run_killed, small_disk, start_paused, temp_files, tree

ARGS = ("--scenes", "3", "--frames", "8", "--size", "64x48", "--workers", "1")
NAMES = [f"synth_s0_{i:05d}" for i in range(3)]

# (what the moment is, where the command is killed)
KILLS = [
    ("after the first scene's marker", "vsgrpo.sources.synthetic.writer:write_json:1:after"),
    ("mid-scene, a sidecar written but not renamed", "vsgrpo.io:commit:3:before"),
    ("while encoding a video", "vsgrpo.sources.synthetic.render:Renderer.render:30:after"),
    ("all scenes done, meta not yet merged", "vsgrpo.sources.synthetic.writer:merge_meta:1:before"),
]


def _synth(out, *extra):
    return run_cli("data", "synth", *ARGS, "--out", out, *extra)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth-ref") / "root"
    r = _synth(out)
    assert r.returncode == 0, r.stderr
    return tree(out)


def _assert_complete(out, reference):
    assert temp_files(out) == []
    assert tree(out) == reference
    meta = json.loads((out / "meta" / "synthetic_meta_info.json").read_text())
    assert sorted(meta) == NAMES  # every scene once


@pytest.mark.parametrize("moment,spec", KILLS, ids=[k[0] for k in KILLS])
def test_kill_then_rerun_equals_uninterrupted(moment, spec, reference, tmp_path):
    out = tmp_path / "root"
    run_killed(spec, "data", "synth", *ARGS, "--out", out)
    r = _synth(out)
    assert r.returncode == 0, r.stderr
    _assert_complete(out, reference)


def test_killed_twice_in_a_row(reference, tmp_path):
    out = tmp_path / "root"
    run_killed("vsgrpo.io:commit:2:before", "data", "synth", *ARGS, "--out", out)
    assert temp_files(out)  # the kill left a finished temporary file behind ...
    run_killed("vsgrpo.sources.synthetic.writer:write_json:2:after", "data", "synth", *ARGS, "--out", out)
    r = _synth(out)
    assert r.returncode == 0, r.stderr
    _assert_complete(out, reference)  # ... and the reruns removed it


def test_second_writer_is_refused_with_the_holders_pid(reference, tmp_path):
    out = tmp_path / "root"
    first = start_paused("vsgrpo.sources.synthetic.writer:write_json:1:stop", "data", "synth", *ARGS, "--out", out)
    try:
        assert f"PID {first.pid}" in error_line(_synth(out))
    finally:
        first.send_signal(signal.SIGCONT)
        first.wait(timeout=300)
    assert first.returncode == 0, first.stderr.read()
    _assert_complete(out, reference)


def test_disk_full_then_rerun(reference, tmp_path):
    with small_disk(0.2) as disk:
        if disk is None:  # no tmpfs here (unprivileged CI): files capped by RLIMIT_FSIZE fail the same way
            out = tmp_path / "root"
            r = run_cli("data", "synth", *ARGS, "--out", out, preexec_fn=file_size_limit(3000))
            line = error_line(r)
            assert "cannot write output" in line
        else:
            out = disk / "root"
            line = error_line(_synth(out))
            assert "No space left on device" in line
            assert subprocess.run(["mount", "-o", "remount,size=4m", str(disk)]).returncode == 0
        assert temp_files(out) == []
        r = _synth(out)
        assert r.returncode == 0, r.stderr
        _assert_complete(out, reference)


def test_damaged_finished_scene_is_made_again(reference, tmp_path):
    """A zero-byte mp4, a junk sidecar or a cut-short marker of a finished scene: remade, with a warning."""
    out = tmp_path / "root"
    assert _synth(out).returncode == 0
    (out / "videos" / "synthetic" / f"{NAMES[0]}.mp4").write_bytes(b"")
    (out / "visibility" / "synthetic" / f"{NAMES[1]}.npz").write_bytes(b"junk")
    marker = out / "meta" / ".synthetic_scenes" / f"{NAMES[2]}.json"
    marker.write_text(marker.read_text()[:40])
    r = _synth(out)
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("vsgrpo: warning:") == 3 and "Traceback" not in r.stderr, r.stderr
    _assert_complete(out, reference)


def test_symlinked_data_root_folders_are_allowed(reference, tmp_path):
    """A data root whose videos/ is a link to another disk works: the link was placed by the root's owner."""
    elsewhere = tmp_path / "big-disk" / "videos"
    elsewhere.mkdir(parents=True)
    out = tmp_path / "root"
    out.mkdir()
    os.symlink(elsewhere, out / "videos")
    r = _synth(out)
    assert r.returncode == 0, r.stderr
    assert (elsewhere / "synthetic" / f"{NAMES[0]}.mp4").is_file()


# --- settings: one root, one set of scene settings (issue 14) --------------------------------

SETTINGS = "synth_config.json"


def test_other_settings_are_refused_even_for_new_scenes(reference, tmp_path):
    """Another seed adds scenes to a root, but not with other frames/size/fps: that used to mix silently."""
    out = tmp_path / "root"
    assert _synth(out).returncode == 0
    line = error_line(_synth(out, "--seed", "1", "--frames", "6"))
    assert "--frames 8, not 6" in line and "--overwrite" in line
    assert "--size 64x48, not 96x48" in error_line(_synth(out, "--size", "96x48"))
    assert tree(out) == reference  # nothing touched
    r = _synth(out, "--workers", "2")  # what does not change a scene does not count
    assert r.returncode == 0, r.stderr
    assert tree(out) == reference


def test_settings_are_stored_before_the_first_scene(tmp_path):
    out = tmp_path / "root"
    run_killed("vsgrpo.sources.synthetic.render:Renderer.render:2:after", "data", "synth", *ARGS, "--out", out)
    assert not list((out / "meta").rglob("*.json"))  # no scene finished
    assert "--frames 8, not 6" in error_line(_synth(out, "--frames", "6"))


def test_overwrite_starts_the_synthetic_scenes_over(tmp_path):
    out, fresh = tmp_path / "root", tmp_path / "fresh"
    assert _synth(out, "--scenes", "1").returncode == 0
    assert _synth(out, "--scenes", "1", "--seed", "4").returncode == 0  # a second seed in the same root
    assert _synth(fresh, "--scenes", "1", "--frames", "6").returncode == 0
    r = _synth(out, "--scenes", "1", "--frames", "6", "--overwrite")
    assert r.returncode == 0, r.stderr
    assert tree(out) == tree(fresh)  # the scenes of both seeds with the old settings are gone


def test_older_root_without_settings_file_is_checked_against_its_scenes(reference, tmp_path):
    out = tmp_path / "root"
    assert _synth(out).returncode == 0
    (out / SETTINGS).unlink()  # made before the file existed: the scene markers tell the settings
    assert "--frames 8, not 6" in error_line(_synth(out, "--seed", "1", "--frames", "6"))
    r = _synth(out)
    assert r.returncode == 0, r.stderr
    assert tree(out) == reference
