"""Run a training job from a config: ``run_grpo(cfg)``, ``run_sft(cfg)``, ``run_dpo(cfg)``.

Each returns the run folder, which holds::

    OUTPUT/
      config.yaml            the resolved config of the run
      metrics.jsonl          one JSON object per logging step ({"step": N, "loss": ..., ...})
      samples.jsonl          GRPO: sampled completions with rewards, per logging step
      runs/                  TensorBoard event files (transformers default layout)
      checkpoint-N/          every save_steps: weights/adapter, optimizer, scheduler, RNG, trainer state
      final/                 the trained model (or LoRA adapter) and its processor
      finished.json          written after final/: the run is complete
      .vsgrpo.lock           held while a process writes the folder (one writer; see docs/reliability.md)

``resume=True`` continues from the newest intact ``checkpoint-N`` (optimizer, scheduler, RNG and
data position restored by the transformers Trainer; damaged newer checkpoints are skipped with a
warning); metrics.jsonl lines after that step, written by the interrupted run, are dropped so the
log continues without duplicates. Resuming a finished run does nothing; resuming with other
settings (beyond RESUMABLE_CHANGES) is refused; ``overwrite=True`` starts over.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import random
import re
import shutil
import sys
import warnings
import zipfile
from pathlib import Path

from ..errors import VsgrpoError
from ..io import atomic_path, ensure_writable_dir, remove_stale_temps, run_lock, write_json
from .config import DPOConfig, GRPOConfig, SFTConfig, TrainConfig

METRICS_FILE = "metrics.jsonl"
SAMPLES_FILE = "samples.jsonl"
FINISHED_FILE = "finished.json"  # written after final/ is complete: {"global_step", "max_steps", ...}
CONFIG_FILE = "config.yaml"
# Settings a resumed run may change: how long to train and what to log. Any other change would mix
# two experiments in one folder, so it is refused (``--overwrite`` starts over).
RESUMABLE_CHANGES = ("max_steps", "num_train_epochs", "save_steps", "save_total_limit", "logging_steps", "report_to",
                     "dataloader_num_workers", "output_dir", "use_cpu")


def last_checkpoint(output_dir: str | os.PathLike, *, warn: bool = True) -> Path | None:
    """Newest intact ``checkpoint-N`` folder, or ``None``.

    A checkpoint is intact when its ``trainer_state.json`` reads, and none of its weight,
    optimizer or state files is empty or cut short (see :func:`checkpoint_problem`). Damaged
    newer checkpoints (a disk that filled up, a copy that stopped half-way) are skipped with a
    warning; training resumes from the newest intact one and writes the later ones again.
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
            warnings.warn(f"skipping damaged checkpoint {p}: {problem}")
    return None


def checkpoint_problem(ckpt: str | os.PathLike) -> str | None:
    """Why ``ckpt`` cannot be resumed from (``None`` when intact). Cheap: headers and zip directories only."""
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
                    with zipfile.ZipFile(f) as z:
                        z.namelist()
            elif name.endswith(".json"):
                json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError, TypeError, IndexError, zipfile.BadZipFile):
            return f"{f.relative_to(ckpt)} is cut short or unreadable"
    if not weights:
        return "it holds no model or adapter weights"
    return None


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


def _callbacks(cfg: TrainConfig):
    from transformers import TrainerCallback

    class JsonlLogger(TrainerCallback):
        """Append each log event to OUTPUT/metrics.jsonl (main process only)."""

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not state.is_world_process_zero or not logs:
                return
            row = {"step": state.global_step, "epoch": state.epoch, **logs}
            with open(Path(args.output_dir) / METRICS_FILE, "a", encoding="utf-8") as f:
                f.write(json.dumps(row, default=float) + "\n")

    return [JsonlLogger()] if "jsonl" in cfg.report_to else []


def _report_to(cfg: TrainConfig) -> list[str]:
    out = [r for r in cfg.report_to if r in ("tensorboard", "wandb")]
    if "wandb" in out:
        import importlib.util

        if importlib.util.find_spec("wandb") is None:
            raise VsgrpoError("report_to wandb needs the wandb package: pip install 'vsgrpo[wandb]'")
    return out or ["none"]


def _common_args(cfg: TrainConfig) -> dict:
    import torch

    # Without CUDA, run on CPU explicitly: accelerate then sets up gloo when launched with several processes.
    use_cpu = cfg.use_cpu or not torch.cuda.is_available()
    return dict(
        output_dir=cfg.output_dir, report_to=_report_to(cfg),
        learning_rate=cfg.learning_rate, lr_scheduler_type=cfg.lr_scheduler_type, warmup_steps=cfg.warmup_steps,
        weight_decay=cfg.weight_decay, max_grad_norm=cfg.max_grad_norm, num_train_epochs=cfg.num_train_epochs,
        max_steps=cfg.max_steps, per_device_train_batch_size=cfg.per_device_train_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps, save_strategy="steps",
        save_steps=cfg.save_steps, save_total_limit=cfg.save_total_limit or None, logging_steps=cfg.logging_steps,
        seed=cfg.seed, data_seed=cfg.seed, bf16=cfg.bf16, gradient_checkpointing=cfg.gradient_checkpointing,
        dataloader_num_workers=cfg.dataloader_num_workers, use_cpu=use_cpu, remove_unused_columns=False,
        disable_tqdm=os.environ.get("VSGRPO_PROGRESS") == "0",
    )


def _model(cfg: TrainConfig):
    from ..models.loading import load_model_and_processor

    model, processor = load_model_and_processor(cfg.model, dtype=cfg.dtype, min_pixels=cfg.min_pixels or None,
                                                max_pixels=cfg.max_pixels or None)
    peft_config = None
    if cfg.lora:
        from peft import LoraConfig

        names = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
        targets = [t for t in cfg.lora_target_modules if t in names]
        if not targets:
            raise VsgrpoError(f"lora_target_modules {cfg.lora_target_modules} match no module of {cfg.model}")
        # The family restricts them to the language model: the vision tower shares names such as "q_proj".
        peft_config = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                                 target_modules=_family(model).lora_target_regex(targets), task_type="CAUSAL_LM")
    return model, processor, peft_config


def _family(model):
    """The model's family adapter (LoRA targets, tokens to suppress, video inputs)."""
    from ..models.families import family_of

    return family_of(model)


def _prepare_output(cfg: TrainConfig, resume: bool) -> Path | None:
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
        step = json.loads((ckpt / "trainer_state.json").read_text())["global_step"]
        _truncate_jsonl(out / METRICS_FILE, step)
        _truncate_jsonl(out / SAMPLES_FILE, step)
    else:
        for name in (METRICS_FILE, SAMPLES_FILE):
            (out / name).unlink(missing_ok=True)
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
    for name in ("final", "runs"):
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
    if cfg.max_steps > 0:
        return step if step >= cfg.max_steps else None
    same_length = done.get("max_steps", -1) <= 0 and cfg.num_train_epochs <= done.get("num_train_epochs", 0)
    return step if same_length else None


def _is_main_rank() -> bool:
    return int(os.environ.get("RANK", "0") or 0) == 0


def _one_writer(fn):
    """Wrap a ``run_*``: validate, hold the output folder's lock, handle ``overwrite`` and finished runs."""

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


def _compact_progress(trainer) -> None:
    """Show the key metrics on the progress bar instead of printing every log dict.

    Full logs still go to metrics.jsonl and TensorBoard; a dict per step on stdout buries the bar.
    """
    from transformers.trainer_callback import ProgressCallback

    class CompactProgress(ProgressCallback):
        KEYS = ("loss", "reward", "kl")

        def on_log(self, args, state, control, logs=None, **kwargs):
            if state.is_world_process_zero and self.training_bar is not None and logs:
                self.training_bar.set_postfix({k: f"{logs[k]:.4g}" for k in self.KEYS
                                               if isinstance(logs.get(k), (int, float))}, refresh=False)

    if any(isinstance(cb, ProgressCallback) for cb in trainer.callback_handler.callbacks):
        trainer.remove_callback(ProgressCallback)
        trainer.add_callback(CompactProgress)


def _finish(trainer, processor, cfg: TrainConfig, ckpt) -> Path:
    try:
        return _train_and_save(trainer, processor, cfg, ckpt)
    except (RuntimeError, OSError) as e:
        _raise_if_output_full(Path(cfg.output_dir), e)
        raise


def _raise_if_output_full(out: Path, error: BaseException) -> None:
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


def _train_and_save(trainer, processor, cfg: TrainConfig, ckpt) -> Path:
    _compact_progress(trainer)
    out = Path(cfg.output_dir)
    step = json.loads((ckpt / "trainer_state.json").read_text())["global_step"] if ckpt else 0
    if ckpt and 0 < cfg.max_steps <= step:
        # The run was killed after its last checkpoint but before final/: nothing is left to train
        # (Trainer.train would take one step more), so final/ is written from that checkpoint.
        trainer._load_from_checkpoint(str(ckpt))
        trainer.state.global_step = step
    else:
        trainer.train(resume_from_checkpoint=str(ckpt) if ckpt else None)
    final = out / "final"
    trainer.save_model(str(final))
    if trainer.accelerator.is_main_process:
        processor.save_pretrained(str(final))
        write_json(out / FINISHED_FILE, {"global_step": trainer.state.global_step, "max_steps": cfg.max_steps,
                                         "num_train_epochs": cfg.num_train_epochs})
    return out


def _rows(cfg: TrainConfig):
    from .data import load_rows

    return load_rows(cfg.data, cfg.video_root or None, mode=cfg.mode, question_types=cfg.question_types,
                     max_samples=cfg.max_samples, seed=cfg.seed, skip_invalid=cfg.skip_invalid_rows)


# TRL 1.16 GRPO settings the paper's objective (DeepSeekMath GRPO) fixes, set explicitly so a TRL upgrade that
# changes a default cannot change the objective silently. Values a recipe controls come from GRPOConfig.
PAPER_TRL_FIXED = dict(
    importance_sampling_level="token", epsilon_high=None, delta=None,
    multi_objective_aggregation="sum_then_normalize", top_entropy_quantile=1.0, entropy_coef=0.0,
    use_adaptive_entropy=False, sync_ref_model=False, off_policy_mask_threshold=None, top_k=0, min_p=None,
    repetition_penalty=1.0, cast_lm_head_to_fp32=False, shuffle_dataset=True,
)


def grpo_args(cfg: GRPOConfig, weights: list[float]):
    """TRL's ``GRPOConfig`` for a run (no model needed; created before the model so ZeRO-3 partitions at load).

    ``generation_kwargs`` gets the family's vision tokens to suppress once the processor is known.
    """
    import dataclasses as dc

    import trl

    kwargs = dict(
        **_common_args(cfg), beta=cfg.beta, use_bias_correction_kl=cfg.use_bias_correction_kl,
        disable_dropout=cfg.disable_dropout, loss_type=cfg.loss_type, num_generations=cfg.num_generations,
        temperature=cfg.temperature, top_p=cfg.top_p, max_completion_length=cfg.max_completion_length,
        epsilon=cfg.epsilon, num_iterations=cfg.num_iterations, scale_rewards=cfg.scale_rewards,
        mask_truncated_completions=cfg.mask_truncated_completions, **PAPER_TRL_FIXED,
        reward_weights=list(weights), log_completions=False, use_vllm=False,  # samples: our SampleLogger
        generation_kwargs={},
        # use_vllm: our video rollout engine is attached after the trainer exists (vsgrpo.train.vllm_rollout);
        # TRL's importance-sampling correction then applies to it unchanged.
        vllm_importance_sampling_correction=cfg.vllm_importance_sampling_correction,
        vllm_importance_sampling_mode=cfg.vllm_importance_sampling_mode,
    )
    known = {f.name for f in dc.fields(trl.GRPOConfig)}
    bad = sorted(set(cfg.trl_args) - known)
    if bad:
        raise VsgrpoError(f"trl_args: {', '.join(bad)} not a field of trl.GRPOConfig {trl.__version__}")
    kwargs.update(cfg.trl_args)
    try:
        return trl.GRPOConfig(**kwargs)
    except ValueError as e:
        raise VsgrpoError(f"TRL rejects this configuration: {e}") from None


def _jsonable(value):
    import enum

    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and value != value:
        return "nan"
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def dry_run(cfg: TrainConfig) -> dict:
    """The fully resolved configuration of a run, without loading a model or reading the data.

    ``{"method", "vsgrpo": our config, "rewards", "trl": TRL's config (every field),
    "trl_changed": the TRL fields whose value differs from TRL's own default (with that default),
    "paper": GRPO settings the paper states vs this run, "missing_paths"}``.
    """
    import dataclasses as dc

    out: dict = {"method": cfg.method, "vsgrpo": _jsonable(dc.asdict(cfg))}
    if isinstance(cfg, GRPOConfig):
        import trl

        from ..presets import paper_check
        from .reward_config import describe, resolve_rewards

        funcs, weights = resolve_rewards(cfg)
        out["rewards"] = describe(funcs, weights)
        args = grpo_args(cfg, weights)
        args.generation_kwargs = {"suppress_tokens": "<the model family's vision placeholder token ids>"}
        defaults = {f.name: f.default for f in dc.fields(trl.GRPOConfig)
                    if f.default is not dc.MISSING}
        defaults.update({f.name: f.default_factory() for f in dc.fields(trl.GRPOConfig)
                         if f.default_factory is not dc.MISSING})
        out["paper"] = paper_check(cfg)
    elif cfg.method == "sft":
        import trl

        args = trl.SFTConfig(**_common_args(cfg), dataset_kwargs={"skip_prepare_dataset": True}, max_length=None)
        defaults = {f.name: f.default for f in dc.fields(trl.SFTConfig) if f.default is not dc.MISSING}
    else:
        import trl

        args = trl.DPOConfig(**_common_args(cfg), beta=cfg.beta, loss_type=[cfg.dpo_loss], max_length=None)
        defaults = {f.name: f.default for f in dc.fields(trl.DPOConfig) if f.default is not dc.MISSING}
    trl_values = {f.name: _jsonable(getattr(args, f.name)) for f in dc.fields(args) if f.init}
    out["trl"] = trl_values
    out["trl_changed"] = {k: {"value": v, "trl_default": _jsonable(defaults[k])} for k, v in trl_values.items()
                          if k in defaults and _jsonable(defaults[k]) != v}
    out["missing_paths"] = cfg.missing_paths()
    return out


def run_grpo(cfg: GRPOConfig, *, resume: bool = False, callbacks: list | None = None,
             extra_rewards: list | None = None) -> Path:
    """Train with vsGRPO; returns the run folder (see the module doc for its contents).

    ``extra_rewards``: more TRL-style reward functions, added with weight 1 to the recipe's.
    Order: config and data are checked (every unscorable row reported) before anything is
    written; TRL's arguments exist before the model is loaded (DeepSpeed ZeRO-3 then
    partitions the weights at load instead of every rank holding the full model).
    """
    cfg.validate()
    from .reward_config import resolve_rewards

    funcs, weights = resolve_rewards(cfg)
    funcs, weights = funcs + list(extra_rewards or []), weights + [1.0] * len(extra_rewards or [])
    rows = _rows(cfg)
    ckpt = _prepare_output(cfg, resume)  # before heavy imports: user mistakes fail fast

    from .data import to_dataset
    from .grpo import VideoGRPOTrainer
    from .samples import SampleLogger

    args = grpo_args(cfg, weights)  # before the model (ZeRO-3 init)
    model, processor, peft_config = _model(cfg)
    family = _family(model)
    args.generation_kwargs = {**(args.generation_kwargs or {}),
                              "suppress_tokens": family.suppress_token_ids(processor)}
    samples = SampleLogger()
    trainer = VideoGRPOTrainer(model=model, reward_funcs=funcs, args=args, train_dataset=to_dataset(rows),
                               processing_class=processor, peft_config=peft_config,
                               callbacks=_callbacks(cfg) + ([samples] if cfg.log_completions else [])
                               + list(callbacks or []),
                               video_loader=_video_loader(cfg), family=family,
                               drop_zero_std_groups=cfg.drop_zero_std_groups,
                               share_video_work=cfg.share_video_work)
    samples.trainer = trainer
    if cfg.use_vllm:
        from .vllm_rollout import attach_vllm

        attach_vllm(trainer, cfg)
    _add_validation(trainer, processor, cfg)
    return _finish(trainer, processor, cfg, ckpt)


def _video_loader(cfg: TrainConfig):
    from .data import VideoLoader

    return VideoLoader(cfg.num_frames, cache_bytes=cfg.video_cache_mb * 2**20)


def _add_validation(trainer, processor, cfg: TrainConfig) -> None:
    """Evaluate the policy on ``eval_questions`` while training (:mod:`vsgrpo.train.validation`)."""
    if not cfg.eval_questions:
        return
    from .validation import ValidationCallback

    trainer.add_callback(ValidationCallback.from_config(cfg, trainer, processor))


def run_sft(cfg: SFTConfig, *, resume: bool = False, callbacks: list | None = None) -> Path:
    """Supervised fine-tuning on (question + video -> answer); returns the run folder."""
    import trl

    from .collators import VideoSFTCollator
    from .data import answer_text, to_dataset
    from .sft import VideoSFTTrainer

    cfg.validate()
    if cfg.mode != "vanilla":
        raise VsgrpoError("SFT supervises answers only (no reasoning traces exist); use mode=vanilla")
    rows = [{**r, "answer": answer_text(r)} for r in _rows(cfg)]
    ckpt = _prepare_output(cfg, resume)
    args = trl.SFTConfig(**_common_args(cfg), dataset_kwargs={"skip_prepare_dataset": True}, max_length=None)
    model, processor, peft_config = _model(cfg)  # after the TRL args (ZeRO-3 init)
    trainer = VideoSFTTrainer(model=model, args=args, train_dataset=to_dataset(rows), processing_class=processor,
                              data_collator=VideoSFTCollator(processor, _video_loader(cfg), _family(model)),
                              peft_config=peft_config, callbacks=_callbacks(cfg) + list(callbacks or []))
    _add_validation(trainer, processor, cfg)
    return _finish(trainer, processor, cfg, ckpt)


def dpo_rows(rows: list[dict], *, seed: int = 0, na_factor: float = 2.0) -> list[dict]:
    """Rows with ``chosen`` (the correct answer) and ``rejected`` (:func:`~vsgrpo.train.data.wrong_answer`).

    Rows without a possible wrong answer (a multiple-choice question whose candidates cannot be
    recovered) are dropped.
    """
    from .data import answer_text, wrong_answer

    rng = random.Random(seed)
    out = []
    for r in rows:
        bad = wrong_answer(r, rng, na_factor=na_factor)
        if bad is not None:
            out.append({**r, "chosen": answer_text(r), "rejected": bad})
    return out


def run_dpo(cfg: DPOConfig, *, resume: bool = False, callbacks: list | None = None) -> Path:
    """DPO with chosen = correct answer, rejected = the answer changed to a wrong one; returns the run folder."""
    import trl

    from .collators import VideoDPOCollator
    from .data import to_dataset
    from .sft import VideoDPOTrainer

    cfg.validate()
    if cfg.mode != "vanilla":
        raise VsgrpoError("DPO compares answers only (no reasoning traces exist); use mode=vanilla")
    rows = dpo_rows(_rows(cfg), seed=cfg.seed, na_factor=cfg.na_wrong_factor)
    if not rows:
        raise VsgrpoError("no DPO pairs could be built from the data")
    ckpt = _prepare_output(cfg, resume)
    args = trl.DPOConfig(**_common_args(cfg), beta=cfg.beta, loss_type=[cfg.dpo_loss], max_length=None)
    model, processor, peft_config = _model(cfg)  # after the TRL args (ZeRO-3 init)
    trainer = VideoDPOTrainer(model=model, args=args, train_dataset=to_dataset(rows), processing_class=processor,
                              data_collator=VideoDPOCollator(processor, _video_loader(cfg), _family(model)),
                              peft_config=peft_config, callbacks=_callbacks(cfg) + list(callbacks or []))
    _add_validation(trainer, processor, cfg)
    return _finish(trainer, processor, cfg, ckpt)


# One writer per run folder (a lock), --overwrite, and "resume of a finished run does nothing".
run_grpo, run_sft, run_dpo = _one_writer(run_grpo), _one_writer(run_sft), _one_writer(run_dpo)
RUNNERS = {"grpo": run_grpo, "sft": run_sft, "dpo": run_dpo}


def run(cfg: TrainConfig, *, resume: bool = False, overwrite: bool = False) -> Path:
    """Dispatch on ``cfg.method``. ``overwrite``: delete what an earlier run wrote to ``output_dir`` first."""
    return RUNNERS[cfg.method](cfg, resume=resume, overwrite=overwrite)
