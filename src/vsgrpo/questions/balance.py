"""Answer balancing for ``vsgrpo data build``: questions a blind answer prior cannot answer.

VSI-Bench balances only the correct *letter*; its answers themselves are skewed (a constant
"2" scores 62.1 on counting, "left"-type guesses 47.9 on relative direction), so a model can
look spatially competent by learning the answer prior. With balancing on (the default), the
builder chooses *which* valid questions to keep so that this prior is weak, without changing
any question or answer (``data verify`` still re-derives every one):

1. **Selection.** Per task, the per-scene cap is filled round by round across all scenes; each
   scene takes, among its remaining candidates, one whose answer is rarest so far in the task
   (multiple choice: the answer text, "left"/"back-right"/a category; numeric: a bin of width
   :data:`NA_BIN` in log scale, so 2.0 and 2.2 m count as alike). Ties are broken at random
   from the build seed.
2. **Trimming.** Multiple-choice tasks with a closed answer vocabulary (every question offers
   the same choices: the relative-direction levels) drop questions of over-represented answers
   until the most frequent answer's share is within :data:`MCA_TOLERANCE` of ``1 / #choices``.
   Numeric tasks drop questions nearest the best constant answer until that constant's mean
   MRA (:func:`vsgrpo.chance.best_constant`) is at most :data:`NA_TARGET`, under every
   value of VSI-Bench's published frequency row. Either stops once :data:`MAX_DROP` of the task's questions are gone, so
   a scene set whose candidates cannot be balanced keeps most of its data (the build summary
   prints each task's chance value, so what remains is visible).

Letters are balanced afterwards by :class:`vsgrpo.questions.options.LetterBalancer`, as before.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from .base import Question

NA_BIN = 0.2          # log-width of a numeric answer bin (a factor of e^0.2 = 1.22)
MCA_TOLERANCE = 0.02  # closed-vocabulary MCA: most frequent answer share <= 1/#choices + this
# Numeric: trim until no constant answer reaches this mean MRA: under the lowest value of
# VSI-Bench's published "chance (frequency)" row (Size 29.9; Count 62.1, AbsDist 32.0, Room 33.1).
NA_TARGET = 0.29
MAX_DROP = 0.4        # trimming never removes more than this share of a task's selected questions


def answer_key(kind: str, q: Question):
    """What balancing counts: the answer text (MCA) or the log bin of the value (NA)."""
    if kind == "MCA":
        return q.answer
    v = q.answer_value if q.answer_value is not None else float(q.answer)
    return math.floor(math.log(v) / NA_BIN) if v > 0 else -(1 << 30)


def select(kind: str, pools: Sequence[Sequence[Question]], cap: int | None,
           rng: np.random.Generator) -> list[list[int]]:
    """Indices chosen from each scene's candidates (``pools[i]``), at most ``cap`` per scene,
    filled round by round with the rarest answer so far. Returned sorted (candidate order)."""
    if cap is None:  # every valid question is kept: nothing to choose (trimming still applies)
        return [list(range(len(p))) for p in pools]
    keys = [[answer_key(kind, q) for q in pool] for pool in pools]
    limit = [min(cap, len(p)) for p in pools]
    left = [list(range(len(p))) for p in pools]
    chosen: list[list[int]] = [[] for _ in pools]
    counts: Counter = Counter()
    active = [i for i in range(len(pools)) if limit[i] > 0]
    while active:
        for j in rng.permutation(len(active)).tolist():
            i = active[j]
            low = min(counts[keys[i][k]] for k in left[i])
            options = [k for k in left[i] if counts[keys[i][k]] == low]
            k = options[int(rng.integers(len(options)))]
            left[i].remove(k)
            chosen[i].append(k)
            counts[keys[i][k]] += 1
        active = [i for i in active if len(chosen[i]) < limit[i]]
    return [sorted(c) for c in chosen]


def _closed_choices(questions: Sequence[Question]) -> int | None:
    """The number of choices when every question offers the same set of answer texts."""
    sets = {frozenset(q.choices or ()) for q in questions}
    if len(sets) != 1:
        return None
    n = len(next(iter(sets)))
    return n if n > 1 else None


def trim(kind: str, questions: Sequence[Question], rng: np.random.Generator) -> list[int]:
    """Indices of ``questions`` (one task's selection) to keep after trimming (see module doc)."""
    keep = list(range(len(questions)))
    if not questions:
        return keep
    budget = int(MAX_DROP * len(questions))
    if kind == "MCA":
        n_choices = _closed_choices(questions)
        if n_choices is None:
            return keep
        share = 1 / n_choices + MCA_TOLERANCE
        while budget > 0:
            counts = Counter(questions[i].answer for i in keep)
            top, n = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
            if n / len(keep) <= share:
                break
            # Removing r of the top answer's questions gives (n - r) / (N - r) <= share.
            r = min(budget, max(1, math.ceil((n - share * len(keep)) / (1 - share))))
            victims = [i for i in keep if questions[i].answer == top]
            drop = set(rng.choice(len(victims), size=min(r, len(victims)), replace=False).tolist())
            keep = [i for i in keep if i not in {victims[k] for k in drop}]
            budget -= len(drop)
        return keep
    from ..chance import best_constant

    values = np.asarray([q.answer_value if q.answer_value is not None else float(q.answer) for q in questions])
    while budget > 0 and len(keep) > 1:
        c, score = best_constant(values[keep])
        if score <= NA_TARGET:
            break
        # Drop the questions the constant scores best on (nearest first, ties at random), 1% at a
        # time so that a large task needs at most about a hundred rounds.
        step = min(budget, max(1, len(keep) // 100))
        rel = np.abs(c - values[keep]) / values[keep]
        order = np.lexsort((rng.random(len(keep)), rel))[:step]
        gone = {keep[k] for k in order.tolist()}
        keep = [i for i in keep if i not in gone]
        budget -= len(gone)
    return keep


# ---------------------------------------------------------------------------------------------
# 3. Decorrelation: what the question names must not give the answer away


PRIOR_MARGIN = 0.01    # the object prior may beat the task's chance by at most this (score in [0, 1])
PRIOR_MAX_DROP = 0.5   # decorrelation never removes more than this share of a task's questions


def _scene(q: Question) -> tuple[str, str]:
    return q.dataset, q.scene_name


def _value(q: Question) -> float:
    return float(q.answer_value if q.answer_value is not None else q.answer)


def _na_prior(questions: Sequence[Question], keep: list[int]) -> np.ndarray:
    """Per kept question, the answer guessed from its named objects alone: the smoothed geometric
    mean of the answers of the same objects in *other* scenes (the global one when none)."""
    logs = {i: math.log(max(_value(questions[i]), 1e-6)) for i in keep}
    mu = float(np.mean(list(logs.values())))
    tot: dict = {}
    per_scene: dict = {}
    for i in keep:
        k = tuple(sorted(questions[i].objects))
        s, n = tot.get(k, (0.0, 0))
        tot[k] = (s + logs[i], n + 1)
        key = (k, _scene(questions[i]))
        s, n = per_scene.get(key, (0.0, 0))
        per_scene[key] = (s + logs[i], n + 1)
    out = []
    for i in keep:
        k = tuple(sorted(questions[i].objects))
        s, n = tot[k]
        s2, n2 = per_scene[(k, _scene(questions[i]))]
        s, n = s - s2, n - n2
        out.append(math.exp((s + mu) / (n + 1)))
    return np.asarray(out)


def _mca_prior(questions: Sequence[Question], keep: list[int]) -> np.ndarray:
    """Per kept question, whether the option most often right for its first named object (then
    overall) in *other* scenes is its answer (1.0) or not (0.0)."""
    won: Counter = Counter()
    offered: Counter = Counter()
    won_s: Counter = Counter()
    offered_s: Counter = Counter()
    for i in keep:
        q = questions[i]
        ctx, sc = (q.objects[0] if q.objects else None), _scene(q)
        for w in q.choices or ():
            for key in ((ctx, w), (None, w)):
                offered[key] += 1
                offered_s[(key, sc)] += 1
        for key in ((ctx, q.answer), (None, q.answer)):
            won[key] += 1
            won_s[(key, sc)] += 1
    out = []
    for i in keep:
        q = questions[i]
        ctx, sc = (q.objects[0] if q.objects else None), _scene(q)
        choices = list(q.choices or ())
        prior = 1 / max(1, len(choices))

        def rate(key, sc=sc, prior=prior):
            n = offered[key] - offered_s[(key, sc)]
            return (won[key] - won_s[(key, sc)] + prior) / (n + 1)

        best = max(choices, key=lambda w: (rate((ctx, w)), rate((None, w)), w))
        out.append(float(best == q.answer))
    return np.asarray(out)


def decorrelate(kind: str, questions: Sequence[Question], rng: np.random.Generator) -> list[int]:
    """Indices of ``questions`` (one task's balanced selection) to keep so that a guess from the
    named objects alone, learnt on other scenes (leave-one-scene-out), scores at most
    :data:`PRIOR_MARGIN` above the task's chance: the questions that guess answers best go first,
    a few at a time, at most :data:`PRIOR_MAX_DROP` of them. Numeric: the guess is the objects'
    mean answer elsewhere, chance the best constant (MRA); multiple choice: the option most often
    right for the first named object elsewhere, chance ``1 / #choices`` (letters are balanced
    afterwards)."""
    from ..chance import best_constant
    from ..metrics import mean_relative_accuracy

    keep = list(range(len(questions)))
    if len(keep) < 4 or not any(q.objects for q in questions):
        return keep
    budget = int(PRIOR_MAX_DROP * len(keep))
    while budget > 0 and len(keep) > 4:
        if kind == "MCA":
            gain = _mca_prior(questions, keep)
            chance = float(np.mean([1 / max(1, len(questions[i].choices or ())) for i in keep]))
            advantage = gain - chance
        else:
            values = np.asarray([_value(questions[i]) for i in keep])
            c, chance = best_constant(values)
            prior = _na_prior(questions, keep)
            gain = np.asarray([mean_relative_accuracy(float(p), v) for p, v in zip(prior, values)])
            advantage = gain - np.asarray([mean_relative_accuracy(c, v) for v in values])
        if gain.mean() <= chance + PRIOR_MARGIN:
            break
        step = min(budget, max(1, len(keep) // 50))
        order = np.lexsort((rng.random(len(keep)), -advantage))[:step]
        gone = {keep[k] for k in order.tolist()}
        keep = [i for i in keep if i not in gone]
        budget -= len(gone)
    return keep
