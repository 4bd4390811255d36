"""The run folder of a training job: what it holds, which checkpoints can be resumed, who may write it.

::

    OUTPUT/
      config.yaml            the resolved config of the run
      metrics.jsonl          one JSON object per logging step ({"step": N, "loss": ..., ...})
      samples.jsonl          GRPO: sampled completions with rewards, per logging step
      runs/                  TensorBoard event files (transformers default layout)
      eval/                  validation while training (vsgrpo.train.validation)
      checkpoint-N/          every save_steps: weights/adapter, optimizer, scheduler, RNG, trainer state
      final/                 the trained model (or LoRA adapter), its processor and README.md (model card)
      finished.json          written after final/: the run is complete
      .vsgrpo.lock           held while a process writes the folder (one writer; see docs/reliability.md)

Policy: a run resumes from the newest intact ``checkpoint-N`` (:func:`last_checkpoint`); the
logs after that step, written by the interrupted run, are dropped so they continue without
duplicates. A run that starts from step 0 (first run, a rerun after a kill before the first
checkpoint, ``--overwrite``) starts with no logs and no evaluations of an earlier model.
Resuming a finished run does nothing; resuming with other settings (beyond RESUMABLE_CHANGES)
is refused. :func:`one_writer` applies this around each ``run_*`` function.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import pickletools
import re
import shutil
import sys
import warnings
import zipfile
from pathlib import Path

from ..errors import VsgrpoError
from ..io import atomic_path, ensure_writable_dir, remove_stale_temps, run_lock
from .config import TrainConfig

METRICS_FILE = "metrics.jsonl"
SAMPLES_FILE = "samples.jsonl"
FINISHED_FILE = "finished.json"  # written after final/ is complete: {"global_step", "max_steps", ...}
CONFIG_FILE = "config.yaml"
EVAL_DIR = "eval"  # validation while training; vsgrpo.train.validation writes it
# Settings a resumed run may change: how long to train and what to log. Any other change would mix
# two experiments in one folder, so it is refused (``--overwrite`` starts over).
RESUMABLE_CHANGES = ("max_steps", "num_train_epochs", "train_questions", "save_steps", "save_total_limit",
                     "logging_steps", "report_to", "dataloader_num_workers", "output_dir", "use_cpu")


def last_checkpoint(output_dir: str | os.PathLike, *, warn: bool = True) -> Path | None:
    """Newest intact ``checkpoint-N`` folder, or ``None``.

    A checkpoint is intact when its ``trainer_state.json`` reads, and none of its weight,
    optimizer or state files is empty, cut short or unreadable (see :func:`checkpoint_problem`).
    Damaged newer checkpoints (a disk that filled up, a copy that stopped half-way) are skipped
    with a warning; training resumes from the newest intact one and writes the later ones again.
    """
    out = Path(output_dir)
    found = []
    for p in out.glob("checkpoint-*") if out.is_dir() else []:
        m = re.fullmatch(r"checkpoint-(\d+)", p.name)
        if m and p.is_dir():
            found.append((int(m.group(1)), p))
    for _, p in sorted(found, reverse=True):
        if not (p / "trainer_state.json").exists():
            continue  # a save killed before its last file: not a checkpoint yet
        problem = checkpoint_problem(p)
        if problem is None:
            return p
        if warn:
            warnings.warn(f"skipping damaged checkpoint {p}: {problem}", stacklevel=2)
    return None


def checkpoint_problem(ckpt: str | os.PathLike) -> str | None:
    """Why ``ckpt`` cannot be resumed from (``None`` when intact).

    Cheap: safetensors headers, zip directories and the pickle stream of each torch.save zip
    (a few KiB; tensor data is never read).
    """
    ckpt = Path(ckpt)
    try:
        state = json.loads((ckpt / "trainer_state.json").read_text(encoding="utf-8"))
        if not isinstance(state, dict) or not isinstance(state.get("global_step"), int):
            return "trainer_state.json has no global_step"
    except (OSError, ValueError):
        return "trainer_state.json is missing or cut short"
    weights = False
    for f in sorted(ckpt.rglob("*")):
        if not f.is_file():
            continue
        name = f.name
        try:
            size = f.stat().st_size
            if size == 0 and name.endswith((".safetensors", ".pt", ".pth", ".bin", ".json")):
                return f"{f.relative_to(ckpt)} is empty"
            if name.endswith(".safetensors"):
                weights = True
                with open(f, "rb") as fh:
                    n = int.from_bytes(fh.read(8), "little")
                    header = json.loads(fh.read(n)) if 0 < n <= size - 8 else None
                if not isinstance(header, dict):
                    return f"{f.relative_to(ckpt)} has no readable header"
                end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
                if 8 + n + end != size:
                    return f"{f.relative_to(ckpt)} is cut short ({size} of {8 + n + end} bytes)"
            elif name.endswith((".pt", ".pth", ".bin")):
                weights = weights or name.startswith(("pytorch_model", "adapter_model"))
                with open(f, "rb") as fh:
                    magic = fh.read(4)
                if magic == b"PK\x03\x04":  # torch.save's zip format: the directory is written last
                    problem = _torch_zip_problem(f)
                    if problem:
                        return f"{f.relative_to(ckpt)} {problem}"
            elif name.endswith(".json"):
                json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError, TypeError, IndexError, zipfile.BadZipFile):
            return f"{f.relative_to(ckpt)} is cut short or unreadable"
    if not weights:
        return "it holds no model or adapter weights"
    return None


def _torch_zip_problem(path: Path) -> str | None:
    """Why a torch.save zip would not unpickle: no ``data.pkl``, a pickle stream that is cut or garbled,
    or a tensor storage it names that is not in the archive. Reads the pickle only, never executes it."""
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        pkl = [n for n in names if n == "data.pkl" or n.endswith("/data.pkl")]
        if len(pkl) != 1:
            return "holds no pickle (data.pkl)"
        prefix = pkl[0][: -len("data.pkl")]
        stream = z.read(pkl[0])  # checks the entry's CRC (BadZipFile when it differs)
    strings: list[str] = []  # the strings pushed so far, memo lookups included
    memo: dict[int, object] = {}
    top: object = None
    stopped = False
    try:
        for op, arg, _ in pickletools.genops(stream):
            if op.name in ("BINPUT", "LONG_BINPUT", "PUT", "MEMOIZE"):
                memo[len(memo) if op.name == "MEMOIZE" else arg] = top
                continue
            top = memo.get(arg) if op.name in ("BINGET", "LONG_BINGET", "GET") else arg
            if isinstance(top, str) and op.name != "GLOBAL":
                strings.append(top)
            elif op.name == "BINPERSID" and len(strings) >= 2:
                # torch's persistent id: ("storage", storage_type, key, location, numel); key precedes location.
                key = strings[-2]
                if f"{prefix}data/{key}" not in names:
                    return f"names tensor storage {key!r} that is not in the archive"
            if op.name == "STOP":
                stopped = True
    except ValueError as e:
        return f"does not unpickle ({e})"
    return None if stopped else "does not unpickle (the pickle stream is cut short)"


def _truncate_jsonl(path: Path, max_step: int) -> None:
    if not path.is_file():
        return
    keep = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            if json.loads(line).get("step", 0) <= max_step:
                keep.append(line)
        except json.JSONDecodeError:
            continue  # a line cut by the crash
    with atomic_path(path) as tmp:
        tmp.write_text("".join(x + "\n" for x in keep), encoding="utf-8")


def checkpoint_step(ckpt: Path) -> int:
    return json.loads((ckpt / "trainer_state.json").read_text(encoding="utf-8"))["global_step"]


def prepare_output(cfg: TrainConfig, resume: bool) -> Path | None:
    """Check and set up ``cfg.output_dir`` for a run; returns the checkpoint to resume from (or ``None``)."""
    import yaml

    out = ensure_writable_dir(cfg.output_dir)
    ckpt = last_checkpoint(out) if resume else None
    if resume and ckpt is None:
        raise VsgrpoError(f"--resume: no intact checkpoint-N folder in {out}; start without --resume")
    if not resume and last_checkpoint(out, warn=False) is not None:
        raise VsgrpoError(f"{out} already holds checkpoints; pass --resume to continue, --overwrite to start over, "
                          "or choose another output_dir")
    if ckpt is not None:
        _check_same_settings(out, cfg)
        step = checkpoint_step(ckpt)
        _truncate_jsonl(out / METRICS_FILE, step)
        _truncate_jsonl(out / SAMPLES_FILE, step)
    else:
        # From step 0: nothing an earlier attempt logged or evaluated belongs to this run (a run killed before
        # its first checkpoint and started again must not keep that attempt's step-0 evaluation).
        for name in (METRICS_FILE, SAMPLES_FILE):
            (out / name).unlink(missing_ok=True)
        shutil.rmtree(out / EVAL_DIR, ignore_errors=True)
    (out / FINISHED_FILE).unlink(missing_ok=True)
    with atomic_path(out / CONFIG_FILE) as tmp:
        tmp.write_text(yaml.safe_dump({"method": cfg.method, **dataclasses.asdict(cfg)}, sort_keys=False))
    return ckpt


def _stored_settings(out: Path) -> dict | None:
    import yaml

    try:
        old = yaml.safe_load((out / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError):
        return None
    return old if isinstance(old, dict) and "method" in old else None


def _check_same_settings(out: Path, cfg: TrainConfig) -> None:
    """A resumed run must be the same experiment: only the RESUMABLE_CHANGES may differ."""
    old = _stored_settings(out)
    if old is None:
        raise VsgrpoError(f"{out} holds checkpoints but its {CONFIG_FILE} is missing or unreadable, so the settings "
                          "they were made with are unknown; pass --overwrite to start over")
    new = {"method": cfg.method, **dataclasses.asdict(cfg)}
    for k, v in new.items():
        if k in RESUMABLE_CHANGES or k not in old:  # keys added by a newer vsgrpo: nothing to compare
            continue
        if old[k] != v:
            raise VsgrpoError(f"{out} holds a run with {k}={old[k]!r}, not {v!r}; resume with the same settings "
                              f"(only {', '.join(RESUMABLE_CHANGES[:6])} may change), pass --overwrite to start "
                              "over, or choose another output_dir")


def _start_over(out: Path) -> None:
    """``--overwrite``: remove everything an earlier run wrote into ``out``."""
    for p in out.glob("checkpoint-*"):
        shutil.rmtree(p, ignore_errors=True)
    for name in ("final", "runs", EVAL_DIR):
        shutil.rmtree(out / name, ignore_errors=True)
    for name in (METRICS_FILE, SAMPLES_FILE, FINISHED_FILE):
        (out / name).unlink(missing_ok=True)


def _already_finished(out: Path, cfg: TrainConfig) -> int | None:
    """The final step of a finished run in ``out`` that ``cfg`` asks for no more of, else ``None``."""
    try:
        done = json.loads((out / FINISHED_FILE).read_text(encoding="utf-8"))
        step = int(done["global_step"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not (out / "final").is_dir():
        return None
    if cfg.max_steps > 0 or cfg.train_questions > 0:
        from .budget import max_steps

        limit = max_steps(cfg, int(os.environ.get("WORLD_SIZE", "1") or 1))
        return step if step >= limit else None
    same_length = done.get("max_steps", -1) <= 0 and cfg.num_train_epochs <= done.get("num_train_epochs", 0)
    return step if same_length else None


def _is_main_rank() -> bool:
    return int(os.environ.get("RANK", "0") or 0) == 0


def one_writer(fn):
    """Decorate a ``run_*(cfg, *, resume, ...)``: validate once, hold the output folder's lock, handle
    ``overwrite`` and finished runs. The decorated function may assume a valid ``cfg``."""

    @functools.wraps(fn)
    def wrapper(cfg: TrainConfig, *, resume: bool = False, overwrite: bool = False, **kwargs) -> Path:
        if resume and overwrite:
            raise VsgrpoError("--resume continues a run and --overwrite starts it over: pass one of them")
        cfg.validate()
        out = Path(cfg.output_dir)
        if not _is_main_rank():  # the main process holds the lock for all of them
            if overwrite:
                _start_over(ensure_writable_dir(out))
            if resume and _already_finished(out, cfg) is not None:
                return out
            return fn(cfg, resume=resume, **kwargs)
        with run_lock(out, f"train {cfg.method}"):
            remove_stale_temps(out, recursive=False)
            if overwrite:
                _start_over(out)
            if resume:
                step = _already_finished(out, cfg)
                if step is not None:
                    _check_same_settings(out, cfg)
                    print(f"vsgrpo: {out} already finished training at step {step}; nothing to do "
                          "(raise max_steps to train further)", file=sys.stderr)
                    return out
            return fn(cfg, resume=resume, **kwargs)

    return wrapper


def raise_if_output_full(out: Path, error: BaseException) -> None:
    """torch.save and safetensors report a full disk as a RuntimeError: find out, and say it as an OSError.

    A 1 MiB probe file in the output folder fails the same way (ENOSPC, EDQUOT, EFBIG) when
    the disk is full; then that OSError is raised, which the CLI prints as one line.
    """
    from ..io import is_write_error

    if isinstance(error, OSError) and is_write_error(error):
        return
    probe = out / f".vsgrpo-space-probe.{os.getpid()}.tmp"
    try:
        with open(probe, "wb") as f:
            f.write(b"\0" * (1 << 20))
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        if is_write_error(e):
            raise e from error
    finally:
        probe.unlink(missing_ok=True)
