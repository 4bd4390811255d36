"""The own-site path of docs/own-site.md, end to end on CPU: a team's videos (here three procedural rooms
standing in for phone videos) with hand-written questions of its own types (examples/own_site/), then
import, split by video, evaluate the base model, train, evaluate again, and compare in one report."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from vsgrpo.cli import main

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "own_site" / "questions.jsonl"
# The rooms the example's questions were written about (docs/own-site.md, "Worked example").
SYNTH = ["--scenes", "3", "--seed", "7", "--frames", "60", "--size", "160x120", "--fps", "6"]


@pytest.mark.slow
def test_own_site_path_end_to_end(tiny_model, tmp_path, capsys):
    root = tmp_path / "site"
    assert main(["data", "synth", *SYNTH, "--out", str(root)]) == 0
    videos = root / "videos"
    rows = [json.loads(x) for x in EXAMPLE.read_text().splitlines()]
    meta = json.loads((root / "meta" / "synthetic_meta_info.json").read_text())
    # The hand-written counts are still true of the rooms (the example and the generator agree).
    for r in rows:
        if r["question_type"] == "object_counting":
            scene = Path(r["video"]).stem
            category = r["question"].removeprefix("How many ").split("(s)")[0]
            assert str(meta[scene]["object_counts"][category]) == r["answer"], r

    # The file is what `data annotate` writes: its store loads it unchanged.
    from vsgrpo.annotate import AnnotationStore

    ann = tmp_path / "annotations"
    ann.mkdir()
    shutil.copy(EXAMPLE, ann / "questions.jsonl")
    assert len(AnnotationStore(ann, videos).rows) == len(rows)

    imported = tmp_path / "imported"
    assert main(["data", "import", "--format", "jsonl", "--input", str(ann / "questions.jsonl"),
                 "--videos", str(videos), "--out", str(imported)]) == 0
    df = pd.read_parquet(imported / "questions.parquet")
    assert len(df) == len(rows) and {"site_distance", "site_nearest"} <= set(df["question_type"])

    split = tmp_path / "split"
    assert main(["data", "split", str(imported / "questions.parquet"), "--out", str(split), "--by", "video",
                 "--held-out", "0.34", "--seed", "0"]) == 0
    train_q, held_q = split / "train" / "questions.parquet", split / "heldout" / "questions.parquet"
    assert set(pd.read_parquet(train_q)["video"]).isdisjoint(pd.read_parquet(held_q)["video"])

    common = ["--questions", str(held_q), "--videos", str(videos), "--frames", "4", "--max-new-tokens", "8"]
    assert main(["eval", "run", "--model", str(tiny_model), *common, "--out", str(tmp_path / "base")]) == 0
    run = tmp_path / "grpo"
    assert main(["train", "grpo", "--config", str(REPO / "recipes/tiny/grpo.yaml"), f"model={tiny_model}",
                 f"data={train_q}", f"video_root={videos}", f"output_dir={run}", "train_questions=4"]) == 0
    assert main(["eval", "run", "--model", str(run / "final"), *common, "--out", str(tmp_path / "grpo-eval")]) == 0
    capsys.readouterr()
    assert main(["eval", "report", str(tmp_path / "base"), str(tmp_path / "grpo-eval"),
                 "--out", str(tmp_path / "report")]) == 0
    header = (tmp_path / "report" / "report.md").read_text()
    for column in ("site_distance", "site_nearest"):
        assert column in header  # the team's own types are columns of their own
    results = json.loads((tmp_path / "grpo-eval" / "results.json").read_text())
    assert 0.0 <= results["overall"] <= 100.0 and results["count"] == len(pd.read_parquet(held_q))
