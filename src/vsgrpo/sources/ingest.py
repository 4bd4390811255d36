"""``vsgrpo data ingest``: raw scans of one source -> a data root laid out like ``data synth``'s.

Scenes run in parallel (``workers`` processes); a scene whose input is malformed is skipped and
listed in ``OUT/failures.json`` with the file to fix, the others are unaffected. VSI-Bench's
evaluation scenes are skipped unless ``include_eval_scenes`` (the exclusion lives here, where
raw scans enter, so no later step can leak them into training data; the list is
``vsgrpo/data/vsibench_scenes.txt``, extendable with ``eval_scenes_file``).
"""

from __future__ import annotations

import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ..data_configs import IngestConfig
from ..errors import VsgrpoError
from ..io import check_settings, ensure_writable_dir, is_write_error, remove_stale_temps, run_lock, write_json
from ..progress import progress
from ..scene import read_meta_file, write_meta_file
from ..scene_files import DATA_DIRS, meta_path, remove_dataset
from . import get_source
from .errors import IngestError

FAILURES_FILE = "failures.json"
SUMMARY_FILE = "ingest_summary.json"
#: per source, the settings its scenes were ingested with (stored before the work; see run_ingest)
CONFIG_FILE = "ingest_config.json"


@dataclass
class IngestReport:
    written: list[str] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    notes: dict[str, list[str]] = field(default_factory=dict)


def load_eval_scenes(extra: Path | None = None) -> set[str]:
    """VSI-Bench evaluation scenes as ``"dataset/scene"`` (or bare ``"scene"``: any dataset)."""
    text = resources.files("vsgrpo").joinpath("data/vsibench_scenes.txt").read_text(encoding="utf-8")
    if extra is not None:
        try:
            text += "\n" + Path(extra).read_text(encoding="utf-8")
        except OSError as e:
            raise VsgrpoError(f"cannot read eval scene list {extra}: {e.strerror or e}") from None
    return {ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")}


def read_split(path: Path) -> list[str]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise VsgrpoError(f"cannot read split file {path}: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise VsgrpoError(f"split file {path} is not UTF-8 text (byte {e.start}: {e.reason})") from None
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]


def _ingest_one(loader, name: str, out: Path) -> dict:
    """Worker: one scene. Returns ``{"scene", "meta"?, "notes", "error"?, "file"?}``."""
    from .assemble import assemble

    try:
        raw = loader.load(name)
        scene = assemble(raw, out)
        return {"scene": name, "meta": scene.to_meta(), "notes": raw.notes}
    except IngestError as e:
        return {"scene": name, "file": e.file, "error": e.problem}
    except VsgrpoError as e:
        return {"scene": name, "file": None, "error": str(e)}
    except OSError as e:
        if _output_failure(e, out):
            raise  # a full disk or a read-only --out is not a broken scan: stop, every scene would fail
        return {"scene": name, "file": getattr(e, "filename", None), "error": f"{type(e).__name__}: {e}"}
    except Exception as e:  # a bug or an unforeseen format quirk: keep going, keep the evidence
        return {"scene": name, "file": None, "error": f"internal error: {type(e).__name__}: {e}",
                "traceback": traceback.format_exc()}


def _output_failure(e: OSError, out: Path) -> bool:
    """Whether ``e`` is about writing the output (disk full, read-only), not about reading a scan."""
    import errno

    if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS):
        return True
    name = getattr(e, "filename", None)
    return is_write_error(e) and bool(name) and str(Path(name).absolute()).startswith(str(Path(out).absolute()))


def run_ingest(cfg: IngestConfig) -> IngestReport:
    mod = get_source(cfg.source)
    root = Path(cfg.root)
    if not root.is_dir():
        raise VsgrpoError(f"--root {root} is not a directory")
    loader = mod.Loader(root, cfg.labels, cfg.frame_step)  # label tables load once, errors early
    names = list(cfg.scenes) if cfg.scenes else mod.list_scenes(root)
    if not names:
        raise VsgrpoError(f"no {cfg.source} scenes found under {root}; see docs/ingest.md for the expected layout")
    for n in names:
        if not n or "/" in n or "\\" in n or n in (".", ".."):
            raise VsgrpoError(f"invalid scene name {n!r} (one directory name per scene)")
    dataset = mod.SOURCE.name
    report = IngestReport()
    if not cfg.include_eval_scenes:
        evals = load_eval_scenes(cfg.eval_scenes_file)
        report.excluded = [n for n in names if f"{dataset}/{n}" in evals or n in evals]
        names = [n for n in names if n not in set(report.excluded)]
    settings = cfg.settings()
    out = ensure_writable_dir(cfg.out)
    with run_lock(out, f"data ingest --source {cfg.source}"):
        remove_stale_temps(out, subdirs=DATA_DIRS)  # videos and sidecars a killed run left half-written
        if cfg.overwrite:
            remove_dataset(out, dataset)
        check_settings(out / CONFIG_FILE, settings, overwrite=cfg.overwrite, section=cfg.source,
                       what=f"{cfg.source} scenes ingested", flags={"frame_step": "--frame-step",
                                                                     "labels": "--labels (file contents)"})
        return _ingest_locked(cfg, loader, names, dataset, out, report)



def _ingest_locked(cfg: IngestConfig, loader, names: list[str], dataset: str, out: Path,
                   report: IngestReport) -> IngestReport:
    results = []
    bar = progress(total=len(names), desc=f"ingest {cfg.source}", unit="scene")
    if cfg.workers <= 1 or len(names) <= 1:
        for n in names:
            results.append(_ingest_one(loader, n, out))
            bar.update(1)
    else:
        with ProcessPoolExecutor(max_workers=cfg.workers) as pool:
            futs = [pool.submit(_ingest_one, loader, n, out) for n in names]
            for f in as_completed(futs):
                results.append(f.result())
                bar.update(1)
    bar.close()

    order = {n: i for i, n in enumerate(names)}
    results.sort(key=lambda r: order[r["scene"]])
    new_meta = {r["scene"]: r["meta"] for r in results if "meta" in r}
    report.failures = [{k: r[k] for k in ("scene", "file", "error", "traceback") if k in r}
                       for r in results if "meta" not in r]
    report.written = list(new_meta)
    report.notes = {r["scene"]: r["notes"] for r in results if r.get("notes")}
    if new_meta:
        _merge_meta(out, dataset, new_meta)
    write_json(out / FAILURES_FILE, {"source": cfg.source, "failures": report.failures})
    write_json(out / SUMMARY_FILE, {"source": cfg.source, "dataset": dataset, "written": report.written,
                                    "failed": [f["scene"] for f in report.failures],
                                    "excluded_eval_scenes": report.excluded, "notes": report.notes})
    return report


def _merge_meta(out: Path, dataset: str, new_meta: dict[str, dict]) -> None:
    """Add/replace this run's scenes in ``meta/{dataset}_meta_info.json`` (earlier runs' kept)."""
    from ..scene import parse_scene

    path = meta_path(out, dataset)
    scenes = read_meta_file(path, strict=True) if path.exists() else {}
    for name, m in new_meta.items():
        scenes[name] = parse_scene(path, name, m, dataset=dataset, strict=True)
    write_meta_file(scenes.values(), path)
