"""Data sources: each converts one raw format into :class:`vsgrpo.scene.Scene` plus sidecar files.

``synthetic`` (procedural rooms rendered to video) runs anywhere and needs no download.

Real scans: one module per format, found automatically (``vsgrpo data ingest --source NAME``).
A source module defines, in one place:

- ``SOURCE = Source(name, vocabulary, remap)``: its name (the ``--source`` value and the dataset
  name of its scenes: ``meta/{name}_meta_info.json``, ``videos/{name}/``) and its category table
  (raw label -> remap -> the VSI-Bench vocabulary it keeps; ``vocabulary=None`` keeps every label);
- ``list_scenes(root)``: the scene names under a raw root;
- ``Loader``: a :class:`~vsgrpo.sources.assemble.SceneLoader` subclass that reads one scene into a
  :class:`~vsgrpo.sources.assemble.RawScene`.

Everything after that (boxes, room, video, visibility, meta info) is shared by all sources. A
module in this package is registered when it defines ``SOURCE``; a source in your own package is
registered through the ``vsgrpo.sources`` entry-point group (``NAME = "package.module"``) or by
calling :func:`register_source` on its module. A module that breaks the contract fails with one
line naming what it lacks.
"""

from __future__ import annotations

from types import ModuleType

from ..errors import VsgrpoError
from ..plugins import discover
from .base import Source

ENTRY_POINT_GROUP = "vsgrpo.sources"


_BUILTIN: dict[str, ModuleType] = {}
_PLUGINS: dict[str, ModuleType] = {}


def register_source(module: ModuleType) -> ModuleType:
    """Add a source module (one defined outside this package); its contract is checked here."""
    info = getattr(module, "SOURCE", None)
    if not isinstance(info, Source):
        raise VsgrpoError(f"source module {module.__name__} defines no SOURCE = Source(name, vocabulary, remap)")
    for attr in ("list_scenes", "Loader"):
        if not callable(getattr(module, attr, None)):
            raise VsgrpoError(f"source module {module.__name__} (source {info.name!r}) lacks {attr}; a source "
                              "defines SOURCE, list_scenes(root) and Loader (see vsgrpo.sources)")
    if not (isinstance(module.Loader, type) and callable(getattr(module.Loader, "load", None))):
        raise VsgrpoError(f"source module {module.__name__}: Loader must be a class with load(name) (subclass "
                          "vsgrpo.sources.assemble.SceneLoader)")
    if getattr(module.Loader, "source", info) is not info:
        raise VsgrpoError(f"source module {module.__name__}: Loader.source is not its SOURCE")
    module.Loader.source = info  # the loader reads its name and category table from it
    known = _BUILTIN.get(info.name) or _PLUGINS.get(info.name)
    if known is not None and known is not module:
        raise VsgrpoError(f"two sources are named {info.name!r} ({known.__name__}, {module.__name__})")
    (_BUILTIN if module.__name__.startswith(__name__ + ".") else _PLUGINS)[info.name] = module
    return module


def _load() -> dict[str, ModuleType]:
    # The modules defining SOURCE are sources, the others helpers; synthetic/ (a sub-package) is a
    # generator of its own (`data synth`), not a scan format.
    discover(__name__, "SOURCE", ENTRY_POINT_GROUP, register_source, required=False, scan_package=not _BUILTIN,
             known=_PLUGINS)
    return {**_BUILTIN, **_PLUGINS}


def source_names() -> tuple[str, ...]:
    """Registered sources: the built-in ones (module order), then plug-ins."""
    return tuple(_load())


def get_source(name: str) -> ModuleType:
    """The module of source ``name``; a clear error for an unknown one."""
    sources = _load()
    if name not in sources:
        raise VsgrpoError(f"unknown source {name!r}; choose one of {', '.join(sources)}")
    return sources[name]


__all__ = ["ENTRY_POINT_GROUP", "Source", "get_source", "register_source", "source_names"]
