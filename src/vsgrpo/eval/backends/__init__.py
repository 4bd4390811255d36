"""Generation backends for evaluation: ``hf`` (transformers), ``openai`` (HTTP), ``vllm`` (optional).

A backend turns a batch of :class:`~vsgrpo.eval.backends.base.Request` (prompt text + decoded
frames) into one result per request: the generated text, or an ``Exception`` instance for a
sample that failed on its own (recorded with its error; the run continues). Raising aborts the
run (it can be resumed). Users can pass their own object with the same ``generate`` method.

The registry: one module per backend in this package, found automatically. A module exposes its
class as ``BACKEND``; the class has a ``name`` (the ``--backend`` value), ``options`` (the
:class:`BackendOptions` fields its constructor takes), ``__init__(model, **options)``,
``generate(requests, max_new_tokens=...)`` and ``describe()``. A backend in your own package is
registered through the ``vsgrpo.backends`` entry-point group (``NAME = "package.module"``) or by
:func:`register_backend`. A class that breaks the contract fails with one line naming what it lacks.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import VsgrpoError
from ...fields import check, option, parse_device
from ...models.loading import DTYPES
from ...plugins import discover
from .base import Backend, Request
from .openai import DEFAULT_TIMEOUT  # (standard library only: the CLI stays fast)

ENTRY_POINT_GROUP = "vsgrpo.backends"
_LOCAL, _OPENAI = "hf / vllm backends", "openai backend"
_BUILTIN: dict[str, type] = {}
_PLUGINS: dict[str, type] = {}


def register_backend(cls: type) -> type:
    """Add a backend class (one defined outside this package); its contract is checked here."""
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise VsgrpoError(f"backend {cls!r} has no name")
    for attr in ("generate", "describe"):
        if not callable(getattr(cls, attr, None)):
            raise VsgrpoError(f"backend {name!r} ({cls.__module__}) lacks {attr}(); a backend has generate(requests, "
                              "max_new_tokens=...) and describe() (see vsgrpo.eval.backends)")
    unknown = [o for o in getattr(cls, "options", ()) if o not in BackendOptions.__dataclass_fields__]
    if unknown:
        raise VsgrpoError(f"backend {name!r} ({cls.__module__}) takes unknown option(s) {', '.join(unknown)}; "
                          f"options are BackendOptions fields: {', '.join(BackendOptions.__dataclass_fields__)}")
    known = _BUILTIN.get(name) or _PLUGINS.get(name)
    if known is not None and known is not cls:
        raise VsgrpoError(f"two backends are named {name!r} ({known.__module__}, {cls.__module__})")
    (_BUILTIN if cls.__module__.startswith(__name__ + ".") else _PLUGINS)[name] = cls
    return cls


def _load() -> dict[str, type]:
    # Every module here is a backend (importing one is light: heavy imports wait for __init__); an
    # entry point names a module exposing BACKEND, or the class itself.
    discover(__name__, "BACKEND", ENTRY_POINT_GROUP, lambda found: register_backend(getattr(found, "BACKEND", found)),
             scan_package=not _BUILTIN, known=_PLUGINS)
    return {**_BUILTIN, **_PLUGINS}


def backend_names() -> tuple[str, ...]:
    """Registered backends: the built-in ones (module order), then plug-ins."""
    return tuple(_load())


def get_backend(name: str) -> type:
    """The class of backend ``name``; a clear error for an unknown one."""
    backends = _load()
    if name not in backends:
        raise VsgrpoError(f"unknown backend {name!r}; choose one of {', '.join(backends)}")
    return backends[name]


@dataclass
class BackendOptions:
    """Backend constructor options set from ``vsgrpo eval run`` flags (one flag per field)."""

    device: str | None = option(None, group=_LOCAL, type=parse_device, help="hf: torch device (cpu, cuda, cuda:N, mps)",
                                default_text="cuda if available, else cpu")
    dtype: str = option("auto", group=_LOCAL, choices=DTYPES, help="model weights dtype")
    min_pixels: int | None = option(None, type=int, group=_LOCAL, min=1, max=2**28,
                                    help="per-frame pixel budget lower bound")
    max_pixels: int | None = option(None, type=int, group=_LOCAL, min=1, max=2**28,
                                    help="per-frame pixel budget upper bound")
    base_url: str | None = option(None, group=_OPENAI, help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1",
                                  default_text="$OPENAI_BASE_URL or https://api.openai.com/v1")
    api_key_env: str = option("OPENAI_API_KEY", group=_OPENAI, nonempty=True,
                              help="environment variable holding the API key")
    video_as: str = option("auto", group=_OPENAI, choices=("auto", "video", "frames"),
                           help="video: the sampled frames as one mp4 (the model sees a video, as under hf); "
                                "frames: one image per frame (image-only APIs); auto: video unless the server "
                                "refuses it")
    timeout: float | None = option(None, type=float, group=_OPENAI,
                                   help="seconds one request may take in all (connecting, retries and waits "
                                        "included); when spent the run stops and can be resumed",
                                   default_text=f"{DEFAULT_TIMEOUT:g}")

    def __post_init__(self):
        check(self)
        if self.min_pixels and self.max_pixels and self.min_pixels > self.max_pixels:
            from ...errors import VsgrpoError

            raise VsgrpoError(f"--min-pixels {self.min_pixels} exceeds --max-pixels {self.max_pixels}")

    def for_backend(self, name: str) -> dict:
        """The options backend ``name`` takes (its class's ``options``), leaving out those not given (``None``)."""
        return {k: getattr(self, k) for k in getattr(get_backend(name), "options", ()) if getattr(self, k) is not None}


def make_backend(name: str, model: str, **options) -> Backend:
    """Construct backend ``name`` for ``model`` (a hub id or local folder; for ``openai``, the served model name)."""
    return get_backend(name)(model, **options)


__all__ = ["Backend", "BackendOptions", "Request", "backend_names", "get_backend", "make_backend", "register_backend"]
