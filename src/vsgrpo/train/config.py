"""Training configs: one dataclass per method (:class:`GRPORunConfig`, :class:`SFTRunConfig`,
:class:`DPORunConfig`; named apart from TRL's ``GRPOConfig``/``SFTConfig``/``DPOConfig``, which
:mod:`vsgrpo.train.runner` builds from them). Fields are declared with :func:`vsgrpo.fields.option`:
the help is the ``train --help`` text and the recipe documentation, and the bounds (``min``,
``choices``, ...) are checked by :meth:`TrainConfig.validate` for every value, whether it came
from a recipe, an override or a keyword argument.

A recipe YAML holds the fields of one config (unknown keys are an error, with the closest
names). Overrides from the command line, ``key=value`` or TRL-style ``--key value`` /
``--key=value`` (``-`` or ``_`` in the key), are parsed with YAML rules (``beta=1e-4``,
``lora=false``, ``report_to=[tensorboard,jsonl]``, ``min_pixels=null`` for the processor's
default).
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..answers import PARSERS
from ..errors import VsgrpoError
from ..fields import check, option
from ..models.loading import DTYPES
from ..prompts import MODES, STYLES

METHODS = ("grpo", "sft", "dpo")
REPORTERS = ("tensorboard", "jsonl", "wandb")


def _question_types():
    from ..questions import question_types

    return question_types()


def _key(f: dataclasses.Field) -> str:
    return f"config: {f.name}"


@dataclass
class TrainConfig:
    """Settings shared by GRPO, SFT and DPO."""

    model: str = option("", path="model", nonempty=True, help="Hub id or local folder of a Qwen2-VL / Qwen2.5-VL / Qwen3-VL model (safetensors).")
    data: str = option("", nonempty=True, help="questions.parquet written by `vsgrpo data build --style train`.")
    video_root: str = option("", help="Folder holding the videos; the parquet's `video` column (or {dataset}/{scene_name}.mp4)"
                             " is relative to it. Default: ROOT/videos of the data root the parquet was built from (its build_config.json),"
                             " else `videos/` beside the parquet.")
    output_dir: str = option("runs/vsgrpo", help="Run folder: checkpoints, metrics.jsonl, TensorBoard logs, final model.")
    mode: str = option("vanilla", choices=MODES, help="Prompt mode: vanilla | think | observe (train-style prompts of vsgrpo.prompts).")
    question_types: list = option([], items=_question_types, help="Keep only these question types (empty: all).")
    max_samples: int = option(0, min=0, help="Use at most this many questions (0: all), after shuffling with `seed`.")
    skip_invalid_rows: bool = option(False, help="Train without the rows that cannot be scored (reported by id at load) "
                                        "instead of stopping.")
    num_frames: int = option(16, min=1, max=1024, help="Frames sampled uniformly from each video.")
    min_pixels: int = option(0, min=0, max=2**28, help="Per-frame minimum pixels for the video processor (0: the processor's default).")
    max_pixels: int = option(0, min=0, max=2**28, help="Per-frame maximum pixels for the video processor (0: the processor's default).")
    dtype: str = option("auto", choices=DTYPES, help="Model weights dtype: auto | float32 | bfloat16 | float16.")
    bf16: bool = option(False, help="Mixed precision bf16 (GPU).")
    gradient_checkpointing: bool = option(False, help="Recompute activations in the backward pass (saves memory on GPUs).")
    lora: bool = option(True, help="Train a LoRA adapter (peft) instead of all weights (the paper uses LoRA).")
    lora_r: int = option(64, min=1, max=4096, help="LoRA rank.")
    lora_alpha: int = option(128, positive=True, help="LoRA alpha.")
    lora_dropout: float = option(0.05, min=0, max=1, help="LoRA dropout.")
    lora_target_modules: list = option(["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"], help=
                                   "Module names that get LoRA adapters (language model; the vision tower stays frozen"
                                   " unless you list its modules).")
    learning_rate: float = option(1e-5, min=0, max=1, help="Peak learning rate (0: weights stay as they are).")
    lr_scheduler_type: str = option("constant", help="Learning-rate schedule (transformers names: constant, cosine, linear).")
    warmup_steps: int = option(0, min=0, help="Linear warm-up steps.")
    weight_decay: float = option(0.0, min=0, help="AdamW weight decay.")
    max_grad_norm: float = option(1.0, min=0, help="Gradient clipping norm.")
    num_train_epochs: float = option(1.0, positive=True, max=1e6, help="Epochs over the data (ignored when max_steps > 0).")
    max_steps: int = option(-1, min=-1, help="Optimizer steps to run (-1: from num_train_epochs).")
    train_questions: int = option(0, min=0, help="Training budget in questions seen, whatever the number of GPUs (0: "
                                  "from num_train_epochs; max_steps > 0 overrides both). `--dry-run --gpus N` shows the "
                                  "steps.")
    per_device_train_batch_size: int = option(1, min=1, max=65536, help="Sequences per device per micro-step (GRPO: completions, a multiple of"
                                             " num_generations across devices).")
    gradient_accumulation_steps: int = option(1, min=1, max=65536, help="Micro-steps per optimizer step.")
    save_steps: int = option(100, min=1, help="Write a checkpoint every N optimizer steps.")
    save_total_limit: int = option(3, min=0, help="Keep at most this many checkpoints (0: all).")
    logging_steps: int = option(1, min=1, help="Log metrics every N optimizer steps.")
    report_to: list = option(["tensorboard", "jsonl"], choices=REPORTERS, help="Loggers: tensorboard, jsonl (OUTPUT/metrics.jsonl), wandb.")
    seed: int = option(0, min=0, max=2**32 - 1, help="Seed for data order, sampling and initialisation.")
    dataloader_num_workers: int = option(0, min=0, max=256, help="Data loader worker processes (video decoding happens in the trainer).")
    use_cpu: bool = option(False, help="Force CPU even when a GPU is visible.")
    video_cache_mb: int = option(2048, min=0, max=2**24, help="Decoded-frame cache of the training video loader, in MiB (least recently used "
                                   "videos are evicted; 0: no cache).")
    # Validation while training (vsgrpo.train.validation): the evaluation code itself on held-out questions.
    eval_questions: str = option("", help="Held-out VSI-Bench-schema parquet evaluated during training (empty: no evaluation).")
    eval_videos: str = option("", help="Videos root of eval_questions ({dataset}/{scene_name}.mp4). Default: as for"
                              " video_root, from the eval parquet's build record, else `videos/` beside it.")
    eval_every: int = option(0, min=0, help="Evaluate every N optimizer steps (0: only when eval_questions is set, at the end).")
    eval_frames: int = option(0, min=0, max=1024, help="Frames per video for evaluation (0: num_frames).")
    eval_mode: str = option("", choices=("", *MODES), help="Prompt mode for evaluation (empty: the training mode).")
    eval_style: str = option("bench", choices=STYLES, help="Prompt style for evaluation: bench (VSI-Bench, options + letters) | train.")
    eval_limit: int = option(0, min=0, help="Evaluate only the first N questions (0: all).")
    eval_batch_size: int = option(4, min=1, max=65536, help="Questions per generation batch during evaluation.")
    eval_max_new_tokens: int = option(0, min=0, max=2**20, help="Greedy decoding budget for evaluation (0: by mode, as `vsgrpo eval run`).")
    eval_on_start: bool = option(True, help="Also evaluate the starting model (step 0) before the first update.")
    eval_keep_best: bool = option(True, help="Save a checkpoint at every evaluation and keep the best one by overall score "
                                    "(never rotated away by save_total_limit).")
    eval_blind: bool = option(True, help="At every evaluation also score the policy blind (the same prompts, no "
                                         "frames) and log vision minus blind per task (eval/vision_minus_blind/<task>): "
                                         "fine-tuning raises blind scores too.")

    method = ""  # set by subclasses

    def validate(self, *, check_paths: bool = True) -> None:
        """Check the values against the fields' bounds, then the rules that join fields;
        ``check_paths=False`` skips the checks that need the files (``--dry-run``)."""
        if not self.model:
            raise VsgrpoError("config: `model` is required (hub id or local folder; build one: vsgrpo model tiny)")
        if not self.data:
            raise VsgrpoError("config: `data` is required (questions.parquet from `vsgrpo data build --style train`)")
        check(self, name=_key, skip=() if check_paths else ("model",))
        if self.min_pixels and self.max_pixels and self.min_pixels > self.max_pixels:
            raise VsgrpoError(f"config: min_pixels {self.min_pixels} exceeds max_pixels {self.max_pixels}")
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
        if self.output_dir and Path(self.output_dir).exists() and not Path(self.output_dir).is_dir():
            raise VsgrpoError(f"config: output_dir {self.output_dir} is a file; a run folder is needed")

    def eval_videos_root(self) -> str:
        if not self.eval_questions:
            return self.eval_videos
        from ..questions_parquet import video_root

        return str(video_root(self.eval_questions, self.eval_videos, setting="eval_videos"))

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
class GRPORunConfig(TrainConfig):
    """vsGRPO: GRPO with video in generation and in the policy, old-policy and reference passes."""

    num_generations: int = option(8, min=2, max=4096, help="Completions sampled per question (the paper: 14).")
    temperature: float = option(1.0, positive=True, max=100, help="Sampling temperature for rollouts (the paper: 1.0).")
    top_p: float = option(1.0, positive=True, max=1, help="Nucleus sampling for rollouts.")
    max_completion_length: int = option(256, min=1, max=2**20, help="Maximum generated tokens per completion.")
    beta: float = option(1e-4, min=0, help="KL coefficient (k3 estimator). The paper: 1e-4; 0 made its training collapse.")
    use_bias_correction_kl: bool = option(False, help="Multiply the k3 KL term by the policy/old-policy ratio (TRL 1.16's "
                                             "default, from DeepSeek-V3.2). Off: DeepSeekMath's GRPO, which the paper"
                                             " follows.")
    disable_dropout: bool = option(True, help="Turn every dropout (LoRA dropout included) off, so rollouts, the policy pass and"
                                     " the reference pass see the same deterministic model (see docs/training.md).")
    loss_type: str = option("grpo", choices=("grpo", "dapo", "dr_grpo", "bnpo"), help="Loss aggregation: grpo (per-sequence mean, DeepSeekMath), dapo, dr_grpo, bnpo.")
    epsilon: float = option(0.2, positive=True, help="PPO clip range.")
    num_iterations: int = option(1, min=1, max=1024, help="Optimisation passes per generated batch (mu).")
    scale_rewards: str = option("group", choices=("group", "batch", "none"), help="Advantage scaling: group (std per group, GRPO), batch, none.")
    mask_truncated_completions: bool = option(False, help="Leave completions cut at max_completion_length out of the loss "
                                                 "(DAPO). Off in DeepSeekMath's GRPO and the paper.")
    drop_zero_std_groups: bool = option(False, help="Leave groups whose rewards are all equal (no learning signal) out of the "
                                           "loss pass; the fraction dropped is logged as groups/dropped_frac.")
    share_video_work: bool = option(True, help="Process each unique (video, prompt) once per generation batch and, with a "
                                      "frozen vision tower (LoRA), run the tower once per video and reuse its "
                                      "embeddings in generation and the old-policy, reference and loss passes.")
    rewards: list = option([], help="Reward functions and weights (empty: accuracy, + format in think/observe). Items: a "
                           "built-in name (accuracy, format, empty_reasoning, repeated_tags, completion_chars) or "
                           "`package.module:function`, alone (weight 1) or as {name: weight}.")
    trl_args: dict = option({}, help="Extra keyword arguments for TRL's GRPOConfig, applied last (advanced; shown by "
                            "--dry-run).")
    na_shape: str = option("linear", choices=("linear", "mra", "metric"), help="Numeric reward shape: linear | mra | metric (see vsgrpo.rewards).")
    na_tolerance: float = option(0.5, positive=True, help="Relative error at which the linear numeric reward reaches 0.")
    answer_parser: str = option("official", choices=PARSERS, help="Answer parsing, as `vsgrpo eval --parser`: official (VSI-Bench authors) | "
                                        "lmms-eval (lmms-eval 0.7.3) | lenient.")
    format_weight: float = option(1.0, help="Weight of the format reward (think/observe modes).")
    allow_empty_reasoning: bool = option(True, help="Give the format reward to empty reasoning (<think> </think>), as the"
                                           " paper did.")
    use_vllm: bool = option(False, help="Generate rollouts with vLLM colocated with training, video included "
                               "(vsgrpo.train.vllm_rollout); run from the environment that "
                               "scripts/setup_vllm_env.sh [--gpu] builds.")
    vllm_gpu_memory_utilization: float = option(0.3, positive=True, max=1, help="GPU memory fraction vLLM may take beside training (colocated).")
    vllm_max_model_len: int = option(0, min=0, max=2**24, help="vLLM context length (0: the model's own); must hold prompt + completion.")
    vllm_enforce_eager: bool = option(False, help="Run vLLM without CUDA graphs / torch.compile (always on for CPU).")
    vllm_importance_sampling_correction: bool = option(True, help="Correct the loss for the vLLM-vs-training log-prob gap "
                                                         "(TRL's truncated importance sampling).")
    vllm_importance_sampling_mode: str = option("sequence_mask", choices=("token_truncate", "token_mask", "sequence_truncate", "sequence_mask"), help="TRL's importance-sampling mode: token_truncate, "
                                                             "token_mask, sequence_truncate, sequence_mask.")
    log_completions: bool = option(True, help="Write sampled completions with their rewards to OUTPUT/samples.jsonl.")

    method = "grpo"

    def validate(self, *, check_paths: bool = True) -> None:
        super().validate(check_paths=check_paths)
        from .reward_config import resolve_rewards

        if self.beta == 0:
            import warnings

            warnings.warn("beta=0 disables the KL penalty; the paper reports training collapse without it",
                          stacklevel=2)
        resolve_rewards(self)  # a bad reward name or import path fails here, before any output is written
        check_trl_args(self.trl_args)
        if self.use_vllm:
            import importlib.util

            if importlib.util.find_spec("vllm") is None:
                raise VsgrpoError("use_vllm: vLLM is not installed in this environment; build its environment with "
                                  "`bash scripts/setup_vllm_env.sh --gpu` (GPU) or without --gpu (CPU) and run "
                                  "from it (docs/training.md, vLLM rollouts), or set use_vllm=false")


@dataclass
class SFTRunConfig(TrainConfig):
    """SFT baseline: supervised answers (``<answer>`` tags for think/observe modes) with video."""

    max_length: int = option(0, min=0, help="Drop (do not truncate) samples longer than this many tokens (0: no limit).")

    method = "sft"


@dataclass
class DPORunConfig(TrainConfig):
    """DPO baseline: chosen = the correct answer, rejected = the correct answer changed to a wrong one."""

    beta: float = option(0.1, positive=True, help="DPO temperature beta.")
    dpo_loss: str = option("sigmoid", nonempty=True, help="DPO loss type (TRL names, e.g. sigmoid, ipo, hinge).")
    na_wrong_factor: float = option(2.0, min=1.5, max=1e6, help="Numeric negatives: the answer multiplied or divided by at least this factor "
                                     "(>= 1.5 scores 0 under every numeric reward shape).")

    method = "dpo"

    # na_wrong_factor >= 1.5 (its bound) so that a negative scores 0 under every numeric reward shape


CONFIGS: dict[str, type[TrainConfig]] = {"grpo": GRPORunConfig, "sft": SFTRunConfig, "dpo": DPORunConfig}

# The names before the rename, kept so existing imports (vsgrpo.train.config.GRPOConfig) still work;
# new code uses the *RunConfig names, which do not shadow TRL's classes.
GRPOConfig, SFTConfig, DPOConfig = GRPORunConfig, SFTRunConfig, DPORunConfig


def check_trl_args(trl_args: dict) -> None:
    """Each ``trl_args`` key must be a field of the pinned TRL's ``GRPOConfig`` and its value of that
    field's type (a number where TRL's default is a number, ...), so a typo fails before any output."""
    import dataclasses as dc

    import trl

    known = {f.name: f for f in dc.fields(trl.GRPOConfig)}
    for key, value in trl_args.items():
        if key not in known:
            import difflib

            near = difflib.get_close_matches(str(key), known, n=3)
            raise VsgrpoError(f"config: trl_args: {key!r} is not a field of trl.GRPOConfig {trl.__version__}"
                              + (f"; did you mean {', '.join(near)}?" if near else ""))
        f = known[key]
        default = f.default if f.default is not dc.MISSING else None
        if value is None or default is None:
            continue
        ok = {bool: (bool,), int: (int,), float: (int, float), str: (str,)}.get(type(default))
        if ok and (not isinstance(value, ok) or (isinstance(value, bool) and bool not in ok)):
            raise VsgrpoError(f"config: trl_args: {key} must be a {type(default).__name__} like TRL's default "
                              f"{default!r}, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise VsgrpoError(f"config: trl_args: {key} must be a finite number, got {value!r}")


def _parse_value(text: str) -> Any:
    import yaml

    if not text.strip():
        return text  # an empty value is a mistake, not YAML's null (write null for the default)
    try:
        return yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError):
        return text


def _coerce(cls, name: str, value: Any, where: str):
    fields = {f.name: f for f in dataclasses.fields(cls)}
    if name not in fields:
        import difflib

        near = difflib.get_close_matches(str(name).replace("-", "_"), fields, n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(near)}?" if near else f"`vsgrpo train {cls.method or 'grpo'} --help` lists them"
        raise VsgrpoError(f"{where}: unknown key {name!r} for {cls.method or 'train'} configs; {hint}")
    default = fields[name].default if fields[name].default is not dataclasses.MISSING else fields[name].default_factory()
    if value is None and not isinstance(default, str):
        return default  # null: leave the setting at its default (min_pixels=null: the processor's own budget)
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
        except UnicodeDecodeError as e:
            raise VsgrpoError(f"recipe {p} is not UTF-8 text (byte {e.start}: {e.reason})") from None
        except yaml.YAMLError as e:
            raise VsgrpoError(f"recipe {p} is not valid YAML: {str(e).splitlines()[0]}") from None
        except RecursionError:
            raise VsgrpoError(f"recipe {p} is nested too deeply to be a recipe") from None
        if not isinstance(data, dict):
            raise VsgrpoError(f"recipe {p} must be a mapping of config keys")
        data.pop("method", None) if data.get("method") in (None, method) else _wrong_method(p, data["method"], method)
        for k, v in data.items():
            values[k] = _coerce(cls, k, v, str(p))
    for item in overrides or []:
        if "=" not in item:
            raise VsgrpoError(f"override {item!r} must look like key=value")
        k, v = item.split("=", 1)
        k = k.strip().replace("-", "_")  # learning-rate=... as TRL's --learning-rate
        values[k] = _coerce(cls, k, _parse_value(v), "override")
    for k, v in kwargs.items():
        values[k] = _coerce(cls, k, v, "argument")
    cfg = cls(**values)
    cfg.validate(check_paths=check_paths)
    return cfg


def check_overrides(method: str, overrides: list[str], where: str = "override") -> None:
    """Each ``key=value`` names a key of ``method``'s config and holds a value within that key's
    bounds (rules between keys are left to :meth:`TrainConfig.validate`); for callers that apply
    the overrides later, e.g. quickstart's ``--sft-set``, so a typo fails before any work."""
    from ..fields import problem

    cls = CONFIGS[method]
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for item in overrides:
        if "=" not in item:
            raise VsgrpoError(f"{where} {item!r} must look like key=value")
        k, v = item.split("=", 1)
        k = k.strip().replace("-", "_")
        value = _coerce(cls, k, _parse_value(v), where)
        bad = problem(fields[k], value)
        if bad:
            raise VsgrpoError(f"{where}: {k} {bad}")


def _wrong_method(path, found, method):
    raise VsgrpoError(f"recipe {path} is for method {found!r}, not {method!r}; run `vsgrpo train {found}`")
