"""Run INSIDE the vLLM side environment by tests/test_qwen_positions.py.

For each given tiny model (Qwen2-VL / Qwen2.5-VL) and one video prompt whose temporal grid exceeds
its spatial grid: the M-RoPE positions vLLM computes for the prompt (its own
``get_mrope_input_positions``, recorded as the engine calls it) and the positions vsgrpo feeds the
HF model for the same prompt (``load_model_and_processor`` + ``encode_prompts``, captured at the
language model's input). Writes ``OUT/positions.json``: per model, both token lists and both
position arrays. Usage:
    python tests/side_vllm_positions.py OUT MODEL[:FRAMES:SIZE:FPS] ...
"""

from __future__ import annotations

import gc
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("VSGRPO_PROGRESS", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

PROMPT = "How many chair(s) are in this room?"


def record_vllm_positions(store: list) -> None:
    from vllm.model_executor.models import qwen2_5_vl, qwen2_vl

    for cls in (qwen2_vl.Qwen2VLForConditionalGeneration, qwen2_5_vl.Qwen2_5_VLForConditionalGeneration):
        real = cls.__dict__["get_mrope_input_positions"]

        def recorded(self, input_tokens, mm_features, _real=real):
            positions, delta = _real(self, input_tokens, mm_features)
            store.append({"tokens": [int(t) for t in input_tokens], "positions": positions.tolist()})
            return positions, delta

        cls.get_mrope_input_positions = recorded


def hf_positions(model_dir: str, frames, fps: float, max_pixels: int) -> dict:
    import torch

    from vsgrpo.models.inputs import encode_prompts
    from vsgrpo.models.loading import load_model_and_processor

    model, processor = load_model_and_processor(model_dir, dtype="float32", max_pixels=max_pixels)
    batch = encode_prompts(processor, [PROMPT], [frames], [fps])
    seen = {}

    def grab(module, args, kwargs):
        seen["pos"] = kwargs["position_ids"]

    hook = model.model.language_model.register_forward_pre_hook(grab, with_kwargs=True)
    with torch.no_grad():
        model(**batch)
    hook.remove()
    return {"tokens": batch["input_ids"][0].tolist(), "positions": seen["pos"][-3:, 0].tolist(),
            "kinds": batch["mm_token_type_ids"][0].tolist()}


def main(argv: list[str]) -> int:
    import numpy as np
    from vllm import SamplingParams

    from vsgrpo.models.loading import load_processor
    from vsgrpo.train.vllm_rollout import make_llm, vllm_prompt

    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    store: list = []
    record_vllm_positions(store)
    result = {}
    for spec in argv[1:]:
        model_dir, n, size, fps = (spec.split(":") + ["16", "56", "4"])[:4]
        n, size, fps = int(n), int(size), float(fps)
        frames = np.random.default_rng(0).integers(0, 255, (n, size, size, 3), dtype=np.uint8)
        max_pixels = size * size
        processor = load_processor(model_dir, max_pixels=max_pixels)
        llm = make_llm(model_dir, dtype="float32", max_pixels=max_pixels, max_model_len=4096)
        store.clear()
        llm.generate([vllm_prompt(processor, PROMPT, frames, fps)], SamplingParams(max_tokens=1), use_tqdm=False)
        vllm = store[-1]
        del llm
        gc.collect()
        result[Path(model_dir).name] = {"vllm": vllm, "hf": hf_positions(model_dir, frames, fps, max_pixels)}
    (out / "positions.json").write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
