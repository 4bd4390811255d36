"""What every evaluation backend takes and returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # annotations only: the CLI imports this module to build its flags
    import numpy as np


@dataclass
class Request:
    """One question to answer: the prompt text (after the video) and the decoded frames.

    ``frames is None`` asks for a blind answer (``eval run --blind``): the same prompt text and
    no visual input at all; every backend must then send no frames and no video placeholder.
    """

    id: int
    prompt: str
    frames: np.ndarray | None  # uint8 (T, H, W, 3); None: blind
    fps: float | None          # sampled frames per second of video time


class Backend(Protocol):
    name: str

    def generate(self, requests: list[Request], *, max_new_tokens: int) -> list[str | Exception]:
        """Greedy completions, one per request (an ``Exception`` for a sample that failed alone)."""

    def describe(self) -> dict:
        """Settings worth recording with the run (model, dtype, endpoint, ...)."""

    def close(self) -> None:
        """Release resources."""
