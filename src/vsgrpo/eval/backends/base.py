"""What every evaluation backend takes and returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass
class Request:
    """One question to answer: the prompt text (after the video) and the decoded frames."""

    id: int
    prompt: str
    frames: np.ndarray  # uint8 (T, H, W, 3)
    fps: float          # sampled frames per second of video time


class Backend(Protocol):
    name: str

    def generate(self, requests: list[Request], *, max_new_tokens: int) -> list[str | Exception]:
        """Greedy completions, one per request (an ``Exception`` for a sample that failed alone)."""

    def describe(self) -> dict:
        """Settings worth recording with the run (model, dtype, endpoint, ...)."""

    def close(self) -> None:
        """Release resources."""
