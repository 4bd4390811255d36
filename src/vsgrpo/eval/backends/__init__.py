"""Generation backends for evaluation: ``hf`` (transformers), ``openai`` (HTTP), ``vllm`` (optional).

A backend turns a batch of :class:`~vsgrpo.eval.backends.base.Request` (prompt text + decoded
frames) into one result per request: the generated text, or an ``Exception`` instance for a
sample that failed on its own (recorded with its error; the run continues). Raising aborts the
run (it can be resumed). Users can pass their own object with the same ``generate`` method.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...models.loading import DTYPES
from ...options import option
from .base import Backend, Request

BACKENDS = ("hf", "openai", "vllm")
_LOCAL, _OPENAI = "hf / vllm backends", "openai backend"


@dataclass
class BackendOptions:
    """Backend constructor options set from ``vsgrpo eval run`` flags (one flag per field)."""

    device: str | None = option(None, group=_LOCAL, help="hf: torch device", default_text="cuda if available, else cpu")
    dtype: str = option("auto", group=_LOCAL, choices=DTYPES, help="model weights dtype")
    min_pixels: int | None = option(None, type=int, group=_LOCAL, help="per-frame pixel budget lower bound")
    max_pixels: int | None = option(None, type=int, group=_LOCAL, help="per-frame pixel budget upper bound")
    base_url: str | None = option(None, group=_OPENAI, help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1",
                                  default_text="$OPENAI_BASE_URL or https://api.openai.com/v1")
    api_key_env: str = option("OPENAI_API_KEY", group=_OPENAI, help="environment variable holding the API key")
    video_as: str = option("auto", group=_OPENAI, choices=("auto", "video", "frames"),
                           help="video: the sampled frames as one mp4 (the model sees a video, as under hf); "
                                "frames: one image per frame (image-only APIs); auto: video unless the server "
                                "refuses it")

    # Which of the fields each backend's constructor takes.
    TAKES = {"hf": ("device", "dtype", "min_pixels", "max_pixels"), "vllm": ("dtype", "min_pixels", "max_pixels"),
             "openai": ("base_url", "api_key_env", "video_as")}

    def for_backend(self, name: str) -> dict:
        """The options backend ``name`` takes, leaving out those not given (``None``)."""
        return {k: getattr(self, k) for k in self.TAKES[name] if getattr(self, k) is not None}


def make_backend(name: str, model: str, **options) -> Backend:
    """Construct backend ``name`` for ``model`` (a hub id or local folder; for ``openai``, the served model name)."""
    from ...errors import VsgrpoError

    if name == "hf":
        from .hf import HFBackend

        return HFBackend(model, **options)
    if name == "openai":
        from .openai import OpenAIBackend

        return OpenAIBackend(model, **options)
    if name == "vllm":
        from .vllm import VLLMBackend

        return VLLMBackend(model, **options)
    raise VsgrpoError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "Backend", "BackendOptions", "Request", "make_backend"]
