"""vsgrpo's GRPO reward as a verl custom reward function.

verl loads this file by path::

    reward.custom_reward_function.path=DIR/vsgrpo_reward.py
    reward.custom_reward_function.name=compute_score

and calls ``compute_score(data_source=..., solution_str=..., ground_truth=..., extra_info=...)``
once per rollout (verl 0.9.1's reward managers; ``solution_str`` is the completion decoded with
``skip_special_tokens=True``, as TRL decodes it).

The score is exactly the reward vsgrpo's own GRPO trainer gives, summed as TRL sums them: the
recipe's ``rewards:`` list (``rewards`` setting: ``[[name, weight], ...]``, built-in names from
:data:`vsgrpo.rewards.BUILTIN_REWARDS`, user functions from the modules the export copied to
``vsgrpo_user_rewards/``, ``user_modules`` setting), or when it is empty the functions of
:func:`vsgrpo.rewards.default_rewards` for the export's mode (accuracy, plus format in
think/observe modes with ``format_weight``). The returned dict holds
``score`` plus every part by its TRL name (``accuracy``, ``format_think``, and the weight-0
monitors ``empty_reasoning``, ``repeated_tags``, ``completion_chars``), which verl logs as
``reward_extra_info``, and ``acc`` (= ``accuracy``): verl's validation reports ``acc`` as its core
metric, ``val-core/<question type>/acc/mean@1``.

Self-contained: ``vsgrpo data export --format verl`` copies this file to ``DIR/vsgrpo_reward.py``
together with ``DIR/vsgrpo_scoring/`` (a verbatim copy of vsgrpo's scoring modules: rewards,
answers, metrics, errors; they need only the standard library and numpy) and
``DIR/vsgrpo_reward.json`` (the settings). So it runs in verl's environment without vsgrpo, torch
or transformers being importable. Used from the vsgrpo package itself (no copy beside it), it
imports the installed ``vsgrpo``.

Settings (``vsgrpo_reward.json``; each can be overridden with verl's
``+reward.custom_reward_function.reward_kwargs.KEY=VALUE``): ``mode`` (vanilla | think | observe;
a row's ``extra_info.mode`` wins, since its prompt was built for it), ``na_shape``,
``na_tolerance``, ``parser``, ``allow_empty_reasoning``, ``format_weight``, ``rewards``,
``user_modules``, ``own_types``. ``own_types`` (``{question_type: "numeric" | "choice"}``) names the
question types of the exported rows that vsgrpo does not ship (a team's own, ``question_kind`` in its
questions file, or a type registered from Python): they are declared to the scoring copy's table of
question types at import (:func:`vsgrpo.question_types.declare_own_type`), so a numeric one scores by
MRA and a choice one by exact match, as in vsgrpo. A row's
``extra_info.na_shape`` wins too: the export sets it to ``metric`` on validation rows, so verl's
validation accuracy of numeric questions is VSI-Bench's MRA, exactly as ``vsgrpo eval score``.
Each row's ``extra_info`` must carry ``question_type`` and ``options`` (an empty list for none).
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import json
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
SCORING_DIR = "vsgrpo_scoring"
SETTINGS_FILE = "vsgrpo_reward.json"
USER_DIR = "vsgrpo_user_rewards"
DEFAULTS = {"mode": "vanilla", "na_shape": "linear", "na_tolerance": 0.5, "parser": "official",
            "allow_empty_reasoning": True, "format_weight": 1.0, "rewards": [], "user_modules": {},
            "own_types": {}}


def _rewards_module():
    """vsgrpo's ``rewards`` module: the copy beside this file when there is one, else the installed package."""
    pkg_dir = os.path.join(_HERE, SCORING_DIR)
    if not os.path.isfile(os.path.join(pkg_dir, "__init__.py")):
        return importlib.import_module("vsgrpo.rewards")
    # A name unique to this folder, so two exports loaded in one process never share modules.
    name = "_vsgrpo_scoring_" + hashlib.sha1(pkg_dir.encode()).hexdigest()[:12]
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, os.path.join(pkg_dir, "__init__.py"),
                                                      submodule_search_locations=[pkg_dir])
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return importlib.import_module(name + ".rewards")


def _load_settings() -> dict:
    path = os.path.join(_HERE, SETTINGS_FILE)
    out = dict(DEFAULTS)
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        unknown = sorted(set(data) - set(DEFAULTS))
        if unknown:
            raise ValueError(f"{path}: unknown setting(s) {unknown}; known: {sorted(DEFAULTS)}")
        out.update(data)
    return out


def _declare_own_types(own_types) -> None:
    """Declare the export's own question types (``{name: "numeric" | "choice"}``) to the scoring code's table;
    idempotent, and an error for a name vsgrpo already knows with the other kind."""
    for name, kind in dict(own_types or {}).items():
        _QUESTION_TYPES.declare_own_type(str(name), str(kind))


_REWARDS = _rewards_module()
# The same package's table of question types (the copy's, or the installed vsgrpo's): the one `rewards` reads.
_QUESTION_TYPES = importlib.import_module(_REWARDS.__name__.rpartition(".")[0] + ".question_types")
SETTINGS = _load_settings()
_declare_own_types(SETTINGS["own_types"])


def _user_reward(name: str):
    """A user reward ``package.module:function``: from the export's copy of its module when there is one."""
    module_name, _, attr = name.partition(":")
    rel = SETTINGS["user_modules"].get(module_name)
    if rel is None:
        obj = importlib.import_module(module_name)
    else:
        path = os.path.join(_HERE, rel)
        unique = "_vsgrpo_user_reward_" + hashlib.sha1(path.encode()).hexdigest()[:12]
        if unique not in sys.modules:
            spec = importlib.util.spec_from_file_location(unique, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[unique] = module
            spec.loader.exec_module(module)
        obj = sys.modules[unique]
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


@functools.lru_cache(maxsize=16)
def _reward_set(mode: str, na_shape: str, na_tolerance: float, parser: str, allow_empty_reasoning: bool,
                format_weight: float, rewards: tuple):
    if not rewards:
        return _REWARDS.default_rewards(mode, na_shape=na_shape, na_tolerance=na_tolerance, parser=parser,
                                        allow_empty_reasoning=allow_empty_reasoning, format_weight=format_weight,
                                        monitors=True)
    settings = _REWARDS.RewardSettings(mode=mode, na_shape=na_shape, na_tolerance=na_tolerance, parser=parser,
                                       allow_empty_reasoning=allow_empty_reasoning)
    return _REWARDS.rewards_from_specs(rewards, settings, user=_user_reward)


def _options(value):
    if value is None or isinstance(value, str):
        return None
    opts = [str(o) for o in list(value)]
    return opts or None


def compute_score(data_source=None, solution_str="", ground_truth=None, extra_info=None, **kwargs) -> dict:
    """verl's custom reward entry point: ``{"score": total, <part>: value, ...}`` for one completion."""
    extra = dict(extra_info or {})
    unknown = sorted(k for k in kwargs if k not in DEFAULTS and k not in ("reward_router_address",
                                                                           "reward_model_tokenizer"))
    if unknown:
        raise TypeError(f"compute_score(): unknown reward_kwargs {unknown}; known: {sorted(DEFAULTS)}")
    s = {**SETTINGS, **{k: v for k, v in kwargs.items() if k in DEFAULTS}}
    if "own_types" in kwargs:  # given as a reward_kwarg: declared before scoring, as the file's are at import
        _declare_own_types(kwargs["own_types"])
    mode = extra.get("mode") or s["mode"]  # the row's prompt was built for its mode
    na_shape = extra.get("na_shape") or s["na_shape"]  # validation rows: "metric" (VSI-Bench's MRA)
    if "question_type" not in extra:
        raise ValueError("extra_info lacks 'question_type' (export the data with `vsgrpo data export --format verl`)")
    if ground_truth is None:
        raise ValueError("no ground truth (the row's reward_model.ground_truth)")
    funcs, weights = _reward_set(str(mode), str(na_shape), float(s["na_tolerance"]), str(s["parser"]),
                                 bool(s["allow_empty_reasoning"]), float(s["format_weight"]),
                                 tuple((str(n), float(w)) for n, w in s["rewards"]))
    columns = {"ground_truth": [str(ground_truth)], "question_type": [str(extra["question_type"])],
               "options": [_options(extra.get("options"))]}
    out, total = {}, 0.0
    for func, weight in zip(funcs, weights):
        value = float(func(prompts=[None], completions=[solution_str or ""], **columns)[0])
        out[func.__name__] = value
        total += weight * value
    # verl's validation reports `acc` as its core metric per data source (= question type): the accuracy.
    return {"score": total, "acc": out.get("accuracy", total), **out}
