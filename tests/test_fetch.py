"""`vsgrpo data fetch vsibench` against a real HTTP server on 127.0.0.1 in the hub's layout (tests/hub_server.py):
questions and videos laid out for `eval run`, resumed after a dropped connection, checksums enforced, and
an unreachable hub (for `data fetch` and for `--model owner/name`) failing in seconds with one line."""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hub_server import FakeHub
from vsgrpo.video import write_video

ROOT = Path(__file__).resolve().parents[1]
REPO = "nyu-visionx/VSI-Bench"
SCENES = {"arkitscenes": ["41069025", "41125700"], "scannet": ["scene0011_00"]}
CARD = """---
configs:
- config_name: full
  data_files:
  - split: test
    path: test-*.parquet
- config_name: debiased
  data_files:
  - split: test
    path: test_debiased.parquet
---
# VSI-Bench (test copy)
"""


@pytest.fixture(scope="module")
def repo_files(tmp_path_factory, vsibench_dir) -> dict[str, bytes]:
    """A small VSI-Bench: real questions re-pointed at three scenes, real mp4s zipped per dataset."""
    tmp = tmp_path_factory.mktemp("hubrepo")
    rng = np.random.default_rng(0)
    archives = {}
    for ds, scenes in SCENES.items():
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
            for scene in scenes:
                mp4 = tmp / f"{scene}.mp4"
                write_video(mp4, [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8) for _ in range(6)], fps=6)
                zf.write(mp4, f"{ds}/{scene}.mp4")
            zf.writestr(f"__MACOSX/{ds}/._{scenes[0]}.mp4", b"resource fork")  # junk a zip from macOS carries
        archives[f"{ds}.zip"] = buf.getvalue()
    df = pd.read_parquet(vsibench_dir / "test-dev.parquet").head(6).copy()
    where = [(ds, s) for ds, scenes in SCENES.items() for s in scenes]
    df["dataset"] = [where[i % 3][0] for i in range(6)]
    df["scene_name"] = [where[i % 3][1] for i in range(6)]
    full, debiased = io.BytesIO(), io.BytesIO()
    df.to_parquet(full, index=False)
    df.iloc[:2].to_parquet(debiased, index=False)
    return {"README.md": CARD.encode(), ".gitattributes": b"*.zip filter=lfs\n",
            "test-00000-of-00001.parquet": full.getvalue(), "test_debiased.parquet": debiased.getvalue(),
            **archives}


def _hub(files) -> FakeHub:
    return FakeHub(REPO, files, lfs={n for n in files if n.endswith((".zip", ".parquet"))})


def _env(tmp_path, endpoint: str, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_OFFLINE", "VSGRPO_PROG"))}
    env.update(PYTHONPATH=str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", ""), HF_ENDPOINT=endpoint,
               HF_HOME=str(tmp_path / "hf-home"), VSGRPO_PROGRESS="0")
    env.update(extra)
    return env


def _fetch(tmp_path, endpoint, out, *args, **env):
    return subprocess.run([sys.executable, "-m", "vsgrpo.cli", "data", "fetch", "vsibench", "--out", str(out), *args],
                          capture_output=True, text=True, timeout=300, env=_env(tmp_path, endpoint, **env))


def _zip_member(files, ds, scene) -> bytes:
    with zipfile.ZipFile(io.BytesIO(files[f"{ds}.zip"])) as zf:
        return zf.read(f"{ds}/{scene}.mp4")


def test_fetch_lays_out_vsibench_for_eval_run(tmp_path, repo_files, tiny_model):
    out = tmp_path / "vsibench"
    with _hub(repo_files) as hub:
        proc = _fetch(tmp_path, hub.endpoint, out)
    assert proc.returncode == 0, proc.stderr
    assert f"6 questions, 3 videos in {out}" in proc.stdout
    assert f"--questions {out / 'full.parquet'} --out" in proc.stdout  # no --videos needed: fetch.json names them
    got = pd.read_parquet(out / "full.parquet")
    assert got.equals(pd.read_parquet(io.BytesIO(repo_files["test-00000-of-00001.parquet"])))
    for ds, scenes in SCENES.items():
        assert sorted(p.name for p in (out / ds).iterdir()) == sorted(f"{s}.mp4" for s in scenes)  # no junk
        for s in scenes:
            assert (out / ds / f"{s}.mp4").read_bytes() == _zip_member(repo_files, ds, s)
    record = json.loads((out / "fetch.json").read_text())
    assert record["commit"] == hub.commit and record["configs"]["full"]["videos"] == 3
    assert record["files"]["scannet.zip"] == "sha256:" + hashlib.sha256(repo_files["scannet.zip"]).hexdigest()
    assert not list((out / ".fetch").glob("*.zip")) and not list(out.rglob("*.part"))  # archives removed once unpacked
    # Every file was asked for at the commit the hub named first, never at a moving branch.
    resolves = [p for m, p, _ in hub.requests if "/resolve/" in p]
    assert resolves and all(f"/resolve/{hub.commit}/" in p for p in resolves)

    ev = subprocess.run([sys.executable, "-m", "vsgrpo.cli", "eval", "run", "--model", str(tiny_model),
                         "--questions", str(out / "full.parquet"), "--frames", "4",
                         "--max-new-tokens", "4", "--out", str(tmp_path / "ev")],
                        capture_output=True, text=True, timeout=600, env=_env(tmp_path, hub.endpoint))
    assert ev.returncode == 0, ev.stderr[-3000:]
    # Without --videos, the fetch record beside the parquet makes the fetched folder the video root.
    assert Path(json.loads((tmp_path / "ev" / "config.json").read_text())["videos"]) == out.resolve()
    samples = [json.loads(x) for x in (tmp_path / "ev" / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 6 and all(s["error"] is None for s in samples), samples  # every video found and read


def test_second_run_downloads_nothing_and_debiased_comes_from_the_card(tmp_path, repo_files):
    out = tmp_path / "vsibench"
    with _hub(repo_files) as hub:
        assert _fetch(tmp_path, hub.endpoint, out).returncode == 0
        n = len(hub.requests)
        again = _fetch(tmp_path, hub.endpoint, out, "--config", "debiased")
        assert again.returncode == 0, again.stderr
        new = hub.requests[n:]
    assert "2 questions, 2 videos" in again.stdout  # the debiased shard only names two scenes
    assert pd.read_parquet(out / "debiased.parquet").equals(
        pd.read_parquet(io.BytesIO(repo_files["test_debiased.parquet"])))
    downloaded = [p for m, p, _ in new if m == "GET" and "/api/" not in p]
    assert len(downloaded) == 1, new  # the debiased parquet; the videos were unpacked already
    assert set(json.loads((out / "fetch.json").read_text())["configs"]) == {"full", "debiased"}

    offline = _fetch(tmp_path, "http://127.0.0.1:9", out, HF_HUB_OFFLINE="1")  # fetched before: accepted as is
    assert offline.returncode == 0 and "6 questions, 3 videos" in offline.stdout


def test_dropped_connection_resumes_with_a_range_request(tmp_path, repo_files):
    out = tmp_path / "vsibench"
    size = len(repo_files["scannet.zip"])
    cut = size // 2
    with _hub(repo_files) as hub:
        hub.cut["scannet.zip"] = cut
        first = _fetch(tmp_path, hub.endpoint, out)
        lines = first.stderr.strip().splitlines()
        assert first.returncode == 2 and len(lines) == 1, first.stderr
        assert lines[0].startswith("vsgrpo: error: ") and "rerun the same command to resume" in lines[0]
        assert (out / ".fetch" / "scannet.zip.part").stat().st_size == cut  # the bytes received are kept
        second = _fetch(tmp_path, hub.endpoint, out)
        assert second.returncode == 0, second.stderr
    blob = f"/blobs/{hashlib.sha256(repo_files['scannet.zip']).hexdigest()}"
    assert [r for m, p, r in hub.requests if p == blob and m == "GET"] == [None, f"bytes={cut}-"]
    assert (out / "scannet" / "scene0011_00.mp4").read_bytes() == _zip_member(repo_files, "scannet", "scene0011_00")
    assert not (out / ".fetch" / "scannet.zip.part").exists()


def test_checksum_mismatch_fails_and_keeps_nothing(tmp_path, repo_files):
    out = tmp_path / "vsibench"
    with _hub(repo_files) as hub:
        hub.corrupt.add("arkitscenes.zip")
        proc = _fetch(tmp_path, hub.endpoint, out)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert "arkitscenes.zip: checksum mismatch" in lines[0] and "Traceback" not in proc.stderr
    assert not (out / "arkitscenes").exists() and not list((out / ".fetch").glob("arkitscenes.zip*"))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_hub_fails_at_once_with_one_line(tmp_path, vsibench_dir):
    dead = f"http://127.0.0.1:{_closed_port()}"
    proc = _fetch(tmp_path, dead, tmp_path / "v")
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"vsgrpo: error: fetching {REPO}: cannot reach the hub at {dead}")
    offline = _fetch(tmp_path, dead, tmp_path / "v2", HF_HUB_OFFLINE="1")
    assert offline.returncode == 2 and offline.stderr.count("\n") == 1 and "HF_HUB_OFFLINE" in offline.stderr

    # A hub model id offline: one quick request, no backoff ("Retrying in 1s [Retry 1/5]" per file), one line.
    cmd = [sys.executable, "-m", "vsgrpo.cli", "eval", "run", "--model", "Qwen/Qwen2.5-VL-3B-Instruct",
           "--questions", str(vsibench_dir / "test-dev.parquet"), "--videos", str(tmp_path), "--out",
           str(tmp_path / "ev")]
    for extra in ({}, {"HF_HUB_OFFLINE": "1"}):
        ev = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=_env(tmp_path, dead, **extra))
        lines = ev.stderr.strip().splitlines()
        assert ev.returncode == 2 and len(lines) == 1, ev.stderr[-3000:]
        assert lines[0].startswith("vsgrpo: error: model Qwen/Qwen2.5-VL-3B-Instruct") and "Retry" not in ev.stderr
        assert ("HF_HUB_OFFLINE is set" if extra else f"cannot reach the hub at {dead}") in lines[0]


def test_model_id_falls_back_to_the_cached_snapshot_when_the_hub_is_unreachable(tmp_path, tiny_model, monkeypatch):
    """A model downloaded before still loads offline: its snapshot folder in the hub cache is used."""
    from vsgrpo import hub

    cache = tmp_path / "hf-home" / "hub" / "models--someone--tiny"
    snap = cache / "snapshots" / ("ab" * 20)
    snap.mkdir(parents=True)
    for f in Path(tiny_model).iterdir():
        (snap / f.name).write_bytes(f.read_bytes())
    (cache / "refs").mkdir()
    (cache / "refs" / "main").write_text("ab" * 20)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hf-home" / "hub"))
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    hub.model_location.cache_clear()
    try:
        assert hub.model_location("someone/tiny") == str(snap)
    finally:
        hub.model_location.cache_clear()
