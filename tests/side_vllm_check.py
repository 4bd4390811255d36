"""Run INSIDE the vLLM side environment (scripts/setup_vllm_env.sh) by tests/test_vllm_cpu.py.

One process (vLLM start-up dominates): builds a tiny Qwen2-VL (head size 64) and a tiny train-style
dataset with real mp4s, then

1. ``eval``: ``vsgrpo eval run --backend vllm`` (run_eval) on the given questions/videos; the
   predictions are compared with ``--backend hf`` by the pytest side (project environment).
2. ``grpo``: a few GRPO steps with ``use_vllm=true`` and, for comparison, one with HF generation;
   records vLLM's prompt ids vs the trainer's, the engine's vs the policy's log-probs of a fixed
   prompt + continuation before and after an optimizer step, and the logged metrics.

Writes one JSON object to ``OUT/result.json``. Usage:
    python tests/side_vllm_check.py OUT [--eval-questions Q --eval-videos V --eval-model M]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("VSGRPO_PROGRESS", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))  # train_fixtures

CONTINUATION = "<answer> 3 </answer>"
PROMPT = "How many chair(s) are in this room?"


def policy_logprobs(model, processor, frames, fps):
    """Log-probs of the prompt's tokens under the training model (same text and video as the engine)."""
    import torch

    from vsgrpo.models.inputs import encode, render_prompt, user_message
    from vsgrpo.train.vllm_rollout import even_frames

    text = render_prompt(processor, user_message(PROMPT)) + CONTINUATION
    enc = encode(processor, [text], [even_frames(frames)], [fps])
    ids = enc["input_ids"][0].tolist()
    was_training = model.training
    model.eval()
    with torch.no_grad():
        logits = model(**enc).logits[0].float()
    if was_training:
        model.train()
    lps = torch.log_softmax(logits[:-1], -1).gather(1, enc["input_ids"][0, 1:, None])[:, 0]
    return ids, [None] + lps.tolist()


def tail_gap(a, b, k):
    return max(abs(x - y) for x, y in zip(a[-k:], b[-k:]))


def run_eval_check(args, result):
    import gc

    from vsgrpo.eval import run_eval

    result["eval"] = {}
    for model in args.eval_model:
        t = time.time()
        out = Path(args.out) / f"eval_vllm_{Path(model).name}"
        res = run_eval(model=model, questions=args.eval_questions, videos=args.eval_videos, out=str(out),
                       backend="vllm", frames=args.eval_frames, batch_size=4, max_new_tokens=args.eval_max_new_tokens,
                       backend_options={"dtype": "float32", "max_pixels": args.eval_max_pixels})
        gc.collect()
        result["eval"][Path(model).name] = {"seconds": time.time() - t, "output": str(out),
                                            "overall": res.get("overall")}


def run_grpo_check(args, result):
    import torch
    from transformers import TrainerCallback

    import vsgrpo.train.vllm_rollout as vr
    from train_fixtures import make_train_data
    from vsgrpo.models.tiny import build_tiny_model
    from vsgrpo.train.config import load_config
    from vsgrpo.train.runner import run_grpo

    torch.set_num_threads(1)
    out = Path(args.out)
    model_dir = build_tiny_model("qwen2_vl", out / "tiny", tokenizer="small", hidden_size=128,
                                 num_attention_heads=2)
    data = make_train_data(out / "data", n_frames=8, size=(112, 112))
    video = out / "data" / "videos" / "scannet" / "scene0000_00.mp4"

    attached = []
    real_attach = vr.attach_vllm

    def attach(trainer, cfg):  # keep a handle on the engine the runner attaches
        attached.append(real_attach(trainer, cfg))
        return attached[-1]

    vr.attach_vllm = attach
    checks = {}

    class Probe(TrainerCallback):
        """Engine vs policy log-probs of a fixed prompt: at the start and after the first optimizer step."""

        def _probe(self, tag, model):
            rollout = attached[-1]
            frames, fps = rollout.trainer.video_loader(str(video))
            v_ids, v_lps = rollout.prompt_logprobs(PROMPT, frames, fps, CONTINUATION)
            h_ids, h_lps = policy_logprobs(model, rollout.processor, frames, fps)
            k = len(rollout.processor.tokenizer(CONTINUATION)["input_ids"])
            checks[tag] = {"ids_equal": v_ids == h_ids, "k": k, "engine": v_lps[-k:], "policy": h_lps[-k:],
                           "gap": tail_gap(v_lps, h_lps, k),
                           "vision_tokens": v_ids.count(rollout.video_id)}

        def on_train_begin(self, args_, state, control, model=None, **kw):
            self._probe("start", model)

        def on_step_end(self, args_, state, control, model=None, **kw):
            if state.global_step == 1:
                rollout = attached[-1]
                t = time.time()
                rollout.sync_weights()  # what TRL calls before the next generation (global_step changed)
                rollout.trainer._last_loaded_step = state.global_step
                checks["sync_seconds"] = time.time() - t
                self._probe("after_step1", model)

    common = [f"model={model_dir}", f"data={data}", "num_frames=8", "num_generations=4",
              "per_device_train_batch_size=4", f"max_completion_length={args.completion}", "report_to=[jsonl]",
              "save_steps=100", "learning_rate=0.05", "lora=true", "lora_r=8", "lora_alpha=16", "beta=0.1",
              "dtype=float32", "mode=think", "max_pixels=12544", "seed=1",
              "rewards=[accuracy,completion_chars]"]
    t = time.time()
    run = run_grpo(load_config("grpo", None, common + [f"output_dir={out / 'run_vllm'}", "use_vllm=true",
                                                       f"max_steps={args.steps}"]), callbacks=[Probe()])
    result["grpo_vllm_seconds"] = time.time() - t
    rollout = attached[-1]
    result["syncs"] = rollout.syncs
    result["probe"] = checks
    result["vllm_metrics"] = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    t = time.time()
    run_hf = run_grpo(load_config("grpo", None, common + [f"output_dir={out / 'run_hf'}", "max_steps=1"]))
    result["grpo_hf_seconds"] = time.time() - t
    result["hf_metrics"] = [json.loads(x) for x in (run_hf / "metrics.jsonl").read_text().splitlines()]
    # Without TRL's importance-sampling correction TRL skips its old-policy pass; the gap is still logged.
    run_off = run_grpo(load_config("grpo", None, common + [f"output_dir={out / 'run_vllm_nois'}", "use_vllm=true",
                                                           "max_steps=1", "vllm_importance_sampling_correction=false"]))
    result["vllm_nois_metrics"] = [json.loads(x) for x in (run_off / "metrics.jsonl").read_text().splitlines()]
    samples = (run / "samples.jsonl")
    result["vllm_samples"] = len(samples.read_text().splitlines()) if samples.is_file() else 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--eval-questions")
    p.add_argument("--eval-videos")
    p.add_argument("--eval-model", nargs="+", default=[])
    p.add_argument("--eval-frames", type=int, default=8)
    p.add_argument("--eval-max-pixels", type=int, default=12544)
    p.add_argument("--eval-max-new-tokens", type=int, default=8)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--completion", type=int, default=12)
    p.add_argument("--skip-grpo", action="store_true")
    args = p.parse_args()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    result = {"python": sys.executable}
    import torch
    import transformers
    import vllm

    result["versions"] = {"vllm": vllm.__version__, "torch": torch.__version__,
                          "transformers": transformers.__version__}
    if args.eval_questions:
        run_eval_check(args, result)
    if not args.skip_grpo:
        run_grpo_check(args, result)
    (Path(args.out) / "result.json").write_text(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
