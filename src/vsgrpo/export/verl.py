"""``vsgrpo data export --format verl``: vsgrpo training data as verl's RL parquet.

verl (https://github.com/volcengine/verl, 0.9.1) is the engine to use past one node (Ray,
FSDP, vLLM/SGLang rollouts); see docs/scaling.md. The export writes, under ``DIR``:

- ``train.parquet`` / ``val.parquet``: one row per question in verl's RL schema, read by its
  ``RLHFDataset``:

  - ``prompt``: ``[{"role": "user", "content": "<video>" + TEXT}]`` where ``TEXT`` is vsgrpo's
    training prompt (:func:`vsgrpo.train.data.load_rows`, i.e. :func:`vsgrpo.prompts.build_prompt`
    with the export's mode: train style, or bench style for rows with options). verl turns
    ``<video>`` into a video part placed before the text, the same user turn vsgrpo builds
    (:func:`vsgrpo.models.inputs.user_message`), so the chat template renders identical text.
  - ``videos``: ``[{"video": PATH, "nframes": N, "min_pixels": A, "max_pixels": B}]``: the
    frame count and per-frame pixel budget of the vsgrpo recipe (qwen-vl-utils, verl's video
    reader, samples ``nframes`` frames uniformly and resizes each into ``[A, B]`` pixels with the
    Qwen-VL rule, so the number of vision tokens equals vsgrpo's). ``nframes`` is capped at the
    video's frame count (rounded down to even, as qwen-vl-utils needs; vsgrpo instead repeats the
    last frame of an odd count, so only a video shorter than the frame count *and* odd gets one
    frame pair less in verl).
  - ``data_source``: the question type (verl groups validation metrics by it: one curve per task).
  - ``reward_model``: ``{"style": "rule", "ground_truth": ...}``.
  - ``extra_info``: ``id``, ``question_type``, ``options`` (empty list for none), ``question``,
    ``mode``, ``split``, ``index``, and ``na_shape`` (``"metric"`` on validation rows, so verl's
    validation accuracy of numeric questions is VSI-Bench's MRA; null on training rows: the
    recipe's reward shape).
- ``vsgrpo_reward.py`` + ``vsgrpo_scoring/`` + ``vsgrpo_reward.json``: the reward verl loads by
  path (:mod:`vsgrpo.export.verl_reward`), a self-contained copy of vsgrpo's scoring code. The
  recipe's ``rewards:`` list goes with it, so verl optimises the reward vsgrpo's trainer does:
  built-in rewards by name with their weights, and each user ``package.module:function`` copied
  to ``vsgrpo_user_rewards/package.module.py`` with its weight when its module needs only the
  standard library and numpy (anything else is refused, with one line, before anything is written).
  The question types of the exported rows that vsgrpo does not ship (a team's own, declared by the
  questions file's ``question_kind``; or registered from Python) go into ``vsgrpo_reward.json`` as
  data, ``own_types: {name: "numeric" | "choice"}``, which the reward declares to its copy of the
  table of question types when verl loads it, so they score as in vsgrpo (MRA / exact match).
- ``verl_overrides.txt``: one ``key=value`` verl override per line pointing verl at all of the
  above, plus ``data.mm_processor_kwargs`` (the pixel budget for the model's processor in verl's
  dataset and vLLM rollout, as vsgrpo sets it on its processor) and ``data.max_prompt_length``
  (the largest video's vision tokens + a margin for text); paste them after a verl command
  (``recipes/verl/`` reads the file). docs/scaling.md has the whole path.

Video paths are absolute (``--root-as`` rewrites the root, for clusters that mount the videos
elsewhere) and are refused when they escape the video root (:func:`vsgrpo.io.safe_join`).
"""

from __future__ import annotations

import ast
import math
import os
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import VsgrpoError

# The paper recipe's video settings (recipes/paper/vsgrpo-2b.yaml).
DEFAULT_FRAMES = 16
DEFAULT_MIN_PIXELS = 3136
DEFAULT_MAX_PIXELS = 100352
# Qwen2-VL / Qwen2.5-VL: 14-pixel patches merged 2x2, so one vision token per 28x28 pixels and frame pair.
TOKEN_PIXELS = 28
TEXT_TOKEN_MARGIN = 512  # room for the chat template and the question text in data.max_prompt_length

REWARD_FILE = "vsgrpo_reward.py"
OVERRIDES_FILE = "verl_overrides.txt"


@dataclass
class VerlExport:
    """What to export and how (the flags of ``vsgrpo data export --format verl``)."""

    questions: str = ""
    out: str = ""
    root: str = ""                 # video root of `questions` (default: questions_parquet.video_root)
    mode: str = "vanilla"
    val_questions: str = ""
    val_root: str = ""             # video root of `val_questions` (default: likewise)
    val_fraction: float = 0.05     # used when no val_questions: whole scenes held out
    num_frames: int = DEFAULT_FRAMES
    min_pixels: int = DEFAULT_MIN_PIXELS
    max_pixels: int = DEFAULT_MAX_PIXELS
    root_as: str = ""              # write video paths under this folder instead of `root`
    val_root_as: str = ""
    question_types: list = field(default_factory=list)
    max_samples: int = 0
    seed: int = 0
    # Reward settings (vsgrpo_reward.json), as the GRPO recipe fields.
    na_shape: str = "linear"
    na_tolerance: float = 0.5
    answer_parser: str = "official"
    format_weight: float = 1.0
    allow_empty_reasoning: bool = True
    rewards: list = field(default_factory=list)  # the recipe's `rewards:` list (empty: the default set)

    def validate(self) -> None:
        from ..prompts import MODES
        from ..rewards import NA_SHAPES, PARSERS

        if self.mode not in MODES:
            raise VsgrpoError(f"unknown mode {self.mode!r}; choose one of {', '.join(MODES)}")
        if self.na_shape not in NA_SHAPES:
            raise VsgrpoError(f"unknown na_shape {self.na_shape!r}; choose one of {', '.join(NA_SHAPES)}")
        if self.answer_parser not in PARSERS:
            raise VsgrpoError(f"unknown answer parser {self.answer_parser!r}; choose one of {', '.join(PARSERS)}")
        if self.num_frames < 2:
            raise VsgrpoError("--num-frames must be at least 2 (Qwen-VL merges frames in pairs)")
        if self.min_pixels < 1 or self.max_pixels < self.min_pixels:
            raise VsgrpoError("--min-pixels must be >= 1 and --max-pixels >= --min-pixels (verl's video reader "
                              "has its own defaults otherwise, which differ from vsgrpo's)")
        if not (0.0 <= self.val_fraction < 1.0):
            raise VsgrpoError("--val-fraction must be in [0, 1)")
        if not self.val_questions and self.val_fraction <= 0:
            raise VsgrpoError("verl needs validation data: pass --val-questions or a --val-fraction > 0")
        if not (self.na_tolerance > 0):
            raise VsgrpoError("na_tolerance must be > 0")
        self.user_reward_files()  # a reward verl cannot run fails here, before anything is written

    def reward_specs(self) -> list[tuple[str, float]]:
        from ..train.reward_config import parse_specs

        return parse_specs(self.rewards)

    def user_reward_files(self) -> dict[str, Path]:
        """``{module: file}`` of the user rewards to copy; checks every reward of the list as the trainer does."""
        from ..rewards import BUILTIN_REWARDS, rewards_from_specs
        from ..train.reward_config import reward_settings

        specs = self.reward_specs()
        rewards_from_specs(specs, reward_settings(self), user=_self_contained_reward)
        return {name.partition(":")[0]: _module_path(name) for name, _ in specs if name not in BUILTIN_REWARDS}


def from_recipe(path: str | os.PathLike, **overrides) -> VerlExport:
    """A :class:`VerlExport` with the video, prompt and reward settings of a vsgrpo GRPO recipe.

    ``overrides`` (non-empty values only) win over the recipe. The recipe's ``data`` and
    ``video_root`` are the defaults for ``questions`` and ``root``; its ``eval_questions`` /
    ``eval_videos`` for the validation set.
    """
    from ..train.config import load_config

    cfg = load_config("grpo", path, check_paths=False)
    values = dict(questions=cfg.data, root=cfg.video_root, mode=cfg.mode, num_frames=cfg.num_frames,
                  min_pixels=cfg.min_pixels or DEFAULT_MIN_PIXELS, max_pixels=cfg.max_pixels or DEFAULT_MAX_PIXELS,
                  question_types=list(cfg.question_types), max_samples=cfg.max_samples, seed=cfg.seed,
                  na_shape=cfg.na_shape, na_tolerance=cfg.na_tolerance, answer_parser=cfg.answer_parser,
                  format_weight=cfg.format_weight, allow_empty_reasoning=cfg.allow_empty_reasoning,
                  rewards=list(cfg.rewards), val_questions=cfg.eval_questions, val_root=cfg.eval_videos, out="")
    values.update({k: v for k, v in overrides.items() if v not in (None, "", [])})
    return VerlExport(**values)


# --------------------------------------------------------------------------- videos

def smart_resize(height: int, width: int, factor: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """Qwen-VL's resize rule (as in transformers' and qwen-vl-utils' ``smart_resize``)."""
    h = max(factor, round(height / factor) * factor)
    w = max(factor, round(width / factor) * factor)
    if h * w > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h = max(factor, math.floor(height / beta / factor) * factor)
        w = max(factor, math.floor(width / beta / factor) * factor)
    elif h * w < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h = math.ceil(height * beta / factor) * factor
        w = math.ceil(width * beta / factor) * factor
    return h, w


def probe_video(path: str | os.PathLike) -> tuple[int, int, int]:
    """``(frame count from the header or 0, height, width)`` of a video."""
    import av

    from ..video import VideoError

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            return int(stream.frames or 0), int(stream.codec_context.height), int(stream.codec_context.width)
    except (av.FFmpegError, IndexError, OSError, ValueError) as e:
        raise VideoError(f"cannot read video {path}: {e}") from None


def frames_for(num_frames: int, n_video: int) -> int:
    """Frames verl's reader will sample: ``num_frames`` capped at the video's count, rounded down to even."""
    n = min(num_frames, n_video) if n_video > 0 else num_frames
    n -= n % 2
    if n < 2:
        raise VsgrpoError(f"a video has {n_video} frame(s); Qwen-VL needs at least 2")
    return n


# --------------------------------------------------------------------------- rows

def _load(questions: str, root: str, spec: VerlExport):
    from ..questions_parquet import video_root as find_video_root
    from ..train.data import load_rows

    video_root = find_video_root(questions, root)
    rows = load_rows(questions, video_root, mode=spec.mode, question_types=spec.question_types or None,
                     max_samples=spec.max_samples, seed=spec.seed, check_videos=True)
    return rows, Path(os.path.abspath(video_root))


def _split_by_scene(rows: list[dict], fraction: float, seed: int) -> tuple[list[dict], list[dict]]:
    """Hold out whole videos (scenes) until at least ``fraction`` of the questions are held out."""
    videos = sorted({r["video"] for r in rows})
    if len(videos) < 2:
        raise VsgrpoError("--val-fraction needs questions from at least 2 videos (scenes are held out whole); "
                          "pass --val-questions instead")
    random.Random(seed).shuffle(videos)
    want = max(1, math.ceil(fraction * len(rows)))
    held, n = set(), 0
    for v in videos[:-1]:  # keep at least one scene for training
        if n >= want:
            break
        held.add(v)
        n += sum(1 for r in rows if r["video"] == v)
    return [r for r in rows if r["video"] not in held], [r for r in rows if r["video"] in held]


def _records(rows: list[dict], root: Path, root_as: str, split: str, spec: VerlExport,
             probes: dict) -> tuple[list, int]:
    out, max_vision = [], 0
    for i, r in enumerate(rows):
        local = r["video"]
        if local not in probes:
            probes[local] = probe_video(local)
        n_video, h, w = probes[local]
        nframes = frames_for(spec.num_frames, n_video)
        rh, rw = smart_resize(h, w, TOKEN_PIXELS, spec.min_pixels, spec.max_pixels)
        max_vision = max(max_vision, nframes // 2 * (rh // TOKEN_PIXELS) * (rw // TOKEN_PIXELS))
        path = local
        if root_as:  # `local` came through safe_join, so `rel` stays inside the root
            path = str(Path(root_as) / os.path.relpath(local, root))
        opts = list(r["options"] or [])
        out.append({
            "data_source": r["question_type"],
            "prompt": [{"role": "user", "content": "<video>" + r["prompt"]}],
            "videos": [{"video": path, "nframes": nframes, "min_pixels": spec.min_pixels,
                        "max_pixels": spec.max_pixels}],
            "ability": "spatial_reasoning",
            "reward_model": {"style": "rule", "ground_truth": str(r["ground_truth"])},
            "extra_info": {"split": split, "index": i, "id": str(r["id"]), "question_type": r["question_type"],
                           "question": r["question"], "options": opts, "mode": spec.mode,
                           "na_shape": "metric" if split == "val" else None},
        })
    return out, max_vision


def own_types(rows: list[dict]) -> dict[str, str]:
    """``{question_type: "numeric" | "choice"}`` for the types of ``rows`` that vsgrpo does not ship (a team's own,
    declared by its questions file's ``question_kind``, or registered from Python): the reward copy starts with
    the built-in table only, so the export hands it these (as data: names are never turned into code)."""
    from ..question_types import BUILTIN, QUESTION_KINDS, get_type

    builtin = {t.name for t in BUILTIN}
    word = {kind: w for w, kind in QUESTION_KINDS.items()}
    return {qt: word[get_type(qt).kind] for qt in sorted({r["question_type"] for r in rows}) if qt not in builtin}


def _schema():
    import pyarrow as pa

    return pa.schema([
        ("data_source", pa.string()),
        ("prompt", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
        ("videos", pa.list_(pa.struct([("video", pa.string()), ("nframes", pa.int64()), ("min_pixels", pa.int64()),
                                       ("max_pixels", pa.int64())]))),
        ("ability", pa.string()),
        ("reward_model", pa.struct([("style", pa.string()), ("ground_truth", pa.string())])),
        ("extra_info", pa.struct([("split", pa.string()), ("index", pa.int64()), ("id", pa.string()),
                                  ("question_type", pa.string()), ("question", pa.string()),
                                  ("options", pa.list_(pa.string())), ("mode", pa.string()),
                                  ("na_shape", pa.string())])),
    ])


def _write_parquet(records: list[dict], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ..io import atomic_path

    table = pa.Table.from_pylist(records, schema=_schema())
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


# --------------------------------------------------------------------------- reward file

def _module_file(pkg: Path, dotted: str) -> Path | None:
    p = pkg.joinpath(*dotted.split("."))
    if (p / "__init__.py").is_file():
        return p / "__init__.py"
    return p.with_suffix(".py") if p.with_suffix(".py").is_file() else None


def _relative_targets(dotted: str, is_pkg: bool, node: ast.ImportFrom, pkg: Path) -> list[str]:
    base = dotted.split(".") if is_pkg else dotted.split(".")[:-1]
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    if node.module:
        target = ".".join(base + node.module.split("."))
        subs = [f"{target}.{a.name}" for a in node.names if _module_file(pkg, f"{target}.{a.name}")]
        return [target] + subs
    return [".".join(base + [a.name]) for a in node.names]


def _module_path(name: str) -> Path:
    import sys

    return Path(sys.modules[name.partition(":")[0]].__file__)


def _self_contained_reward(name: str):
    """The user reward ``package.module:function`` (checked as the trainer checks it), refused unless its
    module can run alone in verl's environment: every import, at module level or inside functions, from
    the standard library or numpy (a copy cannot carry the rest of the user's package)."""
    import sys

    from ..train.reward_config import import_reward

    func = import_reward(name)
    path = _module_path(name)
    allowed = set(sys.stdlib_module_names) | {"numpy", "__future__"}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            bad = "." * node.level + (node.module or "")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            bad = next((m for m in mods if m.split(".")[0] not in allowed), None)
        else:
            continue
        if bad:
            raise VsgrpoError(f"rewards: {name!r} cannot go into the verl export: {path} imports {bad}, and the export "
                              "copies a user reward only when its module needs nothing but the standard library and "
                              "numpy")
    return func


def scoring_modules() -> dict[str, Path]:
    """vsgrpo modules the reward needs: ``rewards`` and every vsgrpo module (and package) it imports,
    transitively, as ``{dotted name relative to vsgrpo: file}``.

    Fails when one of them imports, at module level, anything but the standard library and numpy
    (the copy must load fast in verl's environment, where vsgrpo's dependencies may be absent), or
    imports vsgrpo by absolute name (the copy would then load a different vsgrpo, or none).
    """
    import sys

    import vsgrpo

    pkg = Path(vsgrpo.__file__).parent
    allowed = set(sys.stdlib_module_names) | {"numpy", "__future__"}
    todo, found = ["rewards"], {}
    while todo:
        name = todo.pop()
        if not name or name in found:
            continue
        path = _module_file(pkg, name)
        if path is None:
            continue  # an attribute imported from a module, not a module
        found[name] = path
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # parent packages run first on import
        tree = ast.parse(path.read_text(encoding="utf-8"))
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(tree):  # lazy imports inside functions count: scoring may run them
            if isinstance(node, ast.ImportFrom) and node.level >= 1:
                todo += _relative_targets(name, is_pkg, node, pkg)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "vsgrpo" or \
                    isinstance(node, ast.Import) and any(a.name.split(".")[0] == "vsgrpo" for a in node.names):
                raise VsgrpoError(f"vsgrpo/{path.relative_to(pkg)} imports vsgrpo by absolute name; the verl reward "
                                  "copy needs relative imports")
        for node in tree.body:  # module-level imports only: lazy imports of heavy packages cost nothing here
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
            bad = [m for m in mods if m.split(".")[0] not in allowed]
            if bad:
                raise VsgrpoError(f"vsgrpo/{path.relative_to(pkg)} imports {bad[0]} at module level; the verl reward "
                                  "copy must need only the standard library and numpy (import it inside the "
                                  "function that needs it)")
    return found


def write_reward_files(out: Path, settings: dict, user_files: dict[str, Path] | None = None) -> Path:
    """Write ``vsgrpo_reward.py``, ``vsgrpo_scoring/``, ``vsgrpo_reward.json`` and the user rewards'
    modules (``user_files``: ``{module: file}``, copied to ``vsgrpo_user_rewards/MODULE.py``) into ``out``."""
    from ..io import atomic_path, write_json
    from . import verl_reward

    pkg = out / verl_reward.SCORING_DIR
    with atomic_path(pkg) as tmp:
        tmp.unlink(missing_ok=True)
        tmp.mkdir()
        (tmp / "__init__.py").write_text('"""A copy of vsgrpo\'s scoring modules, written by `vsgrpo data export '
                                         '--format verl` for vsgrpo_reward.py. Do not edit."""\n', encoding="utf-8")
        pkg_root = Path(__import__("vsgrpo").__file__).parent
        for src in sorted(scoring_modules().values()):
            dest = tmp / src.relative_to(pkg_root)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
        if pkg.exists():
            shutil.rmtree(pkg)
    settings = dict(settings, user_modules={})
    for module, src in sorted((user_files or {}).items()):
        rel = f"{verl_reward.USER_DIR}/{module}.py"
        with atomic_path(out / rel) as tmp:
            shutil.copyfile(src, tmp)
        settings["user_modules"][module] = rel
    reward = out / REWARD_FILE
    with atomic_path(reward) as tmp:
        shutil.copyfile(verl_reward.__file__, tmp)
    write_json(out / verl_reward.SETTINGS_FILE, settings)
    return reward


# --------------------------------------------------------------------------- export

def overrides(out: Path, *, has_val: bool, max_prompt_length: int, min_pixels: int, max_pixels: int) -> list[str]:
    """The verl command-line overrides (``key=value``) that point verl at an export in ``out``.

    ``data.mm_processor_kwargs`` gives the model's processor (in verl's dataset and in the vLLM
    rollout server) the export's pixel budget, as vsgrpo sets it on its processor; without it a
    processor whose own budget is smaller would shrink the frames again.
    """
    out = Path(os.path.abspath(out))
    return [
        f"data.train_files={out / 'train.parquet'}",
        f"data.val_files={out / ('val.parquet' if has_val else 'train.parquet')}",
        "data.prompt_key=prompt",
        "data.video_key=videos",
        "data.image_key=images",
        "data.reward_fn_key=data_source",
        f"data.max_prompt_length={max_prompt_length}",
        f"++data.mm_processor_kwargs.min_pixels={min_pixels}",
        f"++data.mm_processor_kwargs.max_pixels={max_pixels}",
        f"reward.custom_reward_function.path={out / REWARD_FILE}",
        "reward.custom_reward_function.name=compute_score",
    ]


def export_verl(spec: VerlExport) -> dict:
    """Write the export (see the module doc). Returns a summary: paths, row counts, max vision tokens."""
    from ..io import atomic_path, run_lock

    spec.validate()
    if not spec.questions:
        raise VsgrpoError("--questions is required (a train-style parquet from `vsgrpo data build --style train`)")
    if not spec.out:
        raise VsgrpoError("--out is required")
    train_rows, root = _load(spec.questions, spec.root, spec)
    if spec.val_questions:
        val_rows, val_root = _load(spec.val_questions, spec.val_root, spec)
        val_root_as = spec.val_root_as or spec.root_as
    else:
        train_rows, val_rows = _split_by_scene(train_rows, spec.val_fraction, spec.seed)
        val_root, val_root_as = root, spec.root_as
    with run_lock(spec.out, "data export") as out:
        probes: dict = {}
        train, max_train = _records(train_rows, root, spec.root_as, "train", spec, probes)
        val, max_val = _records(val_rows, val_root, val_root_as, "val", spec, probes)
        _write_parquet(train, out / "train.parquet")
        _write_parquet(val, out / "val.parquet")
        settings = {"mode": spec.mode, "na_shape": spec.na_shape, "na_tolerance": spec.na_tolerance,
                    "parser": spec.answer_parser, "allow_empty_reasoning": spec.allow_empty_reasoning,
                    "format_weight": spec.format_weight, "rewards": [list(s) for s in spec.reward_specs()],
                    "own_types": own_types(train_rows + val_rows)}
        reward = write_reward_files(out, settings, spec.user_reward_files())
        max_vision = max(max_train, max_val)
        max_prompt = int(math.ceil((max_vision + TEXT_TOKEN_MARGIN) / 64) * 64)
        lines = overrides(out, has_val=True, max_prompt_length=max_prompt, min_pixels=spec.min_pixels,
                          max_pixels=spec.max_pixels)
        with atomic_path(out / OVERRIDES_FILE) as tmp:
            tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"out": str(out), "train": len(train), "val": len(val), "reward": str(reward),
            "overrides": str(out / OVERRIDES_FILE), "max_vision_tokens": max_vision, "max_prompt_length": max_prompt}
