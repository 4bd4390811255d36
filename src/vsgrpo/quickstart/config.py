"""Settings of ``vsgrpo quickstart``: two profiles of defaults and :class:`QuickstartConfig`.

Profiles: with no ``model`` the *tiny* profile builds a tiny random Qwen2-VL and trains it on
CPU (settings in :data:`TINY`): a supervised warm-up teaches it the answer form and to look, then
GRPO and, at the same budget in questions, SFT train from the warm-up, so the report compares the
two methods as the paper does. With ``model`` (a hub id or a local folder) the *paper* profile
trains with ``recipes/paper/{sft-2b,vsgrpo-2b}.yaml`` (LoRA adapters are merged for evaluation);
no warm-up, and the SFT baseline only with ``sft="on"``.

Each :class:`QuickstartConfig` field is also a ``vsgrpo quickstart`` flag (see
:mod:`vsgrpo.fields`); the help of profile-dependent flags states both profiles' defaults,
read from :data:`TINY` and :data:`PAPER`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..errors import VsgrpoError
from ..fields import check, option, parse_names, parse_size
from ..prompts import STYLES
from ..question_types import question_types

HELDOUT_SEED_OFFSET = 1_000_003  # held-out scenes: another seed, so other scene names and layouts
SFT_CHOICES = ("auto", "on", "off")  # also the warm-up's choices

# The VSI-100k task families the paper trains on (route planning and appearance order are extra).
PAPER_TASKS = question_types(preset="vsi100k")


@dataclass(frozen=True)
class Profile:
    """Defaults of one scale. ``None`` in :class:`QuickstartConfig` means: take the profile's value."""

    scenes: int
    heldout_scenes: int
    warmup_steps: int  # 0: no warm-up
    sft_steps: int  # 0: as many questions as GRPO sees (the recipe's budget for a real model)
    steps: int
    tasks: tuple[str, ...]
    per_scene: int
    video_frames: int  # frames rendered per synthetic video
    video_size: tuple[int, int]
    frames: int  # frames sampled per question, training and evaluation alike
    eval_style: str  # prompts at evaluation: train (no options; answer words mapped to letters) or bench
    eval_batch_size: int
    sft_recipe: str | None  # relative to the recipes folder; None: settings below only
    grpo_recipe: str | None
    warmup: dict = field(default_factory=dict)  # SFT config of the warm-up
    sft: dict = field(default_factory=dict)  # config overrides (after the recipe)
    grpo: dict = field(default_factory=dict)


# The tasks a tiny model trained from scratch for minutes on a CPU learns to answer from the video
# (docs/quickstart.md, "Which tasks"): with every VSI-100k task it learns answer priors only.
TINY_TASKS = ("object_counting", "room_size_estimation")

_TINY_SFT = dict(mode="vanilla", num_frames=8, max_pixels=12544, lora=False, learning_rate=1e-3,
                 per_device_train_batch_size=8, save_steps=100, save_total_limit=1, logging_steps=1,
                 report_to=["jsonl"])

# Tuned to finish within 12 minutes on 2 idle CPU cores (docs/quickstart.md has the measurements).
TINY = Profile(
    scenes=400, heldout_scenes=60, warmup_steps=600, sft_steps=0, steps=200, tasks=TINY_TASKS, per_scene=6,
    video_frames=48, video_size=(160, 120), frames=8, eval_style="train", eval_batch_size=8,
    sft_recipe=None, grpo_recipe=None,
    warmup=_TINY_SFT,
    sft=dict(_TINY_SFT, learning_rate=2e-4),
    grpo=dict(mode="vanilla", num_frames=8, max_pixels=12544, lora=False, learning_rate=2e-4,
              num_generations=8, per_device_train_batch_size=32, max_completion_length=8, temperature=1.0,
              beta=1e-4, loss_type="grpo", save_steps=50, save_total_limit=1, logging_steps=1,
              report_to=["jsonl"]),
)

PAPER = Profile(
    scenes=200, heldout_scenes=40, warmup_steps=0, sft_steps=0, steps=0, tasks=PAPER_TASKS, per_scene=6,
    video_frames=120, video_size=(320, 240), frames=0, eval_style="bench", eval_batch_size=8,
    sft_recipe="paper/sft-2b.yaml", grpo_recipe="paper/vsgrpo-2b.yaml",
    sft=dict(report_to=["tensorboard", "jsonl"]), grpo=dict(report_to=["tensorboard", "jsonl"]),
)

TINY_MODEL = dict(family="qwen2_vl", tokenizer="small", hidden_size=64, num_hidden_layers=2)

def _question_types():
    from ..questions import question_types

    return question_types()


# Fields whose ``None`` means "the profile's value".
PROFILE_FIELDS = ("scenes", "heldout_scenes", "warmup_steps", "sft_steps", "steps", "tasks", "per_scene", "frames", "video_frames",
                  "video_size", "eval_style", "eval_batch_size")


def _by_profile(name: str) -> str:
    """Help text naming a profile field's default in both profiles."""
    def shown(v) -> str:
        if name == "tasks" and tuple(v) == PAPER_TASKS:
            return "the paper's VSI-100k tasks"
        if name == "tasks":
            return ",".join(v)
        if name == "sft_steps" and v == 0:
            return "as many questions as GRPO sees"
        if name == "warmup_steps" and v == 0:
            return "none"
        if name == "video_size":
            return f"{v[0]}x{v[1]}"
        return "the recipe's" if v == 0 else str(v)

    tiny, paper = shown(getattr(TINY, name)), shown(getattr(PAPER, name))
    return tiny if tiny == paper else f"tiny {tiny}, real model {paper}"


@dataclass
class QuickstartConfig:
    """Settings of ``vsgrpo quickstart``; ``None`` fields take the profile's default."""

    out: str = option("quickstart", help="output folder", path="out_dir")
    model: str | None = option(None, help="hub id or local model folder", path="model",
                               default_text="build a tiny random Qwen2-VL and train it on CPU")
    scenes: int | None = option(None, type=int, min=1, max=100_000, help="training scenes", default_text=_by_profile("scenes"))
    heldout_scenes: int | None = option(None, type=int, min=1, max=100_000, help="held-out scenes",
                                        default_text=_by_profile("heldout_scenes"))
    steps: int | None = option(None, type=int, min=1, max=10**7, help="GRPO optimizer steps", default_text=_by_profile("steps"))
    warmup_steps: int | None = option(None, type=int, min=1, max=10**7,
                                      help="steps of the supervised warm-up that GRPO and SFT start from",
                                      default_text=_by_profile("warmup_steps"))
    warmup: str = option("auto", choices=SFT_CHOICES,
                         help="supervised warm-up before GRPO and SFT, which teaches a random model the answer form "
                              "and to look (auto: on for the tiny model, off for a real one)")
    sft_steps: int | None = option(None, type=int, min=1, max=10**7,
                                   help="steps of the SFT baseline (trained from the same start as GRPO)",
                                   default_text=_by_profile("sft_steps"))
    sft: str = option("auto", choices=SFT_CHOICES,
                      help="train an SFT baseline beside GRPO, from the same start and by default on as many "
                           "questions, to compare the two methods (auto: on for the tiny model, off for a real one)")
    seed: int = option(0, min=0, max=2**31 - 1, help="seed of scenes, questions and training")
    seeds: int = option(1, min=1, max=100, help="train and evaluate with this many seeds (--seed, --seed+1, ...) on the same data; "
                                "the report gives mean and sd per stage and task")
    blind: bool = option(True, help="also evaluate each stage blind (same prompts, no video) to show what the video "
                                    "adds", off_help="skip the blind evaluations (same prompts, no video) of each "
                                                     "stage; the report then does not show what the video adds")
    tasks: tuple[str, ...] | None = option(None, type=parse_names, items=_question_types, nonempty=True,
                                           help="comma-separated question types",
                                           default_text=_by_profile("tasks"))
    per_scene: int | None = option(None, type=int, min=1, max=10_000, help="questions per scene and task",
                                   default_text=_by_profile("per_scene"))
    frames: int | None = option(None, type=int, min=1, max=1024, help="frames per question in training and evaluation",
                                default_text=_by_profile("frames"))
    video_frames: int | None = option(None, type=int, min=2, max=10_000, help="frames rendered per scene video",
                                      default_text=_by_profile("video_frames"))
    video_size: tuple[int, int] | None = option(None, type=parse_size, metavar="WxH", help="rendered video size",
                                                default_text=_by_profile("video_size"))
    eval_style: str | None = option(None, choices=STYLES,
                                    help="evaluation prompts: train (no options; answer words mapped to option "
                                         "letters) or bench (VSI-Bench prompts with options)",
                                    default_text=_by_profile("eval_style"))
    eval_limit: int | None = option(None, type=int, min=1, help="evaluate only the first N held-out questions")
    eval_batch_size: int | None = option(None, type=int, min=1, max=4096, help="generation batch size in evaluation",
                                         default_text=_by_profile("eval_batch_size"))
    workers: int = option(0, min=0, max=256, help="scene-rendering processes", default_text="one per core, at most 4")
    threads: int | None = option(None, type=int, min=1, max=1024, help="torch CPU threads",
                                 default_text="1 for the tiny model, whose ops are too small to gain from more; "
                                              "torch's default otherwise")
    tiny_hidden_size: int | None = option(None, type=int, min=16, max=8192, help="width of the tiny model",
                                          default_text=str(TINY_MODEL["hidden_size"]))
    tiny_layers: int | None = option(None, type=int, min=1, max=128, help="language-model layers of the tiny model",
                                     default_text=str(TINY_MODEL["num_hidden_layers"]))
    recipes: str | None = option(None, path="dir", help="folder holding paper/*.yaml", default_text="the repository's recipes/")
    warmup_overrides: list[str] = option([], flag="--warmup-set", action="append", metavar="KEY=VALUE",
                                         help="override a warm-up (SFT) config key (repeatable), e.g. --warmup-set "
                                              "learning_rate=5e-4")
    sft_overrides: list[str] = option([], flag="--sft-set", action="append", metavar="KEY=VALUE",
                                      help="override an SFT config key (repeatable), e.g. --sft-set "
                                           "learning_rate=5e-4")
    grpo_overrides: list[str] = option([], flag="--grpo-set", action="append", metavar="KEY=VALUE",
                                       help="override a GRPO config key (repeatable), e.g. --grpo-set "
                                            "num_generations=14")

    @property
    def profile(self) -> Profile:
        return TINY if self.model is None else PAPER

    def resolved(self) -> dict:
        """Every setting with profile defaults filled in (what the stage keys are made of)."""
        p = self.profile
        d = asdict(self)
        for name in PROFILE_FIELDS:
            if d[name] is None:
                d[name] = getattr(p, name)
        d["tasks"] = list(d["tasks"])
        d["video_size"] = list(d["video_size"])
        d["sft"] = self.sft_enabled
        d["warmup"] = self.warmup_enabled
        d["profile"] = "tiny" if self.model is None else "paper"
        return d

    @property
    def sft_enabled(self) -> bool:
        return self.sft == "on" or (self.sft == "auto" and self.model is None)

    @property
    def warmup_enabled(self) -> bool:
        return self.warmup == "on" or (self.warmup == "auto" and self.model is None)

    def validate(self) -> None:
        """Every field's bounds (the model path included), before any scene is rendered."""
        check(self)
        from ..train.config import check_overrides

        check_overrides("sft", self.warmup_overrides, "--warmup-set")
        check_overrides("sft", self.sft_overrides, "--sft-set")
        check_overrides("grpo", self.grpo_overrides, "--grpo-set")
        if self.video_size is not None:
            w, h = self.video_size
            if not (32 <= w <= 4096 and 32 <= h <= 4096) or w % 2 or h % 2:
                raise VsgrpoError(f"--video-size {w}x{h}: width and height must be even, 32..4096")
