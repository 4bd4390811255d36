"""`data split`: whole groups on one side, reproducible, close to the asked share, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from vsgrpo.errors import VsgrpoError
from vsgrpo.split import MIN_HELDOUT_PER_TYPE, split_questions

SAMPLE = Path(__file__).parent / "data" / "vsibench" / "test-dev.parquet"


def _sides(out: Path):
    return pd.read_parquet(out / "train" / "questions.parquet"), pd.read_parquet(out / "heldout" / "questions.parquet")


@pytest.mark.parametrize("by", ["scene", "video"])
def test_no_group_on_both_sides_and_share_close(tmp_path, by):
    summary = split_questions(SAMPLE, tmp_path, by=by, held_out=0.2, seed=3)
    train, held = _sides(tmp_path)
    src = pd.read_parquet(SAMPLE)
    assert len(train) + len(held) == len(src)
    assert sorted(pd.concat([train, held])["id"]) == sorted(src["id"])
    key = lambda d: set(d["dataset"] + "/" + d["scene_name"])  # noqa: E731
    assert not key(train) & key(held)
    # Whole scenes of about 20 questions each: the share lands within a few questions of 20%.
    assert abs(len(held) / len(src) - 0.2) < 0.01
    assert summary["counts"]["heldout"]["object_counting"] == int((held["question_type"] == "object_counting").sum())
    stored = json.loads((tmp_path / "split.json").read_text())
    assert set(stored["groups"]["heldout"]).isdisjoint(stored["groups"]["train"])


def test_same_seed_same_split_other_seed_other_split(tmp_path):
    split_questions(SAMPLE, tmp_path / "a", seed=1)
    split_questions(SAMPLE, tmp_path / "b", seed=1)
    split_questions(SAMPLE, tmp_path / "c", seed=2)
    ids = {k: sorted(_sides(tmp_path / k)[1]["id"]) for k in "abc"}
    assert ids["a"] == ids["b"] != ids["c"]


def test_site_defaults_to_the_dataset_folder(tmp_path):
    split_questions(SAMPLE, tmp_path, by="site", held_out=0.3, seed=0)
    train, held = _sides(tmp_path)
    assert set(train["dataset"]).isdisjoint(held["dataset"])


def test_site_split_and_small_type_warning(tmp_path):
    df = pd.read_parquet(SAMPLE)
    df["site"] = df["dataset"]  # three "sites"
    q = tmp_path / "q.parquet"
    df.to_parquet(q)
    summary = split_questions(q, tmp_path / "out", by="site", held_out=0.3, seed=0)
    train, held = _sides(tmp_path / "out")
    assert set(train["site"]).isdisjoint(held["site"]) and len(set(held["site"])) >= 1
    few = [t for t, n in summary["counts"]["heldout"].items() if n < MIN_HELDOUT_PER_TYPE]
    assert len(summary["warnings"]) == len(few)


def test_bad_inputs_are_one_line_errors(tmp_path):
    blank = pd.read_parquet(SAMPLE)
    blank["site"] = ""
    blank.to_parquet(tmp_path / "blank.parquet")
    with pytest.raises(VsgrpoError, match="no site"):
        split_questions(tmp_path / "blank.parquet", tmp_path / "x", by="site")
    with pytest.raises(VsgrpoError, match="--held-out"):
        split_questions(SAMPLE, tmp_path / "y", held_out=1.0)
    one = pd.read_parquet(SAMPLE).head(5)
    one = one[one["scene_name"] == one["scene_name"].iloc[0]]
    one.to_parquet(tmp_path / "one.parquet")
    with pytest.raises(VsgrpoError, match="at least two"):
        split_questions(tmp_path / "one.parquet", tmp_path / "z")
    assert not (tmp_path / "x" / "train").exists()


def test_rerun_with_other_settings_is_refused(tmp_path):
    split_questions(SAMPLE, tmp_path, seed=0)
    with pytest.raises(VsgrpoError, match="other settings"):
        split_questions(SAMPLE, tmp_path, seed=1)
    split_questions(SAMPLE, tmp_path, seed=1, overwrite=True)


def test_cli_prints_counts_per_type(tmp_path, capsys):
    from vsgrpo.cli import main

    assert main(["data", "split", str(SAMPLE), "--out", str(tmp_path), "--by", "video", "--held-out", "0.25"]) == 0
    out = capsys.readouterr().out
    assert "object_counting" in out and "held-out" in out
    assert main(["data", "split", str(SAMPLE), "--out", str(tmp_path / "b"), "--held-out", "2"]) == 2
    assert "--held-out" in capsys.readouterr().err
