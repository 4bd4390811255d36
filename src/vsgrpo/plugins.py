"""Finding plug-ins: the one discovery loop behind the registries of sources, eval backends and model families.

Contract. :func:`discover` hands ``register`` every plug-in of one kind, in this order:

1. the modules of ``package`` itself, in name order (sub-packages, ``base`` and ``_private``
   modules are helpers, not plug-ins). Each is imported, so an error in one surfaces instead of
   hiding it. A module defining ``attribute`` (any of them, when a tuple) is passed to
   ``register``; one defining none is an error in one line when ``required`` (every module of
   the package is a plug-in), else skipped (the package also holds helper modules);
2. the entry points of ``group`` (``[project.entry-points."<group>"]`` of an installed package),
   each loaded and passed to ``register``, except those named in ``known`` (registered already).

``register`` checks the plug-in's contract (raising :class:`~vsgrpo.errors.VsgrpoError` with one
line naming what it lacks) and records it; it receives a module, or whatever an entry point names.
The entry points are read on every call, so a package installed while the process runs is found.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Container
from typing import Any

from .errors import VsgrpoError


def discover(package: str, attribute: str | tuple[str, ...], group: str | None, register: Callable[[Any], object],
             *, required: bool = True, scan_package: bool = True, known: Container[str] = ()) -> None:
    """Pass each plug-in module of ``package``, then each entry point of ``group``, to ``register`` (module doc).

    ``scan_package=False`` skips step 1 (the caller registered the package's own modules before).
    """
    names = (attribute,) if isinstance(attribute, str) else tuple(attribute)
    if scan_package:
        for info in sorted(pkgutil.iter_modules(importlib.import_module(package).__path__), key=lambda m: m.name):
            if info.ispkg or info.name.startswith("_") or info.name == "base":
                continue
            module = importlib.import_module(f"{package}.{info.name}")
            if any(hasattr(module, n) for n in names):
                register(module)
            elif required:
                raise VsgrpoError(f"{module.__name__} defines no {' or '.join(names)}")
    if group is None:
        return
    from importlib.metadata import entry_points

    for ep in entry_points(group=group):
        if ep.name not in known:
            register(ep.load())
