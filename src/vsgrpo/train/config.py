"""Training configs: one dataclass per method. Field ``help`` doubles as CLI help and recipe docs.

A recipe YAML holds the fields of one config (unknown keys are an error). ``key=value``
overrides from the command line are parsed with YAML rules (``beta=1e-4``, ``lora=false``,
``report_to=[tensorboard,jsonl]``).
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import VsgrpoError

METHODS = ("grpo", "sft", "dpo")
REPORTERS = ("tensorboard", "jsonl", "wandb")


def _f(default, help: str, **kw):
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda d=default: type(d)(d), metadata={"help": help}, **kw)
    return field(default=default, metadata={"help": help}, **kw)


@dataclass
class TrainConfig:
    """Settings shared by GRPO, SFT and DPO."""

    model: str = _f("", "Hub id or local folder of a Qwen2-VL / Qwen2.5-VL / Qwen3-VL model (safetensors).")
    data: str = _f("", "questions.parquet written by `vsgrpo data build --style train`.")
    video_root: str = _f("", "Folder holding the videos; the parquet's `video` column (or {dataset}/{scene_name}.mp4)"
                             " is relative to it. Default: `videos/` beside the parquet.")
    output_dir: str = _f("runs/vsgrpo", "Run folder: checkpoints, metrics.jsonl, TensorBoard logs, final model.")
    mode: str = _f("vanilla", "Prompt mode: vanilla | think | observe (train-style prompts of vsgrpo.prompts).")
    question_types: list = _f([], "Keep only these question types (empty: all).")
    max_samples: int = _f(0, "Use at most this many questions (0: all), after shuffling with `seed`.")
    skip_invalid_rows: bool = _f(False, "Train without the rows that cannot be scored (reported by id at load) "
                                        "instead of stopping.")
    num_frames: int = _f(16, "Frames sampled uniformly from each video.")
    min_pixels: int = _f(0, "Per-frame minimum pixels for the video processor (0: the processor's default).")
    max_pixels: int = _f(0, "Per-frame maximum pixels for the video processor (0: the processor's default).")
    dtype: str = _f("auto", "Model weights dtype: auto | float32 | bfloat16 | float16.")
    bf16: bool = _f(False, "Mixed precision bf16 (GPU).")
    gradient_checkpointing: bool = _f(False, "Recompute activations in the backward pass (saves memory on GPUs).")
    lora: bool = _f(True, "Train a LoRA adapter (peft) instead of all weights (the paper uses LoRA).")
    lora_r: int = _f(64, "LoRA rank.")
    lora_alpha: int = _f(128, "LoRA alpha.")
    lora_dropout: float = _f(0.05, "LoRA dropout.")
    lora_target_modules: list = _f(["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
                                   "Module names that get LoRA adapters (language model; the vision tower stays frozen"
                                   " unless you list its modules).")
    learning_rate: float = _f(1e-5, "Peak learning rate.")
    lr_scheduler_type: str = _f("constant", "Learning-rate schedule (transformers names: constant, cosine, linear).")
    warmup_steps: int = _f(0, "Linear warm-up steps.")
    weight_decay: float = _f(0.0, "AdamW weight decay.")
    max_grad_norm: float = _f(1.0, "Gradient clipping norm.")
    num_train_epochs: float = _f(1.0, "Epochs over the data (ignored when max_steps > 0).")
    max_steps: int = _f(-1, "Optimizer steps to run (-1: from num_train_epochs).")
    per_device_train_batch_size: int = _f(1, "Sequences per device per micro-step (GRPO: completions, a multiple of"
                                             " num_generations across devices).")
    gradient_accumulation_steps: int = _f(1, "Micro-steps per optimizer step.")
    save_steps: int = _f(100, "Write a checkpoint every N optimizer steps.")
    save_total_limit: int = _f(3, "Keep at most this many checkpoints (0: all).")
    logging_steps: int = _f(1, "Log metrics every N optimizer steps.")
    report_to: list = _f(["tensorboard", "jsonl"], "Loggers: tensorboard, jsonl (OUTPUT/metrics.jsonl), wandb.")
    seed: int = _f(0, "Seed for data order, sampling and initialisation.")
    dataloader_num_workers: int = _f(0, "Data loader worker processes (video decoding happens in the trainer).")
    use_cpu: bool = _f(False, "Force CPU even when a GPU is visible.")
    video_cache_mb: int = _f(2048, "Decoded-frame cache of the training video loader, in MiB (least recently used "
                                   "videos are evicted; 0: no cache).")
    # Validation while training (vsgrpo.train.validation): the evaluation code itself on held-out questions.
    eval_questions: str = _f("", "Held-out VSI-Bench-schema parquet evaluated during training (empty: no evaluation).")
    eval_videos: str = _f("", "Videos root of eval_questions ({dataset}/{scene_name}.mp4). Default: `videos/` beside"
                              " the eval parquet.")
    eval_every: int = _f(0, "Evaluate every N optimizer steps (0: only when eval_questions is set, at the end).")
    eval_frames: int = _f(0, "Frames per video for evaluation (0: num_frames).")
    eval_mode: str = _f("", "Prompt mode for evaluation (empty: the training mode).")
    eval_style: str = _f("bench", "Prompt style for evaluation: bench (VSI-Bench, options + letters) | train.")
    eval_limit: int = _f(0, "Evaluate only the first N questions (0: all).")
    eval_batch_size: int = _f(4, "Questions per generation batch during evaluation.")
    eval_max_new_tokens: int = _f(0, "Greedy decoding budget for evaluation (0: by mode, as `vsgrpo eval run`).")
    eval_on_start: bool = _f(True, "Also evaluate the starting model (step 0) before the first update.")
    eval_keep_best: bool = _f(True, "Save a checkpoint at every evaluation and keep the best one by overall score "
                                    "(never rotated away by save_total_limit).")

    method = ""  # set by subclasses

    def validate(self, *, check_paths: bool = True) -> None:
        """Check the values; ``check_paths=False`` skips the checks that need the files (``--dry-run``)."""
        from ..prompts import MODES, STYLES

        if not self.model:
            raise VsgrpoError("config: `model` is required (hub id or local folder; build one: vsgrpo model tiny)")
        if not self.data:
            raise VsgrpoError("config: `data` is required (questions.parquet from `vsgrpo data build --style train`)")
        if self.mode not in MODES:
            raise VsgrpoError(f"config: mode {self.mode!r} unknown; choose one of {', '.join(MODES)}")
        bad = [r for r in self.report_to if r not in REPORTERS]
        if bad:
            raise VsgrpoError(f"config: unknown report_to {bad}; choose from {', '.join(REPORTERS)}")
        if self.num_frames < 1:
            raise VsgrpoError("config: num_frames must be >= 1")
        if self.video_cache_mb < 0:
            raise VsgrpoError("config: video_cache_mb must be >= 0")
        if self.eval_mode and self.eval_mode not in MODES:
            raise VsgrpoError(f"config: eval_mode {self.eval_mode!r} unknown; choose one of {', '.join(MODES)}")
        if self.eval_style not in STYLES:
            raise VsgrpoError(f"config: eval_style {self.eval_style!r} unknown; choose one of {', '.join(STYLES)}")
        for name in ("eval_every", "eval_frames", "eval_limit", "eval_max_new_tokens"):
            if getattr(self, name) < 0:
                raise VsgrpoError(f"config: {name} must be >= 0")
        if self.eval_batch_size < 1:
            raise VsgrpoError("config: eval_batch_size must be >= 1")
        if self.eval_every and not self.eval_questions:
            raise VsgrpoError("config: eval_every needs eval_questions (a held-out VSI-Bench-schema parquet)")
        if not check_paths:
            return
        if self.eval_questions:
            if not Path(self.eval_questions).is_file():
                raise VsgrpoError(f"config: eval_questions {self.eval_questions} not found")
            if not Path(self.eval_videos_root()).is_dir():
                raise VsgrpoError(f"config: eval videos folder {self.eval_videos_root()} not found; set eval_videos "
                                  "to the folder holding {dataset}/{scene_name}.mp4")
        if not Path(self.data).is_file():
            raise VsgrpoError(f"config: data {self.data} not found (build it: vsgrpo data build --style train)")
        from ..models.loading import resolve_model_path

        resolve_model_path(self.model)  # a missing local folder fails here, before any output is written

    def eval_videos_root(self) -> str:
        if self.eval_videos:
            return self.eval_videos
        return str(Path(self.eval_questions).resolve().parent / "videos") if self.eval_questions else ""

    def missing_paths(self) -> list[str]:
        """Input files and folders this config names that do not exist (reported by ``--dry-run``)."""
        out = []
        if self.data and not Path(self.data).is_file():
            out.append(f"data: {self.data}")
        p = Path(self.model).expanduser()
        if self.model and (self.model.startswith((".", "~", "/")) or self.model.count("/") != 1) and not p.exists():
            out.append(f"model: {self.model}")
        if self.eval_questions and not Path(self.eval_questions).is_file():
            out.append(f"eval_questions: {self.eval_questions}")
        return out


@dataclass
class GRPOConfig(TrainConfig):
    """vsGRPO: GRPO with video in generation and in the policy, old-policy and reference passes."""

    num_generations: int = _f(8, "Completions sampled per question (the paper: 14).")
    temperature: float = _f(1.0, "Sampling temperature for rollouts (the paper: 1.0).")
    top_p: float = _f(1.0, "Nucleus sampling for rollouts.")
    max_completion_length: int = _f(256, "Maximum generated tokens per completion.")
    beta: float = _f(1e-4, "KL coefficient (k3 estimator). The paper: 1e-4; 0 made its training collapse.")
    use_bias_correction_kl: bool = _f(False, "Multiply the k3 KL term by the policy/old-policy ratio (TRL 1.16's "
                                             "default, from DeepSeek-V3.2). Off: DeepSeekMath's GRPO, which the paper"
                                             " follows.")
    disable_dropout: bool = _f(True, "Turn every dropout (LoRA dropout included) off, so rollouts, the policy pass and"
                                     " the reference pass see the same deterministic model (see docs/training.md).")
    loss_type: str = _f("grpo", "Loss aggregation: grpo (per-sequence mean, DeepSeekMath), dapo, dr_grpo, bnpo.")
    epsilon: float = _f(0.2, "PPO clip range.")
    num_iterations: int = _f(1, "Optimisation passes per generated batch (mu).")
    scale_rewards: str = _f("group", "Advantage scaling: group (std per group, GRPO), batch, none.")
    mask_truncated_completions: bool = _f(False, "Leave completions cut at max_completion_length out of the loss "
                                                 "(DAPO). Off in DeepSeekMath's GRPO and the paper.")
    drop_zero_std_groups: bool = _f(False, "Leave groups whose rewards are all equal (no learning signal) out of the "
                                           "loss pass; the fraction dropped is logged as groups/dropped_frac.")
    share_video_work: bool = _f(True, "Process each unique (video, prompt) once per generation batch and, with a "
                                      "frozen vision tower (LoRA), run the tower once per video and reuse its "
                                      "embeddings in generation and the old-policy, reference and loss passes.")
    rewards: list = _f([], "Reward functions and weights (empty: accuracy, + format in think/observe). Items: a "
                           "built-in name (accuracy, format, empty_reasoning, repeated_tags, completion_chars) or "
                           "`package.module:function`, alone (weight 1) or as {name: weight}.")
    trl_args: dict = _f({}, "Extra keyword arguments for TRL's GRPOConfig, applied last (advanced; shown by "
                            "--dry-run).")
    na_shape: str = _f("linear", "Numeric reward shape: linear | mra | metric (see vsgrpo.rewards).")
    na_tolerance: float = _f(0.5, "Relative error at which the linear numeric reward reaches 0.")
    answer_parser: str = _f("official", "Answer parsing, as `vsgrpo eval --parser`: official (VSI-Bench authors) | "
                                        "lmms-eval (lmms-eval 0.7.3) | lenient.")
    format_weight: float = _f(1.0, "Weight of the format reward (think/observe modes).")
    allow_empty_reasoning: bool = _f(True, "Give the format reward to empty reasoning (<think> </think>), as the"
                                           " paper did.")
    use_vllm: bool = _f(False, "Generate rollouts with vLLM colocated with training, video included "
                               "(vsgrpo.train.vllm_rollout); run from the environment that "
                               "scripts/setup_vllm_env.sh [--gpu] builds.")
    vllm_gpu_memory_utilization: float = _f(0.3, "GPU memory fraction vLLM may take beside training (colocated).")
    vllm_max_model_len: int = _f(0, "vLLM context length (0: the model's own); must hold prompt + completion.")
    vllm_enforce_eager: bool = _f(False, "Run vLLM without CUDA graphs / torch.compile (always on for CPU).")
    vllm_importance_sampling_correction: bool = _f(True, "Correct the loss for the vLLM-vs-training log-prob gap "
                                                         "(TRL's truncated importance sampling).")
    vllm_importance_sampling_mode: str = _f("sequence_mask", "TRL's importance-sampling mode: token_truncate, "
                                                             "token_mask, sequence_truncate, sequence_mask.")
    log_completions: bool = _f(True, "Write sampled completions with their rewards to OUTPUT/samples.jsonl.")

    method = "grpo"

    def validate(self, *, check_paths: bool = True) -> None:
        super().validate(check_paths=check_paths)
        from ..answers import PARSERS
        from ..rewards import NA_SHAPES
        from .reward_config import resolve_rewards

        if self.scale_rewards not in ("group", "batch", "none"):
            raise VsgrpoError(f"config: scale_rewards {self.scale_rewards!r} unknown; choose group, batch or none")
        if self.beta < 0:
            raise VsgrpoError("config: beta must be >= 0")
        if self.beta == 0:
            import warnings

            warnings.warn("beta=0 disables the KL penalty; the paper reports training collapse without it")
        if self.loss_type not in ("grpo", "dapo", "dr_grpo", "bnpo"):
            raise VsgrpoError(f"config: loss_type {self.loss_type!r} unknown; choose grpo, dapo, dr_grpo or bnpo")
        if self.num_generations < 2:
            raise VsgrpoError("config: num_generations must be >= 2 (advantages compare completions of a question)")
        if self.na_shape not in NA_SHAPES:
            raise VsgrpoError(f"config: na_shape {self.na_shape!r} unknown; choose one of {', '.join(NA_SHAPES)}")
        if self.answer_parser not in PARSERS:
            raise VsgrpoError(f"config: answer_parser must be one of {', '.join(PARSERS)}")
        resolve_rewards(self)  # a bad reward name or import path fails here, before any output is written
        if self.vllm_importance_sampling_mode not in ("token_truncate", "token_mask", "sequence_truncate",
                                                      "sequence_mask"):
            raise VsgrpoError(f"config: vllm_importance_sampling_mode {self.vllm_importance_sampling_mode!r} unknown")
        if not 0 < self.vllm_gpu_memory_utilization <= 1:
            raise VsgrpoError("config: vllm_gpu_memory_utilization must be in (0, 1]")
        if self.use_vllm:
            import importlib.util

            if importlib.util.find_spec("vllm") is None:
                raise VsgrpoError("use_vllm: vLLM is not installed in this environment; build its environment with "
                                  "`bash scripts/setup_vllm_env.sh --gpu` (GPU) or without --gpu (CPU) and run "
                                  "from it (docs/training.md, vLLM rollouts), or set use_vllm=false")


@dataclass
class SFTConfig(TrainConfig):
    """SFT baseline: supervised answers (``<answer>`` tags for think/observe modes) with video."""

    max_length: int = _f(0, "Drop (do not truncate) samples longer than this many tokens (0: no limit).")

    method = "sft"


@dataclass
class DPOConfig(TrainConfig):
    """DPO baseline: chosen = the correct answer, rejected = the correct answer changed to a wrong one."""

    beta: float = _f(0.1, "DPO temperature beta.")
    dpo_loss: str = _f("sigmoid", "DPO loss type (TRL names, e.g. sigmoid, ipo, hinge).")
    na_wrong_factor: float = _f(2.0, "Numeric negatives: the answer multiplied or divided by at least this factor "
                                     "(>= 1.5 scores 0 under every numeric reward shape).")

    method = "dpo"

    def validate(self, *, check_paths: bool = True) -> None:
        super().validate(check_paths=check_paths)
        if self.na_wrong_factor < 1.5:
            raise VsgrpoError("config: na_wrong_factor must be >= 1.5 so a negative scores 0")


CONFIGS: dict[str, type[TrainConfig]] = {"grpo": GRPOConfig, "sft": SFTConfig, "dpo": DPOConfig}


def _parse_value(text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _coerce(cls, name: str, value: Any, where: str):
    fields = {f.name: f for f in dataclasses.fields(cls)}
    if name not in fields:
        raise VsgrpoError(f"{where}: unknown key {name!r} for {cls.method or 'train'} configs; known: "
                          f"{', '.join(sorted(fields))}")
    default = fields[name].default if fields[name].default is not dataclasses.MISSING else fields[name].default_factory()
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise VsgrpoError(f"{where}: {name} must be true or false, got {value!r}")
        return value
    if isinstance(default, int) and not isinstance(default, bool):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise VsgrpoError(f"{where}: {name} must be an integer, got {value!r}")
        return value
    if isinstance(default, float):
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                pass
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise VsgrpoError(f"{where}: {name} must be a number, got {value!r}")
        if not math.isfinite(value):
            raise VsgrpoError(f"{where}: {name} must be a finite number, got {value!r}")
        return float(value)
    if isinstance(default, dict):
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise VsgrpoError(f"{where}: {name} must be a mapping, got {value!r}")
        return dict(value)
    if isinstance(default, list):
        if value is None:
            return []
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list):
            raise VsgrpoError(f"{where}: {name} must be a list, got {value!r}")
        return value
    return "" if value is None else str(value)


def load_config(method: str, path: str | os.PathLike | None = None, overrides: list[str] | None = None, *,
                check_paths: bool = True, **kwargs) -> TrainConfig:
    """Build the ``method`` config from a recipe YAML, ``key=value`` overrides and keyword arguments.

    Relative ``model``/``data``/``video_root`` paths in a recipe are resolved against the
    current directory (recipes are run from the repository root or with absolute paths).
    ``check_paths=False`` validates the values without requiring the data and model to exist
    (``vsgrpo train ... --dry-run``; :meth:`TrainConfig.missing_paths` lists what is absent).
    """
    import yaml

    if method not in CONFIGS:
        raise VsgrpoError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    cls = CONFIGS[method]
    values: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise VsgrpoError(f"recipe not found: {p}")
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as e:
            raise VsgrpoError(f"recipe {p} is not valid YAML: {str(e).splitlines()[0]}") from None
        if not isinstance(data, dict):
            raise VsgrpoError(f"recipe {p} must be a mapping of config keys")
        data.pop("method", None) if data.get("method") in (None, method) else _wrong_method(p, data["method"], method)
        for k, v in data.items():
            values[k] = _coerce(cls, k, v, str(p))
    for item in overrides or []:
        if "=" not in item:
            raise VsgrpoError(f"override {item!r} must look like key=value")
        k, v = item.split("=", 1)
        values[k.strip()] = _coerce(cls, k.strip(), _parse_value(v), "override")
    for k, v in kwargs.items():
        values[k] = _coerce(cls, k, v, "argument")
    cfg = cls(**values)
    cfg.validate(check_paths=check_paths)
    return cfg


def _wrong_method(path, found, method):
    raise VsgrpoError(f"recipe {path} is for method {found!r}, not {method!r}; run `vsgrpo train {found}`")


def field_help(cls: type[TrainConfig]) -> list[tuple[str, Any, str]]:
    """(name, default, help) of every field, for CLI help and docs."""
    out = []
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        out.append((f.name, default, f.metadata.get("help", "")))
    return out
