"""GRPO sample logging: the completions TRL keeps for its tables, written to OUTPUT/samples.jsonl."""

from __future__ import annotations

import json
from pathlib import Path

from transformers import TrainerCallback


class SampleLogger(TrainerCallback):
    """After each logging step, append up to ``limit`` (prompt, completion, rewards) samples."""

    def __init__(self, limit: int = 8):
        self.limit = limit
        self.trainer = None
        self._written_step = None  # the end-of-training log repeats the last step's store: write it once

    def on_log(self, args, state, control, logs=None, **kwargs):
        trainer = self.trainer
        if trainer is None or not state.is_world_process_zero:
            return
        store = getattr(trainer, "_logs", None)
        if not store or not store.get("completion") or state.global_step == self._written_step:
            return
        self._written_step = state.global_step
        prompts, completions = list(store["prompt"]), list(store["completion"])
        rewards = {k: list(v) for k, v in store.get("rewards", {}).items()}
        advantages = list(store.get("advantages", []))
        with open(Path(args.output_dir) / "samples.jsonl", "a", encoding="utf-8") as f:
            for i in range(max(0, len(completions) - self.limit), len(completions)):
                row = {"step": state.global_step, "prompt": _text(prompts[i]), "completion": _text(completions[i]),
                       "rewards": {k: v[i] for k, v in rewards.items() if i < len(v)},
                       "advantage": advantages[i] if i < len(advantages) else None}
                f.write(json.dumps(row, ensure_ascii=False, default=float) + "\n")


def _text(x) -> str:
    from ..rewards import completion_text

    return x if isinstance(x, str) else completion_text(x)
