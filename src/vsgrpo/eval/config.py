"""Settings of an evaluation: :class:`EvalConfig` (``vsgrpo eval run``) and :class:`ScoringConfig`
(how predictions become scores, also ``vsgrpo eval score``).

Each field declared with :func:`vsgrpo.options.option` is also a flag of those commands, so
defaults and choices are stated once, here. Imports stay light: the CLI builds its parser from
these classes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..answers import PARSERS
from ..errors import VsgrpoError
from ..options import option, same_as
from ..prompts import MODES, STYLES
from .backends import BACKENDS

# Greedy decoding budget by mode: a word or number (VSI-Bench's own setting is 16), or room
# for a reasoning block before the answer.
MAX_NEW_TOKENS = {"vanilla": 16, "think": 1024, "observe": 1024}


@dataclass(frozen=True)
class ScoringConfig:
    """How predictions become scores. ``official`` + both switches off = the authors' protocol."""

    parser: str = option("official", choices=PARSERS,
                         help="official: the VSI-Bench authors' first-token parse; lmms-eval: exactly as "
                              "lmms-eval 0.7.3's VSI-Bench task (letters: first token; numbers: the first number or "
                              "number-word run anywhere); lenient: the first option letter / number anywhere")
    answer_tag: bool = option(True, help="take the <answer>...</answer> span as the answer when present",
                              off_help="do not extract the <answer>...</answer> span before parsing")
    option_text: bool = option(True, help="map an answer equal to an option's text to that option's letter",
                               off_help="do not map an answer equal to an option's text to that option's letter")

    def __post_init__(self):
        if self.parser not in PARSERS:
            raise VsgrpoError(f"unknown parser {self.parser!r}; choose one of {', '.join(PARSERS)}")

    def to_dict(self) -> dict:
        return asdict(self)



@dataclass
class EvalConfig:
    """Everything an evaluation run needs. Each field (but ``backend_options``) is a ``vsgrpo eval run`` flag."""

    model: str = option(help="hub id or local model folder (openai backend: served model name)")
    questions: str = option(help="questions parquet (VSI-Bench schema)")
    videos: str = option(help="folder with {dataset}/{scene_name}.mp4")
    out: str = option("eval-run", help="run folder (created; rerun the same command to resume)")
    frames: int = option(32, help="frames sampled uniformly per video")
    mode: str = option("vanilla", choices=MODES, help="prompt mode")
    style: str = option("bench", choices=STYLES, help="bench: VSI-Bench prompts with lettered options; train: the "
                                                      "paper's training prompts, no options")
    backend: str = option("hf", choices=BACKENDS, help="generation backend")
    batch_size: int = option(1, help="generation batch (hf, vllm) or parallel requests (openai)")
    limit: int | None = option(None, type=int, help="only the first N questions")
    max_new_tokens: int | None = option(None, type=int, help="generation budget",
                                        default_text=", ".join(f"{v} for {k}" for k, v in MAX_NEW_TOKENS.items()))
    parser: str = same_as(ScoringConfig, "parser")
    answer_tag: bool = same_as(ScoringConfig, "answer_tag")
    option_text: bool = same_as(ScoringConfig, "option_text")
    retry_errors: bool = option(False, help="when resuming, run again the samples that ended in an error")
    overwrite: bool = option(False, help="start over: delete the samples and results already in --out (a rerun "
                                         "with other settings is refused without it)")
    blind: bool = option(False, help="vision disabled: the same prompts (still 'These are frames of a video.') with "
                                     "no frames sent, so vision minus blind is what the video adds")
    backend_options: dict = field(default_factory=dict)  # passed to the backend constructor (BackendOptions)

    def __post_init__(self):
        if self.mode not in MODES:
            raise VsgrpoError(f"unknown mode {self.mode!r}; choose one of {', '.join(MODES)}")
        if self.style not in STYLES:
            raise VsgrpoError(f"unknown style {self.style!r}; choose one of {', '.join(STYLES)}")
        if self.backend not in BACKENDS:
            raise VsgrpoError(f"unknown backend {self.backend!r}; choose one of {', '.join(BACKENDS)}")
        if self.frames < 1:
            raise VsgrpoError(f"--frames must be at least 1, got {self.frames}")
        if self.batch_size < 1:
            raise VsgrpoError(f"--batch-size must be at least 1, got {self.batch_size}")
        if self.max_new_tokens is None:
            self.max_new_tokens = MAX_NEW_TOKENS[self.mode]
        self.scoring  # validates the parser

    @property
    def scoring(self) -> ScoringConfig:
        return ScoringConfig(parser=self.parser, answer_tag=self.answer_tag, option_text=self.option_text)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["questions"] = str(Path(self.questions).resolve())
        d["videos"] = str(Path(self.videos).resolve())
        return d
