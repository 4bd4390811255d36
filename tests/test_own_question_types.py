"""Question types of a team's own (``question_kind`` numeric / choice): imported, scored by MRA or accuracy
in rewards and `eval score`, shown as their own column; nothing assumes VSI-Bench's eight types."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from vsgrpo import question_types
from vsgrpo.cli import main
from vsgrpo.video import write_video


@pytest.fixture
def site(tmp_path):
    videos = tmp_path / "videos"
    rng = np.random.default_rng(1)
    for rel in ("site_a/walk1.mp4", "site_a/walk2.mp4", "site_b/dock.mp4"):
        write_video(videos / rel, rng.integers(0, 255, size=(6, 32, 32, 3), dtype=np.uint8), fps=3.0)
    rows = [
        {"video": "site_a/walk1.mp4", "question_type": "site_distance", "question_kind": "numeric",
         "question": "How far is the forklift bay from the door (in meters)?", "answer": "12.5"},
        {"video": "site_a/walk2.mp4", "question_type": "site_distance", "question_kind": "numeric",
         "question": "How far is the rack from the door (in meters)?", "answer": "4"},
        {"video": "site_b/dock.mp4", "question_type": "site_nearest", "question_kind": "choice",
         "question": "Which shelf is nearest the exit?", "options": ["A. red", "B. blue"], "answer": "B"},
        {"video": "site_b/dock.mp4", "question_type": "object_counting",
         "question": "How many pallet(s) are in this room?", "answer": "3"},
        {"video": "site_b/dock.mp4", "question_type": "site_mystery", "question": "What?", "answer": "3"},
    ]
    src = tmp_path / "questions.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp_path, videos, src


def test_import_score_and_report_own_types(site, capsys):
    tmp, videos, src = site
    out = tmp / "imported"
    assert main(["data", "import", "--format", "jsonl", "--input", str(src), "--videos", str(videos),
                 "--out", str(out)]) == 0
    df = pd.read_parquet(out / "questions.parquet")
    assert df["question_type"].tolist() == ["site_distance", "site_distance", "site_nearest", "object_counting"]
    assert df["question_kind"].tolist()[:3] == ["numeric", "numeric", "choice"] and pd.isna(df["question_kind"][3])
    skipped = [json.loads(x) for x in (out / "skipped.jsonl").read_text().splitlines()]
    assert len(skipped) == 1 and "question_kind" in skipped[0]["reason"]
    # A fresh registry (another process) learns the types from the file itself.
    for name in ("site_distance", "site_nearest"):
        question_types.unregister_type(name)
    ids = df["id"].tolist()
    preds = tmp / "preds.jsonl"
    preds.write_text("".join(json.dumps({"id": i, "prediction": p}) + "\n"
                             for i, p in zip(ids, ["12.5", "8", "B", "3"])))
    capsys.readouterr()
    assert main(["eval", "score", "--questions", str(out / "questions.parquet"), "--predictions", str(preds),
                 "--out", str(tmp / "scored.json")]) == 0
    results = json.loads((tmp / "scored.json").read_text())
    scores = results["scores"]
    # 12.5 exact -> 1.0; 8 against 4 -> MRA 0 (relative error 1); mean 50.
    assert scores["site_distance"] == pytest.approx(50.0)
    assert scores["site_nearest"] == pytest.approx(100.0)
    assert scores["object_counting"] == pytest.approx(100.0)
    from vsgrpo.eval.report import results_table

    table = results_table({"run": results})
    header = table.splitlines()[0]
    assert "site_distance" in header and "site_nearest" in header  # their own columns


def test_rewards_score_own_types_like_eval():
    from vsgrpo.metrics import score_prediction
    from vsgrpo.rewards import accuracy_reward

    question_types.declare_own_type("site_distance", "numeric")
    question_types.declare_own_type("site_nearest", "choice")
    reward = accuracy_reward(na_shape="metric")
    r = reward(None, ["<answer>11</answer>", "B", "A"], question_type=["site_distance", "site_nearest", "site_nearest"],
               ground_truth=["10", "B", "B"], options=[None, ["A. red", "B. blue"], ["A. red", "B. blue"]])
    assert r == [score_prediction("11", "10", "site_distance"), 1.0, 0.0]
    assert r[0] == pytest.approx(0.9)


def test_conflicting_kind_is_refused():
    from vsgrpo.errors import VsgrpoError

    with pytest.raises(VsgrpoError, match="object_counting"):
        question_types.declare_own_type("object_counting", "choice")
    with pytest.raises(VsgrpoError, match="question_kind"):
        question_types.declare_own_type("x_y", "ordinal")
