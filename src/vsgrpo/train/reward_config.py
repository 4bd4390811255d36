"""Rewards from a recipe: built-in names and ``package.module:function`` paths, with weights.

A recipe's ``rewards:`` list replaces the default set (accuracy, plus the format reward in
think/observe modes)::

    rewards:
      - accuracy                         # weight 1
      - format: 0.5                      # built-in, weight 0.5 (think/observe modes only)
      - mypkg.rewards:length_penalty: 0.1   # your function, weight 0.1
      - mypkg.rewards:brevity            # weight 1

A user function follows TRL's contract ``f(prompts, completions, **kwargs) -> list[float]``
(``kwargs`` holds the dataset columns ``ground_truth``, ``question_type``, ``options``, ...,
plus TRL's ``completion_ids``, ``trainer_state``, ``log_extra``, ``log_metric``), so it must
accept ``**kwargs``. Every name is resolved and checked by :func:`resolve_rewards` when the
config is validated, so a typo fails in the first second, not at the first step.

The monitors (``empty_reasoning``, ``repeated_tags``, ``completion_chars``) are always added
with weight 0 (logged, never optimised) unless the list names them with a weight.
"""

from __future__ import annotations

import importlib
import inspect
import math
from collections.abc import Callable

from ..errors import VsgrpoError


def parse_specs(items: list) -> list[tuple[str, float]]:
    """``[(name, weight), ...]`` from the recipe's list (strings or one-key mappings)."""
    out: list[tuple[str, float]] = []
    for item in items or []:
        if isinstance(item, str):
            out.append((item.strip(), 1.0))
            continue
        if isinstance(item, dict) and len(item) == 1:
            (name, weight), = item.items()
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight):
                raise VsgrpoError(f"rewards: the weight of {name!r} must be a finite number, got {weight!r}")
            out.append((str(name).strip(), float(weight)))
            continue
        raise VsgrpoError(f"rewards: each item is a name or `name: weight`, got {item!r}")
    names = [n for n, _ in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise VsgrpoError(f"rewards: {', '.join(dup)} listed twice")
    return out


def import_reward(path: str) -> Callable:
    """The callable named by ``package.module:function`` (``function`` may be ``Class.attr``)."""
    module_name, sep, attr = path.partition(":")
    if not sep or not module_name or not attr:
        from ..rewards import BUILTIN_REWARDS

        raise VsgrpoError(f"rewards: {path!r} is neither a built-in reward ({', '.join(BUILTIN_REWARDS)}) nor a "
                          "`package.module:function` path")
    try:
        obj = importlib.import_module(module_name)
    except ImportError as e:
        raise VsgrpoError(f"rewards: cannot import module {module_name!r} of {path!r}: {e}") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise VsgrpoError(f"rewards: module {module_name!r} has no attribute {attr!r} (from {path!r})")
        obj = getattr(obj, part)
    if not callable(obj):
        raise VsgrpoError(f"rewards: {path!r} is not callable")
    try:
        params = inspect.signature(obj).parameters.values()
    except (TypeError, ValueError):
        return obj  # builtins without a signature: trust them
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        raise VsgrpoError(f"rewards: {path!r} must accept **kwargs (TRL passes prompts, completions, completion_ids,"
                          " the dataset columns and trainer_state as keywords)")
    return obj


def resolve_rewards(cfg) -> tuple[list[Callable], list[float]]:
    """Reward functions and TRL ``reward_weights`` for a :class:`~vsgrpo.train.config.GRPOConfig`."""
    from .. import rewards as R

    if not cfg.rewards:
        return R.default_rewards(cfg.mode, na_shape=cfg.na_shape, na_tolerance=cfg.na_tolerance,
                                 parser=cfg.answer_parser, allow_empty_reasoning=cfg.allow_empty_reasoning,
                                 format_weight=cfg.format_weight)
    return R.rewards_from_specs(parse_specs(cfg.rewards), reward_settings(cfg), user=import_reward)


def reward_settings(cfg):
    """The :class:`~vsgrpo.rewards.RewardSettings` of a GRPO config (or of a verl export spec)."""
    from ..rewards import RewardSettings

    return RewardSettings(mode=cfg.mode, na_shape=cfg.na_shape, na_tolerance=cfg.na_tolerance,
                          parser=cfg.answer_parser, allow_empty_reasoning=cfg.allow_empty_reasoning)


def describe(funcs: list[Callable], weights: list[float]) -> list[dict]:
    """``[{"name", "weight", "source"}]`` for ``--dry-run`` and the run's config."""
    out = []
    for f, w in zip(funcs, weights):
        module = getattr(f, "__module__", "") or ""
        out.append({"name": getattr(f, "__name__", type(f).__name__), "weight": w,
                    "source": module + ":" + getattr(f, "__qualname__", getattr(f, "__name__", "?"))})
    return out
