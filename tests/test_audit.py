"""`vsgrpo data audit`: the text-only stress test finds real shortcuts and leaks no labels."""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import pytest

from vsgrpo.audit import AuditConfig, _ChoiceStats, _NumericStats, _parse_row, audit_frame
from vsgrpo.cli import main

# Fewer trees than the paper's 100 / 200 keep the suite fast; the CLI uses the paper's.
FAST = dict(choice_trees=25, numeric_trees=40)


@pytest.fixture(scope="module")
def sample(vsibench_dir):
    return pd.read_parquet(vsibench_dir / "test-dev.parquet")


def _permuted(df: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Answers shuffled within each question type (and option count, so a letter stays valid):
    any score above chance would be a leak."""
    rng = np.random.default_rng(seed)
    out = df.copy()
    n_opts = out["options"].map(lambda o: 0 if o is None else len(o))
    for _, idx in out.groupby([out["question_type"], n_opts]).groups.items():
        out.loc[idx, "ground_truth"] = rng.permutation(out.loc[idx, "ground_truth"].to_numpy())
    return out


@pytest.mark.parametrize("group", ["scene", "none"])
def test_permuted_answers_score_no_better_than_chance(sample, group):
    half = sample[sample["scene_name"].isin(sorted(set(sample["scene_name"]))[::2])]  # 96 scenes: faster
    result, bias = audit_frame(_permuted(half), AuditConfig(group=group, **FAST))
    assert result["overall"] <= result["chance_overall"] + 1.0, result
    for t, v in result["per_task"].items():
        # 60-330 questions per type: allow sampling noise, nothing like a shortcut
        assert v["score"] <= v["chance"] + 5.0, (t, v)
    assert len(bias) == len(half)


def test_finds_vsibench_object_size_shortcut(sample):
    result, bias = audit_frame(sample, AuditConfig(**FAST))
    size = result["per_task"]["object_size_estimation"]
    assert size["n"] == int((sample["question_type"] == "object_size_estimation").sum())
    assert size["score"] >= size["chance"] + 20, size  # the paper: 61.6 against 29.9
    assert result["overall"] > result["chance_overall"] + 2
    # relative direction's three levels are audited as one type
    assert "object_rel_direction" in result["per_task"]
    assert not any(t.startswith("object_rel_direction_") for t in result["per_task"])
    s = np.asarray([b["s"] for b in bias if b["question_type"] == "object_size_estimation"])
    assert abs(s.mean() * 100 - size["score"]) < 1e-6  # numeric: s is the question's held-out MRA


def test_statistics_come_from_training_rows_only(sample):
    rows = [_parse_row(r) for r in sample[sample["question_type"] == "object_size_estimation"].to_dict("records")]
    train = [r for r in rows if r.objects["category"] != "sofa"]
    held = next(r for r in rows if r.objects["category"] == "sofa")
    st = _NumericStats(train)
    # a category absent from the training rows gets no statistics of its own: count 0, the prior
    assert st.row(held)[2:] == [0.0, st.mu, st.sd]
    assert _NumericStats(rows).row(held)[2] > 0
    mc = [_parse_row(r) for r in sample[sample["question_type"] == "object_rel_distance"].to_dict("records")]
    cs = _ChoiceStats(mc[:10])
    unseen = "no such object"
    assert cs.rate((), unseen) == pytest.approx(cs.prior)


def test_cli_writes_json_csv_and_chart(tmp_path, sample, capsys):
    small = sample[sample["scene_name"].isin(sorted(set(sample["scene_name"]))[:40])]
    q = tmp_path / "q.parquet"
    small.to_parquet(q)
    out = tmp_path / "audit"
    rc = main(["data", "audit", "--questions", str(q), "--out", str(out), "--folds", "3", "--group", "none"])
    stdout = capsys.readouterr().out
    assert rc == 0 and "object_size_estimation" in stdout and "chance" in stdout
    result = json.loads((out / "audit.json").read_text())
    assert set(result) >= {"overall", "macro", "chance_overall", "per_task", "folds", "group"}
    assert result["folds"] == 3 and result["group"] == "none"
    assert sum(v["n"] for v in result["per_task"].values()) == len(small)
    weighted = sum(v["score"] * v["n"] for v in result["per_task"].values()) / len(small)
    assert result["overall"] == pytest.approx(weighted)
    with open(out / "bias.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(small) and set(rows[0]) == {"id", "question_type", "s", "chance"}
    assert all(0.0 <= float(r["s"]) <= 1.0 for r in rows)
    assert (out / "audit.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_errors_are_one_line(tmp_path, capsys):
    rc = main(["data", "audit", "--questions", str(tmp_path / "missing.parquet"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("vsgrpo: error:") and "not found" in err


def test_prune_removes_the_shortcut_and_reports_a_random_control(sample):
    from vsgrpo.audit import PRUNE_FLOOR, PRUNE_MARGIN, _records, prune

    sizes = sample[sample["question_type"].isin(["object_size_estimation", "room_size_estimation"])]
    records = _records(sizes)
    rep = prune(records, AuditConfig(**FAST), seed=1)
    before, after, rnd = (rep[k]["per_task"]["object_size_estimation"] for k in ("before", "after", "random"))
    n = before["n"]
    removed = rep["removed_per_task"]["object_size_estimation"]
    assert removed > 0 and after["n"] == rnd["n"] == n - removed  # the control removes as many
    assert rep["removed"] == sum(rep["removed_per_task"].values()) == len(records) - len(rep["keep"])
    assert after["n"] >= PRUNE_FLOOR * n
    # pruning by bias score removes the shortcut far better than removing as many at random
    assert after["score"] < before["score"] - 10
    assert after["score"] < rnd["score"] - 10
    assert after["score"] <= after["chance"] + PRUNE_MARGIN or after["n"] <= PRUNE_FLOOR * n + n * 0.05
    # room size has no shortcut: nothing removed
    assert rep["removed_per_task"]["room_size_estimation"] == 0


def test_build_debias_and_audit_in_summary(tmp_path, example_meta, capsys):
    out = tmp_path / "b"
    rc = main(["data", "build", "--meta", str(example_meta), "--out", str(out), "--per-scene", "all",
               "--tasks", "object_size_estimation,object_counting", "--debias", "--audit"])
    stdout = capsys.readouterr().out
    assert rc == 0 and "removed at random" in stdout and "text-only audit" in stdout
    summary = json.loads((out / "summary.json").read_text())
    df = pd.read_parquet(out / "questions.parquet")
    deb = summary["debias"]
    assert deb["before"]["questions"] == len(df) + deb["removed"]
    assert summary["audit"]["questions"] == len(df) == deb["after"]["questions"]
    # a rebuild without --debias into the same folder is refused (other settings)
    rc = main(["data", "build", "--meta", str(example_meta), "--out", str(out), "--per-scene", "all",
               "--tasks", "object_size_estimation,object_counting"])
    assert rc == 2 and "--debias" in capsys.readouterr().err
