"""`vsgrpo data ...` commands.

The flags of synth, ingest, build and import are the fields of their configs
(:mod:`vsgrpo.data_configs`); those of verify, export and browse the fields of the small
dataclasses below. Every flag is declared with :func:`vsgrpo.fields.option`, so its type and
bounds are checked while parsing, before a command writes anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..data_configs import (
    SEED_MAX,
    BuildConfig,
    ImportConfig,
    IngestConfig,
    SynthConfig,
    question_type_names,
)
from ..fields import add_arguments, from_args, option, parse_names, parse_size
from ..prompts import MODES
from . import group


def register(subparsers) -> None:
    sub = group(subparsers, "data", "data commands")
    _add_synth(sub)
    _add_ingest(sub)
    _add_build(sub)
    _add_verify(sub)
    _add_audit(sub)
    _add_export(sub)
    _add_import(sub)
    _add_browse(sub)
    _add_annotate(sub)
    _add_split(sub)
    _add_fetch(sub)


# --- data synth: procedural rooms (vsgrpo.sources.synthetic) -----------------------------------


@dataclass
class SynthFlags:
    """``data synth`` flags beside :class:`SynthConfig`'s."""

    out: str = option(path="out_dir", help="data root to write (meta/, videos/synthetic/, ...)")
    size: tuple = option((SynthConfig.width, SynthConfig.height), type=parse_size, metavar="WxH",
                         help="frame size (even, 32..4096)")
    overwrite: bool = option(False, help="start over: delete the synthetic scenes already in --out (made with other "
                                         "--frames/--size/--fps/--no-ceiling; such a run is refused otherwise)")


def _add_synth(sub) -> None:
    p = sub.add_parser("synth", help="generate procedural rooms rendered to video (exact ground truth)",
                       description="Generate procedural rooms: meta info in the VSI-Bench schema, mp4 videos, "
                                   "per-frame visibility, cameras, floor plans and contact sheets under --out. "
                                   "Deterministic per --seed; a rerun skips finished scenes.")
    add_arguments(p, SynthConfig, required=("scenes",))
    add_arguments(p, SynthFlags)
    p.set_defaults(func=_run_synth)


def _run_synth(args) -> int:
    from ..sources.synthetic import generate_dataset

    flags = SynthFlags(**from_args(SynthFlags, args))
    cfg = SynthConfig(**from_args(SynthConfig, args), width=flags.size[0], height=flags.size[1])
    cfg.validate()
    names = generate_dataset(flags.out, cfg, overwrite=flags.overwrite)
    print(f"{len(names)} synthetic scenes in {flags.out} (meta/synthetic_meta_info.json, videos/synthetic/)")
    return 0


# --- data ingest: real scans (vsgrpo.sources.{scannet,scannetpp,arkitscenes,custom}) -----------


@dataclass
class SplitFlag:
    split: str | None = option(None, path="file", help="file with one scene name per line (instead of --scenes)")


def _add_ingest(sub) -> None:
    p = sub.add_parser("ingest", help="convert real scans (ScanNet, ScanNet++, ARKitScenes, your own) to scenes",
                       description="Read raw scans and write the same data root as `data synth`: meta info in the "
                                   "VSI-Bench schema, 640x480 videos, per-frame visibility, cameras and floor plans. "
                                   "Malformed scenes are skipped and listed in OUT/failures.json. VSI-Bench "
                                   "evaluation scenes are skipped unless --include-eval-scenes. See docs/ingest.md.")
    add_arguments(p, IngestConfig)
    add_arguments(p, SplitFlag)
    p.set_defaults(func=_run_ingest)


def _run_ingest(args) -> int:
    from pathlib import Path

    from ..errors import VsgrpoError
    from ..sources.ingest import read_split, run_ingest

    values = from_args(IngestConfig, args)
    if args.split:
        if values["scenes"] is not None:
            raise VsgrpoError("give --scenes or --split, not both")
        values["scenes"] = read_split(Path(args.split))
    cfg = IngestConfig(**values)
    rep = run_ingest(cfg)
    print(f"{len(rep.written)} {cfg.source} scenes written to {cfg.out}; {len(rep.failures)} failed "
          f"(see {Path(cfg.out) / 'failures.json'}); {len(rep.excluded)} VSI-Bench eval scenes skipped")
    for f in rep.failures:
        print(f"  failed {f['scene']}: {f['file'] + ': ' if f.get('file') else ''}{f['error']}")
    return 1 if rep.failures and not rep.written else 0


# --- data build / data verify: spatial questions (vsgrpo.dataset, vsgrpo.questions) ------------


_PRESET_FIELDS = ("style", "distance", "per_scene", "tasks", "balance")  # a preset sets these unless given


def _preset_names():
    from ..presets import DATA_PRESETS

    return sorted(DATA_PRESETS)


@dataclass
class BuildFlags:
    """``data build`` flags beside :class:`BuildConfig`'s."""

    meta: str = option(path="dir", help="a data root (the folder holding meta/), its meta/ folder, or a directory "
                                        "of meta info *.json files")
    out: str = option(path="out_dir", help="output directory")
    preset: str | None = option(None, items=_preset_names,
                                help="named settings: vsi100k = the paper's VSI-100k recipe (its six question types, "
                                     "centre distances, train style, per-scene quotas that give the paper's task mix); "
                                     "the summary then prints the paper's counts and shares beside ours. Flags given "
                                     "explicitly override the preset")
    add_tasks: tuple[str, ...] | None = option(None, type=parse_names, items=question_type_names, nonempty=True,
                                               metavar="TYPES", help="question types added to the preset's (opt-in, "
                                                                     "e.g. route_planning,obj_appearance_order)")
    debias: bool = option(False, help="for real scans: prune questions by the text-only audit (`data audit`) round "
                                      "by round, highest bias scores first, keeping at least half of each type; the "
                                      "summary prints the audit before, after, and after removing as many questions "
                                      "at random (minutes; see docs/questions.md)")
    audit: bool = option(False, help="also audit the built questions (`data audit`, scene-grouped folds) and print it "
                                     "in the summary (about 40 s per 800 questions on 2 cores)")
    overwrite: bool = option(False, help="replace a build in --out made with other settings (refused otherwise; a "
                                         "rerun with the same settings rebuilds in place)")


def _add_build(sub) -> None:
    p = sub.add_parser("build", help="derive spatial questions with exact answers from scene meta info",
                       description="Write OUT/questions.parquet (VSI-Bench columns id, dataset, scene_name, "
                                   "question_type, question, ground_truth, options, plus answer, answer_value, "
                                   "objects, video, extra), OUT/summary.json (counts per question type) and OUT/build_config.json "
                                   "(the settings; train and eval run find ROOT/videos from it). When --meta is a "
                                   "data root ROOT (or ROOT/meta), videos, visibility and floor plans under ROOT "
                                   "are used too (appearance order, route planning). A --preset sets "
                                   f"{', '.join(_PRESET_FIELDS)} unless those flags are given. See docs/questions.md.")
    add_arguments(p, BuildFlags)
    add_arguments(p, BuildConfig, unset=_PRESET_FIELDS)
    p.set_defaults(func=_run_build)


def _run_build(args) -> int:
    from ..dataset import build
    from ..presets import DATA_PRESETS, format_counts_table
    from ..questions import BuildConfig

    flags = BuildFlags(**from_args(BuildFlags, args))
    preset = DATA_PRESETS[flags.preset] if flags.preset else {}
    values = from_args(BuildConfig, args)  # only the flags given for the preset's fields
    for name in _PRESET_FIELDS:
        if name not in values and name in preset:
            values[name] = preset[name]
    if flags.add_tasks:
        # added to the preset's (or the given) types; with neither, every type is built already
        base = values.get("tasks")
        values["tasks"] = tuple(dict.fromkeys(base + flags.add_tasks)) if base else None
    if preset.get("mix"):
        values["mix"] = preset["mix"]
    cfg = BuildConfig(**values)
    # rows carry their threshold: `data verify` needs no flag
    summary = build(flags.meta, flags.out, cfg, overwrite=flags.overwrite, debias=flags.debias, audit=flags.audit)
    print(f"{summary['questions']} questions from {summary['scenes']} scenes -> {flags.out}/questions.parquet")
    print(format_build_summary(summary))
    if summary.get("debias"):
        from ..audit import format_prune

        print(f"debiased: removed {summary['debias']['removed']} question(s) by text-only audit "
              f"(scene-grouped, {summary['debias']['rounds']} round(s)); beside it the same number removed at random:")
        print(format_prune(summary["debias"]))
    if summary.get("audit"):
        from ..audit import format_audit

        print("text-only audit of the written questions:")
        print(format_audit(summary["audit"]))
    if summary.get("flagged_left_out"):
        f = summary["flagged_left_out"]
        print(f"left out {f['questions']} question(s) flagged as wrong in {f['file']} ({f['flags']} flag(s))")
    if preset.get("paper_counts"):
        print(f"per task, beside the paper's {flags.preset} (counts and shares of the total):")
        print(format_counts_table(summary["counts"], preset))
    return 0


def format_build_summary(summary: dict) -> str:
    """Per type: questions built and what a blind guess scores on them (chance random / frequency, %)."""
    chance = summary.get("chance") or {}
    rnd, frq, ans = chance.get("random", {}), chance.get("frequency", {}), chance.get("answers", {})

    def pct(v):
        return "-" if v is None else f"{v:.1f}"

    lines = [f"  {'question_type':<30} {'questions':>9} {'random':>7} {'freq.':>7}  frequency answer"]
    for t, n in summary["counts"].items():
        a = ans.get(t)
        shown = "" if a is None else (f"{a:g}" if isinstance(a, float) else str(a))
        lines.append(f"  {t:<30} {n:>9} {pct(rnd.get(t)):>7} {pct(frq.get(t)):>7}  {shown}")
    overall = chance.get("overall") or {}
    if overall:
        lines.append(f"  {'overall (mean of tasks)':<30} {summary['questions']:>9} {pct(overall.get('random')):>7} "
                     f"{pct(overall.get('frequency')):>7}")
    lines.append("  random: a uniform guess among the options; freq.: always the most frequent answer (chance rows "
                 "of `vsgrpo eval baselines`, which also prints the best constant)")
    return "\n".join(lines)


@dataclass
class VerifyFlags:
    meta: str = option(path="dir", help="a data root (the folder holding meta/), its meta/ folder, or a directory "
                                        "of meta info *.json files")
    questions: str = option(path="file", help="questions parquet (VSI-Bench columns)")
    report: str | None = option(None, path="out_file", help="also write the report as JSON here")


def _add_verify(sub) -> None:
    p = sub.add_parser("verify", help="re-derive the answers of a VSI-Bench-format questions parquet",
                       description="Recompute the ground truth of every question from the meta info (a scene is "
                                   "found by dataset and scene_name) and print agreement per question type. "
                                   "Types that cannot be checked are counted as unchecked, with the reason.")
    add_arguments(p, VerifyFlags)
    p.set_defaults(func=_run_verify)


def _run_verify(args) -> int:
    from ..dataset import format_report, verify
    from ..errors import VsgrpoError
    from ..io import write_json

    report = verify(args.meta, args.questions)
    print(format_report(report))
    if args.report:
        try:
            write_json(args.report, report)
        except OSError as e:
            raise VsgrpoError(f"cannot write --report {args.report}: {e.strerror or e}") from None
    return 0


# --- data audit: what a question set gives away without the video (vsgrpo.audit) ---------------


@dataclass
class AuditFlags:
    questions: str = option(path="file", help="questions parquet (VSI-Bench columns, bench style)")
    out: str = option(path="out_dir", help="output folder DIR")
    folds: int = option(5, min=2, max=100, help="cross-validation folds")
    group: str = option("scene", choices=("scene", "none"),
                        help="scene: a scene's questions stay in one fold; none: random folds")
    seed: int = option(42, min=0, max=SEED_MAX, help="seed of the folds and forests")


def _add_audit(sub) -> None:
    p = sub.add_parser("audit", help="text-only stress test: how well a question set is answered without looking",
                       description="k-fold cross-validation of a random forest on the questions' text alone (named "
                                   "objects, options, answer statistics of the training folds), per question type, "
                                   "as in TsT-RF (arXiv 2511.04655). Writes DIR/audit.json, DIR/bias.csv (per question "
                                   "held-out score s) and DIR/audit.png. A type far above its chance row has a "
                                   "non-visual shortcut. See docs/questions.md.")
    add_arguments(p, AuditFlags)
    p.set_defaults(func=_run_audit)


def _run_audit(args) -> int:
    from ..audit import AuditConfig, audit_file, format_audit

    result = audit_file(args.questions, args.out, AuditConfig(folds=args.folds, group=args.group, seed=args.seed))
    print(format_audit(result))
    print(f"-> {args.out}/audit.json, bias.csv, audit.png")
    return 0


# --- data export: training data for other RL engines (vsgrpo.export) ----------------------------


def _na_shapes():
    from ..rewards import NA_SHAPES

    return NA_SHAPES


@dataclass
class ExportFlags:
    """``data export`` flags; ``None``: the --config recipe's value, else the paper recipe's."""

    format: str = option(choices=("verl",), help="target engine")
    out: str = option(path="out_dir", help="output folder DIR")
    questions: str | None = option(None, path="file",
                                   help="train-style questions parquet (default: the --config recipe's data)")
    root: str | None = option(None, path="dir", help="video root of --questions, holding {dataset}/{scene_name}.mp4 "
                                                     "(default: videos/ beside the parquet)")
    config: str | None = option(None, path="file",
                                help="a vsgrpo GRPO recipe (e.g. recipes/paper/vsgrpo-2b.yaml): mode, frames, pixels "
                                     "and reward settings come from it; flags below override it")
    mode: str | None = option(None, choices=MODES, help="prompt mode (default: vanilla)")
    val_questions: str | None = option(None, path="file", help="held-out questions parquet for verl's validation")
    val_fraction: float | None = option(None, type=float, positive=True, max=0.9,
                                        help="hold out whole scenes of --questions until this fraction of questions "
                                             "(default 0.05)")
    val_root: str | None = option(None, path="dir", help="video root of --val-questions (default: videos/ beside it)")
    num_frames: int | None = option(None, type=int, min=1, max=1024,
                                    help="frames per video (default: 16, the paper recipe's)")
    min_pixels: int | None = option(None, type=int, min=1, max=2**28,
                                    help="per-frame minimum pixels (default: 3136, the paper recipe's)")
    max_pixels: int | None = option(None, type=int, min=1, max=2**28,
                                    help="per-frame maximum pixels (default: 100352, the paper recipe's)")
    na_shape: str | None = option(None, items=_na_shapes, help="numeric reward shape (default: linear)")
    root_as: str | None = option(None, nonempty=True,
                                 help="write video paths under this folder instead of --root (where the training "
                                      "nodes see the videos, e.g. a shared mount)")
    seed: int | None = option(None, type=int, min=0, max=SEED_MAX,
                              help="seed of the row order and the held-out scenes (default 0)")


def _add_export(sub) -> None:
    p = sub.add_parser("export", help="write training data for another RL engine (verl: many nodes)",
                       description="Write a train-style questions parquet as verl's RL parquet (DIR/train.parquet, "
                                   "DIR/val.parquet): vsgrpo's prompts with the video placeholder, the video with the "
                                   "recipe's frames and pixel budget, the ground truth for the rule reward. Also "
                                   "writes DIR/vsgrpo_reward.py (vsgrpo's GRPO reward for verl, self-contained) and "
                                   "DIR/verl_overrides.txt (verl command-line overrides, one per line). "
                                   "See docs/scaling.md and recipes/verl/.")
    add_arguments(p, ExportFlags)
    p.set_defaults(func=_run_export)


def _run_export(args) -> int:
    from ..errors import VsgrpoError
    from ..export.verl import VerlExport, export_verl, from_recipe

    if args.val_questions and args.val_fraction is not None:
        raise VsgrpoError("give --val-questions or --val-fraction, not both")
    flags = dict(questions=args.questions, root=args.root, out=args.out, mode=args.mode,
                 val_questions=args.val_questions, val_root=args.val_root, val_fraction=args.val_fraction,
                 num_frames=args.num_frames, min_pixels=args.min_pixels, max_pixels=args.max_pixels,
                 na_shape=args.na_shape, root_as=args.root_as, seed=args.seed)
    if args.config:
        spec = from_recipe(args.config, **flags)
    else:
        spec = VerlExport(**{k: v for k, v in flags.items() if v is not None})
    if args.val_questions:
        spec.val_fraction = 0.0
    elif args.val_fraction is not None:
        spec.val_questions = ""  # an explicit fraction wins over the recipe's eval_questions
    summary = export_verl(spec)
    print(f"verl export: {summary['train']} train + {summary['val']} val questions -> {summary['out']}")
    print(f"  reward: {summary['reward']} (compute_score)")
    print(f"  overrides: {summary['overrides']} (paste after your verl command; see recipes/verl/)")
    print(f"  max vision tokens per prompt: {summary['max_vision_tokens']} "
          f"(data.max_prompt_length={summary['max_prompt_length']})")
    return 0


# --- data import: question sets in other formats (vsgrpo.importers) ----------------------------


def _add_import(sub) -> None:
    from ..importers import FIELDS

    p = sub.add_parser("import", help="convert a question set in another format (Video-R1, LLaVA, JSONL) to parquet",
                       description="Write OUT/questions.parquet (the schema data build writes; data verify, eval and "
                                   "train take it unchanged), OUT/skipped.jsonl (every row left out, with the reason) "
                                   "and OUT/summary.json. See docs/questions.md.")
    add_arguments(p, ImportConfig)
    p.add_argument("--map", action="append", metavar="FIELD=COLUMN", default=[],
                   help=f"read FIELD from COLUMN (repeatable); fields: {', '.join(FIELDS)}")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an import made with other settings (OUT/import_config.json); without it that is refused")
    p.set_defaults(func=_run_import)


def _run_import(args) -> int:
    from ..importers import import_questions, parse_map

    summary = import_questions(ImportConfig(**from_args(ImportConfig, args), mapping=parse_map(args.map)),
                               overwrite=args.overwrite)
    print(f"imported {summary['questions']} questions, skipped {summary['skipped']} -> {args.out}")
    for qt, n in summary["counts"].items():
        print(f"  {qt}: {n}")
    for reason, n in summary["skip_reasons"].items():
        print(f"  skipped {n}: {reason}")
    return 0


# --- data browse: look at a data root, flag wrong questions (vsgrpo.browse) ----------------------


@dataclass
class BrowseFlags:
    root: str = option(path="dir", flag="root", metavar="ROOT",
                       help="data root (meta/, videos/, previews/, floorplans/ ...)")
    questions: str | None = option(None, path="file",
                                   help="questions parquet to show (default ROOT/questions.parquet if present)")
    port: int = option(8765, min=0, max=65535, help="port on 127.0.0.1 (0: any free port)")
    runs: list[str] = option([], flag="--run", action="append", metavar="RUN_DIR",
                             help="an `eval run` output folder (repeatable): show its answers, parsed values and "
                                  "scores beside each question (default questions: the first run's --questions)")


def _add_browse(sub) -> None:
    p = sub.add_parser("browse", help="look at a data root in the browser; flag wrong questions",
                       description="Serve a local page (127.0.0.1 only) showing per scene the contact sheet, the "
                                   "video, the floor plan with object boxes and the questions with their answers "
                                   "(filter by question type). With --run (repeatable), each run's answer, parsed "
                                   "value and score too, filterable by right/wrong and by disagreement between runs; "
                                   "the URL names the scene and question. 'flag as wrong' saves the question to "
                                   "ROOT/flags.json; "
                                   "`data build --meta ROOT/meta` and `train` (video_root ROOT/videos) leave flagged "
                                   "questions out. Stop with Ctrl-C.")
    add_arguments(p, BrowseFlags)
    p.set_defaults(func=_run_browse)


def _run_browse(args) -> int:
    import sys

    from ..browse import make_server, url_of

    server = make_server(args.root, args.questions, port=args.port, runs=args.runs)
    for notice in server.data.notices():
        print(f"vsgrpo: note: {notice}", file=sys.stderr)
    return _serve(server, f"browsing {args.root} at {url_of(server)} (Ctrl-C to stop); flags go to "
                          f"{server.data.root / 'flags.json'}")


def _serve(server, banner: str) -> int:
    """Serve a local page until Ctrl-C (``data browse``, ``data annotate``); ``banner`` goes to stderr first."""
    import sys

    print(banner, file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


# --- data annotate / data split: a team's own videos and questions ------------------------------


@dataclass
class AnnotateFlags:
    videos: str = option(path="dir", flag="videos", metavar="VIDEOS",
                         help="folder of videos (searched recursively: .mp4 .webm .mov .m4v)")
    out: str = option(path="out_dir", help="folder for questions.jsonl (created; an existing file is extended)")
    port: int = option(8766, min=0, max=65535, help="port on 127.0.0.1 (0: any free port)")


def _add_annotate(sub) -> None:
    p = sub.add_parser("annotate", help="write questions about your own videos in the browser",
                       description="Serve a local page (127.0.0.1 only) to watch each video under VIDEOS and write "
                                   "spatial questions with their answers: VSI-Bench's templates or question types of "
                                   "your own (numeric, scored by relative accuracy; or multiple choice). Every save "
                                   "rewrites OUT/questions.jsonl atomically; `data import --format jsonl --input "
                                   "OUT/questions.jsonl --videos VIDEOS` reads it. Stop with Ctrl-C. See docs/own-site.md.")
    add_arguments(p, AnnotateFlags)
    p.set_defaults(func=_run_annotate)


def _run_annotate(args) -> int:
    from ..annotate_page import make_server
    from ..localweb import url_of

    server = make_server(args.videos, args.out, port=args.port)
    return _serve(server, f"annotating {len(server.store.videos)} video(s) at {url_of(server)} (Ctrl-C to stop); "
                          f"questions go to {server.store.path}")


@dataclass
class SplitFlags:
    questions: str = option(path="file", flag="questions", metavar="QUESTIONS",
                            help="questions parquet (data build / data import output)")
    out: str = option(path="out_dir", help="folder to write train/ and heldout/ into")
    by: str = option("scene", choices=("video", "scene", "site"),
                     help="what may not appear on both sides (site: the site column, else the dataset: the first "
                          "folder of the video path)")
    held_out: float = option(0.2, positive=True, max=0.99, help="share of questions held out")
    seed: int = option(0, min=0, max=SEED_MAX, help="which groups are held out")
    overwrite: bool = option(False, help="replace a split made with other settings")


def _add_split(sub) -> None:

    p = sub.add_parser("split", help="split questions into training and held-out sets with no video/scene/site on both",
                       description="Assign whole groups (every question of one video, scene or site) to one side, "
                                   "shuffled by --seed, until the held-out side holds --held-out of the questions. "
                                   "Writes OUT/train/questions.parquet, OUT/heldout/questions.parquet and "
                                   "OUT/split.json (groups and counts per question type).")
    add_arguments(p, SplitFlags)
    p.set_defaults(func=_run_split)


def _run_split(args) -> int:
    from ..split import format_split, split_questions

    summary = split_questions(args.questions, args.out, by=args.by, held_out=args.held_out, seed=args.seed,
                              overwrite=args.overwrite)
    print(format_split(summary))
    return 0
# --- data fetch: benchmarks from the Hugging Face hub (vsgrpo.fetch) ------------------------------


@dataclass
class FetchFlags:
    benchmark: str = option(choices=("vsibench",), flag="benchmark", help="the benchmark to fetch")
    out: str = option(path="out_dir", help="folder to fill (about 5.8 GB of videos)")
    config: str = option("full", choices=("full", "debiased"),
                         help="full: all 5,130 questions; debiased: VSI-Bench-Debiased, the 2,362 kept by bias pruning")
    revision: str = option("main", nonempty=True, help="branch, tag or commit of the dataset repository")
    keep_archives: bool = option(False, help="keep the downloaded zip archives after unpacking")


def _add_fetch(sub) -> None:
    from ..fetch import VSIBENCH_REPO

    p = sub.add_parser("fetch", help="download VSI-Bench (questions + videos) from the Hugging Face hub",
                       description=f"Download VSI-Bench ({VSIBENCH_REPO}) into --out as `eval run` reads it: "
                                   "OUT/{config}.parquet and OUT/{dataset}/{scene_name}.mp4. Resumable (rerun the "
                                   "same command after an interruption); every file is checked against the hub's "
                                   "checksum. HF_ENDPOINT selects a mirror; offline it fails at once.")
    add_arguments(p, FetchFlags)
    p.set_defaults(func=_run_fetch)


def _run_fetch(args) -> int:
    import shlex
    import sys

    from ..fetch import fetch_vsibench

    res = fetch_vsibench(args.out, args.config, revision=args.revision, keep_archives=args.keep_archives)
    print(f"VSI-Bench ({res.config}): {res.count} questions, {res.videos} videos in {res.out}"
          + (f" (commit {res.commit[:7]})" if res.commit else ""))
    if res.missing:
        print(f"vsgrpo: warning: {len(res.missing)} videos the questions name are not in the archives, e.g. "
              f"{res.missing[0]}; those questions will be scored as errors", file=sys.stderr)
    print("evaluate: vsgrpo eval run --model MODEL --questions "
          f"{shlex.quote(str(res.questions))} --out runs/eval-vsibench")  # fetch.json there names the videos
    return 0

