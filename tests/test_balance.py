"""`data build` answer balancing: a blind constant answer scores near chance, every answer still verifies."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from vsgrpo.chance import compute_baselines
from vsgrpo.cli import main
from vsgrpo.dataset import build_questions, load_scenes, questions_table, verify_questions
from vsgrpo.questions import BuildConfig

TASKS = ("object_counting", "object_abs_distance", "object_size_estimation", "room_size_estimation",
         "object_rel_distance", "object_rel_direction_easy", "object_rel_direction_medium", "object_rel_direction_hard")
# VSI-Bench's published "chance (frequency)" row for the numeric tasks (percent).
PUBLISHED_FREQUENCY = {"object_counting": 62.1, "object_abs_distance": 32.0, "object_size_estimation": 29.9,
                       "room_size_estimation": 33.1}


@pytest.fixture(scope="module")
def index(vsibench_dir):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_scenes(vsibench_dir)  # the 192 released scenes


def _chance(questions):
    return compute_baselines({"question_type": q.question_type, "ground_truth": q.ground_truth,
                              "options": q.options} for q in questions)


@pytest.fixture(scope="module")
def builds(index):
    return {b: build_questions(index, BuildConfig(tasks=TASKS, balance=b)) for b in (False, True)}


def test_balanced_build_leaves_no_strong_constant_answer(builds, index):
    plain, balanced = _chance(builds[False]), _chance(builds[True])
    for qt in ("object_rel_direction_easy", "object_rel_direction_medium", "object_rel_direction_hard",
               "object_rel_distance"):
        assert balanced["frequency"][qt] <= balanced["random"][qt] + 5, qt
    # Unbalanced, the direction prior is far above chance (as on VSI-Bench: 47.9 vs 36.1).
    assert plain["frequency"]["object_rel_direction"] > plain["random"]["object_rel_direction"] + 8
    for qt, published in PUBLISHED_FREQUENCY.items():  # balancing flattens the best constant (numeric)
        if qt == "object_size_estimation":
            continue  # decorrelation trades a higher constant for no category prior (test below)
        assert balanced["best_constant"][qt] < published, qt
        assert balanced["best_constant"][qt] <= plain["best_constant"][qt] + 1e-9, qt
    # Balancing chooses among valid questions; it never changes one: every answer re-derives.
    df = questions_table(builds[True]).to_pandas()
    report = verify_questions(index, df)
    assert report["mismatches"] == [] and sum(r["checked"] for r in report["tasks"].values()) == len(df)
    # It keeps most of the data (trimming stops at 40% of a task, decorrelation at half of the rest).
    by_type = df.groupby("question_type").size()
    plain_by_type = questions_table(builds[False]).to_pandas().groupby("question_type").size()
    for qt in TASKS:
        assert by_type[qt] >= 0.3 * plain_by_type[qt] - 1, qt


def _category_prior_gap(questions, qt):
    """Mean MRA of guessing each size from the same category in other scenes, minus the best constant's."""
    import numpy as np

    from vsgrpo.chance import best_constant
    from vsgrpo.metrics import mean_relative_accuracy
    from vsgrpo.questions.balance import _na_prior

    qs = [q for q in questions if q.question_type == qt]
    values = [q.answer_value for q in qs]
    prior = _na_prior(qs, list(range(len(qs))))
    return float(np.mean([mean_relative_accuracy(float(p), v) for p, v in zip(prior, values)])) - best_constant(values)[1]


def test_decorrelation_removes_the_category_size_prior(builds):
    # Unbalanced, the category alone tells the size (the audit's object-size shortcut) ...
    assert _category_prior_gap(builds[False], "object_size_estimation") > 0.2
    # ... balanced, it is no better than one constant for every object (or the budget ran out on
    # a task that cannot be decorrelated further: never on these scenes).
    assert _category_prior_gap(builds[True], "object_size_estimation") <= 0.01 + 1e-9


def test_letters_stay_balanced(builds):
    df = questions_table(builds[True]).to_pandas()
    for qt, g in df[df.options.notna()].groupby("question_type"):
        counts = g.ground_truth.value_counts()
        assert counts.max() - counts.min() <= 1, qt


def test_cli_summary_prints_chance_and_no_balance_is_the_old_build(tmp_path, vsibench_dir, capsys):
    args = ["data", "build", "--meta", str(vsibench_dir), "--tasks", "object_counting,object_rel_direction_hard"]
    capsys.readouterr()
    assert main([*args, "--out", str(tmp_path / "bal")]) == 0
    out = capsys.readouterr().out
    assert "freq." in out and "object_rel_direction_hard" in out
    summary = json.loads((tmp_path / "bal" / "summary.json").read_text())
    assert summary["config"]["balance"] is True
    assert set(summary["chance"]) == {"random", "frequency", "overall", "answers"}
    assert main([*args, "--out", str(tmp_path / "plain"), "--no-balance"]) == 0
    plain = pd.read_parquet(tmp_path / "plain" / "questions.parquet")
    counts = plain[plain.question_type == "object_counting"].ground_truth.astype(int)
    assert counts.min() >= 2  # VSI-Bench's rule: only categories present more than once
    balanced = pd.read_parquet(tmp_path / "bal" / "questions.parquet")
    assert (balanced[balanced.question_type == "object_counting"].ground_truth == "1").any()
