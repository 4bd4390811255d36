"""`vsgrpo data ...` commands."""

from __future__ import annotations

from ..options import parse_size
from ..prompts import MODES, STYLES
from ..sources import SOURCES
from . import group


def register(subparsers) -> None:
    sub = group(subparsers, "data", "data commands")
    _add_synth(sub)
    _add_ingest(sub)
    _add_build(sub)
    _add_verify(sub)
    _add_export(sub)
    _add_import(sub)
    _add_browse(sub)


# --- data synth: procedural rooms (vsgrpo.sources.synthetic) -----------------------------------


def _add_synth(sub) -> None:
    p = sub.add_parser("synth", help="generate procedural rooms rendered to video (exact ground truth)",
                       description="Generate procedural rooms: meta info in the VSI-Bench schema, mp4 videos, "
                                   "per-frame visibility, cameras, floor plans and contact sheets under --out. "
                                   "Deterministic per --seed; a rerun skips finished scenes.")
    p.add_argument("--scenes", type=int, required=True, help="number of scenes (indices 0..N-1 of the seed)")
    p.add_argument("--out", required=True, help="data root to write (meta/, videos/synthetic/, ...)")
    p.add_argument("--seed", type=int, default=0, help="scene i depends only on (seed, i) (default 0)")
    p.add_argument("--frames", type=int, default=120, help="frames per video (default 120)")
    p.add_argument("--size", type=parse_size, default=(320, 240), metavar="WxH", help="frame size (default 320x240)")
    p.add_argument("--fps", type=float, default=10.0, help="video frame rate (default 10: 12 s videos)")
    p.add_argument("--workers", type=int, default=0, help="processes (default: one per core, at most 4)")
    p.add_argument("--no-ceiling", action="store_true", help="render rooms without a ceiling")
    p.add_argument("--overwrite", action="store_true",
                   help="start over: delete the synthetic scenes already in --out (made with other --frames/--size/"
                        "--fps/--no-ceiling; such a run is refused otherwise)")
    p.set_defaults(func=_run_synth)


def _run_synth(args) -> int:
    from ..sources.synthetic import SynthConfig, generate_dataset

    cfg = SynthConfig(scenes=args.scenes, seed=args.seed, frames=args.frames, width=args.size[0],
                      height=args.size[1], fps=args.fps, workers=args.workers, ceiling=not args.no_ceiling)
    names = generate_dataset(args.out, cfg, overwrite=args.overwrite)
    print(f"{len(names)} synthetic scenes in {args.out} (meta/synthetic_meta_info.json, videos/synthetic/)")
    return 0


# --- data ingest: real scans (vsgrpo.sources.{scannet,scannetpp,arkitscenes,custom}) -----------


def _add_ingest(sub) -> None:
    p = sub.add_parser("ingest", help="convert real scans (ScanNet, ScanNet++, ARKitScenes, your own) to scenes",
                       description="Read raw scans and write the same data root as `data synth`: meta info in the "
                                   "VSI-Bench schema, 640x480 videos, per-frame visibility, cameras and floor plans. "
                                   "Malformed scenes are skipped and listed in OUT/failures.json. VSI-Bench "
                                   "evaluation scenes are skipped unless --include-eval-scenes. See docs/ingest.md.")
    p.add_argument("--source", required=True, choices=SOURCES)
    p.add_argument("--root", required=True, help="the dataset as downloaded (see docs/ingest.md for each layout)")
    p.add_argument("--out", required=True, help="data root to write (meta/, videos/, visibility/, ...)")
    pick = p.add_mutually_exclusive_group()
    pick.add_argument("--scenes", help="comma-separated scene names (default: every scene under --root)")
    pick.add_argument("--split", help="file with one scene name per line")
    p.add_argument("--labels", help="label map: ScanNet's scannetv2-labels.combined.tsv (default ROOT/...); "
                                    "other sources: JSON or two-column TSV 'raw label -> category' added to the "
                                    "built-in remap")
    p.add_argument("--workers", type=int, default=1, help="scenes processed in parallel (default 1)")
    p.add_argument("--frame-step", type=int, default=1, help="keep every K-th frame (default 1: all)")
    p.add_argument("--include-eval-scenes", action="store_true",
                   help="also ingest VSI-Bench evaluation scenes (excluded by default: keep them out of training)")
    p.add_argument("--eval-scenes", help="extra eval scene list (lines 'dataset/scene'), added to the built-in one")
    p.add_argument("--overwrite", action="store_true",
                   help="start this source over: delete its scenes already in --out (they were ingested with "
                        "other --frame-step/--labels; such a rerun is refused otherwise)")
    p.set_defaults(func=_run_ingest)


def _run_ingest(args) -> int:
    from pathlib import Path

    from ..sources.ingest import IngestConfig, read_split, run_ingest

    scenes = None
    if args.scenes:
        scenes = [s.strip() for s in args.scenes.split(",") if s.strip()]
    elif args.split:
        scenes = read_split(Path(args.split))
    cfg = IngestConfig(source=args.source, root=Path(args.root), out=Path(args.out), scenes=scenes,
                       labels=Path(args.labels) if args.labels else None, workers=args.workers,
                       frame_step=args.frame_step, include_eval_scenes=args.include_eval_scenes,
                       eval_scenes_file=Path(args.eval_scenes) if args.eval_scenes else None,
                       overwrite=args.overwrite)
    rep = run_ingest(cfg)
    print(f"{len(rep.written)} {args.source} scenes written to {args.out}; {len(rep.failures)} failed "
          f"(see {Path(args.out) / 'failures.json'}); {len(rep.excluded)} VSI-Bench eval scenes skipped")
    for f in rep.failures:
        print(f"  failed {f['scene']}: {f['file'] + ': ' if f.get('file') else ''}{f['error']}")
    return 1 if rep.failures and not rep.written else 0


# --- data build / data verify: spatial questions (vsgrpo.dataset, vsgrpo.questions) ------------


def _per_scene(text: str) -> int | None:
    import argparse

    if text.strip().lower() == "all":
        return None
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'all', got {text!r}")
    return n


def _add_build(sub) -> None:
    p = sub.add_parser("build", help="derive spatial questions with exact answers from scene meta info",
                       description="Write OUT/questions.parquet (VSI-Bench columns id, dataset, scene_name, "
                                   "question_type, question, ground_truth, options, plus answer, answer_value, "
                                   "objects, video, extra) and OUT/summary.json (counts per type). When --meta is "
                                   "ROOT/meta of a data root, videos, visibility and floor plans under ROOT are "
                                   "used too (appearance order, route planning). See docs/questions.md.")
    import argparse

    from ..presets import DATA_PRESETS

    p.add_argument("--meta", required=True, help="directory of meta info *.json files (or ROOT/meta of a data root)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--preset", choices=sorted(DATA_PRESETS),
                   help="named settings: vsi100k = the paper's VSI-100k recipe (its six tasks, centre distances, "
                        "train style, all questions per scene); the summary then prints the paper's counts beside "
                        "ours. Flags given explicitly override the preset")
    p.add_argument("--tasks", default=argparse.SUPPRESS,
                   help="comma-separated question types (default: all, or the preset's)")
    p.add_argument("--add-tasks", metavar="TYPES",
                   help="question types added to the preset's (opt-in, e.g. route_planning,obj_appearance_order)")
    p.add_argument("--per-scene", type=_per_scene, default=argparse.SUPPRESS, metavar="N|all",
                   help="at most N questions per scene and type, or 'all' (default 6, preset vsi100k: all; room "
                        "size: 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice (default 0)")
    p.add_argument("--style", choices=STYLES, default=argparse.SUPPRESS,
                   help="bench: VSI-Bench form with lettered options; train: VSI-100k form, no options, the "
                        "answer word itself (default bench, preset vsi100k: train)")
    p.add_argument("--distance", choices=("closest", "center"), default=argparse.SUPPRESS,
                   help="closest: VSI-Bench closest points; center: box centres as in VSI-100k (default closest, "
                        "preset vsi100k: center)")
    p.add_argument("--na-options", action="store_true",
                   help="bench style: also give numeric questions four lettered options")
    p.add_argument("--appearance-threshold", type=int, metavar="PX",
                   help="appearance order: pixels an object must cover to count as seen (default: 0.163%% of "
                        "the frame, 500 px at 640x480; see docs/routes_and_appearance.md)")
    p.add_argument("--no-balance", dest="balance", action="store_false", default=argparse.SUPPRESS,
                   help="keep a random subset per scene, as VSI-Bench did, instead of choosing questions so that "
                        "no constant answer scores well (default: balanced; the summary prints each task's "
                        "chance (frequency) either way; see docs/questions.md)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a build in --out made with other settings (refused otherwise; a rerun with the "
                        "same settings rebuilds in place)")
    p.set_defaults(func=_run_build)


def _run_build(args) -> int:
    from ..dataset import build
    from ..questions import BuildConfig

    from ..presets import DATA_PRESETS, format_counts_table

    preset = DATA_PRESETS[args.preset] if args.preset else {}

    def pick(name, default):
        return getattr(args, name) if hasattr(args, name) else preset.get(name, default)

    tasks_text = getattr(args, "tasks", None)
    tasks = tuple(t.strip() for t in tasks_text.split(",") if t.strip()) if tasks_text else preset.get("tasks")
    if args.add_tasks:
        extra = tuple(t.strip() for t in args.add_tasks.split(",") if t.strip())
        tasks = tuple(dict.fromkeys((tasks or ()) + extra)) if tasks else None  # None already means all
    cfg = BuildConfig(style=pick("style", "bench"), distance=pick("distance", "closest"),
                      per_scene=pick("per_scene", 6), seed=args.seed, tasks=tasks, na_options=args.na_options,
                      appearance_threshold=args.appearance_threshold, balance=pick("balance", True))
    summary = build(args.meta, args.out, cfg, overwrite=args.overwrite)  # rows carry their threshold: `data verify` needs no flag
    print(f"{summary['questions']} questions from {summary['scenes']} scenes -> {args.out}/questions.parquet")
    print(format_build_summary(summary))
    if summary.get("flagged_left_out"):
        f = summary["flagged_left_out"]
        print(f"left out {f['questions']} question(s) flagged as wrong in {f['file']} ({f['flags']} flag(s))")
    if preset.get("paper_counts"):
        print(f"per task, beside the paper's {args.preset} (ratio = built / paper):")
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
    lines.append("  random: a uniform guess among the options; freq.: the best constant answer (chance rows of "
                 "`vsgrpo eval baselines`)")
    return "\n".join(lines)


def _add_verify(sub) -> None:
    p = sub.add_parser("verify", help="re-derive the answers of a VSI-Bench-format questions parquet",
                       description="Recompute the ground truth of every question from the meta info (a scene is "
                                   "found by dataset and scene_name) and print agreement per question type. "
                                   "Types that cannot be checked are counted as unchecked, with the reason.")
    p.add_argument("--meta", required=True, help="directory of meta info *.json files")
    p.add_argument("--questions", required=True, help="questions parquet (VSI-Bench columns)")
    p.add_argument("--report", help="also write the report as JSON here")
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


# --- data export: training data for other RL engines (vsgrpo.export) ----------------------------


def _add_export(sub) -> None:
    p = sub.add_parser("export", help="write training data for another RL engine (verl: many nodes)",
                       description="Write a train-style questions parquet as verl's RL parquet (DIR/train.parquet, "
                                   "DIR/val.parquet): vsgrpo's prompts with the video placeholder, the video with the "
                                   "recipe's frames and pixel budget, the ground truth for the rule reward. Also "
                                   "writes DIR/vsgrpo_reward.py (vsgrpo's GRPO reward for verl, self-contained) and "
                                   "DIR/verl_overrides.txt (verl command-line overrides, one per line). "
                                   "See docs/scaling.md and recipes/verl/.")
    p.add_argument("--format", required=True, choices=("verl",), help="target engine")
    p.add_argument("--questions", help="train-style questions parquet (default: the --config recipe's data)")
    p.add_argument("--root", help="video root of --questions, holding {dataset}/{scene_name}.mp4 "
                                  "(default: videos/ beside the parquet)")
    p.add_argument("--out", required=True, help="output folder DIR")
    p.add_argument("--config", help="a vsgrpo GRPO recipe (e.g. recipes/paper/vsgrpo-2b.yaml): mode, frames, pixels "
                                    "and reward settings come from it; flags below override it")
    p.add_argument("--mode", choices=MODES, help="prompt mode (default: vanilla)")
    val = p.add_mutually_exclusive_group()
    val.add_argument("--val-questions", help="held-out questions parquet for verl's validation")
    val.add_argument("--val-fraction", type=float,
                     help="hold out whole scenes of --questions until this fraction of questions (default 0.05)")
    p.add_argument("--val-root", help="video root of --val-questions (default: videos/ beside it)")
    p.add_argument("--num-frames", type=int, help="frames per video (default: 16, the paper recipe's)")
    p.add_argument("--min-pixels", type=int, help="per-frame minimum pixels (default: 3136, the paper recipe's)")
    p.add_argument("--max-pixels", type=int, help="per-frame maximum pixels (default: 100352, the paper recipe's)")
    p.add_argument("--na-shape", choices=("linear", "mra", "metric"), help="numeric reward shape (default: linear)")
    p.add_argument("--root-as", help="write video paths under this folder instead of --root (where the training "
                                     "nodes see the videos, e.g. a shared mount)")
    p.add_argument("--seed", type=int, help="seed of the row order and the held-out scenes (default 0)")
    p.set_defaults(func=_run_export)


def _run_export(args) -> int:
    from ..export.verl import VerlExport, export_verl, from_recipe

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
    from ..importers import FIELDS, FORMATS

    p = sub.add_parser("import", help="convert a question set in another format (Video-R1, LLaVA, JSONL) to parquet",
                       description="Write OUT/questions.parquet (the schema data build writes; data verify, eval and "
                                   "train take it unchanged), OUT/skipped.jsonl (every row left out, with the reason) "
                                   "and OUT/summary.json. See docs/questions.md.")
    p.add_argument("--format", required=True, choices=FORMATS, help="input format")
    p.add_argument("--input", required=True, help="the question file (JSON list or JSONL)")
    p.add_argument("--videos", required=True, help="folder the records' video paths are relative to")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--map", action="append", metavar="FIELD=COLUMN", default=[],
                   help=f"read FIELD from COLUMN (repeatable); fields: {', '.join(FIELDS)}")
    p.add_argument("--question-type", help="question type of rows that name none and match no VSI-Bench template")
    p.set_defaults(func=_run_import)


def _run_import(args) -> int:
    from ..importers import ImportConfig, import_questions, parse_map

    summary = import_questions(ImportConfig(format=args.format, input=args.input, videos=args.videos, out=args.out,
                                            mapping=parse_map(args.map), question_type=args.question_type))
    print(f"imported {summary['questions']} questions, skipped {summary['skipped']} -> {args.out}")
    for qt, n in summary["counts"].items():
        print(f"  {qt}: {n}")
    for reason, n in summary["skip_reasons"].items():
        print(f"  skipped {n}: {reason}")
    return 0


# --- data browse: look at a data root, flag wrong questions (vsgrpo.browse) ----------------------


def _add_browse(sub) -> None:
    p = sub.add_parser("browse", help="look at a data root in the browser; flag wrong questions",
                       description="Serve a local page (127.0.0.1 only) showing per scene the contact sheet, the "
                                   "video, the floor plan with object boxes and the questions with their answers "
                                   "(filter by question type). 'flag as wrong' saves the question to ROOT/flags.json; "
                                   "`data build --meta ROOT/meta` and `train` (video_root ROOT/videos) leave flagged "
                                   "questions out. Stop with Ctrl-C.")
    p.add_argument("root", metavar="ROOT", help="data root (meta/, videos/, previews/, floorplans/ ...)")
    p.add_argument("--questions", help="questions parquet to show (default ROOT/questions.parquet if present)")
    p.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (default 8765; 0: any free port)")
    p.set_defaults(func=_run_browse)


def _run_browse(args) -> int:
    import sys

    from ..browse import make_server, url_of

    server = make_server(args.root, args.questions, port=args.port)
    print(f"browsing {args.root} at {url_of(server)} (Ctrl-C to stop); flags go to "
          f"{server.data.root / 'flags.json'}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
