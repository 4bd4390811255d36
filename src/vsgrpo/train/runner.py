"""Run a training job from a config: ``run_grpo(cfg)``, ``run_sft(cfg)``, ``run_dpo(cfg)``, ``run(cfg)``.

Each returns the run folder (layout and resume policy: :mod:`vsgrpo.train.run_folder`; TRL's
arguments: :mod:`vsgrpo.train.trl_args`). ``resume=True`` continues from the newest intact
``checkpoint-N`` (optimizer, scheduler, RNG and data position restored by the transformers
Trainer); ``overwrite=True`` starts over. Each ``run_*`` is decorated with
:func:`~vsgrpo.train.run_folder.one_writer`, which validates the config once and holds the
folder's lock.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from ..errors import VsgrpoError
from ..io import write_json
from .config import DPOConfig, GRPOConfig, SFTConfig, TrainConfig
from .run_folder import (
    FINISHED_FILE,
    METRICS_FILE,
    checkpoint_step,
    last_checkpoint,
    one_writer,
    prepare_output,
    raise_if_output_full,
)
from .trl_args import dpo_args, dry_run, grpo_args, sft_args

__all__ = ["run", "run_grpo", "run_sft", "run_dpo", "dpo_rows", "dry_run", "grpo_args", "last_checkpoint", "RUNNERS"]


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


def _compact_progress(trainer) -> None:
    """Show training like all long work (vsgrpo.progress: a bar in a terminal, periodic lines in a log),
    with the key metrics beside it, instead of printing every log dict.

    Full logs still go to metrics.jsonl and TensorBoard; a dict per step on stdout buries the bar.
    """
    from ..progress import use_for_trainer

    use_for_trainer(trainer)


def _finish(trainer, processor, cfg: TrainConfig, ckpt) -> Path:
    try:
        return _train_and_save(trainer, processor, cfg, ckpt)
    except (RuntimeError, OSError) as e:
        raise_if_output_full(Path(cfg.output_dir), e)
        raise


def _train_and_save(trainer, processor, cfg: TrainConfig, ckpt) -> Path:
    from .model_card import write_model_card

    _compact_progress(trainer)
    out = Path(cfg.output_dir)
    step = checkpoint_step(ckpt) if ckpt else 0
    if ckpt and 0 < trainer.args.max_steps <= step:
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
        write_model_card(final, cfg, run_dir=out, global_step=trainer.state.global_step, processor=processor)
        write_json(out / FINISHED_FILE, {"global_step": trainer.state.global_step, "max_steps": cfg.max_steps,
                                         "num_train_epochs": cfg.num_train_epochs,
                                         "train_questions": cfg.train_questions})
    return out


def _rows(cfg: TrainConfig):
    from .data import load_rows

    return load_rows(cfg.data, cfg.video_root or None, mode=cfg.mode, question_types=cfg.question_types,
                     max_samples=cfg.max_samples, seed=cfg.seed, skip_invalid=cfg.skip_invalid_rows)


_LOADERS: dict[tuple[int, int], object] = {}


def _video_loader(cfg: TrainConfig):
    """One loader per frame count and cache size in a process: runs one after another in one process (the
    quickstart's warm-up, SFT and GRPO) decode each video once. Its cache keys include the file's size and
    modification time, so a rewritten video is decoded again."""
    from .data import VideoLoader

    key = (cfg.num_frames, cfg.video_cache_mb)
    if key not in _LOADERS:
        _LOADERS[key] = VideoLoader(cfg.num_frames, cache_bytes=cfg.video_cache_mb * 2**20)
    return _LOADERS[key]


def _add_validation(trainer, processor, cfg: TrainConfig) -> None:
    """Evaluate the policy on ``eval_questions`` while training (:mod:`vsgrpo.train.validation`)."""
    if not cfg.eval_questions:
        return
    from .validation import ValidationCallback

    trainer.add_callback(ValidationCallback.from_config(cfg, trainer, processor))


@one_writer
def run_grpo(cfg: GRPOConfig, *, resume: bool = False, callbacks: list | None = None,
             extra_rewards: list | None = None) -> Path:
    """Train with vsGRPO; returns the run folder (see :mod:`vsgrpo.train.run_folder` for its contents).

    ``extra_rewards``: more TRL-style reward functions, added with weight 1 to the recipe's.
    Order: config and data are checked (every unscorable row reported) before anything is
    written; TRL's arguments exist before the model is loaded (DeepSpeed ZeRO-3 then
    partitions the weights at load instead of every rank holding the full model).
    """
    from .reward_config import resolve_rewards

    funcs, weights = resolve_rewards(cfg)
    funcs, weights = funcs + list(extra_rewards or []), weights + [1.0] * len(extra_rewards or [])
    rows = _rows(cfg)
    ckpt = prepare_output(cfg, resume)  # before heavy imports: user mistakes fail fast

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


@one_writer
def run_sft(cfg: SFTConfig, *, resume: bool = False, callbacks: list | None = None) -> Path:
    """Supervised fine-tuning on (question + video -> answer); returns the run folder."""
    from .collators import VideoSFTCollator
    from .data import answer_text, to_dataset
    from .sft import VideoSFTTrainer

    if cfg.mode != "vanilla":
        raise VsgrpoError("SFT supervises answers only (no reasoning traces exist); use mode=vanilla")
    rows = [{**r, "answer": answer_text(r)} for r in _rows(cfg)]
    ckpt = prepare_output(cfg, resume)
    args = sft_args(cfg)
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


@one_writer
def run_dpo(cfg: DPOConfig, *, resume: bool = False, callbacks: list | None = None) -> Path:
    """DPO with chosen = correct answer, rejected = the answer changed to a wrong one; returns the run folder."""
    from .collators import VideoDPOCollator
    from .data import to_dataset
    from .sft import VideoDPOTrainer

    if cfg.mode != "vanilla":
        raise VsgrpoError("DPO compares answers only (no reasoning traces exist); use mode=vanilla")
    rows = dpo_rows(_rows(cfg), seed=cfg.seed, na_factor=cfg.na_wrong_factor)
    if not rows:
        raise VsgrpoError("no DPO pairs could be built from the data")
    ckpt = prepare_output(cfg, resume)
    args = dpo_args(cfg)
    model, processor, peft_config = _model(cfg)  # after the TRL args (ZeRO-3 init)
    trainer = VideoDPOTrainer(model=model, args=args, train_dataset=to_dataset(rows), processing_class=processor,
                              data_collator=VideoDPOCollator(processor, _video_loader(cfg), _family(model)),
                              peft_config=peft_config, callbacks=_callbacks(cfg) + list(callbacks or []))
    _add_validation(trainer, processor, cfg)
    return _finish(trainer, processor, cfg, ckpt)


RUNNERS = {"grpo": run_grpo, "sft": run_sft, "dpo": run_dpo}


def run(cfg: TrainConfig, *, resume: bool = False, overwrite: bool = False) -> Path:
    """Dispatch on ``cfg.method``. ``overwrite``: delete what an earlier run wrote to ``output_dir`` first."""
    return RUNNERS[cfg.method](cfg, resume=resume, overwrite=overwrite)
