"""Registry of video-LM families: one module per family in this package, found automatically.

A module here defines :class:`~vsgrpo.models.families.base.VideoFamily` subclass(es) and exposes
their instances as ``FAMILY`` (one) or ``FAMILIES`` (a list). Nothing else needs editing to
add a family: ``vsgrpo model families``, ``vsgrpo model tiny --family``, training and the ``hf``
backend all read this registry.

    from vsgrpo.models.families import get_family, family_of, names
    fam = get_family("llava_onevision")           # by name
    fam = family_of(model | config | processor | "path/to/model")   # detected
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import ModuleType

from ...errors import VsgrpoError
from ...plugins import discover
from .base import VideoFamily

_REGISTRY: dict[str, VideoFamily] = {}


def _load() -> dict[str, VideoFamily]:
    if not _REGISTRY:  # every module here defines families (no entry-point group: a family of your own: register())
        discover(__name__, ("FAMILY", "FAMILIES"), None, _register_module)
    return _REGISTRY


def _register_module(module: ModuleType) -> None:
    for fam in list(getattr(module, "FAMILIES", [])) + ([module.FAMILY] if hasattr(module, "FAMILY") else []):
        register(fam)


def register(family: VideoFamily) -> VideoFamily:
    """Add ``family`` (e.g. one defined outside this package); its name must be new."""
    if not family.name:
        raise VsgrpoError(f"{type(family).__name__} has no name")
    if family.name in _REGISTRY and _REGISTRY[family.name] is not family:
        raise VsgrpoError(f"two model families are named {family.name!r}")
    _REGISTRY[family.name] = family
    return family


def names() -> list[str]:
    """Supported family names (in module order)."""
    return list(_load())


def get_family(name: str) -> VideoFamily:
    fams = _load()
    if name not in fams:
        raise VsgrpoError(f"unknown model family {name!r}; choose one of {', '.join(fams)}")
    return fams[name]


def family_of(obj) -> VideoFamily:
    """The family of a model, config, processor, family name, or model folder (its config.json)."""
    if isinstance(obj, VideoFamily):
        return obj
    fams = _load()
    model_type = processor_class = None
    if isinstance(obj, (str, os.PathLike)):
        if str(obj) in fams:
            return fams[str(obj)]
        cfg = Path(obj) / "config.json"
        if not cfg.is_file():
            raise VsgrpoError(f"{obj}: no config.json to detect the model family from")
        model_type = json.loads(cfg.read_text(encoding="utf-8")).get("model_type")
    else:
        config = getattr(obj, "config", obj)
        model_type = getattr(config, "model_type", None)
        if hasattr(obj, "tokenizer") and not hasattr(obj, "forward"):  # a processor
            processor_class = type(obj).__name__
            model_type = None
    for fam in fams.values():
        if fam.matches(model_type=model_type, processor_class=processor_class):
            return fam
    what = f"model_type {model_type!r}" if model_type else f"processor {processor_class!r}"
    raise VsgrpoError(f"no vsgrpo model family supports {what}; supported: {', '.join(fams)} "
                      "(add one: a module in vsgrpo/models/families/, see docs/training.md)")


__all__ = ["VideoFamily", "family_of", "get_family", "names", "register"]
