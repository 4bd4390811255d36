"""``vsgrpo`` command line: thin. Parse, call library code, print.

Each command group lives in :mod:`vsgrpo.commands` as a module with ``register(subparsers)``.
Those modules import heavy libraries (torch, transformers) inside the command functions, so
``vsgrpo --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
import warnings

from . import __version__
from .errors import VsgrpoError

GROUPS = ("data", "eval", "train", "model", "quickstart")


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(
        prog="vsgrpo",
        description="Spatial QA data, GRPO/SFT/DPO training and VSI-Bench evaluation for video LMs.")
    parser.add_argument("--version", action="version", version=f"vsgrpo {__version__}")
    sub = parser.add_subparsers(dest="group", metavar="COMMAND")
    sub.required = True
    for name in GROUPS:
        importlib.import_module(f".commands.{name}", __package__).register(sub)
    return parser


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    return f"vsgrpo: warning: {message}\n"


def main(argv: list[str] | None = None) -> int:
    warnings.formatwarning = _one_line_warning
    # Deprecations inside the pinned libraries are for their maintainers, not for our users.
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"(transformers|trl|peft|accelerate)\.")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        rc = args.func(args)
    except VsgrpoError as e:
        print(f"vsgrpo: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("vsgrpo: interrupted", file=sys.stderr)
        return 130
    except OSError as e:  # a full disk or a read-only output folder: one line, finished work is kept
        from .io import is_write_error, write_error_message

        if not is_write_error(e):
            raise
        print(f"vsgrpo: error: {write_error_message(e)}", file=sys.stderr)
        return 2
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
