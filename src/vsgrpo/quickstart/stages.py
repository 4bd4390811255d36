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
eval_base          :func:`vsgrpo.eval.run_eval` on the held-out questions (and blind: no frames)
train_warmup       :func:`vsgrpo.train.runner.run_sft` (the supervised warm-up; tiny profile by default)
eval_warmup        :func:`vsgrpo.eval.run_eval`
train_sft          :func:`vsgrpo.train.runner.run_sft` from the same start as GRPO, as many questions
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
from .config import HELDOUT_SEED_OFFSET, TINY_MODEL, TINY_TASKS, QuickstartConfig
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
            "warmup": self.out / "train" / "warmup",
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

    @property
    def seeds(self) -> list[int]:
        """Training seeds: ``--seed`` and the next ``--seeds - 1`` integers (the data is built once)."""
        return [self.s["seed"] + i for i in range(self.s["seeds"])]

    def _seed_dir(self, seed: int) -> Path:
        """Where a seed's models, training and evaluations go: the run folder itself for the first seed."""
        return self.out if seed == self.s["seed"] else self.out / "seeds" / f"seed{seed}"

    def _path(self, what: str, seed: int) -> Path:
        """``base_model``, ``warmup``, ``sft`` or ``grpo`` of one seed."""
        return self._seed_dir(seed) / self.paths[what].relative_to(self.out)

    def model_path(self, seed: int | None = None) -> str:
        if self.config.model is not None:
            return self.config.model
        return str(self._path("base_model", self.s["seed"] if seed is None else seed))

    def _shares_base(self, seed: int) -> bool:
        """A real model's base evaluation does not depend on the seed (greedy decoding): done once."""
        return self.config.model is not None and seed != self.s["seed"]

    def eval_dir(self, stage: str, seed: int | None = None, *, blind: bool = False) -> Path:
        seed = self.s["seed"] if seed is None else seed
        if stage == "base" and self._shares_base(seed):
            seed = self.s["seed"]
        return self._seed_dir(seed) / "eval" / (f"{stage}-blind" if blind else stage)

    def _name(self, name: str, seed: int) -> str:
        return name if seed == self.s["seed"] else f"{name}_seed{seed}"

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
        for seed in self.seeds:
            self._seed_stages(seed)

    def _seed_stages(self, seed: int) -> None:
        """Base model (tiny profile), training and evaluations of one training seed."""
        s, n = self.s, (lambda name: self._name(name, seed))
        tag = "" if seed == s["seed"] else f" (seed {seed})"
        if self.config.model is None:
            self._add(n("base_model"), "tiny base model" + tag, dict(self.tiny_model_settings(), seed=seed),
                      lambda: self._tiny_model(seed), owns=(self._path("base_model", seed),))
            model_after: tuple[str, ...] = (n("base_model"),)
        else:
            model_after = ()

        def evaluate(stage: str, title: str, model, after: tuple[str, ...]) -> None:
            if stage == "base" and self._shares_base(seed):
                return
            for blind in (False, True) if s["blind"] else (False,):
                name = n(f"eval_{stage}" + ("_blind" if blind else ""))
                what = title + (" blind (no video)" if blind else "") + tag
                self._add(name, what, self._eval_key(stage, seed, blind),
                          lambda st=stage, b=blind: self._eval(st, model(), seed, blind=b),
                          after=after + ("questions_heldout",), owns=(self.eval_dir(stage, seed, blind=blind),),
                          resumable=True)

        evaluate("base", "evaluate the base model on the held-out benchmark", lambda: self.model_path(seed),
                 model_after)
        start, start_after = self.model_path(seed), model_after
        if s["warmup"]:
            self._add(n("train_warmup"), f"supervised warm-up ({s['warmup_steps']} steps){tag}",
                      lambda st=start: self._train_key("warmup", st, seed), lambda: self._train("warmup", seed),
                      after=start_after + ("questions_train",), owns=(self._path("warmup", seed),), resumable=True)
            evaluate("warmup", "evaluate the warm-up model", lambda: self._trained_model("warmup", seed),
                     (n("train_warmup"),))
            start, start_after = self._trained_model_path("warmup", seed), (n("train_warmup"),)
        if s["sft"]:
            steps = f"{s['sft_steps']} steps" if s["sft_steps"] else "as many questions as GRPO"
            self._add(n("train_sft"), f"SFT baseline ({steps}){tag}", lambda st=start: self._train_key("sft", st, seed),
                      lambda: self._train("sft", seed), after=start_after + ("questions_train",),
                      owns=(self._path("sft", seed),), resumable=True)
            evaluate("sft", "evaluate the SFT model", lambda: self._trained_model("sft", seed), (n("train_sft"),))
        steps = f"{s['steps']} steps" if s["steps"] else "recipe steps"
        self._add(n("train_grpo"), f"GRPO ({steps}){tag}", lambda st=start: self._train_key("grpo", st, seed),
                  lambda: self._train("grpo", seed), after=start_after + ("questions_train",),
                  owns=(self._path("grpo", seed),), resumable=True)
        evaluate("grpo", "evaluate the GRPO model", lambda: self._trained_model("grpo", seed), (n("train_grpo"),))

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

    def _tiny_model(self, seed: int) -> dict:
        from ..models.tiny import build_tiny_model

        kw = self.tiny_model_settings()
        build_tiny_model(kw.pop("family"), self._path("base_model", seed), tokenizer=kw.pop("tokenizer"),
                         seed=seed, **kw)
        return {}

    def _frames(self) -> int:
        return self.s["frames"] or self._train_config("grpo", self.model_path()).num_frames

    def _pixels(self) -> dict:
        cfg = self._train_config("grpo", self.model_path())
        return {k: v for k, v in (("min_pixels", cfg.min_pixels), ("max_pixels", cfg.max_pixels)) if v}

    def _eval_key(self, stage: str, seed: int, blind: bool = False):
        def key() -> dict:
            # Frames, pixel budget, prompt mode and dtype of the evaluation follow the GRPO settings.
            cfg = self._train_config("grpo", self.model_path())
            k = dict(style=self.s["eval_style"], limit=self.s["eval_limit"], batch=self.s["eval_batch_size"],
                     frames=self._frames(), pixels=self._pixels(), mode=cfg.mode, dtype=cfg.dtype,
                     model=self.config.model if stage == "base" else stage)
            if blind:
                k["blind"] = True
            if seed != self.s["seed"]:
                k["seed"] = seed
            return k

        return key

    def _eval(self, stage: str, model: str, seed: int | None = None, *, blind: bool = False) -> dict:
        from ..eval import run_eval

        cfg = self._train_config("grpo", self.model_path())
        opts = self._pixels()
        if cfg.dtype != "auto":
            opts["dtype"] = cfg.dtype
        results = run_eval(model=model, questions=str(self.paths["heldout_q"] / "questions.parquet"),
                           videos=str(self.paths["heldout_root"] / "videos"),
                           out=str(self.eval_dir(stage, seed, blind=blind)), frames=self._frames(), mode=cfg.mode,
                           style=self.s["eval_style"], batch_size=self.s["eval_batch_size"],
                           limit=self.s["eval_limit"], blind=blind, backend_options=opts)
        return {"overall": results.get("overall"), "count": results.get("count")}

    def _train_spec(self, method: str, model: str, seed: int | None = None) -> tuple[Path | None, list[str]]:
        """The recipe and ``key=value`` overrides of a training stage (profile settings, then the user's).

        ``method``: ``warmup`` (an SFT run), ``sft`` or ``grpo``. Without ``--sft-steps`` the SFT baseline's
        budget is GRPO's, in questions seen (:mod:`vsgrpo.train.budget`), so the two methods compare fairly.
        """
        prof, seed = self.config.profile, self.s["seed"] if seed is None else seed
        recipe = self._recipe(prof.grpo_recipe if method == "grpo" else prof.sft_recipe)
        base = dict(getattr(prof, method))
        steps = self.s[{"warmup": "warmup_steps", "sft": "sft_steps", "grpo": "steps"}[method]]
        if steps:
            base["max_steps"] = steps
        elif method == "sft" and (questions := self._grpo_questions(seed)):
            base.update(max_steps=-1, train_questions=questions)
        if self.s["frames"]:
            base["num_frames"] = self.s["frames"]
        base.update(model=model, data=str(self.paths["train_q"] / "questions.parquet"),
                    video_root=str(self.paths["train_root"] / "videos"),
                    output_dir=str(self._path(method, seed)), seed=seed, question_types=list(self.s["tasks"]))
        user = {"warmup": self.config.warmup_overrides, "sft": self.config.sft_overrides,
                "grpo": self.config.grpo_overrides}[method]
        return recipe, [f"{k}={json.dumps(v)}" for k, v in base.items()] + list(user)

    @staticmethod
    def _questions_seen(cfg) -> int | None:
        """Questions a training config sees on one process (``None``: counted in epochs)."""
        from ..train.budget import max_steps, questions_per_step

        steps = max_steps(cfg)
        return round(steps * questions_per_step(cfg)) if steps > 0 else None

    def _grpo_questions(self, seed: int) -> int | None:
        """Questions GRPO sees on one process: its steps times questions per step (``None``: counted in epochs)."""
        return self._questions_seen(self._train_config("grpo", self.model_path(seed), seed))

    def _train_config(self, method: str, model: str, seed: int | None = None):
        """The resolved training config (validated: needs the training questions to exist)."""
        from ..train.config import load_config

        recipe, overrides = self._train_spec(method, model, seed)
        return load_config("grpo" if method == "grpo" else "sft", recipe, overrides)

    def _train_key(self, method: str, model: str, seed: int | None = None) -> dict:
        recipe, overrides = self._train_spec(method, model, seed)
        # Paths under --out are left out (the same run moved or named ./out vs out stays done); the start
        # model is named by the upstream stage keys, or by the user's --model.
        where = ("data=", "video_root=", "output_dir=", "model=")
        kept = [o for o in overrides if not o.startswith(where)]
        return {"method": method, "recipe": recipe.read_text(encoding="utf-8") if recipe else None,
                "overrides": kept, "start": self.config.model if model == self.config.model else "pipeline"}

    def _train(self, method: str, seed: int | None = None) -> dict:
        from ..train.runner import last_checkpoint, run_grpo, run_sft

        seed = self.s["seed"] if seed is None else seed
        warm = method != "warmup" and self.s["warmup"]
        start = self._trained_model("warmup", seed) if warm else self.model_path(seed)
        cfg = self._train_config(method, start, seed)
        resume = last_checkpoint(cfg.output_dir) is not None
        if resume:
            self.engine.log(f"continuing {method} from {last_checkpoint(cfg.output_dir).name}")
        (run_grpo if method == "grpo" else run_sft)(cfg, resume=resume)
        return {"lora": cfg.lora}

    def _trained_model_path(self, method: str, seed: int | None = None) -> str:
        """Names the start model of the next stage in its key (the folder itself is made by training)."""
        return f"{self._path(method, self.s['seed'] if seed is None else seed)}:trained"

    def _trained_model(self, method: str, seed: int | None = None) -> str:
        """The trained model as a full model folder (merging a LoRA adapter into its base once)."""
        from .merge import merged_model

        return str(merged_model(self._path(method, self.s["seed"] if seed is None else seed)))

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
        if self.config.model is None:
            # The tiny CPU run is meant to be bit-reproducible: same settings and seed, same weights and
            # scores (docs/quickstart.md, "Seeds and run-to-run noise", says what remains outside it).
            import torch

            torch.use_deterministic_algorithms(True, warn_only=True)

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

    def _stage_names(self) -> list[str]:
        return [st for st in ("base", "warmup", "sft", "grpo") if st in ("base", "grpo") or self.s[st]]

    def _rel(self, path: Path) -> str:
        return path.relative_to(self.out).as_posix()

    def _evals_of(self, seed: int, *, blind: bool = False) -> dict[str, str]:
        return {st: self._rel(self.eval_dir(st, seed, blind=blind) / "results.json") for st in self._stage_names()}

    def _train_prior(self) -> str | None:
        """Chance row of the training answers: each task's constant answer picked on the training questions,
        scored on the held-out ones (``eval/train_prior.json``); ``None`` until both question sets exist."""
        from ..chance import prior_scores
        from ..eval.scoring import load_questions

        train_q, held_q = (self.paths[k] / "questions.parquet" for k in ("train_q", "heldout_q"))
        if not (train_q.is_file() and held_q.is_file()):
            return None
        prior = prior_scores(load_questions(train_q), load_questions(held_q, limit=self.s["eval_limit"]))
        path = self.out / "eval" / "train_prior.json"
        write_json(path, prior)
        return self._rel(path)

    def summary(self, timings: list[dict], total: float | None) -> dict:
        evals = self._evals_of(self.s["seed"])
        training = {m: f"train/{m}/metrics.jsonl" for m in self._stage_names() if m != "base"}
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
        from ..train.budget import max_steps

        budget = {}
        for m in self._stage_names()[1:]:
            c = self._train_config(m, self.model_path())
            budget[m] = self._questions_seen(c)
            extra = f", beta {c.beta:g}, {c.num_generations} generations, loss {c.loss_type}" if m == "grpo" else ""
            steps = max_steps(c)
            settings[m] = (f"{steps if steps > 0 else c.num_train_epochs} {'steps' if steps > 0 else 'epochs'} "
                           f"({budget[m] or '-'} questions), lr {c.learning_rate:g}, batch {c.per_device_train_batch_size}, "
                           f"{'LoRA r' + str(c.lora_r) if c.lora else 'full weights'}, mode {c.mode}{extra}")
        if len(self.seeds) > 1:
            settings["seeds"] = ", ".join(map(str, self.seeds))
        out = {"title": "vsgrpo quickstart report", "command": self.command(), "settings": settings,
               "evals": evals, "training": training, "trained_tasks": list(s["tasks"]), "data": data,
               "budget": budget,  # questions each training stage sees
               "stages": timings, "total_seconds": total,
               # chance rows of the held-out questions (written with every evaluation)
               "baselines": self._rel(self.eval_dir("base") / "baselines.json"),
               "train_prior": self._train_prior(),
               # for the worked examples: each stage's answers, the questions and their scenes
               "samples": {st: self._rel(self.eval_dir(st) / "samples.jsonl") for st in self._stage_names()},
               "heldout": {"questions": self._rel(self.paths["heldout_q"] / "questions.parquet"),
                           "root": self._rel(self.paths["heldout_root"]), "frames": self._frames()}}
        if self.config.model is None and tuple(s["tasks"]) == TINY_TASKS:
            out["note"] = ("Tasks: object counting and room size only, the tiny profile's default. A model this small, "
                           "trained from scratch for minutes on a CPU, learns to answer these two from the video; "
                           "on all eight VSI-100k tasks it learns the answer priors only (docs/quickstart.md, "
                           "\"Which tasks\"). `--tasks` chooses others.")
        if s["blind"]:
            out["blind"] = self._evals_of(self.s["seed"], blind=True)
            out["samples_blind"] = {st: self._rel(self.eval_dir(st, blind=True) / "samples.jsonl")
                                    for st in self._stage_names()}
        if len(self.seeds) > 1:
            out["seeds"] = {str(seed): self._evals_of(seed) for seed in self.seeds}
            if s["blind"]:
                out["seeds_blind"] = {str(seed): self._evals_of(seed, blind=True) for seed in self.seeds}
        return out

    def command(self) -> str:
        """The ``vsgrpo quickstart`` command line that reproduces this run (flags that differ from the defaults)."""
        from ..fields import to_argv

        parts = ["vsgrpo", "quickstart", *to_argv(self.config, always=("out",))]
        return " ".join(shlex.quote(x) for x in parts)


def run_quickstart(config: QuickstartConfig | None = None, **kwargs) -> dict:
    """Run (or resume) the quickstart; returns the summary written to ``OUT/summary.json``."""
    if config is None:
        config = QuickstartConfig(**kwargs)
    return Pipeline(config).run()

