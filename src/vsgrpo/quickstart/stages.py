"""The quickstart's stages: procedural rooms -> questions -> base eval -> (SFT) -> GRPO -> evals -> report.

Each stage composes the library's public parts, in one process; :mod:`vsgrpo.quickstart.engine`
runs them and skips those already done (see there for keys, markers and resuming):

=================  ==========================================================================
stage              what it calls
=================  ==========================================================================
synth_train        :func:`vsgrpo.sources.synthetic.generate_dataset` (seed ``S``)
synth_heldout      the same with seed ``S + HELDOUT_SEED_OFFSET`` into another root (disjoint names)
questions_train    :func:`vsgrpo.dataset.build`, ``style="train"`` (VSI-100k form, no options)
questions_heldout  :func:`vsgrpo.dataset.build`, ``style="bench"`` (VSI-Bench form, lettered options)
base_model         :func:`vsgrpo.models.tiny.build_tiny_model` (tiny profile) or the given model
eval_base          :func:`vsgrpo.eval.run_eval` on the held-out questions
train_sft          :func:`vsgrpo.train.runner.run_sft` (warm start; tiny profile by default)
eval_sft           :func:`vsgrpo.eval.run_eval`
train_grpo         :func:`vsgrpo.train.runner.run_grpo` (the paper's rewards, KL beta 1e-4)
eval_grpo          :func:`vsgrpo.eval.run_eval`
report             :func:`vsgrpo.quickstart.report.build_report`
=================  ==========================================================================

Markers live in ``OUT/.quickstart/``; only folders this pipeline creates are ever removed. An
interrupted training stage continues from its last checkpoint. The settings and profiles are in
:mod:`vsgrpo.quickstart.config`.
"""

from __future__ import annotations

import json
import shlex
import time
from pathlib import Path

from ..errors import VsgrpoError
from ..io import write_json
from .config import HELDOUT_SEED_OFFSET, TINY_MODEL, QuickstartConfig
from .engine import Engine, Stage

MARKER_DIR = ".quickstart"
SUMMARY_FILE = "summary.json"


class Pipeline:
    """Builds the stage list for a :class:`QuickstartConfig` and runs it, resuming finished stages."""

    def __init__(self, config: QuickstartConfig):
        config.validate()
        self.config = config
        self.s = config.resolved()
        self.out = Path(config.out)
        self.paths = {
            "train_root": self.out / "data" / "train",
            "heldout_root": self.out / "data" / "heldout",
            "train_q": self.out / "questions" / "train",
            "heldout_q": self.out / "questions" / "heldout",
            "base_model": self.out / "models" / "base",
            "sft": self.out / "train" / "sft",
            "grpo": self.out / "train" / "grpo",
        }
        self.engine = Engine(self.out, marker_dir=MARKER_DIR, log_prefix="quickstart")
        self._add = self.engine.add
        self._build_stages()

    @property
    def stages(self) -> list[Stage]:
        return self.engine.stages

    # ---- settings and paths

    def recipes_dir(self) -> Path:
        if self.config.recipes:
            d = Path(self.config.recipes)
        else:
            d = Path(__file__).resolve().parents[3] / "recipes"  # src/vsgrpo/quickstart -> repository
        return d

    def _recipe(self, rel: str | None) -> Path | None:
        if rel is None:
            return None
        p = self.recipes_dir() / rel
        if not p.is_file():
            raise VsgrpoError(f"recipe {p} not found; pass --recipes DIR (the folder holding {rel})")
        return p

    def tiny_model_settings(self) -> dict:
        kw = dict(TINY_MODEL)
        if self.config.tiny_hidden_size:
            kw["hidden_size"] = self.config.tiny_hidden_size
        if self.config.tiny_layers:
            kw["num_hidden_layers"] = self.config.tiny_layers
        return kw

    def model_path(self) -> str:
        return str(self.paths["base_model"]) if self.config.model is None else self.config.model

    def eval_dir(self, stage: str) -> Path:
        return self.out / "eval" / stage

    # ---- stage list

    def _build_stages(self) -> None:
        s, p = self.s, self.paths
        synth = dict(frames=s["video_frames"], size=s["video_size"])
        self._add("synth_train", f"procedural rooms for training ({s['scenes']} scenes)",
                  dict(synth, scenes=s["scenes"], seed=s["seed"]), lambda: self._synth("train_root", s["scenes"],
                                                                                      s["seed"]),
                  owns=(p["train_root"],), resumable=True)
        self._add("synth_heldout", f"held-out procedural rooms ({s['heldout_scenes']} scenes)",
                  dict(synth, scenes=s["heldout_scenes"], seed=s["seed"] + HELDOUT_SEED_OFFSET),
                  lambda: self._synth("heldout_root", s["heldout_scenes"], s["seed"] + HELDOUT_SEED_OFFSET),
                  owns=(p["heldout_root"],), resumable=True)
        self._add("questions_train", "training questions (VSI-100k style)",
                  dict(tasks=s["tasks"], per_scene=s["per_scene"], seed=s["seed"], style="train"),
                  lambda: self._questions("train_root", "train_q", "train"), after=("synth_train",),
                  owns=(p["train_q"],))
        self._add("questions_heldout", "held-out benchmark questions (VSI-Bench style)",
                  dict(tasks=s["tasks"], per_scene=s["per_scene"], seed=s["seed"], style="bench"),
                  lambda: self._questions("heldout_root", "heldout_q", "bench"), after=("synth_heldout",),
                  owns=(p["heldout_q"],))
        if self.config.model is None:
            self._add("base_model", "tiny base model", dict(self.tiny_model_settings(), seed=s["seed"]),
                      self._tiny_model,
                      owns=(p["base_model"],))
            model_after: tuple[str, ...] = ("base_model",)
        else:
            model_after = ()
        self._add("eval_base", "evaluate the base model on the held-out benchmark", self._eval_key("base"),
                  lambda: self._eval("base", self.model_path()), after=model_after + ("questions_heldout",),
                  owns=(self.eval_dir("base"),), resumable=True)
        start, start_after = self.model_path(), model_after
        if s["sft"]:
            steps = f"{s['sft_steps']} steps" if s["sft_steps"] else "recipe steps"
            self._add("train_sft", f"SFT warm start ({steps})", lambda: self._train_key("sft", start),
                      lambda: self._train("sft"), after=start_after + ("questions_train",), owns=(p["sft"],),
                      resumable=True)
            self._add("eval_sft", "evaluate the SFT model", self._eval_key("sft"),
                      lambda: self._eval("sft", self._trained_model("sft")),
                      after=("train_sft", "questions_heldout"), owns=(self.eval_dir("sft"),), resumable=True)
            start, start_after = self._trained_model_path("sft"), ("train_sft",)
        steps = f"{s['steps']} steps" if s["steps"] else "recipe steps"
        self._add("train_grpo", f"GRPO ({steps})", lambda st=start: self._train_key("grpo", st),
                  lambda: self._train("grpo"), after=start_after + ("questions_train",), owns=(p["grpo"],),
                  resumable=True)
        self._add("eval_grpo", "evaluate the GRPO model", self._eval_key("grpo"),
                  lambda: self._eval("grpo", self._trained_model("grpo")),
                  after=("train_grpo", "questions_heldout"), owns=(self.eval_dir("grpo"),), resumable=True)

    # ---- stage bodies

    def _synth(self, root: str, scenes: int, seed: int) -> dict:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        from ..sources.synthetic import SynthConfig, generate_dataset

        w, h = self.s["video_size"]
        cfg = SynthConfig(scenes=scenes, seed=seed, frames=self.s["video_frames"], width=w, height=h,
                          workers=self.config.workers)
        # Render in a child process so Mesa and the renderer's memory stay out of the process that
        # later trains (in-process rendering is safe too: see render._load_triton_first).
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            names = pool.submit(generate_dataset, str(self.paths[root]), cfg).result()
        return {"scenes": names}

    def _questions(self, root: str, out: str, style: str) -> dict:
        from ..dataset import build
        from ..questions import BuildConfig

        cfg = BuildConfig(style=style, per_scene=self.s["per_scene"], seed=self.s["seed"],
                          tasks=tuple(self.s["tasks"]))
        summary = build(self.paths[root] / "meta", self.paths[out], cfg)
        if not summary.get("questions"):
            raise VsgrpoError(f"no {style} questions could be built for tasks {', '.join(self.s['tasks'])}; "
                              "use more --scenes or other --tasks")
        return {"questions": summary["questions"]}

    def _tiny_model(self) -> dict:
        from ..models.tiny import build_tiny_model

        kw = self.tiny_model_settings()
        build_tiny_model(kw.pop("family"), self.paths["base_model"], tokenizer=kw.pop("tokenizer"),
                         seed=self.s["seed"], **kw)
        return {}

    def _frames(self) -> int:
        return self.s["frames"] or self._train_config("grpo", self.model_path()).num_frames

    def _pixels(self) -> dict:
        cfg = self._train_config("grpo", self.model_path())
        return {k: v for k, v in (("min_pixels", cfg.min_pixels), ("max_pixels", cfg.max_pixels)) if v}

    def _eval_key(self, stage: str):
        def key() -> dict:
            # Frames, pixel budget, prompt mode and dtype of the evaluation follow the GRPO settings.
            cfg = self._train_config("grpo", self.model_path())
            return dict(style=self.s["eval_style"], limit=self.s["eval_limit"], batch=self.s["eval_batch_size"],
                        frames=self._frames(), pixels=self._pixels(), mode=cfg.mode, dtype=cfg.dtype,
                        model=self.config.model if stage == "base" else stage)

        return key

    def _eval(self, stage: str, model: str) -> dict:
        from ..eval import run_eval

        cfg = self._train_config("grpo", self.model_path())
        opts = self._pixels()
        if cfg.dtype != "auto":
            opts["dtype"] = cfg.dtype
        results = run_eval(model=model, questions=str(self.paths["heldout_q"] / "questions.parquet"),
                           videos=str(self.paths["heldout_root"] / "videos"), out=str(self.eval_dir(stage)),
                           frames=self._frames(), mode=cfg.mode, style=self.s["eval_style"],
                           batch_size=self.s["eval_batch_size"], limit=self.s["eval_limit"],
                           backend_options=opts)
        return {"overall": results.get("overall"), "count": results.get("count")}

    def _train_spec(self, method: str, model: str) -> tuple[Path | None, list[str]]:
        """The recipe and ``key=value`` overrides of a training stage (profile settings, then the user's)."""
        prof = self.config.profile
        recipe = self._recipe(prof.sft_recipe if method == "sft" else prof.grpo_recipe)
        base = dict(prof.sft if method == "sft" else prof.grpo)
        steps = self.s["sft_steps"] if method == "sft" else self.s["steps"]
        if steps:
            base["max_steps"] = steps
        if self.s["frames"]:
            base["num_frames"] = self.s["frames"]
        base.update(model=model, data=str(self.paths["train_q"] / "questions.parquet"),
                    video_root=str(self.paths["train_root"] / "videos"), output_dir=str(self.paths[method]),
                    seed=self.s["seed"], question_types=list(self.s["tasks"]))
        user = self.config.sft_overrides if method == "sft" else self.config.grpo_overrides
        return recipe, [f"{k}={json.dumps(v)}" for k, v in base.items()] + list(user)

    def _train_config(self, method: str, model: str):
        """The resolved training config (validated: needs the training questions to exist)."""
        from ..train.config import load_config

        recipe, overrides = self._train_spec(method, model)
        return load_config(method, recipe, overrides)

    def _train_key(self, method: str, model: str) -> dict:
        recipe, overrides = self._train_spec(method, model)
        # Paths under --out are left out (the same run moved or named ./out vs out stays done); the start
        # model is named by the upstream stage keys, or by the user's --model.
        where = ("data=", "video_root=", "output_dir=", "model=")
        kept = [o for o in overrides if not o.startswith(where)]
        return {"method": method, "recipe": recipe.read_text(encoding="utf-8") if recipe else None,
                "overrides": kept, "start": self.config.model if model == self.config.model else "pipeline"}

    def _train(self, method: str) -> dict:
        from ..train.runner import last_checkpoint, run_grpo, run_sft

        start = self.model_path() if method == "sft" or not self.s["sft"] else self._trained_model("sft")
        cfg = self._train_config(method, start)
        resume = last_checkpoint(cfg.output_dir) is not None
        if resume:
            self.engine.log(f"continuing {method} from {last_checkpoint(cfg.output_dir).name}")
        (run_sft if method == "sft" else run_grpo)(cfg, resume=resume)
        return {"lora": cfg.lora}

    def _trained_model_path(self, method: str) -> str:
        """Names the start model of the next stage in its key (the folder itself is made by training)."""
        return f"{self.paths[method]}:trained"

    def _trained_model(self, method: str) -> str:
        """The trained model as a full model folder (merging a LoRA adapter into its base once)."""
        from .merge import merged_model

        return str(merged_model(self.paths[method]))

    # ---- running

    def marker(self, stage: Stage) -> Path:
        return self.engine.marker(stage)

    def _set_threads(self) -> None:
        # A tiny model's ops are far too small to gain from intra-op threads, and on a busy machine
        # OpenMP threads waiting for each other make a step 5-10x slower (measured: docs/quickstart.md).
        threads = self.config.threads or (1 if self.config.model is None else None)
        if threads:
            import torch

            torch.set_num_threads(threads)

    def run(self) -> dict:
        """Run every stage not finished yet, then the report. Returns the summary (also ``summary.json``)."""
        from .report import build_report

        self._set_threads()
        t_all = time.perf_counter()
        timings = self.engine.run(extra_steps=1)
        n = len(self.stages) + 1
        self.engine.log(f"[{n}/{n}] report ...")
        t0 = time.perf_counter()
        build_report(self.summary(timings, total=None), self.out)
        timings.append({"name": "report", "title": "report", "seconds": time.perf_counter() - t0, "reused": False})
        summary = self.summary(timings, total=time.perf_counter() - t_all)
        write_json(self.out / SUMMARY_FILE, summary)
        md, html = build_report(summary, self.out)  # again, with the report's own time and the total
        self.engine.log(f"wrote {md} and {html}")
        return summary

    def summary(self, timings: list[dict], total: float | None) -> dict:
        evals = {st: f"eval/{st}/results.json" for st in ("base", "sft", "grpo")
                 if st != "sft" or self.s["sft"]}
        training = {m: f"train/{m}/metrics.jsonl" for m in ("sft", "grpo") if m != "sft" or self.s["sft"]}
        data = {}
        for split, key in (("train", "train_q"), ("held-out", "heldout_q")):
            f = self.paths[key] / "summary.json"
            if f.is_file():
                d = json.loads(f.read_text(encoding="utf-8"))
                data[split] = {"scenes": d.get("scenes"), "questions": d.get("questions"),
                               "counts": {k: v for k, v in (d.get("counts") or {}).items() if v}}
        s = self.s
        settings = {"profile": s["profile"], "model": self.config.model or "tiny random " + ", ".join(
                        f"{k} {v}" for k, v in self.tiny_model_settings().items()),
                    "seed": s["seed"], "tasks": ",".join(s["tasks"]), "frames per question": self._frames(),
                    "video": f"{s['video_frames']} frames, {s['video_size'][0]}x{s['video_size'][1]}",
                    "evaluation prompts": s["eval_style"]}
        for m in ("sft", "grpo"):
            if m == "sft" and not s["sft"]:
                continue
            c = self._train_config(m, self.model_path())
            extra = f", beta {c.beta:g}, {c.num_generations} generations, loss {c.loss_type}" if m == "grpo" else ""
            settings[m] = (f"{c.max_steps} steps, lr {c.learning_rate:g}, batch {c.per_device_train_batch_size}, "
                           f"{'LoRA r' + str(c.lora_r) if c.lora else 'full weights'}, mode {c.mode}{extra}")
        return {"title": "vsgrpo quickstart report", "command": self.command(), "settings": settings,
                "evals": evals, "training": training, "trained_tasks": list(s["tasks"]), "data": data,
                "stages": timings, "total_seconds": total}

    def command(self) -> str:
        c = self.config
        parts = ["vsgrpo", "quickstart", "--out", c.out]
        for flag, v in (("--model", c.model), ("--scenes", c.scenes), ("--heldout-scenes", c.heldout_scenes),
                        ("--steps", c.steps), ("--sft-steps", c.sft_steps), ("--eval-limit", c.eval_limit),
                        ("--frames", c.frames)):
            if v is not None:
                parts += [flag, str(v)]
        if c.sft != "auto":
            parts += ["--sft", c.sft]
        if c.seed:
            parts += ["--seed", str(c.seed)]
        if c.tasks is not None:
            parts += ["--tasks", ",".join(c.tasks)]
        return " ".join(shlex.quote(x) for x in parts)


def run_quickstart(config: QuickstartConfig | None = None, **kwargs) -> dict:
    """Run (or resume) the quickstart; returns the summary written to ``OUT/summary.json``."""
    if config is None:
        config = QuickstartConfig(**kwargs)
    return Pipeline(config).run()

