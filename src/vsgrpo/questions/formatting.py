"""Answer strings exactly as the released parquet writes them.

Numbers: metres and square metres with one decimal ("1.8", "26.4", "1.0"), centimetres and
counts as integers ("96", "4"). Rounding is Python's ``round`` on the float64 value, as in the
released code.
"""

from __future__ import annotations


def one_decimal(x: float) -> str:
    """0.1-resolution value: ``1.8``, ``26.4``, ``1.0``."""
    return f"{round(float(x), 1):.1f}"


def integer(x: float) -> str:
    """Integer value: ``96``."""
    return str(int(round(float(x))))
