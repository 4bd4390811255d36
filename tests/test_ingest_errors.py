"""Malformed scans: each bad scene is skipped with a message naming the file; the rest are written."""

from __future__ import annotations

import json

import pytest

from ingest_fixtures import FixtureRoom, write_custom, write_scannet
from vsgrpo.cli import main
from vsgrpo.sources.ingest import IngestConfig, run_ingest
from vsgrpo.video import read_frames


@pytest.fixture(scope="module")
def room():
    return FixtureRoom(n_frames=3, width=80, height=60)


def _edit_json(path, fn):
    data = json.loads(path.read_text())
    fn(data)
    path.write_text(json.dumps(data))


def test_each_malformed_scene_is_skipped_and_named(room, tmp_path):
    raw = tmp_path / "scannet"
    scans = raw / "scans"
    for name in ("scene0901_00", "scene0902_00", "scene0903_00", "scene0904_00", "scene0905_00", "scene0906_00"):
        write_scannet(room, raw, name, frames=name == "scene0906_00" or name == "scene0901_00")
    # scene0901_00 stays good; its frame 2 lost tracking (ScanNet writes -inf): dropped, not fatal
    (scans / "scene0901_00" / "pose" / "2.txt").write_text("\n".join(["-inf -inf -inf -inf"] * 4) + "\n")
    (scans / "scene0902_00" / "scene0902_00.aggregation.json").unlink()  # missing file
    ply = scans / "scene0903_00" / "scene0903_00_vh_clean_2.ply"
    ply.write_bytes(ply.read_bytes()[: len(ply.read_bytes()) // 3])  # truncated mesh
    _edit_json(scans / "scene0904_00" / "scene0904_00.aggregation.json",
               lambda d: d["segGroups"][0].__setitem__("segments", [987654]))  # instance with no vertices
    _edit_json(scans / "scene0905_00" / "scene0905_00.aggregation.json",
               lambda d: d["segGroups"][1].__setitem__("label", "spaceship"))  # label not in the map
    (scans / "scene0906_00" / "pose" / "1.txt").write_text("1 0 0 0\n0 nan 0 0\n0 0 1 0\n0 0 0 1\n")  # NaN pose

    out = tmp_path / "out"
    rep = run_ingest(IngestConfig("scannet", raw, out, workers=2))
    assert rep.written == ["scene0901_00"]
    failures = json.loads((out / "failures.json").read_text())["failures"]
    by_scene = {f["scene"]: f for f in failures}
    assert sorted(by_scene) == ["scene0902_00", "scene0903_00", "scene0904_00", "scene0905_00", "scene0906_00"]
    assert by_scene["scene0902_00"]["file"].endswith("scene0902_00.aggregation.json")
    assert "not found" in by_scene["scene0902_00"]["error"]
    assert by_scene["scene0903_00"]["file"].endswith("scene0903_00_vh_clean_2.ply")
    assert "PLY" in by_scene["scene0903_00"]["error"]
    assert by_scene["scene0904_00"]["file"].endswith("scene0904_00.aggregation.json")
    assert "no vertices" in by_scene["scene0904_00"]["error"]
    assert "'spaceship'" in by_scene["scene0905_00"]["error"] and "label map" in by_scene["scene0905_00"]["error"]
    assert by_scene["scene0906_00"]["file"].endswith("pose/1.txt")
    assert "NaN" in by_scene["scene0906_00"]["error"]
    assert all("traceback" not in f for f in failures)  # all foreseen, none an internal error
    meta = json.loads((out / "meta" / "scannet_meta_info.json").read_text())
    assert list(meta) == ["scene0901_00"]
    assert [p.name for p in (out / "videos" / "scannet").iterdir()] == ["scene0901_00.mp4"]
    assert len(read_frames(out / "videos" / "scannet" / "scene0901_00.mp4", 100)[0]) == room.n_frames - 1
    notes = json.loads((out / "ingest_summary.json").read_text())["notes"]["scene0901_00"]
    assert any("-inf" in n and "dropped" in n for n in notes)
    assert not (out / "floorplans" / "scannet" / "scene0906_00.json").exists()  # nothing half-written


def test_custom_instance_without_label_and_cli_report(room, tmp_path, capsys):
    raw = tmp_path / "custom"
    write_custom(room, raw, "good", depth=False)
    write_custom(room, raw, "bad", labels={"1": "desk", "2": "chair", "3": "chair"}, depth=False)  # id 4 unlabelled
    out = tmp_path / "out"
    rc = main(["data", "ingest", "--source", "custom", "--root", str(raw), "--out", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "1 custom scenes written" in printed and "1 failed" in printed
    assert "failed bad:" in printed and "scene.json" in printed and "instance id 4" in printed
    assert list(json.loads((out / "meta" / "custom_meta_info.json").read_text())) == ["good"]


def test_cli_user_errors_exit_2(tmp_path, capsys):
    out = str(tmp_path / "o")
    assert main(["data", "ingest", "--source", "scannet", "--root", str(tmp_path / "nope"), "--out", out]) == 2
    assert "is not a directory" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    # ScanNet needs its label table: the whole run stops before any scene, naming the file
    assert main(["data", "ingest", "--source", "scannet", "--root", str(tmp_path / "empty"), "--out", out]) == 2
    assert "scannetv2-labels.combined.tsv" in capsys.readouterr().err
    split = tmp_path / "split.txt"
    split.write_text("../escape\n")
    (tmp_path / "c").mkdir()
    assert main(["data", "ingest", "--source", "custom", "--root", str(tmp_path / "c"), "--out", str(tmp_path / "o"),
                 "--split", str(split)]) == 2
    assert "invalid scene name" in capsys.readouterr().err
