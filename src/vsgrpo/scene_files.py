"""On-disk layout of a data root, identical for every source (synth, ScanNet, custom, ...).

::

    ROOT/
      meta/{dataset}_meta_info.json      released VSI-Bench meta schema, one file per dataset
      videos/{dataset}/{scene}.mp4       RGB video
      visibility/{dataset}/{scene}.npz   times (F,), instances (K,) "category/index", pixels (F, K)
      floorplans/{dataset}/{scene}.json  {"polygons": [[[x, y], ...], ...], "floor_z": z}
      cameras/{dataset}/{scene}.npz      intrinsics (F,3,3), poses (F,4,4) cam-to-world OpenCV,
                                         width, height, times (F,)
      previews/{dataset}/{scene}.png     contact sheet

``videos/`` follows VSI-Bench's release (``{dataset}/{scene_name}.mp4``), so the same
``--videos ROOT/videos`` works for evaluation on real and generated data.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .errors import VsgrpoError
from .io import atomic_path, safe_join, write_json
from .scene import CameraTrack, FloorPlan, Scene, SceneIndex, Visibility

META_DIR, VIDEO_DIR, VIS_DIR, PLAN_DIR, CAM_DIR, PREVIEW_DIR = (
    "meta", "videos", "visibility", "floorplans", "cameras", "previews")
#: every folder a data root's writers (synth, ingest) write into
DATA_DIRS = (META_DIR, VIDEO_DIR, VIS_DIR, PLAN_DIR, CAM_DIR, PREVIEW_DIR)


def meta_folder(meta: str | os.PathLike) -> Path:
    """The meta info a ``--meta`` names: a data root (the folder holding ``meta/``, as ``data synth``
    and ``data ingest`` write it) gives its ``meta/``; a meta folder or a meta info file is itself.

    Anything else is one error saying what was expected: a folder with the other parts of a data
    root but no ``meta/``, or a ``data build`` output (questions, not scenes).
    """
    path = Path(meta)
    if not path.is_dir():
        return path  # a meta info file, or missing (the reader says so)
    if (path / META_DIR).is_dir():
        return path / META_DIR
    expected = (f"--meta takes a data root (the folder holding {META_DIR}/, as data synth and data ingest write it), "
                f"its {META_DIR}/ folder, or a folder of meta info *.json files ({{dataset}}_meta_info.json)")
    if (path / "questions.parquet").is_file():
        raise VsgrpoError(f"{path} holds questions (a data build output), not scenes; {expected}")
    if any((path / d).is_dir() for d in DATA_DIRS) or any(path.glob("*_config.json")):  # synth/ingest records
        raise VsgrpoError(f"{path} looks like a data root but has no {META_DIR}/ folder; {expected}")
    if not any(p.name.endswith(".json") and not p.name.startswith(".") for p in path.iterdir()):
        raise VsgrpoError(f"{path} holds no meta info *.json files; {expected}")
    return path


def meta_path(root, dataset: str) -> Path:
    return safe_join(root, META_DIR, f"{dataset}_meta_info.json")


def video_path(root, dataset: str, scene: str) -> Path:
    return safe_join(root, VIDEO_DIR, dataset, f"{scene}.mp4")


def visibility_path(root, dataset: str, scene: str) -> Path:
    return safe_join(root, VIS_DIR, dataset, f"{scene}.npz")


def floorplan_path(root, dataset: str, scene: str) -> Path:
    return safe_join(root, PLAN_DIR, dataset, f"{scene}.json")


def cameras_path(root, dataset: str, scene: str) -> Path:
    return safe_join(root, CAM_DIR, dataset, f"{scene}.npz")


def preview_path(root, dataset: str, scene: str) -> Path:
    return safe_join(root, PREVIEW_DIR, dataset, f"{scene}.png")


def remove_dataset(root: Path, dataset: str) -> None:
    """Delete one dataset's scenes from a data root (its meta file and its folder in each data
    folder); other datasets' files stay. ``--overwrite`` of ``data ingest`` and ``data synth``."""
    import shutil

    meta_path(root, dataset).unlink(missing_ok=True)  # first: no scene stays listed without its files
    for d in DATA_DIRS:
        folder = safe_join(root, d, dataset)
        if d != META_DIR and folder.is_dir() and not folder.is_symlink():
            shutil.rmtree(folder)  # a linked folder (videos/scannet -> elsewhere) is left alone: its
            # files are no longer listed in the meta file and are overwritten scene by scene


def _save_npz(target: Path, **arrays) -> None:
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)


def save_visibility(vis: Visibility, target: str | os.PathLike) -> None:
    _save_npz(Path(target), times=np.asarray(vis.times, float),
              instances=np.array([f"{c}/{i}" for c, i in vis.instances]),
              pixels=np.asarray(vis.pixels, np.int64))


def load_visibility(path: str | os.PathLike) -> Visibility:
    with np.load(path, allow_pickle=False) as z:
        inst = [(s.rsplit("/", 1)[0], int(s.rsplit("/", 1)[1])) for s in z["instances"].tolist()]
        return Visibility(times=z["times"], instances=inst, pixels=z["pixels"])


def save_floor_plan(plan: FloorPlan, target: str | os.PathLike) -> None:
    write_json(target, {"polygons": [np.asarray(p, float).tolist() for p in plan.polygons],
                        "floor_z": float(plan.floor_z)})


def load_floor_plan(path: str | os.PathLike) -> FloorPlan:
    raw = json.loads(Path(path).read_text())
    return FloorPlan(polygons=[np.asarray(p, float) for p in raw["polygons"]], floor_z=float(raw.get("floor_z", 0.0)))


def save_cameras(cams: CameraTrack, target: str | os.PathLike) -> None:
    times = cams.times if cams.times is not None else np.arange(len(cams.poses), dtype=float)
    _save_npz(Path(target), intrinsics=np.asarray(cams.intrinsics, float), poses=np.asarray(cams.poses, float),
              width=np.int64(cams.width), height=np.int64(cams.height), times=np.asarray(times, float))


def load_cameras(path: str | os.PathLike) -> CameraTrack:
    with np.load(path, allow_pickle=False) as z:
        return CameraTrack(intrinsics=z["intrinsics"], poses=z["poses"], width=int(z["width"]),
                           height=int(z["height"]), times=z["times"])


def attach_sidecars(index: SceneIndex, root: str | os.PathLike) -> SceneIndex:
    """Attach video path, visibility, floor plan and cameras found under ``root`` to each scene."""
    for (dataset, name), scene in index.items():
        _attach(scene, Path(root), dataset, name)
    return index


def _attach(scene: Scene, root: Path, dataset: str, name: str) -> None:
    v = video_path(root, dataset, name)
    if v.exists():
        scene.video = v
    p = visibility_path(root, dataset, name)
    if p.exists():
        scene.visibility = load_visibility(p)
    p = floorplan_path(root, dataset, name)
    if p.exists():
        scene.floor_plan = load_floor_plan(p)
    p = cameras_path(root, dataset, name)
    if p.exists():
        scene.cameras = load_cameras(p)
