"""One progress bar style for all long work (tqdm on stderr, quiet when not a TTY unless forced)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def progress(iterable: Iterable[T] | None = None, *, desc: str, total: int | None = None,
             unit: str = "it", leave: bool = True) -> tqdm:
    """Wrap long work in a progress bar.

    Bars go to stderr so stdout stays machine-readable. ``VSGRPO_PROGRESS=0`` hides them,
    ``VSGRPO_PROGRESS=1`` forces them even when stderr is not a terminal.
    """
    env = os.environ.get("VSGRPO_PROGRESS")
    disable = (env == "0") if env in ("0", "1") else not sys.stderr.isatty()
    return tqdm(iterable, desc=desc, total=total, unit=unit, leave=leave,
                disable=disable, file=sys.stderr, dynamic_ncols=True)
