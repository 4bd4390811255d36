"""`vsgrpo quickstart`: from nothing to a trained model and a report (filled in by issue 8)."""

from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser("quickstart", help="generate data, train a tiny model, evaluate, report")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from ..errors import VsgrpoError

    raise VsgrpoError("quickstart is not available yet")
