"""Every TRL method vsgrpo's trainers override keeps the pinned TRL's signature (issue 24 item 3).

``train/grpo.py`` and ``train/sft.py`` override methods of TRL 1.16's trainers, several of them
private. TRL calls them with its own arguments; an upgrade that renames or adds one must fail
here, loudly, not train silently on a pass that dropped an input. Parameter names, kinds and
defaults are compared (annotations are not: they are strings in one module and objects in the other).
"""

from __future__ import annotations

import inspect

import pytest

from vsgrpo.train.grpo import VideoGRPOTrainer
from vsgrpo.train.sft import VideoDPOTrainer, VideoSFTTrainer

OURS = (VideoGRPOTrainer, VideoSFTTrainer, VideoDPOTrainer)


def _overrides():
    """(our class, method name, the TRL class that defines it) for every method we redefine."""
    out = []
    for cls in OURS:
        for name, value in vars(cls).items():
            if not callable(value) or (name.startswith("__") and name.endswith("__")):
                continue
            owner = next((base for base in cls.__mro__[1:] if name in vars(base)), None)
            if owner is not None:
                out.append((cls, name, owner))
    return out


OVERRIDES = _overrides()


def _shape(fn):
    sig = inspect.signature(fn)
    return [(p.name, p.kind, p.default) for p in sig.parameters.values()]


def test_the_overrides_are_found():
    """The list is the one docs/architecture.md names: the GRPO private methods, SFT's train, DPO's dataset step."""
    names = {(c.__name__, n) for c, n, _ in OVERRIDES}
    assert {("VideoGRPOTrainer", "_generate_and_score_completions"), ("VideoGRPOTrainer", "_tokenize_prompts"),
            ("VideoGRPOTrainer", "_compute_loss"), ("VideoGRPOTrainer", "_get_per_token_logps_and_entropies"),
            ("VideoGRPOTrainer", "_generate_single_turn"), ("VideoGRPOTrainer", "_calculate_rewards"),
            ("VideoSFTTrainer", "train"), ("VideoDPOTrainer", "_prepare_dataset")} <= names
    assert all(owner.__module__.startswith(("trl.", "transformers.")) for _, _, owner in OVERRIDES)


@pytest.mark.parametrize("cls,name,owner", OVERRIDES, ids=[f"{c.__name__}.{n}" for c, n, _ in OVERRIDES])
def test_override_signature_equals_the_pinned_trl(cls, name, owner):
    ours, theirs = _shape(getattr(cls, name)), _shape(getattr(owner, name))
    assert ours == theirs, (f"{cls.__name__}.{name} no longer matches {owner.__module__}.{owner.__name__}.{name}:\n"
                            f"  ours:   {ours}\n  theirs: {theirs}\nupdate the override for the new TRL")
