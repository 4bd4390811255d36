"""Named settings from the paper (Liao et al. 2025, arXiv 2504.00883), in one place.

- :data:`VSI100K`: how VSI-100k was built, as ``vsgrpo data build --preset vsi100k`` applies it:
  six tasks (route planning and appearance order held out), distances between object
  *centres*, train style (no options; the answer is the word or number), every valid question
  of every scene (room size: one per scene). ``paper_counts`` are the sizes the paper reports.
- :data:`PAPER_GRPO`: the GRPO settings the paper states, which ``vsgrpo train grpo --dry-run``
  compares a run against (everything else in the recipes is ours; see docs/training.md).
"""

from __future__ import annotations

from collections.abc import Mapping

# question_type values of the six VSI-100k tasks (relative direction: its three levels)
VSI100K_TYPES = ("object_counting", "object_abs_distance", "object_size_estimation", "room_size_estimation",
                 "object_rel_distance", "object_rel_direction_easy", "object_rel_direction_medium",
                 "object_rel_direction_hard")

VSI100K = {
    "tasks": VSI100K_TYPES,
    "style": "train",
    "distance": "center",
    "per_scene": None,  # all questions per scene
    # The paper's counts per task (VSI-100k, ~1.5k ScanNet scenes).
    "paper_counts": {"object_counting": 6_400, "object_abs_distance": 75_000, "object_rel_distance": 13_000,
                     "object_rel_direction": 8_000, "object_size_estimation": 13_000,
                     "room_size_estimation": 1_500},
}

DATA_PRESETS = {"vsi100k": VSI100K}

# Stated in the paper (facts.md section 1). learning_rate depends on the model size.
PAPER_GRPO = {
    "lora": True,
    "num_generations": 14,
    "temperature": 1.0,
    "beta": 1e-4,
    "kl_estimator": "k3",
    "loss_type": "grpo",                # DeepSeekMath's GRPO objective, which the paper cites
    "use_bias_correction_kl": False,    # DeepSeekMath: plain k3 term, no importance weight on it
    "scale_rewards": "group",
    "question_types": list(VSI100K_TYPES),
    "mode": "vanilla",                  # the headline 2B/7B results
}
PAPER_LEARNING_RATE = {"2b": 1e-5, "7b": 5e-6}


def task_of(question_type: str) -> str:
    """The paper's task a question type belongs to (the three relative-direction levels are one)."""
    return "object_rel_direction" if question_type.startswith("object_rel_direction") else question_type


def counts_beside_paper(counts: Mapping[str, int], preset: Mapping = VSI100K) -> list[tuple[str, int, int | None]]:
    """``[(task, ours, paper)]``: per-type counts of a build summed per task, next to the paper's."""
    ours: dict[str, int] = {}
    for qt, n in counts.items():
        ours[task_of(qt)] = ours.get(task_of(qt), 0) + int(n)
    paper = preset.get("paper_counts", {})
    names = list(paper) + [t for t in ours if t not in paper]
    return [(t, ours.get(t, 0), paper.get(t)) for t in names]


def format_counts_table(counts: Mapping[str, int], preset: Mapping = VSI100K) -> str:
    rows = counts_beside_paper(counts, preset)
    lines = [f"  {'task':<26} {'built':>8} {'paper':>8} {'ratio':>7}"]
    for task, ours, paper in rows:
        ratio = f"{ours / paper:>7.2f}" if paper else f"{'-':>7}"
        lines.append(f"  {task:<26} {ours:>8} {paper if paper is not None else '-':>8} {ratio}")
    lines.append(f"  {'total':<26} {sum(r[1] for r in rows):>8} {sum(r[2] or 0 for r in rows):>8}")
    return "\n".join(lines)


def paper_check(cfg) -> dict:
    """``{setting: {"paper", "run", "same"}}`` for a GRPO config against :data:`PAPER_GRPO`."""
    run = {"lora": cfg.lora, "num_generations": cfg.num_generations, "temperature": cfg.temperature,
           "beta": cfg.beta, "kl_estimator": "k3", "loss_type": cfg.loss_type,
           "use_bias_correction_kl": cfg.use_bias_correction_kl, "scale_rewards": cfg.scale_rewards,
           "question_types": sorted(cfg.question_types) or "all types in the data", "mode": cfg.mode}
    paper = dict(PAPER_GRPO, question_types=sorted(PAPER_GRPO["question_types"]))
    size = "7b" if "7b" in str(cfg.model).lower() else "2b"
    paper["learning_rate"] = PAPER_LEARNING_RATE[size]
    run["learning_rate"] = cfg.learning_rate
    return {k: {"paper": paper[k], "run": run[k], "same": paper[k] == run[k]} for k in paper}
