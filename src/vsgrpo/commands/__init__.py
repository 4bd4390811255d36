"""CLI command groups. Each module exposes ``register(subparsers)``; keep imports light."""

from __future__ import annotations

import argparse


def group(subparsers, name: str, help: str) -> argparse._SubParsersAction:
    """Add a command group (``vsgrpo NAME ...``) and return its sub-command parsers."""
    p = subparsers.add_parser(name, help=help, description=help)
    sub = p.add_subparsers(dest="command", metavar="SUBCOMMAND")
    sub.required = True
    return sub
