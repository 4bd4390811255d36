"""``hf`` backend: transformers ``generate`` on batches, left padded, greedy.

Inputs are built by the model family's adapter through :mod:`vsgrpo.models.inputs` (the same
code training uses), so a model is scored on exactly the inputs it was trained on. The family's
vision placeholder tokens are suppressed.
"""

from __future__ import annotations

from .base import Request


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class HFBackend:
    name = "hf"
    options = ("device", "dtype", "min_pixels", "max_pixels")  # the BackendOptions fields it takes

    def __init__(self, model: str, *, device: str | None = None, dtype: str = "auto",
                 min_pixels: int | None = None, max_pixels: int | None = None,
                 attn_implementation: str | None = None, trust_remote_code: bool = False):
        from ...models.families import family_of
        from ...models.loading import load_model_and_processor

        self.model_id = str(model)
        self.device = device or default_device()
        if dtype == "auto" and self.device == "cpu":
            dtype = "float32"  # bf16 matmuls are slow on most CPUs
        self.dtype = dtype
        self.model, self.processor = load_model_and_processor(
            model, dtype=dtype, device=self.device, min_pixels=min_pixels, max_pixels=max_pixels,
            attn_implementation=attn_implementation, trust_remote_code=trust_remote_code)
        self.model.eval()
        self.family = family_of(self.model)
        self.suppress = self.family.suppress_token_ids(self.processor)
        tok = self.processor.tokenizer
        self.pad_id = tok.pad_token_id if tok.pad_token_id is not None else self.model.generation_config.eos_token_id

    @classmethod
    def from_model(cls, model, processor, *, name: str = "in-memory") -> HFBackend:
        """Wrap a model already loaded (e.g. the policy during training) without reloading it."""
        from ...models.families import family_of

        self = cls.__new__(cls)
        self.model_id, self.model, self.processor = name, model, processor
        self.device, self.dtype = str(next(model.parameters()).device), str(next(model.parameters()).dtype)
        self.family = family_of(model)
        self.suppress = self.family.suppress_token_ids(processor)
        tok = processor.tokenizer
        self.pad_id = tok.pad_token_id if tok.pad_token_id is not None else model.generation_config.eos_token_id
        return self

    def describe(self) -> dict:
        return {"backend": self.name, "model": self.model_id, "family": self.family.name, "device": self.device,
                "dtype": self.dtype}

    def generate(self, requests: list[Request], *, max_new_tokens: int) -> list[str | Exception]:
        import torch

        from ...models.families.base import MixedVideoShapes

        try:
            return self._generate(requests, max_new_tokens)
        except (torch.OutOfMemoryError, MixedVideoShapes):
            if len(requests) == 1:
                raise
            # A long video can overflow memory at this batch size, and some families cannot batch videos
            # of different frame counts (a video shorter than --frames); retry the samples one by one.
            if self.device.startswith("cuda"):
                torch.cuda.empty_cache()
            return [r for req in requests for r in self.generate([req], max_new_tokens=max_new_tokens)]

    def _generate(self, requests: list[Request], max_new_tokens: int) -> list[str]:
        import torch

        from ...models.inputs import encode_prompts

        batch = encode_prompts(self.processor, [r.prompt for r in requests], [r.frames for r in requests],
                               [r.fps for r in requests], family=self.family).to(self.device)
        with torch.inference_mode():
            out = self.model.generate(**batch, do_sample=False, temperature=None, top_p=None, top_k=None,
                                      max_new_tokens=max_new_tokens, suppress_tokens=self.suppress,
                                      pad_token_id=self.pad_id)
        new_tokens = out[:, batch["input_ids"].shape[1]:]
        return self.processor.batch_decode(new_tokens, skip_special_tokens=True)

    def close(self) -> None:
        self.model = None


BACKEND = HFBackend
