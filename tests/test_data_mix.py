"""The paper's data mix: ``data build --preset vsi100k`` keeps per-scene, per-task quotas so that each
task's share of the build is VSI-100k's (the paper's counts), on the real VSI-Bench scenes' meta."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from vsgrpo.cli import main
from vsgrpo.dataset import _spread, apply_mix, mix_quotas
from vsgrpo.presets import VSI100K
from vsgrpo.questions import Question, scored_task_of


def _build(meta, out, *extra) -> tuple[pd.DataFrame, dict]:
    assert main(["data", "build", "--preset", "vsi100k", "--meta", str(meta), "--out", str(out), *extra]) == 0
    return pd.read_parquet(out / "questions.parquet"), json.loads((out / "summary.json").read_text())


@pytest.mark.slow
def test_vsi100k_mix_matches_the_paper_on_real_scan_meta(vsibench_dir, tmp_path, capsys):
    df, summary = _build(vsibench_dir, tmp_path / "a")
    text = capsys.readouterr().out
    assert summary["scenes"] == 192
    paper = VSI100K["paper_counts"]
    ours = df["question_type"].map(scored_task_of).value_counts()
    assert set(ours.index) == set(paper)
    for task, n in paper.items():
        share, paper_share = ours[task] / len(df), n / sum(paper.values())
        assert abs(share - paper_share) <= 0.25 * paper_share, (task, share, paper_share)
    # Taking every question per scene would not give this: direction alone would be most of the build.
    assert ours["object_abs_distance"] > ours["object_rel_direction"] * 5
    # The summary prints ours beside the paper's, as counts and as shares.
    row = next(line for line in text.splitlines() if line.strip().startswith("object_abs_distance ")
               and "75000" in line)
    assert row.split()[1:] == [str(ours["object_abs_distance"]), f"{ours['object_abs_distance'] / len(df):.1%}",
                               "75000", f"{75000 / 116900:.1%}"]
    # Reproducible from the seed: a second build is the same table; another seed draws other questions.
    again, _ = _build(vsibench_dir, tmp_path / "b")
    pd.testing.assert_frame_equal(df, again)
    other, _ = _build(vsibench_dir, tmp_path / "c", "--seed", "1")
    assert set(other["question"]) != set(df["question"])


def _q(qt: str, scene: int, i: int) -> Question:
    return Question("d", f"s{scene}", qt, f"{qt} {scene} {i}", "1")


def test_quotas_follow_the_target_shares_and_spread_over_scenes():
    # The scarcest task relative to its share sets the size: b has 30 for a target share of 1/2.
    assert mix_quotas({"a": 1000, "b": 30, "c": 5}, {"a": 10, "b": 10, "gone": 5}) == {"a": 30, "b": 30}
    rng = np.random.default_rng(0)
    take = _spread([100, 1, 0, 7, 100], 30, rng)
    assert sum(take) == 30 and take[1] == 1 and take[2] == 0 and take[3] == 7 and abs(take[0] - take[4]) <= 1
    # Types scored as one task (the direction levels) share its quota; scenes are filled evenly.
    picked = {"object_rel_direction_easy": [[_q("object_rel_direction_easy", s, i) for i in range(20)]
                                            for s in range(3)],
              "object_rel_direction_hard": [[_q("object_rel_direction_hard", s, i) for i in range(20)]
                                            for s in range(3)],
              "object_counting": [[_q("object_counting", s, i) for i in range(2)] for s in range(3)]}
    out = apply_mix(picked, {"object_counting": 1, "object_rel_direction": 2}, seed=0)
    assert sum(map(len, out["object_counting"])) == 6
    per_scene = [len(e) + len(h) for e, h in zip(out["object_rel_direction_easy"], out["object_rel_direction_hard"])]
    assert per_scene == [4, 4, 4]
    assert apply_mix(picked, {"object_counting": 1, "object_rel_direction": 2}, seed=0) == out
