import json
import math
import warnings

import numpy as np
import pytest

from vsgrpo.errors import MetaError, MetaWarning, VsgrpoError
from vsgrpo.scene import load_meta_dir, read_meta_file, write_meta_file


def _load_quiet(path, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetaWarning)
        return load_meta_dir(path, **kw)


def test_released_meta_loads_and_round_trips(vsibench_dir, tmp_path):
    index = _load_quiet(vsibench_dir)
    assert len(index) == 192
    for ds in ("scannet", "scannetpp", "arkitscenes"):
        src = vsibench_dir / f"{ds}_meta_info_val.json"
        raw = json.loads(src.read_text())
        scenes = [index[(ds, name)] for name in raw]
        out = tmp_path / f"{ds}_meta_info_val.json"
        write_meta_file(scenes, out)
        back = json.loads(out.read_text())
        assert list(back) == list(raw)
        for name, meta in raw.items():
            got = back[name]
            assert set(got) == set(meta)
            assert got["room_size"] == meta["room_size"]
            assert got["object_counts"] == meta["object_counts"]
            for cat, boxes in meta["object_bbox"].items():
                # exact duplicates are dropped (documented rule); every other box is kept verbatim
                unique = []
                for b in boxes:
                    if b not in unique:
                        unique.append(b)
                assert got["object_bbox"][cat] == unique


def test_released_inconsistencies_warn_with_location(vsibench_dir):
    with pytest.warns(MetaWarning) as rec:
        read_meta_file(vsibench_dir / "scannet_meta_info_val.json")
    msgs = [str(w.message) for w in rec]
    assert any("scene0050_01" in m and "duplicate" in m for m in msgs)
    assert any("scene0500_00" in m and "object_counts.window" in m for m in msgs)


def test_strict_mode_rejects_inconsistent_counts(vsibench_dir):
    with pytest.raises(MetaError, match="scene0050_01.*duplicate"):
        read_meta_file(vsibench_dir / "scannet_meta_info_val.json", strict=True)


def _one_scene(**changes):
    box = {"centroid": [0, 0, 0.5], "axesLengths": [1, 2, 1], "normalizedAxes": [1, 0, 0, 0, 1, 0, 0, 0, 1],
           "min": [-0.5, -1, 0], "max": [0.5, 1, 1]}
    meta = {"dataset": "scannet", "room_size": 12.0, "room_center": [0, 0, 0],
            "object_counts": {"chair": 1}, "object_bbox": {"chair": [box]}}
    for path, value in changes.items():
        target = meta
        keys = path.split(".")
        for k in keys[:-1]:
            target = target[int(k)] if isinstance(target, list) else target[k]
        last = keys[-1]
        if value is KeyError:
            del target[last]
        elif isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value
    return meta


@pytest.mark.parametrize("changes, field, problem", [
    ({"room_size": KeyError}, "room_size", "missing"),
    ({"room_size": math.nan}, "room_size", "NaN"),
    ({"object_bbox.chair.0.centroid": [0, math.inf, 0]}, "centroid", "NaN or infinity"),
    ({"object_bbox.chair.0.axesLengths": [1, -2, 1]}, "axesLengths", "negative extent"),
    ({"object_bbox.chair.0.normalizedAxes": [1, 0, 0, 1, 0, 0, 0, 0, 1]}, "normalizedAxes", "not orthonormal"),
    ({"object_bbox.chair.0.normalizedAxes": KeyError}, "normalizedAxes", "missing"),
    ({"object_counts.chair": 2}, "object_counts.chair", "disagrees"),
])
def test_invalid_meta_names_file_scene_field(tmp_path, changes, field, problem):
    f = tmp_path / "scannet_meta_info_val.json"
    f.write_text(json.dumps({"sceneX": _one_scene(**changes)}, allow_nan=True))
    with pytest.raises(MetaError) as e:
        read_meta_file(f, strict=True)
    msg = str(e.value)
    assert str(f) in msg and "sceneX" in msg and field in msg and problem in msg


def test_not_json_is_one_clear_error(tmp_path):
    f = tmp_path / "scannet_meta_info_val.json"
    f.write_text("{not json")
    with pytest.raises(MetaError, match="not valid JSON"):
        read_meta_file(f)
    with pytest.raises(VsgrpoError, match="not found"):
        load_meta_dir(tmp_path / "nope")


def test_box_corners_follow_axes(example_meta):
    index = _load_quiet(example_meta)
    for scene in index.values():
        for boxes in scene.objects.values():
            for b in boxes:
                c = b.corners()
                # corners projected on each axis span exactly the extent
                proj = (c - b.centroid) @ b.axes.T
                np.testing.assert_allclose(proj.max(0) - proj.min(0), b.extents, atol=1e-6)
                if "min" in b.extra:
                    np.testing.assert_allclose(c.min(0), b.extra["min"], atol=2e-3)
