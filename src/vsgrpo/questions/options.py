"""Multiple-choice options: balanced answer letters and numeric distractors.

VSI-Bench balances the correct letter across a question type: each new question puts its
answer at the letter used least so far (ties broken at random) and shuffles the other
choices around it. Numeric (NA) distractors, when options are wanted, are drawn uniformly
in [0.25, 1.75] x the answer, rounded like the answer, and redrawn until every two values
(answer included) differ by at least 20% of the answer (rounded up to the answer's
resolution), as in the released code.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

LETTERS = "ABCDEFGH"


class LetterBalancer:
    """Assigns the correct answer of successive questions to the least-used letter."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def arrange(self, choices: Sequence[str], answer: str, rng: np.random.Generator) -> tuple[list[str], str]:
        """Order ``choices`` (which include ``answer``); return ``(ordered, letter)``."""
        n = len(choices)
        letters = LETTERS[:n]
        used = [self.counts.get(x, 0) for x in letters]
        low = min(used)
        target = int(rng.choice([i for i, u in enumerate(used) if u == low]))
        others = [c for c in choices if c != answer]
        others = [others[i] for i in rng.permutation(len(others))]
        ordered = others[:target] + [answer] + others[target:]
        self.counts[letters[target]] = self.counts.get(letters[target], 0) + 1
        return ordered, letters[target]


def lettered(choices: Sequence[str]) -> list[str]:
    """``["left", "right"]`` -> ``["A. left", "B. right"]``."""
    return [f"{LETTERS[i]}. {c}" for i, c in enumerate(choices)]


def numeric_distractors(answer: float, decimals: int, rng: np.random.Generator, k: int = 3,
                        margin: float = 0.20, low: float = 0.25, high: float = 1.75,
                        max_attempts: int = 30) -> list[float] | None:
    """``k`` wrong numeric choices around ``answer``, or None when none fit the separation rule."""
    scale = 10 ** decimals
    eps = math.ceil(answer * margin * scale) / scale

    def draw() -> float:
        v = rng.uniform(answer * low, answer * high)
        return float(int(round(v))) if decimals == 0 else round(v, decimals)

    def clash(i: int, vals: list[float]) -> bool:
        return any(abs(vals[i] - o) < eps for j, o in enumerate(vals) if j != i) or abs(vals[i] - answer) < eps

    vals = [draw() for _ in range(k)]
    for _ in range(max_attempts + 1):
        bad = [i for i in range(k) if clash(i, vals)]
        if not bad:
            return vals
        for i in bad:
            vals[i] = draw()
    return None if any(clash(i, vals) for i in range(k)) else vals
