"""`eval report` shows both averages with their intervals, VSI-Bench-Debiased beside VSI-Bench,
and warns loudly when runs were scored on different question sets."""

from __future__ import annotations

import json

import pytest

from vsgrpo.cli import main
from vsgrpo.eval.config import ScoringConfig
from vsgrpo.eval.report import QUESTION_IDS_FILE
from vsgrpo.eval.scoring import load_questions, score_predictions
from vsgrpo.io import write_json


@pytest.fixture(scope="module")
def questions(vsibench_dir):
    return load_questions(vsibench_dir / "test-dev-full.parquet")


def _run(folder, questions, ids):
    """A finished run folder (results.json + question_ids.json) answering ``ids`` right when id % 2 == 0."""
    folder.mkdir(parents=True)
    preds = {q["id"]: (q["ground_truth"] if q["id"] % 2 == 0 else "Z") for q in questions if q["id"] in ids}
    chosen = [q for q in questions if q["id"] in ids]
    write_json(folder / "results.json", score_predictions(chosen, preds, ScoringConfig()))
    write_json(folder / QUESTION_IDS_FILE, {"ids": sorted(ids)})
    return folder


def _report(capsys, *dirs, out=None):
    capsys.readouterr()
    assert main(["eval", "report", *map(str, dirs), *(["--out", str(out)] if out else [])]) == 0
    return capsys.readouterr()


def test_runs_on_different_question_sets_are_flagged(questions, tmp_path, capsys):
    all_ids = [q["id"] for q in questions]
    a = _run(tmp_path / "a", questions, set(all_ids[:52]))
    b = _run(tmp_path / "b", questions, set(all_ids[32:52]))
    cap = _report(capsys, a, b, out=tmp_path / "cmp")
    for text in (cap.err, cap.out, (tmp_path / "cmp" / "report.md").read_text()):
        assert "different question sets" in text
        assert "a 52 questions" in text and "b 20 questions" in text and "20 in common" in text


def test_same_question_set_no_warning_both_averages_and_intervals(questions, tmp_path, capsys):
    ids = {q["id"] for q in questions}
    a = _run(tmp_path / "a", questions, ids)
    b = _run(tmp_path / "b", questions, ids)
    cap = _report(capsys, a, b)
    assert "different question sets" not in cap.err + cap.out
    header = cap.out.splitlines()[0].split(" | ")
    assert header[1:3] == ["Avg", "Avg/q"]
    assert "mean over the tasks" in cap.out and "mean over the questions" in cap.out
    # Scores carry their 95% interval, and the full release gives a VSI-Bench-Debiased row per run.
    res = json.loads((a / "results.json").read_text())
    lo, hi = res["ci95"]["overall"]
    row = next(line for line in cap.out.splitlines() if line.startswith("| a |"))
    assert f"{res['overall']:.1f} [{lo:.1f}, {hi:.1f}]" in row
    deb = next(line for line in cap.out.splitlines() if line.startswith("| a (VSI-Bench-Debiased) |"))
    assert f"{res['debiased']['overall']:.1f} [" in deb and f"| {res['debiased']['count']} |" in deb


def test_quickstart_report_shows_intervals(questions, tmp_path):
    from vsgrpo.quickstart.report import build_report

    preds = {q["id"]: (q["ground_truth"] if q["id"] % 2 == 0 else "Z") for q in questions}
    res = score_predictions(questions, preds, ScoringConfig())
    write_json(tmp_path / "base.json", res)
    md_path, html_path = build_report({"title": "t", "evals": {"base": "base.json"}}, tmp_path)
    lo, hi = res["ci95"]["overall"]
    cell = f"{res['overall']:.1f} [{lo:.1f}, {hi:.1f}]"
    md, html = md_path.read_text(), html_path.read_text()
    assert cell in md and cell in html
    t_lo, t_hi = res["ci95"]["scores"]["object_counting"]
    assert f"{res['scores']['object_counting']:.1f} [{t_lo:.1f}, {t_hi:.1f}]" in md
    assert "bootstrap over scenes" in md
