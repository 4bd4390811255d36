"""Validation while training: the current policy on held-out VSI-Bench questions, by the evaluation code itself.

Set ``eval_questions`` (a VSI-Bench-schema parquet) and ``eval_every`` (steps) in a training
config. :class:`ValidationCallback` then, at step 0 (``eval_on_start``), every ``eval_every``
optimizer steps and at the last step, runs :func:`vsgrpo.eval.run_eval` on the policy in memory
(:meth:`~vsgrpo.eval.backends.hf.HFBackend.from_model`): the same prompts, frame sampling,
greedy decoding and scorer as ``vsgrpo eval run``. Each evaluation writes::

    OUTPUT/eval/step-N/            a complete eval run folder (config.json, samples.jsonl, results.json, ...)
    OUTPUT/eval/scores.jsonl       one line per evaluated step: {"step", "overall", "scores": {task: %}, ...}
    OUTPUT/eval/best.json          {"step", "overall", "checkpoint"}: the best checkpoint so far

The per-task scores are also logged as ``eval/<task>`` and ``eval/overall`` at that step, so
they reach every logger of the run (TensorBoard, metrics.jsonl, W&B). With ``eval_blind``
(default) the policy is also scored blind (:func:`score_blind`: the same prompts, no frames, into
``OUTPUT/eval/blind/step-N/``), logged as ``eval_blind/<task>`` and ``eval/vision_minus_blind/<task>``
and recorded in scores.jsonl (``blind``, ``vision_minus_blind``): fine-tuning raises blind scores
too, so a gain only counts where vision minus blind grows. A questions file with VSI-Bench's
``pruned`` column adds VSI-Bench-Debiased (``eval_debiased/<task>``, ``debiased`` in scores.jsonl);
``eval/overall_questions`` is the mean over questions (see :func:`extra_log`). With ``eval_keep_best``
(default) a checkpoint is saved at every evaluated step and the best one by overall score is
recorded in the trainer state (``best_metric``, ``best_global_step``): transformers' checkpoint
rotation never deletes it, whatever ``save_total_limit`` says.

Every step is recorded once, by this model: scores.jsonl holds one line per step (an evaluation
of a step already there replaces its line), a run that starts from step 0 (a first run, a rerun
after a kill before the first checkpoint, ``--overwrite``) starts without ``eval/``
(:func:`vsgrpo.train.run_folder.prepare_output`), and a resumed run keeps only the evaluations
up to its checkpoint: the trainer state restored from ``checkpoint-K`` carries the best score up
to step K; evaluations of steps after K written by the interrupted run are removed (the resumed
run recomputes those steps and evaluates them again), like the lines of metrics.jsonl. Files are
written atomically (:mod:`vsgrpo.io`).

Distributed runs: the main process evaluates while the others wait at the next collective; the
overall score is then broadcast so every rank records the same best step. Evaluation needs the
full weights on the main process, so it is refused under DeepSpeed ZeRO-3.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from transformers import TrainerCallback

from ..errors import VsgrpoError
from ..io import atomic_path, write_json
from .run_folder import EVAL_DIR

SCORES_FILE = "scores.jsonl"
BEST_FILE = "best.json"


class ValidationCallback(TrainerCallback):
    """Evaluate the policy during training; see the module doc."""

    def __init__(self, trainer, processor, *, questions: str, videos: str, out_dir: str, every: int = 0,
                 frames: int = 16, mode: str = "vanilla", style: str = "bench", limit: int = 0, batch_size: int = 4,
                 max_new_tokens: int = 0, on_start: bool = True, keep_best: bool = True, blind: bool = True):
        self.trainer, self.processor = trainer, processor
        self.questions, self.videos = str(questions), str(videos)
        self.root = Path(out_dir) / EVAL_DIR
        self.every, self.frames, self.mode, self.style = every, frames, mode, style
        self.limit, self.batch_size, self.max_new_tokens = limit, batch_size, max_new_tokens
        self.on_start, self.keep_best = on_start, keep_best
        self.blind = blind
        self.history: list[dict] = []

    @classmethod
    def from_config(cls, cfg, trainer, processor) -> ValidationCallback:
        args = trainer.args
        if getattr(args, "deepspeed_plugin", None) is not None and args.deepspeed_plugin.zero_stage == 3:
            raise VsgrpoError("eval_questions: validation while training needs the full weights on one process; "
                              "it is not supported under DeepSpeed ZeRO-3 (use ZeRO-2 or DDP for LoRA runs, or "
                              "evaluate saved checkpoints with `vsgrpo eval run`)")
        return cls(trainer, processor, questions=cfg.eval_questions, videos=cfg.eval_videos_root(),
                   out_dir=cfg.output_dir, every=cfg.eval_every, frames=cfg.eval_frames or cfg.num_frames,
                   mode=cfg.eval_mode or cfg.mode, style=cfg.eval_style, limit=cfg.eval_limit,
                   batch_size=cfg.eval_batch_size, max_new_tokens=cfg.eval_max_new_tokens,
                   on_start=cfg.eval_on_start, keep_best=cfg.eval_keep_best, blind=getattr(cfg, "eval_blind", True))

    # ------------------------------------------------------------------ events
    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self._forget_after(state.global_step)
        if state.global_step == 0 and self.on_start:
            self._evaluate(args, state, control, checkpoint=False)

    def on_step_end(self, args, state, control, **kwargs):
        step = state.global_step
        due = (self.every and step % self.every == 0) or step >= state.max_steps
        if not due:
            return
        self._evaluate(args, state, control, checkpoint=self.keep_best)
        control.should_log = True
        if self.keep_best:
            control.should_save = True

    # ------------------------------------------------------------------ work
    def _evaluate(self, args, state, control, *, checkpoint: bool) -> None:
        from accelerate.utils import broadcast_object_list

        step = state.global_step
        payload = [None]
        if state.is_world_process_zero:
            payload = [self._run(step)]
        payload = broadcast_object_list(payload, from_process=0)
        results = payload[0]
        if results is None:
            return
        overall = results.get("overall")
        scores = {k: v for k, v in (results.get("scores") or {}).items() if isinstance(v, (int, float))}
        values = {"eval/overall": overall, **{f"eval/{k}": v for k, v in scores.items()}, **extra_log(results)}
        logged = {k: float(v) for k, v in values.items() if isinstance(v, (int, float))}
        metrics = getattr(self.trainer, "_metrics", {}).get("train")
        if step == 0 or metrics is None:
            self.trainer.log(dict(logged))  # before training: a log row of its own, at step 0
        else:  # with this step's training metrics (on_step_end forces a log at this step)
            for k, v in logged.items():
                metrics[k].append(v)
        best = False
        if checkpoint and isinstance(overall, (int, float)) and step > 0:
            if state.best_metric is None or overall > state.best_metric:
                state.best_metric = float(overall)
                state.best_global_step = step
                best = True
        if state.is_world_process_zero:
            row = {"step": step, "overall": overall, "scores": scores, "errors": results.get("errors"),
                   "questions": results.get("count"),
                   "checkpoint": f"checkpoint-{step}" if checkpoint and step > 0 else None, "best": best,
                   "overall_questions": results.get("overall_questions"),
                   **{k: results[k] for k in ("blind", "vision_minus_blind") if k in results}}
            if results.get("debiased"):
                deb = results["debiased"]
                row["debiased"] = {k: deb.get(k) for k in ("overall", "overall_questions", "scores", "count")}
            self._write_history([r for r in self.history if r.get("step") != step] + [row])
            if best:
                write_json(self.root / BEST_FILE, {"step": step, "overall": overall, "checkpoint": f"checkpoint-{step}",
                                                   "path": str(Path(args.output_dir) / f"checkpoint-{step}")})

    def _run(self, step: int) -> dict:
        import torch

        from ..eval.backends.hf import HFBackend
        from ..eval.runner import EvalConfig, run_eval

        out = self.root / f"step-{step}"
        model = self.trainer.accelerator.unwrap_model(self.trainer.model)
        was_training = model.training
        config = getattr(model, "config", None)
        use_cache = getattr(config, "use_cache", None)
        model.eval()
        try:
            if config is not None:
                config.use_cache = True  # generation; gradient checkpointing may have turned it off
            backend = HFBackend.from_model(model, self.processor, name=f"policy@step-{step}")
            cfg = EvalConfig(model=f"policy@step-{step}", questions=self.questions, videos=self.videos, out=str(out),
                             frames=self.frames, mode=self.mode, style=self.style, backend="hf",
                             batch_size=self.batch_size, limit=self.limit or None,
                             max_new_tokens=self.max_new_tokens or None)
            shutil.rmtree(out, ignore_errors=True)  # never resume another attempt's predictions: this model's only
            with torch.no_grad():
                results = run_eval(cfg, backend_instance=backend)
                if self.blind:
                    score_blind(results, cfg, backend, self.root / "blind" / f"step-{step}")
                return results
        finally:
            if config is not None and use_cache is not None:
                config.use_cache = use_cache
            if was_training:
                model.train()

    def _forget_after(self, step: int) -> None:
        """Drop evaluations of steps after ``step`` (written by an interrupted run this one resumes)."""
        self.root.mkdir(parents=True, exist_ok=True)
        for p in self.root.glob("step-*"):
            m = re.fullmatch(r"step-(\d+)", p.name)
            if m and int(m.group(1)) > step:
                shutil.rmtree(p, ignore_errors=True)
        self._write_history([r for r in self._read_history() if r.get("step", 0) <= step])
        best = self.root / BEST_FILE
        if best.is_file():
            try:
                if json.loads(best.read_text(encoding="utf-8")).get("step", 0) > step:
                    rows = [r for r in self.history if r.get("checkpoint")]
                    if rows:
                        top = max(rows, key=lambda r: r["overall"])
                        write_json(best, {"step": top["step"], "overall": top["overall"],
                                          "checkpoint": top["checkpoint"],
                                          "path": str(self.root.parent / top["checkpoint"])})
                    else:
                        best.unlink()
            except (OSError, ValueError):
                best.unlink(missing_ok=True)

    def _read_history(self) -> list[dict]:
        rows = []
        scores = self.root / SCORES_FILE
        for line in scores.read_text(encoding="utf-8").splitlines() if scores.is_file() else []:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut by a crash of an older vsgrpo that appended
        return rows

    def _write_history(self, rows: list[dict]) -> None:
        """scores.jsonl := ``rows``, one line per step in step order, atomically."""
        self.history = sorted(rows, key=lambda r: r.get("step", 0))
        with atomic_path(self.root / SCORES_FILE) as tmp:
            tmp.write_text("".join(json.dumps(r, default=float) + "\n" for r in self.history), encoding="utf-8")

def score_blind(results: dict, config, backend, out: Path) -> None:
    """Score the policy blind (``config`` with ``blind=True``: the same prompts, no frames) into ``out``
    and add ``results["blind"]`` (``{"overall", "scores"}``) and ``results["vision_minus_blind"]``
    (per task and ``overall``, in points). Always a fresh run: a resumed training re-evaluates a
    step with other weights, so stale blind samples must not be reused."""
    from dataclasses import replace

    from ..eval.runner import run_eval

    blind = run_eval(replace(config, blind=True, out=str(out), overwrite=True), backend_instance=backend)
    results["blind"] = {"overall": blind.get("overall"), "scores": blind.get("scores") or {}}
    vision = {"overall": results.get("overall"), **(results.get("scores") or {})}
    seen = {"overall": blind.get("overall"), **(blind.get("scores") or {})}
    results["vision_minus_blind"] = {k: v - seen[k] for k, v in vision.items()
                                     if isinstance(v, (int, float)) and isinstance(seen.get(k), (int, float))}


def extra_log(results: dict) -> dict[str, float]:
    """Logged values beyond ``eval/<task>``: the mean over questions (``eval/overall_questions``),
    VSI-Bench-Debiased when the questions file has VSI-Bench's ``pruned`` column
    (``eval_debiased/<task>``), the blind scores (``eval_blind/<task>``) and vision minus blind
    (``eval/vision_minus_blind/<task>``)."""
    out: dict = {"eval/overall_questions": results.get("overall_questions")}
    for prefix, part in (("eval_debiased", results.get("debiased")), ("eval_blind", results.get("blind"))):
        if part:
            out.update({f"{prefix}/{k}": v for k, v in {"overall": part.get("overall"),
                                                        **(part.get("scores") or {})}.items()})
    out.update({f"eval/vision_minus_blind/{k}": v for k, v in (results.get("vision_minus_blind") or {}).items()})
    return {k: float(v) for k, v in out.items() if isinstance(v, (int, float))}
