"""The report's evidence sections: chance and blind rows, seed spread, worked examples.

Each function reads files the run wrote (results, baselines, samples, the held-out data root)
and adds blocks to the report's :class:`~vsgrpo.quickstart.report.Doc`, so Markdown and HTML
say the same thing.

- :func:`chance_and_blind_rows`: VSI-Bench's "chance (random)" and "chance (frequency)" rows of
  the held-out questions, the training-answer prior (each task's constant answer picked on the
  training questions, scored on the held-out ones) and each stage's blind evaluation.
- :func:`stage_scores`: each stage's per-question scores with and without the video, read once, and
  their paired vision-minus-blind intervals (:func:`vsgrpo.eval.intervals.paired`).
- :func:`headline`: the report's first line: the last stage beside its blind twin and the chance
  (frequency) row, each with its interval, and the paired differences under it.
- :func:`vision_minus_blind`: per stage and task, the score with video minus without (the Avg with
  its paired interval).
- :func:`method_comparison`: SFT and GRPO from the same start at the same budget in questions.
- :func:`seed_section`: mean and sample standard deviation per stage and task over seeds, and
  whether GRPO's gain over the stage before it (the SFT baseline) exceeds the seed-to-seed spread.
- :func:`worked_examples`: a handful of held-out questions with a strip of the frames the model
  saw, the floor plan, the ground truth and each stage's answer and score.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path

from ..eval.report import fmt, score_value

PRIOR_LABEL = "chance (frequency, training answers)"


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def chance_and_blind_rows(summary: dict, out: Path) -> tuple[dict[str, dict], dict[str, dict]]:
    """``(chance rows, blind rows)`` as ``{label: results-like}`` for the held-out table."""
    from ..chance import table_rows

    chance = table_rows(read_json(out / summary["baselines"])) if summary.get("baselines") else {}
    if summary.get("train_prior"):
        prior = read_json(out / summary["train_prior"])
        if prior:
            chance[PRIOR_LABEL] = prior
    blind = {}
    for stage, path in (summary.get("blind") or {}).items():
        r = read_json(out / path)
        if r:
            blind[f"{stage} (blind)"] = r
    return chance, blind


def _signed(v: float | None) -> str:
    return "-" if v is None else f"{v:+.1f}"


def _diff(a: dict, b: dict, col: str) -> float | None:
    x, y = score_value(a, col), score_value(b, col)
    return None if x is None or y is None else x - y


def question_scores(path: Path) -> dict:
    """``{id: (question_type, score in [0, 1], scene)}`` of one evaluation's ``samples.jsonl``: the rows its
    ``results.json`` averages (a sample without a score, a failed request, is left out there too)."""
    out = {}
    for i, r in _samples(path).items():
        score = r.get("score")
        if isinstance(score, (int, float)) and math.isfinite(score) and r.get("question_type"):
            out[i] = (str(r["question_type"]), float(score), (str(r.get("dataset")), str(r.get("scene_name"))))
    return out


def chance_scores(questions_path: Path) -> dict:
    """The chance (frequency) row per held-out question, keyed like :func:`question_scores`."""
    from ..chance import frequency_scores
    from ..eval.scoring import load_questions

    try:
        qs = load_questions(questions_path)
    except Exception:  # noqa: BLE001 - a report must not fail on a damaged data folder
        return {}
    scene = {q["id"]: (str(q.get("dataset")), str(q.get("scene_name"))) for q in qs}
    return {i: (qt, s, scene[i]) for i, (qt, s) in frequency_scores(qs).items()}


def paired(a: dict, b: dict) -> dict | None:
    """:func:`vsgrpo.eval.intervals.paired` of two :func:`question_scores` (``None`` when either is empty)."""
    from ..eval.intervals import paired as paired_ci

    return paired_ci(a, b) if a and b else None


def fmt_diff(p: dict | None) -> str:
    """``+11.2 [+6.0, +16.5]``: the Avg difference of a :func:`paired` result with its interval (``-``: none)."""
    if not p or p.get("difference") is None:
        return "-"
    ci = p.get("overall")
    return f"{p['difference']:+.1f}" + (f" [{ci[0]:+.1f}, {ci[1]:+.1f}]" if ci else "")


@dataclass
class StageScores:
    """Each stage's per-question scores (:func:`question_scores`) with and without the video, read once
    from the run's samples files, and ``gains``: each stage's paired vision-minus-blind interval."""

    seen: dict[str, dict]
    unseen: dict[str, dict]
    gains: dict[str, dict]


def stage_scores(summary: dict, out: Path) -> StageScores:
    """The :class:`StageScores` of a run (``summary["samples"]`` and ``summary["samples_blind"]``)."""
    seen, unseen = ({st: question_scores(out / p) for st, p in (summary.get(key) or {}).items()}
                    for key in ("samples", "samples_blind"))
    gains = {st: p for st in seen if (p := paired(seen[st], unseen.get(st) or {}))}
    return StageScores(seen, unseen, gains)


def vision_minus_blind(doc, evals: dict[str, dict], blind: dict[str, dict], cols: list[str], labels,
                       gains: dict[str, dict]) -> None:
    """Per stage and task, the score with video minus without; the Avg with its paired interval where
    ``gains`` (:attr:`StageScores.gains`) has one."""
    pairs = [(st, evals[st], blind.get(f"{st} (blind)")) for st in evals if blind.get(f"{st} (blind)")]
    if not pairs:
        return
    doc.h(3, "What the video adds (vision minus blind)")
    doc.table(["stage"] + [labels(c) + (" [paired 95% interval]" if c == "overall" else "") for c in cols],
              [[st] + [fmt_diff(gains[st]) if c == "overall" and st in gains else _signed(_diff(v, b, c))
                       for c in cols] for st, v, b in pairs])
    avg = ", ".join(f"{st} {_signed(_diff(v, b, 'overall'))}" for st, v, b in pairs)
    doc.p("Blind: the same model and prompts (\"These are frames of a video.\" included) with no frames sent. "
          f"Avg gain from the video, in points: {avg}. The paired interval resamples scenes once for both "
          "evaluations of a stage (they answer the same questions); an interval above 0 means the video helps "
          "on questions like these. A gain near 0 means the stage answers from the question text and the "
          "answer prior, not from what it sees.")


def method_comparison(doc, summary: dict, evals: dict[str, dict], blind: dict[str, dict],
                      scores: StageScores) -> dict | None:
    """The paper's comparison in miniature: SFT and GRPO from the same start at the same budget in
    questions, each with vision, blind and vision minus blind (paired intervals), and one sentence on
    which method won here and by how much. Returns the numbers (``None`` without both methods)."""
    from ..eval.report import fmt_ci

    if "sft" not in evals or "grpo" not in evals:
        return None
    budget = summary.get("budget") or {}
    rows, numbers = [], {}
    for st in [x for x in ("warmup", "sft", "grpo") if x in evals]:
        b = blind.get(f"{st} (blind)")
        gain = scores.gains.get(st)
        numbers[st] = {"vision": evals[st].get("overall"), "blind": (b or {}).get("overall"), "gain": gain}
        rows.append([st, str(budget.get(st) or "-"), fmt_ci(evals[st], "overall"), fmt_ci(b, "overall") if b else "-",
                     fmt_diff(gain)])
    doc.h(2, "SFT and GRPO at the same budget")
    start = "the warm-up" if "warmup" in evals else "the base model"
    doc.p(f"Both methods train from {start} on the same training questions; the budget is the number of training "
          "questions each one sees (GRPO: questions, each answered by a group of sampled completions).")
    doc.table(["stage", "training questions", "held-out Avg", "blind", "vision minus blind (paired)"], rows)
    vs = paired(scores.seen.get("grpo") or {}, scores.seen.get("sft") or {})
    numbers["grpo_minus_sft"] = vs
    if vs and vs.get("difference") is not None and vs.get("overall"):
        d, (lo, hi) = vs["difference"], vs["overall"]
        if lo > 0:
            verdict = f"GRPO beat SFT here by {d:.1f} points of held-out Avg (paired 95% interval {lo:+.1f} to {hi:+.1f})."
        elif hi < 0:
            verdict = f"SFT beat GRPO here by {-d:.1f} points of held-out Avg (paired 95% interval {lo:+.1f} to {hi:+.1f})."
        else:
            verdict = (f"GRPO minus SFT is {d:+.1f} points of held-out Avg, but the paired 95% interval ({lo:+.1f} to "
                       f"{hi:+.1f}) includes 0: these questions do not tell the two methods apart.")
        doc.p(verdict)
        numbers["verdict"] = verdict
    return numbers


def headline(summary: dict, out: Path, evals: dict[str, dict], chance: dict[str, dict],
             blind: dict[str, dict], scores: StageScores) -> tuple[str, str] | None:
    """The report's first line and the sentence under it: the last stage's held-out Avg, its blind twin and
    the chance (frequency) row side by side, each with its 95% interval; then the paired differences (what
    the video adds, the margin over chance). ``None`` before any evaluation."""
    if not evals:
        return None
    from ..eval.intervals import bootstrap
    from ..eval.report import fmt_ci

    last = list(evals)[-1]
    name = last.upper() if last in ("sft", "grpo", "dpo") else last
    first = [f"{name} {fmt_ci(evals[last], 'overall')}"]
    detail = []
    b = blind.get(f"{last} (blind)")
    if b:
        first.append(f"blind {fmt_ci(b, 'overall')}")
        detail.append(f"the video adds {fmt_diff(scores.gains.get(last))} points to {name} (paired over scenes)")
    freq = chance.get("chance (frequency)")
    held = (summary.get("heldout") or {}).get("questions")
    if freq and freq.get("overall") is not None:
        rows = chance_scores(out / held) if held else {}
        ci = (bootstrap(list(rows.values())) or {}).get("overall") if rows else None
        first.append(f"chance (frequency) {freq['overall']:.1f}" + (f" [{ci[0]:.1f}, {ci[1]:.1f}]" if ci else ""))
        detail.append(f"{name} minus chance (frequency): {fmt_diff(paired(scores.seen.get(last) or {}, rows))}")
    text = ("Held-out Avg in %, [95% interval] by a bootstrap over scenes"
            + (": " + "; ".join(detail) if detail else "") + ".")
    return " · ".join(first), text


def _mean_sd(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def seed_section(doc, summary: dict, out: Path, cols: list[str], labels) -> dict | None:
    """Mean +- sd over seeds per stage and task; returns the numbers (also for tests and docs)."""
    seeds = summary.get("seeds") or {}
    if len(seeds) < 2:
        return None
    runs = {seed: {st: read_json(out / p) for st, p in stages.items()} for seed, stages in seeds.items()}
    blind_runs = {seed: {st: read_json(out / p) for st, p in stages.items()}
                  for seed, stages in (summary.get("seeds_blind") or {}).items()}
    stages = list(next(iter(seeds.values())))
    table, stats = [], {}
    for kind, source in (("", runs), (" (blind)", blind_runs)):
        for st in stages:
            per_col = {}
            for c in cols:
                vals = [score_value(r[st], c) for r in source.values() if r.get(st)]
                vals = [v for v in vals if v is not None]
                if len(vals) == len(seeds):
                    per_col[c] = _mean_sd(vals)
            if per_col:
                stats[st + kind] = per_col
                table.append([st + kind] + [f"{per_col[c][0]:.1f} ± {per_col[c][1]:.1f}" if c in per_col else "-"
                                            for c in cols])
    doc.h(2, f"Seeds: mean ± sd over {len(seeds)} training seeds")
    doc.p("The data (scenes and questions) is the same for every seed; the seed sets the tiny model's "
          "initial weights, the order of the training questions and the sampling of GRPO's rollouts. "
          "sd: sample standard deviation across seeds.")
    doc.table(["stage"] + [labels(c) for c in cols], table)
    doc.table(["seed"] + stages, [[seed] + [fmt(score_value(r[st], "overall")) if r.get(st) else "-"
                                            for st in stages] for seed, r in runs.items()])
    verdict = None
    if "grpo" in stages and len(stages) >= 2:
        before = stages[stages.index("grpo") - 1]
        gains = [score_value(r["grpo"], "overall") - score_value(r[before], "overall")
                 for r in runs.values() if r.get("grpo") and r.get(before)]
        if len(gains) == len(seeds):
            g_mean, g_sd = _mean_sd(gains)
            spread = max(stats.get(st, {}).get("overall", (0, 0))[1] for st in (before, "grpo"))
            exceeds = abs(g_mean) > spread
            verdict = {"before": before, "gain_mean": g_mean, "gain_sd": g_sd, "spread": spread, "exceeds": exceeds,
                       "gains": gains}
            if exceeds and min(gains) > 0:
                tail = "; GRPO is better than " + before + " for every seed."
            elif exceeds and max(gains) < 0:
                tail = "; GRPO is worse than " + before + " for every seed."
            else:
                tail = "."
            doc.p(f"GRPO's gain over {before} (Avg): {g_mean:+.1f} ± {g_sd:.1f} points (per seed: "
                  + ", ".join(f"{g:+.1f}" for g in gains) + f"); the seed-to-seed spread (the larger sd of the two "
                  f"stages) is {spread:.1f}. The difference {'exceeds' if exceeds else 'is within'} the spread"
                  + tail)
    return {"stats": stats, "gain": verdict}


# --------------------------------------------------------------------------------------------
# worked examples


def _samples(path: Path) -> dict[int, dict]:
    rows = {}
    try:
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
                rows[int(row["id"])] = row
            except (ValueError, KeyError, TypeError):
                continue
    except OSError:
        pass
    return rows


def pick_examples(per_stage: dict[str, dict[int, dict]], questions: dict[int, dict], *, n: int = 6) -> list[int]:
    """Ids of held-out questions for the worked examples: half where the last stage is right, half
    where it is wrong, preferring questions where the stages disagree, spread over question types."""
    stages = list(per_stage)
    if not stages:
        return []
    last = stages[-1]
    ids = [i for i in sorted(questions) if all(i in per_stage[s] and per_stage[s][i].get("score") is not None
                                               for s in stages)]

    def score(i, s):
        return float(per_stage[s][i]["score"])

    good = [i for i in ids if score(i, last) >= 0.5]
    bad = [i for i in ids if score(i, last) < 0.5]

    def interest(i):  # stages that disagree with the last one first
        return -sum(abs(score(i, s) - score(i, last)) for s in stages[:-1])

    def spread(pool, k):
        chosen, seen = [], set()
        for i in sorted(pool, key=lambda i: (interest(i), i)):
            if questions[i]["question_type"] not in seen:
                chosen.append(i)
                seen.add(questions[i]["question_type"])
            if len(chosen) == k:
                return chosen
        rest = [i for i in sorted(pool, key=lambda i: (interest(i), i)) if i not in chosen]
        return chosen + rest[:k - len(chosen)]

    k_good = min(len(good), (n + 1) // 2)
    picked = spread(good, k_good)
    picked += spread(bad, n - len(picked))
    return picked


def frame_strip(frames, path: Path, *, height: int = 96) -> Path:
    """The sampled frames side by side (PNG)."""
    import numpy as np
    from PIL import Image

    tiles = []
    for f in frames:
        im = Image.fromarray(np.asarray(f))
        w = max(1, round(im.width * height / im.height))
        tiles.append(im.resize((w, height)))
    strip = Image.new("RGB", (sum(t.width for t in tiles) + 2 * (len(tiles) - 1), height), "white")
    x = 0
    for t in tiles:
        strip.paste(t, (x, 0))
        x += t.width + 2
    path.parent.mkdir(parents=True, exist_ok=True)
    strip.save(path)
    return path


def floor_plan_png(scene, objects: list[str], path: Path) -> Path:
    """Top view of the room and every object's box; the objects the question names are highlighted."""
    import numpy as np

    from ..eval.report import pyplot, save_png
    from ..questions.aliases import to_question

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(3.2, 3.2))
    for poly in (scene.floor_plan.polygons if scene.floor_plan else []):
        p = np.asarray(poly, float)
        ax.fill(p[:, 0], p[:, 1], color="#eef2f7", ec="#445", lw=1.5)
    named = {o.lower() for o in objects}
    for cat, boxes in sorted(scene.objects.items()):
        hit = cat.lower() in named or to_question(cat).lower() in named
        for b in boxes:
            c = b.corners()[:, :2]
            hull = _hull(c)
            ax.fill(hull[:, 0], hull[:, 1], color="#e4572e" if hit else "#9db4c0", alpha=0.8 if hit else 0.45,
                    ec="#333" if hit else "#789", lw=1.2 if hit else 0.6)
            if hit:
                ax.annotate(to_question(cat), hull.mean(0), fontsize=7, ha="center", weight="bold")
    ax.set_aspect("equal")
    ax.axis("off")
    fig.tight_layout()
    return save_png(fig, path, dpi=90)


def _hull(points):
    from ..browse import _hull as hull

    return hull(points)


def _answer_words(q: dict) -> str:
    gt = str(q["ground_truth"])
    for opt in q.get("options") or []:
        letter, sep, text = str(opt).partition(". ")
        if sep and letter == gt:
            return f"{gt} ({text})"
    return gt


def worked_examples(doc, summary: dict, out: Path, plots: Path, *, n: int = 6) -> list[int]:
    """Add the worked-examples section; returns the ids shown."""
    import warnings

    held = summary.get("heldout") or {}
    samples = {st: _samples(out / p) for st, p in (summary.get("samples") or {}).items()}
    samples = {st: rows for st, rows in samples.items() if rows}
    if not samples or not held.get("questions"):
        return []
    from ..dataset import load_scenes
    from ..eval.scoring import load_questions
    from ..scene_files import video_path
    from ..video import read_frames

    try:
        questions = {q["id"]: q for q in load_questions(out / held["questions"])}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            index = load_scenes(out / held["root"] / "meta")
    except Exception:  # noqa: BLE001 - a report must not fail on a damaged data folder
        return []
    ids = pick_examples(samples, questions, n=n)
    if not ids:
        return []
    last = list(samples)[-1]
    doc.h(2, "Worked examples (held-out questions)")
    doc.p(f"Chosen automatically: questions the {last} model gets right and wrong, preferring ones where the "
          "stages disagree, across question types. The strip shows the frames the model was given; in the floor "
          "plan the objects the question names are red.")
    for i in ids:
        q = questions[i]
        verdict = "right" if samples[last][i]["score"] >= 0.5 else "wrong"
        doc.h(3, f"#{i} {q['question_type']}: {last} {verdict}")
        text = q["question"].replace("\n", " ")
        if q.get("options"):
            text += " Options: " + "; ".join(q["options"]) + "."
        doc.p(text)
        doc.p(f"Ground truth: {_answer_words(q)}.")
        try:
            frames, _ = read_frames(video_path(out / held["root"], q["dataset"], q["scene_name"]),
                                    int(held.get("frames") or 8))
            doc.img(frame_strip(frames, plots / f"example_{i}_frames.png"), f"frames of question {i}")
        except Exception:  # noqa: BLE001
            pass
        scene = index.get((q["dataset"], q["scene_name"]))
        if scene is not None:
            raw = q.get("objects")
            objs = [] if raw is None or isinstance(raw, (float, str)) else [str(o) for o in list(raw)]
            doc.img(floor_plan_png(scene, objs, plots / f"example_{i}_plan.png"), f"floor plan of question {i}")
        rows = []
        for st, rows_by_id in samples.items():
            r = rows_by_id[i]
            pred = str(r.get("prediction") or "").replace("\n", " ").replace("|", "/")
            rows.append([st, f"`{pred[:80]}`" if pred else "(empty)", str(r.get("parsed")),
                         fmt(100 * r["score"]) if isinstance(r.get("score"), (int, float)) and
                         math.isfinite(r["score"]) else "-"])
        doc.table(["stage", "answer", "parsed", "score"], rows, align_right_from=3)
    return ids
