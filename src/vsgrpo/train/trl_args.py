"""TRL's arguments for a run, built from our config: ``grpo_args``, ``sft_args``, ``dpo_args``, and ``dry_run``.

No model is needed: the arguments exist before the model loads, so DeepSpeed ZeRO-3 partitions the
weights at load instead of every rank holding the full model.
"""

from __future__ import annotations

import os

from ..errors import VsgrpoError
from .budget import max_steps
from .config import DPOConfig, GRPOConfig, SFTConfig, TrainConfig


def _report_to(cfg: TrainConfig) -> list[str]:
    out = [r for r in cfg.report_to if r in ("tensorboard", "wandb")]
    if "wandb" in out:
        import importlib.util

        if importlib.util.find_spec("wandb") is None:
            raise VsgrpoError("report_to wandb needs the wandb package: pip install 'vsgrpo[wandb]'")
    return out or ["none"]


def common_args(cfg: TrainConfig) -> dict:
    """The transformers ``TrainingArguments`` every method shares."""
    import torch

    # Without CUDA, run on CPU explicitly: accelerate then sets up gloo when launched with several processes.
    use_cpu = cfg.use_cpu or not torch.cuda.is_available()
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)  # set by accelerate / torchrun for each process
    return dict(
        output_dir=cfg.output_dir, report_to=_report_to(cfg),
        learning_rate=cfg.learning_rate, lr_scheduler_type=cfg.lr_scheduler_type, warmup_steps=cfg.warmup_steps,
        weight_decay=cfg.weight_decay, max_grad_norm=cfg.max_grad_norm, num_train_epochs=cfg.num_train_epochs,
        max_steps=max_steps(cfg, world), per_device_train_batch_size=cfg.per_device_train_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps, save_strategy="steps",
        save_steps=cfg.save_steps, save_total_limit=cfg.save_total_limit or None, logging_steps=cfg.logging_steps,
        seed=cfg.seed, data_seed=cfg.seed, bf16=cfg.bf16, gradient_checkpointing=cfg.gradient_checkpointing,
        dataloader_num_workers=cfg.dataloader_num_workers, use_cpu=use_cpu, remove_unused_columns=False,
        disable_tqdm=os.environ.get("VSGRPO_PROGRESS") == "0",
    )


# TRL 1.16 GRPO settings the paper's objective (DeepSeekMath GRPO) fixes, set explicitly so a TRL upgrade that
# changes a default cannot change the objective silently. Values a recipe controls come from GRPOConfig.
PAPER_TRL_FIXED = dict(
    importance_sampling_level="token", epsilon_high=None, delta=None,
    multi_objective_aggregation="sum_then_normalize", top_entropy_quantile=1.0, entropy_coef=0.0,
    use_adaptive_entropy=False, sync_ref_model=False, off_policy_mask_threshold=None, top_k=0, min_p=None,
    repetition_penalty=1.0, cast_lm_head_to_fp32=False, shuffle_dataset=True,
)


def grpo_args(cfg: GRPOConfig, weights: list[float]):
    """TRL's ``GRPOConfig`` for a run.

    ``generation_kwargs`` gets the family's vision tokens to suppress once the processor is known.
    """
    import dataclasses as dc

    import trl

    kwargs = dict(
        **common_args(cfg), beta=cfg.beta, use_bias_correction_kl=cfg.use_bias_correction_kl,
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


def sft_args(cfg: SFTConfig):
    import trl

    return trl.SFTConfig(**common_args(cfg), dataset_kwargs={"skip_prepare_dataset": True}, max_length=None)


def dpo_args(cfg: DPOConfig):
    import trl

    return trl.DPOConfig(**common_args(cfg), beta=cfg.beta, loss_type=[cfg.dpo_loss], max_length=None)


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


def _defaults(trl_cls) -> dict:
    import dataclasses as dc

    out = {f.name: f.default for f in dc.fields(trl_cls) if f.default is not dc.MISSING}
    out.update({f.name: f.default_factory() for f in dc.fields(trl_cls) if f.default_factory is not dc.MISSING})
    return out


def dry_run(cfg: TrainConfig, *, gpus: int = 1) -> dict:
    """The fully resolved configuration of a run, without loading a model.

    ``{"method", "vsgrpo": our config, "rewards", "trl": TRL's config (every field),
    "trl_changed": the TRL fields whose value differs from TRL's own default (with that default),
    "paper": GRPO settings the paper states vs this run, "budget": steps, questions per step and
    epochs on ``gpus`` GPUs (:func:`vsgrpo.train.budget.budget`), "missing_paths"}``.
    """
    import dataclasses as dc

    from .budget import budget

    out: dict = {"method": cfg.method, "vsgrpo": _jsonable(dc.asdict(cfg))}
    if isinstance(cfg, GRPOConfig):
        import trl

        from ..presets import paper_check
        from .reward_config import describe, resolve_rewards

        funcs, weights = resolve_rewards(cfg)
        out["rewards"] = describe(funcs, weights)
        args = grpo_args(cfg, weights)
        args.generation_kwargs = {"suppress_tokens": "<the model family's vision placeholder token ids>"}
        defaults = _defaults(trl.GRPOConfig)
        out["paper"] = paper_check(cfg)
    elif isinstance(cfg, SFTConfig):
        import trl

        args, defaults = sft_args(cfg), _defaults(trl.SFTConfig)
    else:
        import trl

        args, defaults = dpo_args(cfg), _defaults(trl.DPOConfig)
    trl_values = {f.name: _jsonable(getattr(args, f.name)) for f in dc.fields(args) if f.init}
    out["trl"] = trl_values
    out["trl_changed"] = {k: {"value": v, "trl_default": _jsonable(defaults[k])} for k, v in trl_values.items()
                          if k in defaults and _jsonable(defaults[k]) != v}
    out["budget"] = budget(cfg, gpus=gpus)
    out["missing_paths"] = cfg.missing_paths()
    return out
