"""Settings of an evaluation: :class:`EvalConfig` (``vsgrpo eval run``) and :class:`ScoringConfig`
(how predictions become scores, also ``vsgrpo eval score``).

Each field declared with :func:`vsgrpo.fields.option` is also a flag of those commands, so
defaults and choices are stated once, here. Imports stay light: the CLI builds its parser from
these classes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..answers import PARSERS, default_switches
from ..fields import check, option, same_as
from ..prompts import MODES, STYLES
from .backends import backend_names

# Greedy decoding budget by mode: a word or number (VSI-Bench's own setting is 16), or room
# for a reasoning block before the answer.
MAX_NEW_TOKENS = {"vanilla": 16, "think": 1024, "observe": 1024}
#: which questions are scored: every one, or only VSI-Bench-Debiased's (rows whose ``pruned`` is false)
SUBSETS = ("all", "debiased")


@dataclass(frozen=True)
class ScoringConfig:
    """How predictions become scores. ``official`` + both switches off = the authors' protocol."""

    parser: str = option("official", choices=PARSERS,
                         help="official: the VSI-Bench authors' first-token parse; lmms-eval: lmms-eval 0.7.3's "
                              "whole VSI-Bench scoring (the response stripped; letters: first token; numbers: the "
                              "first number or number-word run anywhere; no answer-tag or option-text step unless "
                              "asked); lenient: the first option letter / number anywhere")
    answer_tag: bool | None = option(None, type=bool, help="take the <answer>...</answer> span as the answer when "
                                     "present (default: on, except with --parser lmms-eval, whose pipeline has no such "
                                     "step)")
    option_text: bool | None = option(None, type=bool, help="map an answer equal to an option's text to that "
                                      "option's letter (default: on, except with --parser lmms-eval)")
    subset: str = option("all", choices=SUBSETS, help="all: every question (and, when the questions file has "
                                                       "VSI-Bench's 'pruned' column, VSI-Bench-Debiased beside it); "
                                                       "debiased: only the questions whose 'pruned' is false")
    ci_resamples: int = option(1000, help="bootstrap resamples (whole scenes) for the 95%% intervals; 0: none",
                               min=0, max=10**6)
    ci_seed: int = option(0, help="seed of the bootstrap", min=0)

    def __post_init__(self):
        check(self)
        # The parser decides unset switches; the config then states what was applied.
        tag, text = default_switches(self.parser)
        if self.answer_tag is None:
            object.__setattr__(self, "answer_tag", tag)
        if self.option_text is None:
            object.__setattr__(self, "option_text", text)

    def to_dict(self) -> dict:
        return asdict(self)



@dataclass
class EvalConfig:
    """Everything an evaluation run needs. Each field (but ``backend_options``) is a ``vsgrpo eval run`` flag."""

    model: str = option(help="hub id or local model folder (openai backend: served model name)", nonempty=True)
    questions: str = option(help="questions parquet (VSI-Bench schema)", path="file")
    videos: str = option("", help="folder with {dataset}/{scene_name}.mp4 (default: ROOT/videos of the data root the "
                                  "questions were built from, as their build_config.json records, else videos/ "
                                  "beside the questions file)")
    out: str = option("eval-run", help="run folder (created; rerun the same command to resume)", path="out_dir")
    frames: int = option(32, help="frames sampled uniformly per video", min=1, max=1024)
    mode: str = option("vanilla", choices=MODES, help="prompt mode")
    style: str = option("bench", choices=STYLES, help="bench: VSI-Bench prompts with lettered options; train: the "
                                                      "paper's training prompts, no options")
    # No fixed choices: a backend registered by another package after this import counts too.
    backend: str = option("hf", metavar="NAME", items=backend_names,
                          help="generation backend: hf, openai, vllm, or one registered by your package "
                               "(vsgrpo.eval.backends)")
    batch_size: int = option(1, help="generation batch (hf, vllm) or parallel requests (openai)", min=1, max=4096)
    limit: int | None = option(None, type=int, help="only the first N questions", min=1)
    max_new_tokens: int | None = option(None, type=int, help="generation budget", min=1, max=2**20,
                                        default_text=", ".join(f"{v} for {k}" for k, v in MAX_NEW_TOKENS.items()))
    parser: str = same_as(ScoringConfig, "parser")
    answer_tag: bool = same_as(ScoringConfig, "answer_tag")
    option_text: bool = same_as(ScoringConfig, "option_text")
    retry_errors: bool = option(False, help="when resuming, run again the samples that ended in an error")
    overwrite: bool = option(False, help="start over: delete the samples and results already in --out (a rerun "
                                         "with other settings is refused without it)")
    blind: bool = option(False, help="vision disabled: the same prompts (still 'These are frames of a video.') with "
                                     "no frames sent, so vision minus blind is what the video adds")
    frames_like: str = option("vsgrpo", choices=("vsgrpo", "lmms-eval"),
                              help="frame sampling and size: vsgrpo = --frames uniformly over the video at its own "
                                   "size (VSI-Bench's rule); lmms-eval = as lmms-eval 0.7.3's qwen2_vl model: the "
                                   "video read at 2 fps, then --frames of those evenly, each frame resized to "
                                   "max_pixels 602112 (capped by qwen-vl-utils' total budget), min_pixels 3136")
    subset: str = same_as(ScoringConfig, "subset")
    ci_resamples: int = same_as(ScoringConfig, "ci_resamples")
    ci_seed: int = same_as(ScoringConfig, "ci_seed")
    backend_options: dict = field(default_factory=dict)  # passed to the backend constructor (BackendOptions)

    def __post_init__(self):
        # Every field's bounds, before anything is written (a missing --questions or --videos: run_eval
        # reports those itself; --blind needs no videos).
        check(self, skip=("questions",))
        if self.max_new_tokens is None:
            self.max_new_tokens = MAX_NEW_TOKENS[self.mode]
        scoring = self.scoring  # validates the parser; unset switches take the parser's default
        self.answer_tag, self.option_text = scoring.answer_tag, scoring.option_text

    @property
    def scoring(self) -> ScoringConfig:
        return ScoringConfig(parser=self.parser, answer_tag=self.answer_tag, option_text=self.option_text,
                             subset=self.subset, ci_resamples=self.ci_resamples, ci_seed=self.ci_seed)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["questions"] = str(Path(self.questions).resolve())
        d["videos"] = str(Path(self.videos).resolve())
        return d
