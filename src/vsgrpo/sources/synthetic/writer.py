"""Write procedural scenes to a data root, in parallel, resumable, crash-safe.

Per scene, the sidecars (video, visibility, cameras, floor plan, preview) are each written
atomically; the scene's *marker* ``meta/.synthetic_scenes/{scene}.json`` (its meta info plus the
settings it was made with) is written last. A scene is finished exactly when its marker exists:
a kill mid-scene leaves no marker, and the rerun makes that scene again, overwriting whatever
it had written. ``meta/synthetic_meta_info.json`` is rebuilt atomically from all markers at the
end of every run, so it only ever lists finished scenes and a kill cannot corrupt it.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import warnings
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

import numpy as np

from ... import scene_files as sf
from ...data_configs import SynthConfig
from ...errors import VsgrpoError
from ...io import remove_stale_temps, run_lock, safe_join, write_json
from ...progress import progress
from ...scene import Visibility, parse_scene
from .render import Renderer
from .scene_gen import DATASET, SynthScene, drop_objects, generate_scene, scene_name

MARKER_DIR = ".synthetic_scenes"
PREVIEW_FRAMES = 8


def marker_path(root, name: str) -> Path:
    return safe_join(root, sf.META_DIR, MARKER_DIR, f"{name}.json")


def render_scene(s: SynthScene, cfg: SynthConfig) -> SynthScene:
    """Drop objects the camera never sees, so every counted object is in the video."""
    for _ in range(3):
        r = Renderer(s.mesh, s.ids, cfg.width, cfg.height)
        best = np.zeros(len(s.instances) + 1, np.int64)
        for pose in s.poses:
            ids = r.render(s.K, pose, with_rgb=False)["ids"]
            best = np.maximum(best, np.bincount(ids.ravel(), minlength=len(best))[: len(best)])
        r.release()
        keep = best[1:] >= cfg.resolved_min_pixels()
        if keep.all():
            return s
        s = drop_objects(s, keep, cfg.seed, s.scene_index)
    return s


def make_scene(root: str, index: int, cfg: SynthConfig) -> str:
    """Generate, render and write scene ``index``; returns its name. Runs in worker processes."""
    name = scene_name(cfg.seed, index)
    _remove_stale_temp_files(root, name)
    s = generate_scene(cfg.seed, index, n_frames=cfg.frames, width=cfg.width, height=cfg.height, ceiling=cfg.ceiling)
    s = render_scene(s, cfg)
    r = Renderer(s.mesh, s.ids, cfg.width, cfg.height)
    n_inst = len(s.instances)
    pixels = np.zeros((cfg.frames, n_inst), np.int64)
    keep_at = set(np.linspace(0, cfg.frames - 1, PREVIEW_FRAMES).astype(int).tolist())
    kept: list[np.ndarray] = []

    def frames():
        for f, pose in enumerate(s.poses):
            out = r.render(s.K, pose)
            pixels[f] = np.bincount(out["ids"].ravel(), minlength=n_inst + 1)[1: n_inst + 1]
            if f in keep_at:
                kept.append(out["rgb"].copy())
            yield out["rgb"]

    from ...video import write_video
    from .preview import contact_sheet

    write_video(sf.video_path(root, DATASET, name), frames(), cfg.fps)
    r.release()
    times = np.arange(cfg.frames) / cfg.fps
    sf.save_visibility(Visibility(times=times, instances=s.instances, pixels=pixels),
                       sf.visibility_path(root, DATASET, name))
    sf.save_cameras(s.cameras(cfg.fps), sf.cameras_path(root, DATASET, name))
    sf.save_floor_plan(s.scene.floor_plan, sf.floorplan_path(root, DATASET, name))
    preview = sf.preview_path(root, DATASET, name)
    preview.parent.mkdir(parents=True, exist_ok=True)
    from ...io import atomic_path

    with atomic_path(preview) as tmp:
        contact_sheet(s, kept).save(tmp, format="PNG")
    write_json(marker_path(root, name), {"params": cfg.scene_params(), "meta": s.scene.to_meta()})
    return name


def _remove_stale_temp_files(root: str, name: str) -> None:
    """Temp files a killed run of this scene left behind (``atomic_path`` names them ``.NAME.*.tmp``)."""
    for path_of in (sf.video_path, sf.visibility_path, sf.cameras_path, sf.floorplan_path, sf.preview_path):
        folder = path_of(root, DATASET, name).parent
        if folder.is_dir():
            for tmp in folder.glob(f".{name}.*.tmp"):
                tmp.unlink(missing_ok=True)


def _worker_init(threads: int) -> None:
    # llvmpipe starts one render thread per core in every process; with several worker
    # processes that oversubscribes the CPU
    os.environ.setdefault("LP_NUM_THREADS", str(threads))


def _read_marker(m: Path) -> dict | None:
    try:
        data = json.loads(m.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("params"), dict) or not isinstance(data.get("meta"), dict):
        return None
    return data


def scene_problem(root: str | os.PathLike, name: str) -> str | None:
    """Why a scene marked finished is not (an empty or junk sidecar), or ``None``. Reads headers only."""
    import zipfile

    from ...video import VideoError, _probe

    try:
        video = sf.video_path(root, DATASET, name)
        if not video.is_file() or video.stat().st_size == 0:
            return f"its video {video} is missing or empty"
        try:
            if _probe(video)[0] < 1:
                return f"its video {video} has no frames"
        except VideoError:
            return f"its video {video} cannot be decoded"
        for path in (sf.visibility_path(root, DATASET, name), sf.cameras_path(root, DATASET, name)):
            with zipfile.ZipFile(path) as z:  # npz: a zip whose directory is written last
                if not z.namelist():
                    return f"{path} is empty"
        json.loads(sf.floorplan_path(root, DATASET, name).read_text(encoding="utf-8"))
        from PIL import Image

        with Image.open(sf.preview_path(root, DATASET, name)) as im:
            im.verify()
    except (OSError, ValueError, zipfile.BadZipFile, SyntaxError) as e:
        return f"a sidecar is missing or unreadable ({type(e).__name__}: {e})"
    return None


def _finished(root: Path, cfg: SynthConfig) -> set[int]:
    done = set()
    for i in range(cfg.scenes):
        name = scene_name(cfg.seed, i)
        m = marker_path(root, name)
        if not m.exists():
            continue
        data = _read_marker(m)
        if data is None:
            warnings.warn(f"{m} is unreadable (cut short?); making scene {name} again", stacklevel=2)
            m.unlink()
            continue
        params = data["params"]
        if params != cfg.scene_params():
            raise VsgrpoError(f"{root} already holds scene {m.stem} made with other settings ({params}); "
                              "use the same --frames/--size/--fps, another --out, or --overwrite")
        problem = scene_problem(root, name)
        if problem is not None:
            warnings.warn(f"scene {name} was finished but {problem}; making it again", stacklevel=2)
            m.unlink()
            continue
        done.add(i)
    return done


def merge_meta(root: str | os.PathLike) -> int:
    """Rebuild ``meta/synthetic_meta_info.json`` from every finished scene's marker (atomically)."""
    mdir = safe_join(root, sf.META_DIR, MARKER_DIR)
    merged = {}
    for m in sorted(mdir.glob("*.json")) if mdir.is_dir() else []:
        data = _read_marker(m)
        if data is None:  # a scene of another seed whose marker was damaged: left out, rerun its seed to remake it
            warnings.warn(f"{m} is unreadable (cut short?); scene {m.stem} is left out of the meta file", stacklevel=2)
            continue
        merged[m.stem] = data["meta"]
    if merged:
        for name, raw in merged.items():  # refuse to publish anything that would not load strictly
            parse_scene(sf.meta_path(root, DATASET), name, raw, strict=True)
        write_json(sf.meta_path(root, DATASET), merged, indent=None)
    return len(merged)


#: the root's synthetic-scene settings (all seeds), stored before the work (see generate_dataset)
CONFIG_FILE = "synth_config.json"
_FLAGS = {"frames": "--frames", "size": "--size", "fps": "--fps", "ceiling": "ceiling (--no-ceiling)",
          "min_pixels": "min_pixels"}


def root_settings(params: dict) -> dict:
    """The settings every synthetic scene of one data root shares: :meth:`SynthConfig.scene_params`
    without the seed (scenes of other seeds add to a root; their names differ)."""
    return {"frames": params["frames"], "size": f"{params['width']}x{params['height']}", "fps": params["fps"],
            "ceiling": params["ceiling"], "min_pixels": params["min_pixels"]}


def _settings_from_markers(root: Path) -> dict | None:
    """An older root (no ``synth_config.json``): the settings of its first readable marker."""
    mdir = root / sf.META_DIR / MARKER_DIR
    for m in sorted(mdir.glob("*.json")) if mdir.is_dir() else []:
        data = _read_marker(m)
        if data is not None:
            try:
                return root_settings(data["params"])
            except KeyError:
                return None
    return None


def generate_dataset(out: str | os.PathLike, cfg: SynthConfig, *, show_progress: bool = True,
                     overwrite: bool = False) -> list[str]:
    """Make scenes ``0 .. cfg.scenes - 1`` of ``cfg.seed`` under ``out`` (skipping finished ones).

    Returns the names of all ``cfg.scenes`` scenes. The meta file lists every finished scene of
    the data root, including scenes of other seeds made earlier into the same root. The root's
    settings (frames, size, fps, ceiling) are stored in ``out/synth_config.json`` before any
    scene is made; a run with other settings is refused unless ``overwrite``, which first
    deletes every synthetic scene of the root (other datasets' files stay).
    """
    from ...io import check_settings

    cfg.validate()
    with run_lock(out, "data synth") as root:
        remove_stale_temps(root, subdirs=sf.DATA_DIRS)  # left by a killed run; no other writer can own them while we hold the lock
        if overwrite:
            sf.remove_dataset(root, DATASET)
            mdir = root / sf.META_DIR / MARKER_DIR
            if mdir.is_dir():
                shutil.rmtree(mdir)
        check_settings(root / CONFIG_FILE, root_settings(cfg.scene_params()), overwrite=overwrite,
                       old=None if overwrite else _settings_from_markers(root), what="synthetic scenes",
                       flags=_FLAGS)
        return _generate_locked(root, cfg, show_progress)


def _generate_locked(root: Path, cfg: SynthConfig, show_progress: bool) -> list[str]:
    done = _finished(root, cfg)
    todo = [i for i in range(cfg.scenes) if i not in done]
    workers = cfg.workers or min(4, os.cpu_count() or 1)
    workers = max(1, min(workers, len(todo) or 1))
    bar = progress(desc="synth scenes", total=cfg.scenes, unit="scene", initial=len(done)) if show_progress else None
    try:
        if workers == 1:
            for i in todo:
                make_scene(str(root), i, cfg)
                bar is not None and bar.update(1)
        else:
            threads = max(1, (os.cpu_count() or 1) // workers)
            ctx = multiprocessing.get_context("spawn")
            pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init, initargs=(threads,))
            try:
                pending = {pool.submit(make_scene, str(root), i, cfg) for i in todo}
                while pending:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        fut.result()
                        bar is not None and bar.update(1)
            finally:
                # on an error or Ctrl-C, do not start the queued scenes (finished ones are kept)
                pool.shutdown(wait=True, cancel_futures=True)
    finally:
        if bar is not None:
            bar.close()
        merge_meta(root)
    return [scene_name(cfg.seed, i) for i in range(cfg.scenes)]
