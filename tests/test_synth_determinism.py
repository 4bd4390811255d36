"""`data synth` gives the same bytes for a seed whatever the load and the number of cores.

The stage that varied was the H.264 encoder (x264's macroblock-tree rate control, and its frame
threads, whose number follows the cores a process may use); rendering is already exact (llvmpipe
gives the same pixels with 1, 2 or 4 threads). See ``vsgrpo.video.DETERMINISTIC_X264``.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from fault_harness import _env, tree

ARGS = ("data", "synth", "--scenes", "1", "--frames", "16", "--size", "160x120", "--workers", "1")


def _synth_cmd(out):
    return [sys.executable, "-m", "vsgrpo.cli", *ARGS, "--out", str(out)]


def _one_core():
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs two usable cores to compare with one")
def test_same_bytes_on_one_core_and_on_all(tmp_path):
    """The encoder picks its thread count from the usable cores; the bytes must not follow it."""
    one = subprocess.run(_synth_cmd(tmp_path / "one"), env=_env(), capture_output=True, text=True,
                         timeout=600, preexec_fn=_one_core)
    assert one.returncode == 0, one.stderr
    every = subprocess.run(_synth_cmd(tmp_path / "all"), env=_env(), capture_output=True, text=True, timeout=600)
    assert every.returncode == 0, every.stderr
    a, b = tree(tmp_path / "one"), tree(tmp_path / "all")
    assert any(k.endswith(".mp4") for k in a)
    assert a == b


def test_concurrent_synths_give_identical_bytes(tmp_path):
    """Two runs of the same seed at once (each loading the machine for the other) write the same files."""
    procs = [subprocess.Popen(_synth_cmd(tmp_path / name), env=_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for name in ("a", "b")]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
    a, b = tree(tmp_path / "a"), tree(tmp_path / "b")
    videos = [k for k in a if k.endswith(".mp4")]
    assert videos and all(a[k] == b[k] for k in videos)
    assert a == b
