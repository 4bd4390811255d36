"""`vsgrpo data ...` commands."""

from __future__ import annotations

from . import group


def register(subparsers) -> None:
    sub = group(subparsers, "data", "data commands")  # noqa: F841  (sub-commands added by later work)
    _add_synth(sub)
    _add_ingest(sub)
    _add_build(sub)
    _add_verify(sub)


# --- data synth: procedural rooms (vsgrpo.sources.synthetic) -----------------------------------


def _size(text: str) -> tuple[int, int]:
    import argparse

    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 320x240, got {text!r}") from None
    return w, h


def _add_synth(sub) -> None:
    p = sub.add_parser("synth", help="generate procedural rooms rendered to video (exact ground truth)",
                       description="Generate procedural rooms: meta info in the VSI-Bench schema, mp4 videos, "
                                   "per-frame visibility, cameras, floor plans and contact sheets under --out. "
                                   "Deterministic per --seed; a rerun skips finished scenes.")
    p.add_argument("--scenes", type=int, required=True, help="number of scenes (indices 0..N-1 of the seed)")
    p.add_argument("--out", required=True, help="data root to write (meta/, videos/synthetic/, ...)")
    p.add_argument("--seed", type=int, default=0, help="scene i depends only on (seed, i) (default 0)")
    p.add_argument("--frames", type=int, default=120, help="frames per video (default 120)")
    p.add_argument("--size", type=_size, default=(320, 240), metavar="WxH", help="frame size (default 320x240)")
    p.add_argument("--fps", type=float, default=10.0, help="video frame rate (default 10: 12 s videos)")
    p.add_argument("--workers", type=int, default=0, help="processes (default: one per core, at most 4)")
    p.add_argument("--no-ceiling", action="store_true", help="render rooms without a ceiling")
    p.set_defaults(func=_run_synth)


def _run_synth(args) -> int:
    from ..sources.synthetic import SynthConfig, generate_dataset

    cfg = SynthConfig(scenes=args.scenes, seed=args.seed, frames=args.frames, width=args.size[0],
                      height=args.size[1], fps=args.fps, workers=args.workers, ceiling=not args.no_ceiling)
    names = generate_dataset(args.out, cfg)
    print(f"{len(names)} synthetic scenes in {args.out} (meta/synthetic_meta_info.json, videos/synthetic/)")
    return 0


# --- data ingest: real scans (vsgrpo.sources.{scannet,scannetpp,arkitscenes,custom}) -----------


def _add_ingest(sub) -> None:
    p = sub.add_parser("ingest", help="convert real scans (ScanNet, ScanNet++, ARKitScenes, your own) to scenes",
                       description="Read raw scans and write the same data root as `data synth`: meta info in the "
                                   "VSI-Bench schema, 640x480 videos, per-frame visibility, cameras and floor plans. "
                                   "Malformed scenes are skipped and listed in OUT/failures.json. VSI-Bench "
                                   "evaluation scenes are skipped unless --include-eval-scenes. See docs/ingest.md.")
    p.add_argument("--source", required=True, choices=("scannet", "scannetpp", "arkitscenes", "custom"))
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
                       eval_scenes_file=Path(args.eval_scenes) if args.eval_scenes else None)
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
    p.add_argument("--meta", required=True, help="directory of meta info *.json files (or ROOT/meta of a data root)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--tasks", help="comma-separated question types (default: all)")
    p.add_argument("--per-scene", type=_per_scene, default=6, metavar="N|all",
                   help="at most N questions per scene and type, or 'all' (default 6; room size: 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice (default 0)")
    p.add_argument("--style", choices=("bench", "train"), default="bench",
                   help="bench: VSI-Bench form with lettered options; train: VSI-100k form, no options, the "
                        "answer word itself (default bench)")
    p.add_argument("--distance", choices=("closest", "center"), default="closest",
                   help="closest: VSI-Bench closest points; center: box centres as in VSI-100k (default closest)")
    p.add_argument("--na-options", action="store_true",
                   help="bench style: also give numeric questions four lettered options")
    p.add_argument("--appearance-threshold", type=int, metavar="PX",
                   help="appearance order: pixels an object must cover to count as seen (default: 0.163%% of "
                        "the frame, 500 px at 640x480; see docs/routes_and_appearance.md)")
    p.set_defaults(func=_run_build)


def _run_build(args) -> int:
    from ..dataset import build
    from ..questions import BuildConfig

    tasks = tuple(t.strip() for t in args.tasks.split(",") if t.strip()) if args.tasks else None
    cfg = BuildConfig(style=args.style, distance=args.distance, per_scene=args.per_scene, seed=args.seed,
                      tasks=tasks, na_options=args.na_options, appearance_threshold=args.appearance_threshold)
    summary = build(args.meta, args.out, cfg)  # rows carry their threshold: `data verify` needs no flag
    print(f"{summary['questions']} questions from {summary['scenes']} scenes -> {args.out}/questions.parquet")
    for t, n in summary["counts"].items():
        print(f"  {t:<30} {n:>7}")
    return 0


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
