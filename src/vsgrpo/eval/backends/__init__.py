"""Generation backends for evaluation: ``hf`` (transformers), ``openai`` (HTTP), ``vllm`` (optional).

A backend turns a batch of :class:`~vsgrpo.eval.backends.base.Request` (prompt text + decoded
frames) into one result per request: the generated text, or an ``Exception`` instance for a
sample that failed on its own (recorded with its error; the run continues). Raising aborts the
run (it can be resumed). Users can pass their own object with the same ``generate`` method.
"""

from __future__ import annotations

from .base import Backend, Request

BACKENDS = ("hf", "openai", "vllm")


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


__all__ = ["BACKENDS", "Backend", "Request", "make_backend"]
