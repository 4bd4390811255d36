"""``vsgrpo data audit``: how much of a question set can be answered without looking.

A text-only stress test in the spirit of TsT-RF (Brown et al., "Benchmark Designers Should
'Train on the Test Set' to Expose Exploitable Non-Visual Shortcuts", arXiv 2511.04655): per
audit type, k-fold cross-validation *on the set itself* of a random forest that sees only what
the question says (its named objects, its options) and answer statistics of the training folds.
A score far above the type's chance row means the answers can be learned from the text: a
model trained on such data learns the shortcut instead of looking.

Contract
--------
- Input: any VSI-Bench-schema questions (``id, dataset, scene_name, question_type, question,
  ground_truth, options``; an ``objects`` column is used when a question matches no template).
- Audit types: the question types, except that relative direction's three levels are one type
  (``object_rel_direction``; the level is a feature).
- Folds: ``folds`` splits per audit type, seeded; ``group="scene"`` (default) keeps every scene's
  questions in one fold, ``group="none"`` splits questions at random.
- Features (:func:`_features`), all fitted on the training folds only, never on the held-out
  fold: codes of the named objects and option texts (vocabulary of the training folds; unseen
  = -1); numeric types: per object / pair / category, the count, log-mean and log-std of the
  training answers; choice types: per option slot, how often that option text was the answer
  when offered, overall and given the question's objects (and, for appearance order, how often
  each pair of categories appeared in that order). Smoothed towards the training-fold prior.
- Models: :class:`~sklearn.ensemble.RandomForestClassifier` (100 trees) predicting the gold
  option's position, :class:`~sklearn.ensemble.RandomForestRegressor` (200 trees) predicting the
  log of the answer; otherwise library defaults, ``random_state`` = the seed.
- Scores: choice types = accuracy of the forest's most probable option; numeric types = MRA
  (:func:`vsgrpo.metrics.mean_relative_accuracy`). A question's bias score ``s`` (``bias.csv``,
  used by ``data build --debias``) is its held-out score as in the paper: the forest's
  probability of the gold option (choice) or the MRA (numeric).
- Chance: per audit type its best constant answer on the whole set (numeric: the value with the
  highest mean MRA; choice: the share of the most frequent answer, by answer text when every
  question offers the same choices, else by letter, as :mod:`vsgrpo.chance` counts it);
  relative direction: the question-weighted mean of its levels' chance.
- Output (:func:`write_audit`): ``audit.json`` = ``{"overall", "macro", "chance_overall",
  "chance_macro", "per_task": {type: {"score", "chance", "n"}}, "folds", "group", "seed",
  "trees"}`` (scores in percent; ``overall`` weights types by questions, ``macro`` is the plain
  mean over types), ``bias.csv`` (``id, question_type, s, chance``; chance = the type's chance
  value in [0, 1]) and ``audit.png`` (per type, score beside chance).
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import metrics
from .errors import VsgrpoError
from .progress import progress
from .question_types import scored_task_of
from .questions import templates

GROUPS = ("scene", "none")
CHOICE_TREES, NUMERIC_TREES = 100, 200  # the paper's forests
SMOOTH = 2.0  # pseudo-count pulling a rare key's statistics towards the training-fold prior


@dataclass(frozen=True)
class AuditConfig:
    """Settings of one audit (the CLI defaults follow the paper: 5 folds, seed 42)."""

    folds: int = 5
    group: str = "scene"
    seed: int = 42
    choice_trees: int = CHOICE_TREES
    numeric_trees: int = NUMERIC_TREES

    def __post_init__(self) -> None:
        if self.group not in GROUPS:
            raise VsgrpoError(f"--group must be one of {', '.join(GROUPS)}, got {self.group!r}")
        if self.folds < 2:
            raise VsgrpoError(f"--folds must be at least 2, got {self.folds}")


DEFAULT_CONFIG = AuditConfig()


def audit_type(question_type: str) -> str:
    """The audit type of a question type: relative direction's levels share one."""
    return scored_task_of(question_type)


# ---------------------------------------------------------------------------------------------
# what a question says: its named objects by role, its option texts, its answer


@dataclass
class _Row:
    qtype: str
    objects: dict[str, str]  # role -> name, e.g. {"category": "chair"} or {"p": ..., "o": ..., "q": ...}
    options: list[str]       # option texts, in letter order ([] for numeric questions)
    gold: int                # index of the gold option (choice) or -1
    value: float             # the answer (numeric) or nan


_LEVEL = {"object_rel_direction_easy": "easy", "object_rel_direction_medium": "medium",
          "object_rel_direction_hard": "hard"}
_TEMPLATES = {
    "object_counting": (templates.COUNTING,),
    "object_size_estimation": (templates.OBJECT_SIZE,),
    "object_abs_distance": (templates.ABS_DISTANCE, templates.ABS_DISTANCE_CENTER),
    "object_rel_distance": (templates.REL_DISTANCE, templates.REL_DISTANCE_CENTER),
    "object_rel_direction_easy": (templates.REL_DIRECTION_EASY,),
    "object_rel_direction_medium": (templates.REL_DIRECTION_MEDIUM,),
    "object_rel_direction_hard": (templates.REL_DIRECTION_HARD,),
}


def _named_objects(row: Mapping) -> dict[str, str]:
    qt, text = row["question_type"], str(row["question"])
    for template in _TEMPLATES.get(qt, ()):
        fields = templates.parse(template, text)
        if fields is not None:
            return {k: v.strip().lower() for k, v in fields.items() if not k.startswith("c")
                    or k == "category"}
    if qt == "route_planning":
        from .questions.route import parse_route_question

        parsed = parse_route_question(text)
        if parsed is not None:
            start, facing, dest, moves = parsed
            return {"start": start.lower(), "facing": facing.lower(), "dest": dest.lower(),
                    "turns": str(sum(1 for kind, _ in moves if kind == "turn")), "steps": str(len(moves))}
    if qt == "obj_appearance_order":
        from .questions.appearance import parse_categories

        cats = parse_categories(text)
        if cats is not None:
            return {f"c{i}": c.lower() for i, c in enumerate(cats)}
    objs = row.get("objects")
    if objs is not None and not isinstance(objs, str):
        return {f"o{i}": str(o).lower() for i, o in enumerate(objs)}
    return {}


def _parse_row(row: Mapping) -> _Row:
    qt = row["question_type"]
    objects = _named_objects(row)
    if qt in _LEVEL:
        objects["level"] = _LEVEL[qt]
    if metrics.answer_kind(qt) == "na":
        return _Row(qt, objects, [], -1, metrics.numeric_ground_truth(row["ground_truth"], qt))
    opts = row.get("options")
    words = ([str(o).partition(". ")[2].strip().lower() for o in opts]  # "A. left" -> "left"
             if opts is not None and not isinstance(opts, str) else [])
    gt = str(row["ground_truth"]).strip()
    if len(gt) == 1 and gt.isalpha() and words:
        gold = ord(gt.upper()) - ord("A")
    else:  # train style: the answer word, no options
        gold = -1
    if not 0 <= gold < len(words):
        raise VsgrpoError(f"question {row.get('id')!r} ({qt}): ground truth {gt!r} is not one of its "
                          f"{len(words)} lettered options; the audit needs bench-style questions with options")
    return _Row(qt, objects, words, gold, math.nan)


# ---------------------------------------------------------------------------------------------
# features: statistics of the training folds only


def _context_keys(r: _Row) -> list[tuple]:
    """The question's keys that answer statistics are gathered under (one feature group each)."""
    o = r.objects
    t = audit_type(r.qtype)
    if t in ("object_counting", "object_size_estimation"):
        return [("category", o.get("category"))]
    if t == "object_abs_distance":
        a, b = sorted((o.get("a", ""), o.get("b", "")))
        return [("pair", a, b), ("one", a), ("one", b)]
    if t == "room_size_estimation":
        return []
    if t == "object_rel_distance":
        return [("target", o.get("category"))]
    if t == "object_rel_direction":
        lvl = o.get("level")
        return [("level", lvl), ("lq", lvl, o.get("q")), ("lo", lvl, o.get("o")), ("lp", lvl, o.get("p")),
                ("lpoq", lvl, o.get("p"), o.get("o"), o.get("q"))]
    if t == "route_planning":
        return [("turns", o.get("turns")), ("start", o.get("start")), ("dest", o.get("dest"))]
    return [("obj", v) for _, v in sorted(o.items())]


def _codes(train: Sequence[_Row]) -> dict[str, int]:
    vocab = sorted({v for r in train for v in list(r.objects.values()) + r.options})
    return {v: i for i, v in enumerate(vocab)}


class _NumericStats:
    """Per key: count, smoothed log-mean and log-std of the training answers."""

    def __init__(self, train: Sequence[_Row]) -> None:
        logs = np.log(np.maximum([r.value for r in train], 1e-6))
        self.mu, self.sd = float(logs.mean()), float(logs.std())
        acc: dict[tuple, list[float]] = defaultdict(list)
        for r, y in zip(train, logs):
            for k in _context_keys(r):
                acc[k].append(float(y))
        self.stats = {k: self._summ(v) for k, v in acc.items()}

    def _summ(self, ys: list[float]) -> tuple[float, float, float]:
        n = len(ys)
        m = (sum(ys) + SMOOTH * self.mu) / (n + SMOOTH)
        var = (sum((y - m) ** 2 for y in ys) + SMOOTH * self.sd ** 2) / (n + SMOOTH)
        return float(n), m, math.sqrt(var)

    def row(self, r: _Row) -> list[float]:
        out = [self.mu, self.sd]
        for k in _context_keys(r):
            out.extend(self.stats.get(k, (0.0, self.mu, self.sd)))
        return out


class _ChoiceStats:
    """Per option text, overall and under each context key: how often it was the answer when offered."""

    def __init__(self, train: Sequence[_Row]) -> None:
        self.offered: Counter = Counter()
        self.won: Counter = Counter()
        # appearance order: pair order and first place of categories in the training answers
        self.before: Counter = Counter()
        self.first: Counter = Counter()
        self.seen: Counter = Counter()
        for r in train:
            gold = r.options[r.gold]
            for k in [()] + _context_keys(r):
                for w in r.options:
                    self.offered[(k, w)] += 1
                self.won[(k, gold)] += 1
            seq = [c.strip() for c in gold.split(",")]
            if len(seq) > 1:
                for i, a in enumerate(seq):
                    self.seen[a] += 1
                    self.first[a] += i == 0
                    for b in seq[i + 1:]:
                        self.before[(a, b)] += 1
        self.prior = float(np.mean([1 / len(r.options) for r in train]))

    def rate(self, key: tuple, word: str) -> float:
        n = self.offered[(key, word)]
        return (self.won[(key, word)] + SMOOTH * self.prior) / (n + SMOOTH)

    def order_score(self, word: str) -> tuple[float, float]:
        """Mean training rate of this option's pairs in this order, and its first item's first-place rate."""
        seq = [c.strip() for c in word.split(",")]
        if len(seq) < 2:
            return 0.5, 0.0
        pair = [(self.before[(a, b)] + SMOOTH * 0.5) / (self.before[(a, b)] + self.before[(b, a)] + SMOOTH)
                for i, a in enumerate(seq) for b in seq[i + 1:]]
        head = seq[0]
        return float(np.mean(pair)), (self.first[head] + SMOOTH / len(seq)) / (self.seen[head] + SMOOTH)


_LEVELS = ("easy", "medium", "hard")


class _ConstantChoice:
    """The most frequent answer of the training rows: by text per level when that is the better
    constant (relative direction), else by position (letter)."""

    def __init__(self, train: Sequence[_Row]) -> None:
        by_text = Counter((r.objects.get("level"), r.options[r.gold]) for r in train)
        self.text: dict = {}
        for (level, w), _n in sorted(by_text.items(), key=lambda kv: (-kv[1], str(kv[0]))):
            self.text.setdefault(level, w)
        self.slot = Counter(r.gold for r in train).most_common(1)[0][0]
        self.use_text = self._score(train, True) > self._score(train, False)

    def _pick(self, r: _Row, use_text: bool) -> int:
        w = self.text.get(r.objects.get("level"))
        if use_text and w in r.options:
            return r.options.index(w)
        return min(self.slot, len(r.options) - 1)

    def _score(self, rows: Sequence[_Row], use_text: bool) -> float:
        return float(np.mean([self._pick(r, use_text) == r.gold for r in rows]))

    def accuracy(self, rows: Sequence[_Row]) -> float:
        return self._score(rows, self.use_text)

    def probs(self, r: _Row) -> np.ndarray:
        p = np.zeros(len(r.options))
        p[self._pick(r, self.use_text)] = 1.0
        return p


@dataclass(frozen=True)
class _Layout:
    """The columns of one audit type's feature matrix (the same for every fold)."""

    roles: tuple[str, ...]
    slots: int
    keys: int  # context keys per question (padded to this)

    @staticmethod
    def of(rows: Sequence[_Row]) -> _Layout:
        return _Layout(tuple(sorted({k for r in rows for k in r.objects})),
                       max(len(r.options) for r in rows), max(len(_context_keys(r)) for r in rows))


def _features(train: Sequence[_Row], rows: Sequence[_Row], kind: str, layout: _Layout) -> np.ndarray:
    """The feature matrix of ``rows`` with every code and statistic fitted on ``train`` only."""
    codes = _codes(train)
    roles = layout.roles

    def code(v) -> float:
        return float(codes.get(v, -1)) if v is not None else -2.0

    out = []
    if kind == "na":
        st = _NumericStats(train)
        width = 2 + 3 * layout.keys
        for r in rows:
            f = st.row(r)
            out.append([code(r.objects.get(k)) for k in roles] + f + [0.0] * (width - len(f)))
        return np.asarray(out, dtype=np.float64)
    st = _ChoiceStats(train)
    slots = layout.slots
    for r in rows:
        f = [code(r.objects.get(k)) for k in roles] + [float(len(r.options))]
        f += [float(r.objects.get("level") == lv) for lv in _LEVELS]
        ctx = _context_keys(r)
        keys = [()] + ctx + [("(none)",)] * (layout.keys - len(ctx))
        table = np.asarray([[st.rate(k, w) for k in keys] + list(st.order_score(w)) for w in r.options])
        # the slot each statistic favours: a forest splits on it far more easily than on the rates
        f += np.argmax(table, axis=0).astype(float).tolist()
        for i in range(slots):
            if i < len(r.options):
                f += [code(r.options[i])] + table[i].tolist()
            else:
                f += [-2.0] + [-1.0] * table.shape[1]
        out.append(f)
    return np.asarray(out, dtype=np.float64)


# ---------------------------------------------------------------------------------------------
# chance: the best constant answer on the whole set


def _chance(rows: Sequence[_Row], raw: Sequence[Mapping]) -> tuple[float, np.ndarray]:
    """``(chance of the audit type, per-question chance)``: numeric = best constant's mean MRA;
    choice = the most frequent answer's share (per question type, weighted by questions)."""
    from .chance import best_constant, compute_baselines

    if metrics.answer_kind(rows[0].qtype) == "na":
        _, score = best_constant([r.value for r in rows])
        return score, np.full(len(rows), score)
    freq = compute_baselines(raw)["frequency"]
    per_q = np.asarray([freq[r.qtype] / 100 for r in rows])
    return float(per_q.mean()), per_q


# ---------------------------------------------------------------------------------------------
# cross-validation


def _splits(n: int, groups: np.ndarray | None, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import GroupKFold, KFold

    if groups is None:
        k = min(folds, n)
        return list(KFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(n)))
    k = min(folds, len(set(groups.tolist())))
    if k < 2:
        return []
    return list(GroupKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(n), groups=groups))


def _cross_validate(rows: list[_Row], groups: np.ndarray | None, config: AuditConfig,
                    tick: Callable[[], None]) -> np.ndarray | None:
    """Held-out bias score per question (choice: probability of the gold option; numeric: MRA)
    and held-out correctness (choice: argmax is gold; numeric: MRA): shape (2, n)."""
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    kind = metrics.answer_kind(rows[0].qtype)
    splits = _splits(len(rows), groups, config.folds, config.seed)
    if not splits:
        return None
    layout = _Layout.of(rows)
    out = np.zeros((2, len(rows)))
    for tr, te in splits:
        train = [rows[i] for i in tr]
        # Training rows' statistics include their own answers, as in the paper's TsT-RF (held-out
        # rows never feed any statistic). Out-of-fold encoding of the training rows was measured
        # weaker on the VSI-Bench sample (object size 56.7 vs 61.4, relative distance 29.6 vs 38.3).
        X_train = _features(train, train, kind, layout)
        X_test = _features(train, [rows[i] for i in te], kind, layout)
        if kind == "na":
            values = np.asarray([r.value for r in train])
            y = np.log(np.maximum(values, 1e-6))
            model = RandomForestRegressor(n_estimators=config.numeric_trees, random_state=config.seed,
                                          oob_score=True)
            model.fit(X_train, y)
            whole = all(float(v).is_integer() for v in values)

            def as_answer(log_pred, whole=whole):
                p = np.exp(log_pred)
                return np.maximum(np.round(p), 1.0) if whole else p  # counts: a whole number

            # A forest's mean is a poor MRA guess on skewed answers (counting: many 2s); where the
            # best constant of the training folds beats the forest out of bag, guess that constant.
            from .chance import best_constant, exact_mra

            const = best_constant(values)[0]
            # the constant's own training score is optimistic (chosen on those rows): score it as
            # the forest is scored, on rows it was not chosen on (two halves, each fitted on the other)
            half = np.random.default_rng(config.seed).permutation(len(values)) % 2 == 0
            const_score = float(np.mean([exact_mra(best_constant(values[~m])[0], values[m])
                                         for m in (half, ~half) if m.any() and (~m).any()])) if len(values) > 1 else 0.0
            oob = as_answer(model.oob_prediction_)
            oob_score = float(np.mean([metrics.mean_relative_accuracy(float(p), v) for p, v in zip(oob, values)]))
            pred = as_answer(model.predict(X_test)) if oob_score >= const_score else np.full(len(te), const)
            for i, p in zip(te, pred):
                out[0, i] = out[1, i] = metrics.mean_relative_accuracy(float(p), rows[i].value)
        else:
            y = np.asarray([r.gold for r in train])
            model = RandomForestClassifier(n_estimators=config.choice_trees, random_state=config.seed,
                                           oob_score=True)
            model.fit(X_train, y)
            classes = list(model.classes_)

            def option_probs(r: _Row, row_proba: np.ndarray, classes=classes) -> np.ndarray:
                # only the options this question has can be picked
                return np.asarray([row_proba[classes.index(c)] if c in classes else 0.0
                                   for c in range(len(r.options))])

            oob = np.nan_to_num(model.oob_decision_function_)
            forest = float(np.mean([np.argmax(option_probs(r, o)) == r.gold for r, o in zip(train, oob)]))
            # As for numbers: where the training folds' most frequent answer (per level) beats the
            # forest out of bag, guess it (a prior every blind guesser has).
            const = _ConstantChoice(train)
            use_const = const.accuracy(train) > forest
            proba = model.predict_proba(X_test)
            for j, i in enumerate(te):
                r = rows[i]
                p = const.probs(r) if use_const else option_probs(r, proba[j])
                out[0, i] = p[r.gold]
                out[1, i] = float(int(np.argmax(p)) == r.gold)
        tick()
    return out


def audit_records(records: Sequence[Mapping], config: AuditConfig = DEFAULT_CONFIG) -> tuple[dict, list[dict]]:
    """Audit questions given as dicts (parquet rows). Returns ``(audit.json's dict, bias rows)``."""
    by_type: dict[str, list[int]] = defaultdict(list)
    for i, rec in enumerate(records):
        by_type[audit_type(rec["question_type"])].append(i)
    from .questions import scored_tasks

    order = [t for t in scored_tasks() if t in by_type] + sorted(t for t in by_type if t not in scored_tasks())
    parsed = {i: _parse_row(records[i]) for idx in by_type.values() for i in idx}
    per_task, bias = {}, []
    bar = progress(desc=f"audit ({config.group} folds)", total=len(order) * config.folds, unit="fold")
    try:
        for t in order:
            idx = by_type[t]
            rows = [parsed[i] for i in idx]
            groups = (np.asarray([f"{records[i]['dataset']}/{records[i]['scene_name']}" for i in idx])
                      if config.group == "scene" else None)
            cv = _cross_validate(rows, groups, config, lambda: bar.update(1))
            chance, chance_q = _chance(rows, [records[i] for i in idx])
            score = None if cv is None else float(cv[1].mean())
            per_task[t] = {"score": None if score is None else score * 100, "chance": chance * 100, "n": len(idx)}
            for j, i in enumerate(idx):
                bias.append({"id": records[i]["id"], "question_type": records[i]["question_type"],
                             "s": None if cv is None else float(cv[0, j]), "chance": float(chance_q[j])})
    finally:
        bar.close()
    scored = {t: v for t, v in per_task.items() if v["score"] is not None}
    n = sum(v["n"] for v in scored.values())
    result = {
        "overall": sum(v["score"] * v["n"] for v in scored.values()) / n if n else None,
        "macro": float(np.mean([v["score"] for v in scored.values()])) if scored else None,
        "chance_overall": sum(v["chance"] * v["n"] for v in scored.values()) / n if n else None,
        "chance_macro": float(np.mean([v["chance"] for v in scored.values()])) if scored else None,
        "per_task": per_task, "folds": config.folds, "group": config.group, "seed": config.seed,
        "trees": {"choice": config.choice_trees, "numeric": config.numeric_trees}, "questions": len(records),
    }
    return result, bias


def _records(df) -> list[dict]:
    cols = [c for c in ("id", "dataset", "scene_name", "question_type", "question", "ground_truth", "options",
                        "objects") if c in df.columns]
    return df[cols].to_dict("records")


def audit_frame(df, config: AuditConfig = DEFAULT_CONFIG) -> tuple[dict, list[dict]]:
    """:func:`audit_records` of a questions DataFrame (as :func:`vsgrpo.dataset.read_questions` reads it)."""
    if len(df) == 0:
        raise VsgrpoError("the questions file has no rows to audit")
    for qt in sorted(set(df["question_type"])):
        metrics.answer_kind(qt)  # unknown question types fail before any work
    return audit_records(_records(df), config)


# ---------------------------------------------------------------------------------------------
# output


def format_audit(result: Mapping) -> str:
    """The per-type table printed by ``vsgrpo data audit``."""
    def pct(v):
        return "-" if v is None else f"{v:.1f}"

    lines = [f"{'type':<26} {'n':>6} {'audit':>7} {'chance':>7} {'gap':>6}"]
    for t, v in result["per_task"].items():
        gap = None if v["score"] is None else v["score"] - v["chance"]
        lines.append(f"{t:<26} {v['n']:>6} {pct(v['score']):>7} {pct(v['chance']):>7} "
                     f"{'-' if gap is None else f'{gap:+.1f}':>6}")
    lines.append(f"{'overall (per question)':<26} {result['questions']:>6} {pct(result['overall']):>7} "
                 f"{pct(result['chance_overall']):>7}")
    lines.append(f"{'macro (per type)':<26} {'':>6} {pct(result['macro']):>7} {pct(result['chance_macro']):>7}")
    lines.append(f"text-only random forest, {result['folds']} folds grouped by "
                 f"{'scene' if result['group'] == 'scene' else 'nothing (random)'}, seed {result['seed']}; "
                 "choice: accuracy, numeric: MRA; chance: best constant answer")
    return "\n".join(lines)


def plot_audit(result: Mapping, path: str | os.PathLike) -> None:
    """Per type, the audit's score beside its chance row (a PNG written atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .io import atomic_path

    names = list(result["per_task"])
    score = [result["per_task"][t]["score"] or 0.0 for t in names]
    chance = [result["per_task"][t]["chance"] for t in names]
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(names)), 4.0))
    ax.bar(x - 0.2, score, 0.4, label="text-only audit")
    ax.bar(x + 0.2, chance, 0.4, label="chance (best constant)", color="#bbbbbb")
    ax.set_xticks(x, [re.sub(r"^(object_|obj_)", "", t) for t in names], rotation=30, ha="right")
    ax.set_ylabel("score (%)")
    ax.set_title(f"blind audit ({result['group']} folds): {result['overall']:.1f} vs chance "
                 f"{result['chance_overall']:.1f}" if result["overall"] is not None else "blind audit")
    ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def write_audit(out: str | os.PathLike, result: Mapping, bias: Sequence[Mapping], *, plot: bool = True) -> Path:
    """``audit.json``, ``bias.csv`` and ``audit.png`` under ``out`` (atomic writes)."""
    import csv
    import io as _io

    from .io import atomic_path, ensure_writable_dir, write_json

    folder = ensure_writable_dir(out)
    write_json(folder / "audit.json", result)
    buf = _io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "question_type", "s", "chance"])
    for b in bias:
        w.writerow([b["id"], b["question_type"], "" if b["s"] is None else f"{b['s']:.6f}", f"{b['chance']:.6f}"])
    with atomic_path(folder / "bias.csv") as tmp:
        Path(tmp).write_text(buf.getvalue(), encoding="utf-8")
    if plot:
        plot_audit(result, folder / "audit.png")
    return folder


def audit_file(questions: str | os.PathLike, out: str | os.PathLike, config: AuditConfig = DEFAULT_CONFIG) -> dict:
    """``vsgrpo data audit``: read, audit, write (see the module doc)."""
    from .questions_parquet import read_questions

    df = read_questions(questions)
    result, bias = audit_frame(df, config)
    write_audit(out, result, bias)
    return result


# ---------------------------------------------------------------------------------------------
# iterative bias pruning (``data build --debias``)

PRUNE_STEP = 0.05    # share of a type's questions removed per round (the highest bias scores)
PRUNE_FLOOR = 0.5    # a type keeps at least this share of its questions
PRUNE_MARGIN = 3.0   # a type is done once its audit is within this many points of its chance
PRUNE_ROUNDS = 12


def _audit_subset(records: Sequence[Mapping], idx: Sequence[int], config: AuditConfig) -> tuple[dict, list[dict]]:
    return audit_records([records[i] for i in idx], config)


def prune(records: Sequence[Mapping], config: AuditConfig = DEFAULT_CONFIG, *, seed: int = 0) -> dict:
    """Iterative bias pruning as in the debiasing paper: audit, drop the top :data:`PRUNE_STEP`
    of each type still more than :data:`PRUNE_MARGIN` points above its chance (by bias score
    ``s``), re-audit those types, repeat until every type passes, reaches its floor
    (:data:`PRUNE_FLOOR`) or :data:`PRUNE_ROUNDS` rounds. Types are audited independently, so
    only the pruned ones are audited again.

    Returns ``{"keep": kept indices, "before", "after", "random"}``, the last three audit
    results (``"random"``: the same number of questions per type removed at random from the
    original set, seeded, the control the paper reports beside every pruning)."""
    by_type: dict[str, list[int]] = defaultdict(list)
    for i, rec in enumerate(records):
        by_type[audit_type(rec["question_type"])].append(i)
    kept = {t: list(idx) for t, idx in by_type.items()}
    floor = {t: max(1, math.ceil(PRUNE_FLOOR * len(idx))) for t, idx in by_type.items()}
    step = {t: max(1, int(PRUNE_STEP * len(idx))) for t, idx in by_type.items()}
    before, bias = audit_records(records, config)
    scores = {t: dict(v) for t, v in before["per_task"].items()}
    s_of = {i: b["s"] for i, b in enumerate(bias)}
    rounds = 0
    for rounds in range(1, PRUNE_ROUNDS + 1):
        todo = [t for t, v in scores.items() if v["score"] is not None
                and v["score"] > v["chance"] + PRUNE_MARGIN and len(kept[t]) > floor[t]]
        if not todo:
            rounds -= 1
            break
        for t in todo:
            n = min(step[t], len(kept[t]) - floor[t])
            ranked = sorted(kept[t], key=lambda i: (-s_of[i], i))
            gone = set(ranked[:n])
            kept[t] = [i for i in kept[t] if i not in gone]
            sub = kept[t]
            res, b = _audit_subset(records, sub, config)
            scores[t] = res["per_task"][t]
            s_of.update({i: x["s"] for i, x in zip(sub, b)})
    keep = sorted(i for idx in kept.values() for i in idx)
    after, _ = audit_records([records[i] for i in keep], config)
    rng = np.random.default_rng(seed)
    control = sorted(i for t, idx in by_type.items()
                     for i in rng.choice(idx, size=len(kept[t]), replace=False).tolist())
    random_after, _ = audit_records([records[i] for i in control], config)
    return {"keep": keep, "removed": len(records) - len(keep), "rounds": rounds,
            "removed_per_task": {t: len(by_type[t]) - len(kept[t]) for t in by_type},
            "before": before, "after": after, "random": random_after}


def format_prune(report: Mapping) -> str:
    """Per type: audit before, after bias pruning and after removing as many at random."""
    def pct(v):
        return "-" if v is None else f"{v:.1f}"

    b, a, r = report["before"], report["after"], report["random"]
    head = "".join(f" {h:>7}" for h in ("before", "chance", "pruned", "chance", "random", "chance"))
    lines = [f"  {'type':<26} {'removed':>7}{head}"]
    for t in b["per_task"]:
        cells = "".join(f" {pct(x['per_task'][t][k]):>7}" for x in (b, a, r) for k in ("score", "chance"))
        lines.append(f"  {t:<26} {report['removed_per_task'][t]:>7}{cells}")
    cells = "".join(f" {pct(x[k]):>7}" for x in (b, a, r) for k in ("overall", "chance_overall"))
    lines.append(f"  {'overall (per question)':<26} {report['removed']:>7}{cells}")
    lines.append("  audit = text-only random forest, scene-grouped folds; chance = best constant answer of that set")
    return "\n".join(lines)
