"""Named settings from the paper (Liao et al. 2025, arXiv 2504.00883), in one place.

- :data:`VSI100K`: how VSI-100k was built, as ``vsgrpo data build --preset vsi100k`` applies it:
  six tasks (route planning and appearance order held out), distances between object
  *centres*, train style (no options; the answer is the word or number), and the paper's task
  mix: ``paper_counts`` are the sizes the paper reports, and the build keeps per-scene, per-task
  quotas so that each task's share of the questions is the paper's (``mix``,
  :func:`vsgrpo.dataset.apply_mix`).
- :data:`PAPER_GRPO`: the GRPO settings the paper states, which ``vsgrpo train grpo --dry-run``
  compares a run against (everything else in the recipes is ours; see docs/training.md).
"""

from __future__ import annotations

from collections.abc import Mapping

from .question_types import question_types, scored_task_of

VSI100K = {
    # question_type values of the six VSI-100k tasks (relative direction: its three levels): the types
    # whose facts name the preset (vsgrpo.question_types)
    "tasks": question_types(preset="vsi100k"),
    "style": "train",
    "distance": "center",
    "per_scene": None,  # every valid question per scene is a candidate; the mix then sets the quotas
    "mix": "vsi100k",
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
    "question_types": list(VSI100K["tasks"]),
    "mode": "vanilla",                  # the headline 2B/7B results
}
PAPER_LEARNING_RATE = {"2b": 1e-5, "7b": 5e-6}


def mix_counts(name: str) -> dict[str, int]:
    """The per-task counts whose shares a build with ``mix=name`` keeps (a preset's ``paper_counts``)."""
    from .errors import VsgrpoError

    counts = DATA_PRESETS.get(name, {}).get("paper_counts")
    if not counts:
        known = ", ".join(k for k, v in DATA_PRESETS.items() if v.get("paper_counts"))
        raise VsgrpoError(f"unknown task mix {name!r}; known: {known}")
    return dict(counts)


def counts_beside_paper(counts: Mapping[str, int], preset: Mapping = VSI100K) -> list[tuple[str, int, int | None]]:
    """``[(task, ours, paper)]``: per-type counts of a build summed per task, next to the paper's."""
    ours: dict[str, int] = {}
    for qt, n in counts.items():
        ours[scored_task_of(qt)] = ours.get(scored_task_of(qt), 0) + int(n)
    paper = preset.get("paper_counts", {})
    names = list(paper) + [t for t in ours if t not in paper]
    return [(t, ours.get(t, 0), paper.get(t)) for t in names]


def format_counts_table(counts: Mapping[str, int], preset: Mapping = VSI100K) -> str:
    """Per task: our count and share beside the paper's (shares in percent of each total)."""
    rows = counts_beside_paper(counts, preset)
    ours_total = sum(r[1] for r in rows) or 1
    paper_total = sum(r[2] or 0 for r in rows) or 1
    lines = [f"  {'task':<26} {'built':>8} {'share':>7} {'paper':>8} {'share':>7}"]
    for task, ours, paper in rows:
        theirs = f"{paper:>8} {paper / paper_total:>7.1%}" if paper is not None else f"{'-':>8} {'-':>7}"
        lines.append(f"  {task:<26} {ours:>8} {ours / ours_total:>7.1%} {theirs}")
    lines.append(f"  {'total':<26} {sum(r[1] for r in rows):>8} {'':>7} {sum(r[2] or 0 for r in rows):>8}")
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
