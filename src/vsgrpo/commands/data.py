"""`vsgrpo data ...` commands."""

from __future__ import annotations

from . import group


def register(subparsers) -> None:
    sub = group(subparsers, "data", "data commands")  # noqa: F841  (sub-commands added by later work)
