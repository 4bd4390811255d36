"""Prompts, one place for training and evaluation, named by mode and style.

- ``mode``: ``vanilla`` (answer directly), ``think`` (reason first), ``observe`` (describe
  what is seen first).
- ``style``: ``bench`` (VSI-Bench form: multiple-choice questions show lettered options and
  ask for the letter) or ``train`` (the paper's VSI-100k form: no options, answer with the
  word or number itself; reasoning modes use the GRPO training prompts with tags).

Texts are verbatim from VSI-Bench (vanilla, bench) and from Liao et al. 2025 (think/observe
at inference on the base model; all three GRPO training prompts).
"""

from __future__ import annotations

from collections.abc import Sequence

MODES = ("vanilla", "think", "observe")
STYLES = ("bench", "train")

PRE_PROMPT = "These are frames of a video."

# VSI-Bench's post prompts (vanilla, bench style).
BENCH_NA_POST = "Please answer the question using a single word or phrase."
BENCH_MCA_POST = "Answer with the option's letter from the given choices directly."

# The paper's inference prompts for the base model (appended to the VSI-Bench question).
INFERENCE_POST = {
    "vanilla": "Please answer the question using a single word or phrase.",
    "think": "Let's think step by step and then answer the question using a single word or phrase.",
    "observe": "Please observe the video first and then answer the question using a single word or phrase.",
}

# The paper's GRPO training prompts.
TRAIN_POST = {
    "vanilla": "Please provide the short answer with one or two words or a number.",
    "think": ("Please think step by step and enclose your thinking process in <think> </think> tags "
              "and then provide the short answer with one or two words or a number in <answer> </answer>."),
    "observe": ("Please observe carefully and analyze what you see that helps you to solve the question "
                "in the video and enclose it in <observe> </observe> tag, and then provide the short answer "
                "with one or two words or a number in <answer> </answer>."),
}

# Tag that wraps the reasoning of each mode (None: no reasoning block expected).
REASONING_TAG = {"vanilla": None, "think": "think", "observe": "observe"}


def check_mode_style(mode: str, style: str) -> None:
    from .errors import VsgrpoError

    if mode not in MODES:
        raise VsgrpoError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    if style not in STYLES:
        raise VsgrpoError(f"unknown style {style!r}; choose one of {', '.join(STYLES)}")


def build_prompt(question: str, options: Sequence[str] | None = None, *, mode: str = "vanilla",
                 style: str = "bench") -> str:
    """The text that follows the video in the user turn.

    ``bench`` + ``vanilla`` is byte-for-byte VSI-Bench's prompt. ``options`` (``["A. left",
    ...]``) are shown only in bench style; pass ``None`` for numeric questions.
    """
    check_mode_style(mode, style)
    parts = [PRE_PROMPT, question]
    has_options = options is not None and len(options) > 0
    if style == "bench":
        if has_options:
            parts.append("Options:\n" + "\n".join(options))
            post = BENCH_MCA_POST if mode == "vanilla" else INFERENCE_POST[mode]
        else:
            post = BENCH_NA_POST if mode == "vanilla" else INFERENCE_POST[mode]
    else:
        post = TRAIN_POST[mode]
    return "\n".join(parts) + "\n" + post
