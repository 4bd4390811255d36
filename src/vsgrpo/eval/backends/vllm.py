"""``vllm`` backend (optional extra, GPU machines): ``pip install 'vsgrpo[vllm]'``.

The prompt text is rendered with the model's own chat template through
:mod:`vsgrpo.models.inputs` (as in the ``hf`` backend); the decoded frames go in
``multi_modal_data["video"]``; greedy sampling. vLLM applies its own processor to the frames,
so pixel budgets follow ``mm_processor_kwargs`` (``min_pixels``/``max_pixels``) and the video's
sampled rate is not passed: scores can differ slightly from the ``hf`` backend on Qwen2.5-VL and
Qwen3-VL, whose temporal positions depend on it. Not exercised by the CPU test suite.
"""

from __future__ import annotations

from ...errors import VsgrpoError
from .base import Request


class VLLMBackend:
    name = "vllm"

    def __init__(self, model: str, *, dtype: str = "auto", min_pixels: int | None = None,
                 max_pixels: int | None = None, max_model_len: int | None = None,
                 gpu_memory_utilization: float = 0.9, tensor_parallel_size: int = 1,
                 trust_remote_code: bool = False, **_ignored):
        try:
            from vllm import LLM, SamplingParams  # noqa: F401
        except ImportError:
            raise VsgrpoError("the vllm backend needs vLLM, which is not installed: "
                              "pip install 'vsgrpo[vllm]' (GPU machines), or use --backend hf") from None
        from ...models.loading import load_processor, resolve_model_path

        self.model_id = str(model)
        path = resolve_model_path(model)
        self.processor = load_processor(path, trust_remote_code=trust_remote_code)
        mm_kwargs = {k: v for k, v in (("min_pixels", min_pixels), ("max_pixels", max_pixels)) if v is not None}
        kwargs = dict(model=path, dtype=dtype, limit_mm_per_prompt={"video": 1, "image": 0},
                      gpu_memory_utilization=gpu_memory_utilization, tensor_parallel_size=tensor_parallel_size,
                      trust_remote_code=trust_remote_code)
        if mm_kwargs:
            kwargs["mm_processor_kwargs"] = mm_kwargs
        if max_model_len:
            kwargs["max_model_len"] = max_model_len
        self.llm = LLM(**kwargs)
        self.dtype = dtype

    def describe(self) -> dict:
        return {"backend": self.name, "model": self.model_id, "dtype": self.dtype}

    def generate(self, requests: list[Request], *, max_new_tokens: int) -> list[str | Exception]:
        from vllm import SamplingParams

        from ...models.inputs import render_prompt, user_message

        params = SamplingParams(temperature=0.0, max_tokens=max_new_tokens)
        prompts = [{"prompt": render_prompt(self.processor, user_message(r.prompt)),
                    "multi_modal_data": {"video": r.frames}} for r in requests]
        outputs = self.llm.generate(prompts, params, use_tqdm=False)
        return [o.outputs[0].text for o in outputs]

    def close(self) -> None:
        self.llm = None
