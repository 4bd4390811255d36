"""``vsgrpo`` command line: thin. Parse, call library code, print.

Each command group lives in :mod:`vsgrpo.commands` as a module with ``register(subparsers)``.
Those modules import heavy libraries (torch, transformers) inside the command functions, so
``vsgrpo --help`` stays fast.
"""

from __future__ import annotations

import argparse
import re
import sys
import warnings

from . import __version__
from .errors import VsgrpoError

GROUPS = ("data", "eval", "train", "model", "quickstart")


class Parser(argparse.ArgumentParser):
    """argparse with the project's error form: one line ``vsgrpo: error: ...`` on stderr, exit 2
    (argparse's own prints the usage block first). Sub-command parsers inherit it."""

    def error(self, message: str):
        where = self.prog.removeprefix("vsgrpo").strip()
        hint = f" (see `vsgrpo {where} --help`)" if where else " (see `vsgrpo --help`)"
        self.exit(2, f"vsgrpo: error: {' '.join(message.split())}{hint}\n")


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = Parser(
        prog="vsgrpo",
        description="Spatial QA data, GRPO/SFT/DPO training and VSI-Bench evaluation for video LMs.")
    parser.add_argument("--version", action="version", version=f"vsgrpo {__version__}")
    sub = parser.add_subparsers(dest="group", metavar="COMMAND")
    sub.required = True
    for name in GROUPS:
        importlib.import_module(f".commands.{name}", __package__).register(sub)
    return parser


_OVERRIDE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*=")


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    return f"vsgrpo: warning: {message}\n"


def main(argv: list[str] | None = None) -> int:
    warnings.formatwarning = _one_line_warning
    # Deprecations inside the pinned libraries are for their maintainers, not for our users.
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"(transformers|trl|peft|accelerate)\.")
    warnings.filterwarnings("ignore", category=DeprecationWarning,
                            module=r"(transformers|trl|peft|accelerate|datasets|huggingface_hub|torch)\.")
    from .progress import quiet_libraries

    quiet_libraries()  # before torch/transformers load: their own bars stay out of logs
    try:
        parser = build_parser()
        args, extra = parser.parse_known_args(argv)
        if extra:
            # `train ... --resume max_steps=8`: argparse stops collecting positionals at the first flag,
            # so key=value overrides given after one come back here; anything else is an error.
            if hasattr(args, "overrides") and all(_OVERRIDE.match(t) for t in extra):
                args.overrides = [*args.overrides, *extra]
            else:
                parser.error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as e:  # a bad flag (one line printed, 2) or --help/--version (0): a code, as below
        return e.code if isinstance(e.code, int) else 2
    except VsgrpoError as e:  # a plug-in (source, backend) that breaks its contract, found while parsing
        print(f"vsgrpo: error: {e}", file=sys.stderr)
        return e.exit_code
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
