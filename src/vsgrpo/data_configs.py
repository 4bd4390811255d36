"""Settings of the data commands, declared once with :func:`vsgrpo.fields.option`: the flags of
``data synth`` (:class:`SynthConfig`), ``data ingest`` (:class:`IngestConfig`), ``data build``
(:class:`BuildConfig`) and ``data import`` (:class:`ImportConfig`) are generated from these fields.

This module imports nothing heavy (the question-type registry, numpy and the renderer are
imported only when a value is checked), so the CLI can build its parser from it and
``vsgrpo --help`` stays fast. The classes are also importable from where they are used:
``vsgrpo.sources.synthetic``, ``vsgrpo.sources.ingest``, ``vsgrpo.questions`` and
``vsgrpo.importers``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import VsgrpoError
from .fields import check, option, parse_names
from .prompts import STYLES

DISTANCES = ("closest", "center")
DEFAULT_PER_SCENE = 6
SEED_MAX = 2**32 - 1  # numpy's legacy seeding limit; every seed flag uses it
IMPORT_FORMATS = ("video-r1", "llava", "jsonl")
IMPORT_FIELDS = ("id", "question", "answer", "video", "options", "question_type", "question_kind", "problem_type")
QUESTION_KINDS = ("numeric", "choice")  # a question type of a user's own (vsgrpo.question_types.declare_own_type)


def question_type_names() -> tuple[str, ...]:
    """The registered question types (the light table: no generator is imported)."""
    from .question_types import question_types

    return question_types()


def per_scene_count(text: str) -> int | None:
    """``N`` or ``all`` (``None``): the argparse type of ``--per-scene``."""
    return None if text.strip().lower() == "all" else int(text)


@dataclass(frozen=True)
class SynthConfig:
    """Settings of ``vsgrpo data synth``; scene ``i`` depends only on ``seed`` and ``i`` (and these)."""

    scenes: int = option(10, min=1, max=100_000, help="number of scenes (indices 0..N-1 of the seed)")
    seed: int = option(0, min=0, max=SEED_MAX, help="scene i depends only on (seed, i)")
    frames: int = option(120, min=2, max=10_000, help="frames per video")
    width: int = option(320, min=32, max=4096, cli=False, help="frame width (even)")
    height: int = option(240, min=32, max=4096, cli=False, help="frame height (even)")
    fps: float = option(10.0, positive=True, max=120, help="video frame rate (frames / fps = seconds of video)")
    workers: int = option(0, min=0, max=256, help="processes", default_text="one per core, at most 4")
    ceiling: bool = option(True, help="render rooms with a ceiling", off_help="render rooms without a ceiling")
    min_pixels: int = option(0, min=0, cli=False,
                             help="an object seen by fewer pixels in every frame is removed (0: by frame size)")

    def validate(self) -> None:
        check(self, name=lambda f: "--size" if f.name in ("width", "height") else f"--{f.name}")
        if self.width % 2 or self.height % 2:
            raise VsgrpoError(f"--size {self.width}x{self.height}: width and height must be even, 32..4096")

    def scene_params(self) -> dict:
        """The settings that change a scene's content (a rerun must use the same ones)."""
        return {"seed": self.seed, "frames": self.frames, "width": self.width, "height": self.height,
                "fps": self.fps, "ceiling": self.ceiling, "min_pixels": self.resolved_min_pixels()}

    def resolved_min_pixels(self) -> int:
        return self.min_pixels or max(10, self.width * self.height // 1500)


@dataclass
class IngestConfig:
    """Settings of ``vsgrpo data ingest`` (``--split FILE`` fills ``scenes``)."""

    # No fixed choices: a source registered by another package counts too; `data ingest` checks the name
    # against the registry (vsgrpo.sources) before anything is written.
    source: str = option(nonempty=True, metavar="NAME",
                         help="scan format: a registered source, built in (e.g. scannet, arkitscenes, custom) or from "
                              "your own package (see vsgrpo.sources; an unknown name lists them all)")
    root: Path = option(type=Path, path="dir", help="the dataset as downloaded (see docs/ingest.md for each layout)")
    out: Path = option(type=Path, path="out_dir", help="data root to write (meta/, videos/, visibility/, ...)")
    scenes: list[str] | None = option(None, type=lambda t: list(parse_names(t)), nonempty=True,
                                      help="comma-separated scene names", default_text="every scene under --root")
    labels: Path | None = option(None, type=Path, path="file",
                                 help="label map: ScanNet's scannetv2-labels.combined.tsv (default ROOT/...); other "
                                      "sources: JSON or two-column TSV 'raw label -> category' added to the built-in "
                                      "remap")
    workers: int = option(1, min=1, max=256, help="scenes processed in parallel")
    frame_step: int = option(1, min=1, max=10_000, help="keep every K-th frame (1: all)")
    include_eval_scenes: bool = option(False, help="also ingest VSI-Bench evaluation scenes (excluded by default: "
                                                   "keep them out of training)")
    eval_scenes_file: Path | None = option(None, type=Path, path="file", flag="--eval-scenes",
                                           help="extra eval scene list (lines 'dataset/scene'), added to the "
                                                "built-in one")
    overwrite: bool = option(False, help="start this source over: delete its scenes already in --out (they were "
                                         "ingested with other --frame-step/--labels; such a rerun is refused "
                                         "otherwise)")

    def __post_init__(self) -> None:
        self.root, self.out = Path(self.root), Path(self.out)
        check(self)

    def settings(self) -> dict:
        """What changes a scene's files: the frame step and the label map's contents. Which scenes
        (--scenes, --split, eval-scene exclusion), --root and --workers do not count: runs with
        other scenes add to the root."""
        labels = None
        if self.labels is not None:
            try:
                labels = "sha256:" + hashlib.sha256(Path(self.labels).read_bytes()).hexdigest()
            except OSError as e:
                raise VsgrpoError(f"cannot read --labels {self.labels}: {e.strerror or e}") from None
        return {"frame_step": self.frame_step, "labels": labels}


@dataclass
class BuildConfig:
    """Settings of ``vsgrpo data build`` (each field is one flag).

    style: ``bench`` (VSI-Bench form: lettered options, letter ground truth) or ``train``
        (VSI-100k form: no options, the answer word itself; NA answers numeric).
    distance: ``closest`` (VSI-Bench: closest points of the boxes) or ``center`` (VSI-100k:
        distance between box centres).
    per_scene: at most this many questions per scene and question type (``None`` = every valid
        one); types with a smaller own cap (room size: 1) keep theirs.
    seed: seeds every random choice; same inputs and seed give byte-identical output.
    tasks: question types to build (``None`` = all registered types).
    na_options: also give NA questions lettered numeric options (bench style only).
    appearance_threshold: appearance order: pixels an object must cover to count as seen
        (``None`` = the type's default, a fraction of the frame area).
    balance: choose and trim the kept questions so that no constant answer scores well
        (:mod:`vsgrpo.questions.balance`); ``False`` keeps a random subset, as VSI-Bench did.
    mix: the name of a data preset with ``paper_counts`` (``vsi100k``): after the per-scene cap,
        per-scene, per-question-type quotas cut the build to that preset's task mix
        (:func:`vsgrpo.dataset.apply_mix`); ``None`` keeps every question the cap allows.
    """

    style: str = option("bench", choices=STYLES,
                        help="bench: VSI-Bench form with lettered options; train: VSI-100k form, no options, the "
                             "answer word itself")
    distance: str = option("closest", choices=DISTANCES,
                           help="closest: VSI-Bench closest points; center: box centres as in VSI-100k")
    per_scene: int | None = option(DEFAULT_PER_SCENE, type=per_scene_count, min=1, max=1_000_000, metavar="N|all",
                                   help="at most N questions per scene and question type, or 'all' (room size: 1)")
    seed: int = option(0, min=0, max=SEED_MAX, help="seed of every random choice")
    tasks: tuple[str, ...] | None = option(None, type=parse_names, items=question_type_names, nonempty=True,
                                           metavar="TYPES", help="comma-separated question types",
                                           default_text="all")
    na_options: bool = option(False, help="bench style: also give numeric questions four lettered options")
    appearance_threshold: int | None = option(None, type=int, min=1, max=10**8, metavar="PX",
                                              help="appearance order: pixels an object must cover to count as seen",
                                              default_text="0.163%% of the frame, 500 px at 640x480; see "
                                                           "docs/routes_and_appearance.md")
    balance: bool = option(True, help="choose questions so that no constant answer scores well",
                           off_help="keep a random subset per scene, as VSI-Bench did, instead of choosing questions "
                                    "so that no constant answer scores well (the summary prints each question "
                                    "type's chance (frequency) either way; see docs/questions.md)")
    mix: str | None = option(None, cli=False, help="task mix of a data preset (set by --preset vsi100k)")

    def __post_init__(self) -> None:
        if self.tasks is not None:
            self.tasks = tuple(self.tasks)
        check(self)
        if self.mix is not None:
            from .presets import mix_counts

            mix_counts(self.mix)  # an unknown mix fails here, before any work


@dataclass
class ImportConfig:
    """Settings of ``vsgrpo data import`` (each field is one flag)."""

    format: str = option(choices=IMPORT_FORMATS, help="input format")
    input: str = option(path="file", help="the question file (JSON list or JSONL)")
    videos: str = option(help="folder the records' video paths are relative to")
    out: str = option(path="out_dir", help="output folder")
    mapping: dict[str, str] = field(default_factory=dict)  # --map FIELD=COLUMN, parsed by importers.parse_map
    question_type: str | None = option(None, nonempty=True,
                                       help="question type of rows that name none and match no VSI-Bench template "
                                            "(a type of your own needs --question-kind)")
    question_kind: str | None = option(None, choices=QUESTION_KINDS,
                                       help="how rows of a question type of your own (not one of VSI-Bench's) are "
                                            "scored when the row gives no question_kind: numeric (Mean Relative "
                                            "Accuracy) or choice (accuracy)")

    def __post_init__(self) -> None:
        unknown = sorted(set(self.mapping) - set(IMPORT_FIELDS))
        if unknown:
            raise VsgrpoError(f"--map: unknown field(s) {', '.join(unknown)}; fields are {', '.join(IMPORT_FIELDS)}")
        check(self, skip=("input",))  # a missing input: import_questions names it
        if self.question_type is not None:
            from .question_types import declare_own_type, get_type

            if self.question_kind is not None:
                declare_own_type(self.question_type, self.question_kind)
            get_type(self.question_type)  # a VSI-Bench type, or one declared by --question-kind
