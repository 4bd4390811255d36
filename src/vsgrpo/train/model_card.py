"""The model card (``README.md``) of a run's ``final/``: what the model is and how it was made.

Written after training, beside the weights or the LoRA adapter (replacing peft's generic card):
the base model and its family, how to load it (``vsgrpo eval run --model FINAL``, ``vsgrpo model
merge``), the recipe (every setting, from the run's config.yaml), the data (the parquet, its
question count and, when present, the build summary's preset, seed and counts), and the held-out
scores of validation while training (``eval/scores.jsonl``, ``eval/best.json``) when it ran.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from ..io import atomic_path
from .config import TrainConfig
from .run_folder import EVAL_DIR

CARD = "README.md"


def _base_model(final: Path, cfg: TrainConfig) -> str:
    from ..models.loading import adapter_base, is_adapter

    try:
        return adapter_base(final) if is_adapter(final) else cfg.model
    except Exception:  # noqa: BLE001 - the card never fails a finished run; it names the config's model instead
        return cfg.model


def _family(processor) -> str:
    from ..models.families import family_of

    try:
        return family_of(processor).name
    except Exception:  # noqa: BLE001
        return "unknown"


def _data(cfg: TrainConfig) -> list[str]:
    lines = [f"- questions: `{Path(cfg.data).resolve()}`"]
    from .budget import data_questions

    try:
        n = data_questions(cfg)
    except Exception:  # noqa: BLE001
        n = None
    if n is not None:
        lines.append(f"- questions trained on (after `question_types` / `max_samples`): {n:,}")
    summary = Path(cfg.data).parent / "summary.json"
    try:
        s = json.loads(summary.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        s = None
    if isinstance(s, dict):
        config = s.get("config") if isinstance(s.get("config"), dict) else {}
        for key in ("preset", "seed", "style", "per_scene"):
            if key in config:
                lines.append(f"- {key}: `{config[key]}`")
        if isinstance(s.get("counts"), dict):
            lines.append("- counts by question type: " + ", ".join(f"{k} {v}" for k, v in sorted(s["counts"].items())))
    if cfg.question_types:
        lines.append(f"- question types: {', '.join(cfg.question_types)}")
    return lines


def _scores(run_dir: Path) -> list[str]:
    ev = run_dir / EVAL_DIR
    rows = []
    scores = ev / "scores.jsonl"
    for line in scores.read_text(encoding="utf-8").splitlines() if scores.is_file() else []:
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue
    if not rows:
        return ["Validation did not run (set `eval_questions` to score a held-out set while training)."]
    tasks = sorted({t for r in rows for t in (r.get("scores") or {})})
    out = ["| step | overall | " + " | ".join(tasks) + " |", "|---|---|" + "---|" * len(tasks)]
    for r in rows:
        cells = [_num((r.get("scores") or {}).get(t)) for t in tasks]
        out.append(f"| {r.get('step')} | {_num(r.get('overall'))} | " + " | ".join(cells) + " |")
    try:
        best = json.loads((ev / "best.json").read_text(encoding="utf-8"))
        out += ["", f"Best: step {best['step']} (overall {_num(best['overall'])}), `{best['checkpoint']}/`."]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return out


def _num(v) -> str:
    return f"{v:.1f}" if isinstance(v, (int, float)) else "-"


def model_card(final: Path, cfg: TrainConfig, *, run_dir: Path, global_step: int, processor=None) -> str:
    import yaml

    base = _base_model(final, cfg)
    family = _family(processor) if processor is not None else "unknown"
    kind = f"LoRA adapter (r={cfg.lora_r}, alpha={cfg.lora_alpha})" if cfg.lora else "full model"
    recipe = yaml.safe_dump({"method": cfg.method, **dataclasses.asdict(cfg)}, sort_keys=False).rstrip()
    lines = [
        "---", f"base_model: {json.dumps(base)}", "library_name: " + ("peft" if cfg.lora else "transformers"),
        "tags: [vsgrpo, video, spatial-reasoning, " + cfg.method + "]", "---", "",
        f"# {run_dir.name}: {cfg.method.upper()} on {Path(base).name}", "",
        f"- base model: `{base}`", f"- family: {family}", f"- weights: {kind}, after {global_step} optimizer steps",
        f"- method: {cfg.method} (vsgrpo), prompt mode: {cfg.mode}, frames per video: {cfg.num_frames}", "",
        "Evaluate or merge it (vsgrpo loads the base model from the adapter's record, from any folder):", "",
        "```", f"vsgrpo eval run --model {final.resolve()} --questions Q.parquet --videos VIDEOS --out OUT",
        f"vsgrpo model merge {final.resolve()} --out MERGED   # standalone safetensors model, no peft needed",
        "```", "", "## Data", "", *_data(cfg), "", "## Held-out scores (validation while training)", "",
        *_scores(run_dir), "", "## Recipe", "", "Every setting of the run (its `config.yaml`):", "", "```yaml", recipe,
        "```", "",
    ]
    return "\n".join(lines)


def write_model_card(final: Path, cfg: TrainConfig, *, run_dir: Path, global_step: int, processor=None) -> Path:
    path = final / CARD
    with atomic_path(path) as tmp:
        tmp.write_text(model_card(final, cfg, run_dir=run_dir, global_step=global_step, processor=processor),
                       encoding="utf-8")
    return path
