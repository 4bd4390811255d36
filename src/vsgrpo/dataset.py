"""Datasets of spatial questions: build them from scenes, verify released ones, parquet IO.

``build`` and ``verify`` call the same per-task ground-truth functions (see
:mod:`vsgrpo.questions`), so a question we write and a released question we check are
answered by one piece of code.

Parquet schema (VSI-Bench's columns first, then ours)::

    id int64, dataset, scene_name, question_type, question, ground_truth,
    options list<string> (null for NA and for train style),
    answer (word or number as text), answer_value float64 (NA only), objects list<string>,
    video ("{dataset}/{scene_name}.mp4", relative to a videos root), extra (JSON text),
    question_kind ("numeric" | "choice" for a question type of a user's own, else null;
    see :func:`vsgrpo.questions_parquet.declare_own_types`)
"""

from __future__ import annotations

import json
import os
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from .errors import VsgrpoError
from .progress import progress
from .questions import (
    BuildConfig,
    Question,
    Unchecked,
    get_task,
    question_types,
    question_types_of,
    scored_task_of,
    scored_tasks,
)
from .questions.options import LetterBalancer, lettered, numeric_distractors
from .questions_parquet import (  # noqa: F401 (the dataset API)
    BUILD_CONFIG_FILE,
    REQUIRED_COLUMNS,
    questions_schema,
    read_questions,
)
from .scene import Scene, SceneIndex


def task_names(selected: Iterable[str] | None = None) -> list[str]:
    """Registered task names in column order of their scored task (or ``selected``, validated, in that order).

    By default only the types that have a generator: a team's own types (declared by a file's
    ``question_kind``) are scored like the others but cannot be built from a scene.
    """
    from .questions import TASK_REGISTRY

    names = list(selected) if selected is not None else [n for n in question_types() if n in TASK_REGISTRY]
    for n in names:
        get_task(n)
    rank = {n: i for i, n in enumerate(qt for t in scored_tasks() for qt in question_types_of(t))}
    return sorted(dict.fromkeys(names), key=lambda n: (rank[n], n))


def _rng(seed: int, *keys: str) -> np.random.Generator:
    """A generator depending only on the seed and the keys (not on iteration order)."""
    return np.random.default_rng([seed, *(zlib.crc32(k.encode("utf-8")) for k in keys)])


# ---------------------------------------------------------------------------------------------
# build


def build_questions(index: Mapping[tuple[str, str], Scene], config: BuildConfig, *,
                    exclude: set[str] | None = None, excluded: list | None = None) -> list[Question]:
    """Every scene x task: candidates, the per-scene cap, then the style (options, letters).

    ``exclude``: :func:`vsgrpo.flags.question_key` values of questions flagged as wrong; they
    are removed from the candidates before the cap (another valid question takes the slot) and
    appended to ``excluded`` when given.
    """
    names = task_names(config.tasks)
    keys = sorted(index)
    balancers = {n: LetterBalancer() for n in names}
    style_rngs = {n: _rng(config.seed, "style", n) for n in names}
    pools: dict[str, list[list[Question]]] = {n: [] for n in names}
    for key in progress(keys, desc="building questions", total=len(keys), unit="scene"):
        scene = index[key]
        for name in names:
            cands = get_task(name).generate(scene, _rng(config.seed, scene.dataset, scene.name, name), config)
            if exclude:
                from .flags import built_key

                kept = [q for q in cands if built_key(q) not in exclude]
                if excluded is not None:
                    excluded.extend(q for q in cands if built_key(q) in exclude)
                cands = kept
            pools[name].append(cands)
    picked = {n: _pick(get_task(n), keys, pools[n], config) for n in names}
    if config.mix is not None:
        from .presets import mix_counts

        picked = apply_mix(picked, mix_counts(config.mix), config.seed)
    out: list[Question] = []
    for i in range(len(keys)):
        for name in names:
            for q in picked[name][i]:
                styled = _apply_style(get_task(name), q, config, balancers[name], style_rngs[name])
                if styled is not None:
                    out.append(styled)
    return out


def _pick(task, keys: list[tuple[str, str]], pools: list[list[Question]], config: BuildConfig) -> list[list[Question]]:
    """The questions kept per scene: the per-scene cap, and (``config.balance``) answer balancing
    (:mod:`vsgrpo.questions.balance`)."""
    cap = task.cap(config)
    if not config.balance:
        out = []
        for (dataset, scene), cands in zip(keys, pools):
            if cap is not None and len(cands) > cap:
                pick = _rng(config.seed, "cap", dataset, scene, task.name).choice(len(cands), cap, replace=False)
                cands = [cands[i] for i in sorted(pick.tolist())]
            out.append(list(cands))
        return out
    from .questions import balance

    rng = _rng(config.seed, "balance", task.name)
    chosen = balance.select(task.kind, pools, cap, rng)
    flat = [(i, k) for i, ks in enumerate(chosen) for k in ks]
    trimmed = balance.trim(task.kind, [pools[i][k] for i, k in flat], rng)  # positions in flat
    kept = balance.decorrelate(task.kind, [pools[i][k] for i, k in (flat[n] for n in trimmed)], rng)
    keep = {trimmed[n] for n in kept}
    out = [[] for _ in pools]
    for n, (i, k) in enumerate(flat):
        if n in keep:
            out[i].append(pools[i][k])
    return out


def mix_quotas(available: Mapping[str, int], target: Mapping[str, int]) -> dict[str, int]:
    """Questions to keep per scored task so that the shares are ``target``'s: the largest build in
    which no task needs more than it has. Tasks of ``target`` with nothing available are left out
    (the others keep their relative shares); tasks not in ``target`` get no quota."""
    present = {t: n for t, n in target.items() if available.get(t, 0) > 0 and n > 0}
    if not present:
        return {}
    scale = min(available[t] / n for t, n in present.items())
    return {t: min(available[t], int(round(n * scale))) for t, n in present.items()}


def _spread(sizes: list[int], quota: int, rng: np.random.Generator) -> list[int]:
    """Per-scene quotas summing to ``quota``: every scene the same number where it has that many
    (water filling, so no scene dominates a task), the remainder to scenes drawn with ``rng``."""
    take = [0] * len(sizes)
    left = min(quota, sum(sizes))
    open_ = [i for i, s in enumerate(sizes) if s > 0]
    while left > 0 and open_:
        level = left // len(open_)
        if level == 0:
            for i in sorted(rng.choice(len(open_), left, replace=False).tolist()):
                take[open_[i]] += 1
            break
        for i in open_:
            add = min(level, sizes[i] - take[i])
            take[i] += add
            left -= add
        open_ = [i for i in open_ if take[i] < sizes[i]]
    return take


def apply_mix(picked: Mapping[str, list[list[Question]]], target: Mapping[str, int],
              seed: int) -> dict[str, list[list[Question]]]:
    """Cut per-scene question lists (``{question_type: [per scene]}``) to the task mix ``target``
    (``{scored task: count}``, e.g. the paper's VSI-100k counts).

    The quota of each scored task (:func:`mix_quotas`) is spread over the scenes
    (:func:`_spread`); within a scene the kept questions are drawn uniformly from all of the task's
    question types, so the three relative-direction levels keep the proportions the scenes give.
    Every draw is seeded by ``seed`` and the task name only: the same inputs give the same build.
    """
    members: dict[str, list[str]] = defaultdict(list)
    for qt in picked:
        members[scored_task_of(qt)].append(qt)
    available = {t: sum(len(s) for qt in qts for s in picked[qt]) for t, qts in members.items()}
    quotas = mix_quotas(available, target)
    out = {qt: [list(s) for s in scenes] for qt, scenes in picked.items()}
    for task, quota in quotas.items():
        qts = members[task]
        n_scenes = len(picked[qts[0]])
        items = [[(qt, q) for qt in qts for q in picked[qt][i]] for i in range(n_scenes)]
        rng = _rng(seed, "mix", task)
        take = _spread([len(s) for s in items], quota, rng)
        for qt in qts:
            out[qt] = [[] for _ in range(n_scenes)]
        for i, (scene_items, k) in enumerate(zip(items, take)):
            for j in sorted(rng.choice(len(scene_items), k, replace=False).tolist()):
                qt, q = scene_items[j]
                out[qt][i].append(q)
    return out


def _apply_style(task, q: Question, config: BuildConfig, balancer: LetterBalancer,
                 rng: np.random.Generator) -> Question | None:
    if task.kind == "MCA":
        choices = list(q.choices or ())
        if q.answer not in choices:
            raise ValueError(f"task {task.name}: answer {q.answer!r} is not among its choices {choices}")
        if config.style == "bench":
            ordered, letter = balancer.arrange(choices, q.answer, rng)
            return replace(q, question=task.render(q, ordered), ground_truth=letter, options=tuple(lettered(ordered)))
        ordered = [choices[i] for i in rng.permutation(len(choices))]
        return replace(q, question=task.render(q, ordered), ground_truth=q.answer, options=None)
    if config.style == "bench" and config.na_options:
        decimals = 1 if "." in q.answer else 0
        wrong = numeric_distractors(float(q.answer_value if q.answer_value is not None else q.answer), decimals, rng)
        if wrong is None:
            return None  # no distractors fit the separation rule (as in VSI-Bench, the question is dropped)
        fmt = (lambda v: f"{v:.1f}") if decimals else (lambda v: str(int(v)))
        ordered, letter = balancer.arrange([q.answer, *map(fmt, wrong)], q.answer, rng)
        return replace(q, ground_truth=letter, options=tuple(lettered(ordered)))
    return replace(q, ground_truth=q.answer, options=None)


def questions_table(questions: list[Question]):
    """The questions as a pyarrow Table in the documented schema."""
    import pyarrow as pa

    schema = questions_schema()
    cols: dict[str, list] = {f.name: [] for f in schema}
    for i, q in enumerate(questions):
        cols["id"].append(i)
        cols["dataset"].append(q.dataset)
        cols["scene_name"].append(q.scene_name)
        cols["question_type"].append(q.question_type)
        cols["question"].append(q.question)
        cols["ground_truth"].append(q.ground_truth)
        cols["options"].append(list(q.options) if q.options is not None else None)
        cols["answer"].append(q.answer)
        cols["answer_value"].append(None if q.answer_value is None else float(q.answer_value))
        cols["objects"].append(list(q.objects))
        cols["video"].append(f"{q.dataset}/{q.scene_name}.mp4")
        cols["extra"].append(json.dumps(_jsonable(q.extra), sort_keys=True) if q.extra else None)
        cols["question_kind"].append(None)  # built types are registered; only a team's own types say it
    return pa.table(cols, schema=schema)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return obj


def summarize(questions: list[Question], config: BuildConfig, n_scenes: int) -> dict:
    from .chance import compute_baselines

    counts = Counter(q.question_type for q in questions)
    names = task_names(config.tasks)
    chance = compute_baselines({"question_type": q.question_type, "ground_truth": q.ground_truth,
                                "options": q.options} for q in questions)
    return {"questions": len(questions), "scenes": n_scenes,
            "counts": {n: counts.get(n, 0) for n in names},
            # What a blind guess scores on these questions, in percent (see vsgrpo.chance).
            "chance": {k: chance[k] for k in ("random", "frequency", "overall", "answers")},
            "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(config).items()}}


def write_dataset(out_dir: str | os.PathLike, questions: list[Question], summary: dict) -> tuple[Path, Path]:
    """Write ``questions.parquet`` and ``summary.json`` so that no crash leaves a mismatched pair.

    Both are written to temporary files first; then the old ``summary.json`` is removed, the new
    parquet renamed into place, and the new summary last. A kill at any moment leaves either the
    old pair, or the new parquet without a summary (an unfinished build: rerun it), never a new
    parquet beside an old summary. Temporary files of a killed build are removed by the next one.
    """
    import tempfile

    import pyarrow.parquet as pq

    from .io import commit, ensure_writable_dir, umask

    out = ensure_writable_dir(out_dir)
    table = questions_table(questions)
    qpath, spath = out / "questions.parquet", out / "summary.json"
    temps: list[Path] = []
    try:
        for target in (qpath, spath):
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=out)
            os.close(fd)
            temps.append(Path(tmp))
        tq, ts = temps
        pq.write_table(table, tq)
        ts.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        for t in temps:
            t.chmod(0o666 & ~umask())
            with open(t, "rb") as f:
                os.fsync(f.fileno())
        spath.unlink(missing_ok=True)
        commit(tq, qpath)
        commit(ts, spath)
    except BaseException:
        for t in temps:
            t.unlink(missing_ok=True)
        raise
    return qpath, spath


def load_scenes(meta: str | os.PathLike) -> SceneIndex:
    """Load meta info (``meta``: a data root, its ``meta/`` or a meta file, see
    :func:`vsgrpo.scene_files.meta_folder`); from a data root, attach its sidecars."""
    from .scene import load_meta_dir
    from .scene_files import META_DIR, attach_sidecars, meta_folder

    path = meta_folder(meta)
    index = load_meta_dir(path)
    if path.is_dir() and path.name == META_DIR:
        attach_sidecars(index, path.parent)
    return index


_BUILD_FLAGS = {"meta": "--meta", "style": "--style", "distance": "--distance", "per_scene": "--per-scene",
                "seed": "--seed", "tasks": "--tasks", "na_options": "--na-options",
                "appearance_threshold": "--appearance-threshold", "balance": "balance (--no-balance)",
                "mix": "the task mix (--preset)"}


def build_settings(meta: str | os.PathLike, config: BuildConfig) -> dict:
    """What a build's output depends on besides the scenes' contents: the meta folder and every
    :class:`BuildConfig` field (tasks resolved, so ``--tasks b,a`` equals ``--tasks a,b``)."""
    settings = {"meta": os.path.abspath(meta)}
    for k, v in asdict(config).items():
        settings[k] = task_names(config.tasks) if k == "tasks" else (list(v) if isinstance(v, tuple) else v)
    return settings


def build(meta: str | os.PathLike, out: str | os.PathLike, config: BuildConfig, *, overwrite: bool = False,
          debias: bool = False, audit: bool = False) -> dict:
    """``vsgrpo data build``: questions from every scene in ``meta`` into ``out``.

    The settings are stored in ``out/build_config.json`` before the work; a rebuild into ``out``
    with other settings is refused unless ``overwrite`` (the same settings rebuild in place).
    ``debias``: prune by the text-only audit (:func:`debias_questions`); ``audit``: add the
    audit of the written questions to the summary (:func:`audit_questions`).
    """
    if debias and config.style != "bench":
        raise VsgrpoError("--debias needs --style bench (the audit reads the lettered options)")
    from .io import check_settings, remove_stale_temps, run_lock, safe_join
    from .scene_files import meta_folder

    meta = meta_folder(meta)  # a data root and its meta/ are one build (and one record)
    index = load_scenes(meta)
    for dataset, name in index:  # the video column is "{dataset}/{scene_name}.mp4": it must stay in the root
        try:
            safe_join(".", str(dataset), f"{name}.mp4")
        except VsgrpoError:
            raise VsgrpoError(f"{meta}: scene {name!r} of dataset {dataset!r} would give the video path "
                              f"{dataset}/{name}.mp4, which leaves the videos folder; rename the scene") from None
    from .flags import FLAGS_FILE, load_flags, root_of_meta

    root = root_of_meta(meta)
    flagged = set(load_flags(root)) if root is not None else set()  # `data browse` flags: left out
    with run_lock(out, "data build") as folder:  # fail before the long work; one build per folder
        remove_stale_temps(folder, recursive=False)
        settings = {**build_settings(meta, config), "debias": debias}  # builds stored before lack it: accepted
        check_settings(folder / BUILD_CONFIG_FILE, settings, overwrite=overwrite,
                       what="questions built", flags={**_BUILD_FLAGS, "debias": "--debias"})
        left_out: list[Question] = []
        questions = build_questions(index, config, exclude=flagged, excluded=left_out)
        pruning = None
        if debias:
            questions, pruning = debias_questions(questions, seed=config.seed)
        summary = summarize(questions, config, len(index))
        if pruning is not None:
            summary["debias"] = pruning
        if audit:
            summary["audit"] = pruning["after"] if pruning is not None else audit_questions(questions)
        if flagged:
            summary["flagged_left_out"] = {"file": str(root / FLAGS_FILE), "flags": len(flagged),
                                           "questions": len(left_out)}
        write_dataset(folder, questions, summary)
    return summary


def _audit_records(questions: list[Question]) -> list[dict]:
    """The questions as the rows the audit reads (ids = positions, as the parquet will number them)."""
    return [{"id": i, "dataset": q.dataset, "scene_name": q.scene_name, "question_type": q.question_type,
             "question": q.question, "ground_truth": q.ground_truth, "options": q.options,
             "objects": list(q.objects)} for i, q in enumerate(questions)]


def audit_questions(questions: list[Question]) -> dict:
    """The text-only audit (:mod:`vsgrpo.audit`, scene-grouped folds, the paper's settings) of built questions."""
    from .audit import audit_records

    return audit_records(_audit_records(questions))[0]


def debias_questions(questions: list[Question], *, seed: int = 0) -> tuple[list[Question], dict]:
    """``data build --debias``: the questions left by iterative bias pruning (:func:`vsgrpo.audit.prune`)
    and its report (audits before, after, and after removing as many questions at random)."""
    from .audit import prune

    report = prune(_audit_records(questions), seed=seed)
    keep = report.pop("keep")
    return [questions[i] for i in keep], report


# ---------------------------------------------------------------------------------------------
# verify


def verify_questions(index: Mapping[tuple[str, str], Scene], df) -> dict:
    """Re-derive every row's ground truth; the report documented in ``vsgrpo data verify``."""
    types = sorted(set(df["question_type"]))
    for t in types:
        get_task(t)  # unknown question type -> clear error before any work
    missing = sorted({(d, s) for d, s in zip(df["dataset"], df["scene_name"])} - set(index))
    if missing:
        d, s = missing[0]
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise VsgrpoError(f"scene {d}/{s}{more} from the questions is not in the meta info; pass the --meta "
                          "directory holding its {dataset}_*.json file")
    checked, agree = Counter(), Counter()
    unchecked: dict[str, Counter] = defaultdict(Counter)
    mismatches = []
    rows = df.to_dict("records")
    for row in progress(rows, desc="verifying", total=len(rows), unit="q"):
        qt = row["question_type"]
        derived = get_task(qt).derive(index[(row["dataset"], row["scene_name"])], row)
        if isinstance(derived, Unchecked):
            unchecked[qt][derived.reason] += 1
            continue
        checked[qt] += 1
        expected = str(row["ground_truth"])
        if derived == expected:
            agree[qt] += 1
        else:
            mismatches.append({"id": _plain(row["id"]), "question_type": qt, "expected": expected,
                               "derived": derived})
    order = task_names(types)
    return {
        "tasks": {t: {"checked": checked[t], "agree": agree[t],
                      "rate": round(agree[t] / checked[t], 6)} for t in order if checked[t]},
        "mismatches": mismatches,
        "unchecked": {t: sum(unchecked[t].values()) for t in order if unchecked[t]},
        "unchecked_reasons": {t: dict(unchecked[t]) for t in order if unchecked[t]},
    }


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def verify(meta: str | os.PathLike, questions: str | os.PathLike) -> dict:
    """``vsgrpo data verify``: the agreement report for a questions parquet."""
    df = read_questions(questions)
    index = load_scenes(meta)
    return verify_questions(index, df)


def format_report(report: dict) -> str:
    """The per-type table printed by ``vsgrpo data verify``."""
    lines = [f"{'question_type':<30} {'checked':>8} {'agree':>8} {'rate':>8}"]
    for t, r in report["tasks"].items():
        lines.append(f"{t:<30} {r['checked']:>8} {r['agree']:>8} {r['rate'] * 100:>7.2f}%")
    tot_c = sum(r["checked"] for r in report["tasks"].values())
    tot_a = sum(r["agree"] for r in report["tasks"].values())
    if tot_c:
        lines.append(f"{'all checked':<30} {tot_c:>8} {tot_a:>8} {tot_a / tot_c * 100:>7.2f}%")
    for t, n in report["unchecked"].items():
        reasons = report.get("unchecked_reasons", {}).get(t, {})
        why = "; ".join(f"{r} ({k})" for r, k in reasons.items())
        lines.append(f"unchecked {t}: {n} ({why})")
    return "\n".join(lines)
