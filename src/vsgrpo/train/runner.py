"""Run a training job from a config: ``run_grpo(cfg)``, ``run_sft(cfg)``, ``run_dpo(cfg)``.

Each returns the run folder, which holds::

    OUTPUT/
      config.yaml            the resolved config of the run
      metrics.jsonl          one JSON object per logging step ({"step": N, "loss": ..., ...})
      samples.jsonl          GRPO: sampled completions with rewards, per logging step
      runs/                  TensorBoard event files (transformers default layout)
      checkpoint-N/          every save_steps: weights/adapter, optimizer, scheduler, RNG, trainer state
      final/                 the trained model (or LoRA adapter) and its processor

``resume=True`` continues from the newest ``checkpoint-N`` (optimizer, scheduler, RNG and data
position restored by the transformers Trainer); metrics.jsonl lines after that step, written by
the interrupted run, are dropped so the log continues without duplicates.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import re
from pathlib import Path

from ..errors import VsgrpoError
from ..io import atomic_path, ensure_writable_dir
from .config import DPOConfig, GRPOConfig, SFTConfig, TrainConfig

METRICS_FILE = "metrics.jsonl"
SAMPLES_FILE = "samples.jsonl"


def last_checkpoint(output_dir: str | os.PathLike) -> Path | None:
    """Newest complete ``checkpoint-N`` folder (one with ``trainer_state.json``), or ``None``."""
    out = Path(output_dir)
    best = None
    for p in out.glob("checkpoint-*") if out.is_dir() else []:
        m = re.fullmatch(r"checkpoint-(\d+)", p.name)
        if m and (p / "trainer_state.json").is_file() and (best is None or int(m.group(1)) > best[0]):
            best = (int(m.group(1)), p)
    return best[1] if best else None


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
        # Restrict to the language model: the vision tower shares names such as "qkv"/"proj".
        peft_config = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                                 target_modules=rf".*language_model.*\.({'|'.join(targets)})", task_type="CAUSAL_LM")
    return model, processor, peft_config


def _prepare_output(cfg: TrainConfig, resume: bool) -> Path | None:
    import yaml

    out = ensure_writable_dir(cfg.output_dir)
    ckpt = last_checkpoint(out) if resume else None
    if resume and ckpt is None:
        raise VsgrpoError(f"--resume: no checkpoint-N folder in {out}; start without --resume")
    if not resume and last_checkpoint(out) is not None:
        raise VsgrpoError(f"{out} already holds checkpoints; pass --resume to continue or choose another output_dir")
    if ckpt is not None:
        step = json.loads((ckpt / "trainer_state.json").read_text())["global_step"]
        _truncate_jsonl(out / METRICS_FILE, step)
        _truncate_jsonl(out / SAMPLES_FILE, step)
    else:
        for name in (METRICS_FILE, SAMPLES_FILE):
            (out / name).unlink(missing_ok=True)
    with atomic_path(out / "config.yaml") as tmp:
        tmp.write_text(yaml.safe_dump({"method": cfg.method, **dataclasses.asdict(cfg)}, sort_keys=False))
    return ckpt


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
    _compact_progress(trainer)
    trainer.train(resume_from_checkpoint=str(ckpt) if ckpt else None)
    final = Path(cfg.output_dir) / "final"
    trainer.save_model(str(final))
    if trainer.accelerator.is_main_process:
        processor.save_pretrained(str(final))
    return Path(cfg.output_dir)


def _rows(cfg: TrainConfig):
    from .data import load_rows

    return load_rows(cfg.data, cfg.video_root or None, mode=cfg.mode, question_types=cfg.question_types,
                     max_samples=cfg.max_samples, seed=cfg.seed)


def run_grpo(cfg: GRPOConfig, *, resume: bool = False, callbacks: list | None = None,
             extra_rewards: list | None = None) -> Path:
    """Train with vsGRPO; returns the run folder (see the module doc for its contents).

    ``extra_rewards``: more TRL-style reward functions, added with weight 1 to the recipe's.
    """
    cfg.validate()
    ckpt = _prepare_output(cfg, resume)  # before heavy imports: user mistakes fail fast

    import trl

    from ..models.inputs import vision_token_ids
    from ..rewards import default_rewards
    from .data import VideoLoader, to_dataset
    from .grpo import VideoGRPOTrainer
    from .samples import SampleLogger

    model, processor, peft_config = _model(cfg)
    funcs, weights = default_rewards(cfg.mode, na_shape=cfg.na_shape, na_tolerance=cfg.na_tolerance,
                                     parser=cfg.answer_parser, allow_empty_reasoning=cfg.allow_empty_reasoning,
                                     format_weight=cfg.format_weight)
    funcs, weights = funcs + list(extra_rewards or []), weights + [1.0] * len(extra_rewards or [])
    args = trl.GRPOConfig(
        **_common_args(cfg), beta=cfg.beta, loss_type=cfg.loss_type, num_generations=cfg.num_generations,
        temperature=cfg.temperature, top_p=cfg.top_p, max_completion_length=cfg.max_completion_length,
        epsilon=cfg.epsilon, num_iterations=cfg.num_iterations, scale_rewards=cfg.scale_rewards,
        reward_weights=weights, log_completions=False, use_vllm=False,  # samples: our SampleLogger
        generation_kwargs={"suppress_tokens": vision_token_ids(processor)},
    )
    samples = SampleLogger()
    trainer = VideoGRPOTrainer(model=model, reward_funcs=funcs, args=args, train_dataset=to_dataset(_rows(cfg)),
                               processing_class=processor, peft_config=peft_config,
                               callbacks=_callbacks(cfg) + ([samples] if cfg.log_completions else [])
                               + list(callbacks or []),
                               video_loader=VideoLoader(cfg.num_frames))
    samples.trainer = trainer
    return _finish(trainer, processor, cfg, ckpt)


def run_sft(cfg: SFTConfig, *, resume: bool = False, callbacks: list | None = None) -> Path:
    """Supervised fine-tuning on (question + video -> answer); returns the run folder."""
    import trl

    from .collators import VideoSFTCollator
    from .data import VideoLoader, answer_text, to_dataset
    from .sft import VideoSFTTrainer

    cfg.validate()
    if cfg.mode != "vanilla":
        raise VsgrpoError("SFT supervises answers only (no reasoning traces exist); use mode=vanilla")
    ckpt = _prepare_output(cfg, resume)
    model, processor, peft_config = _model(cfg)
    rows = [{**r, "answer": answer_text(r)} for r in _rows(cfg)]
    args = trl.SFTConfig(**_common_args(cfg), dataset_kwargs={"skip_prepare_dataset": True}, max_length=None)
    trainer = VideoSFTTrainer(model=model, args=args, train_dataset=to_dataset(rows), processing_class=processor,
                              data_collator=VideoSFTCollator(processor, VideoLoader(cfg.num_frames)),
                              peft_config=peft_config, callbacks=_callbacks(cfg) + list(callbacks or []))
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
    from .data import VideoLoader, to_dataset
    from .sft import VideoDPOTrainer

    cfg.validate()
    if cfg.mode != "vanilla":
        raise VsgrpoError("DPO compares answers only (no reasoning traces exist); use mode=vanilla")
    ckpt = _prepare_output(cfg, resume)
    model, processor, peft_config = _model(cfg)
    rows = dpo_rows(_rows(cfg), seed=cfg.seed, na_factor=cfg.na_wrong_factor)
    if not rows:
        raise VsgrpoError("no DPO pairs could be built from the data")
    args = trl.DPOConfig(**_common_args(cfg), beta=cfg.beta, loss_type=[cfg.dpo_loss], max_length=None)
    trainer = VideoDPOTrainer(model=model, args=args, train_dataset=to_dataset(rows), processing_class=processor,
                              data_collator=VideoDPOCollator(processor, VideoLoader(cfg.num_frames)),
                              peft_config=peft_config, callbacks=_callbacks(cfg) + list(callbacks or []))
    return _finish(trainer, processor, cfg, ckpt)


RUNNERS = {"grpo": run_grpo, "sft": run_sft, "dpo": run_dpo}


def run(cfg: TrainConfig, *, resume: bool = False) -> Path:
    """Dispatch on ``cfg.method``."""
    return RUNNERS[cfg.method](cfg, resume=resume)
