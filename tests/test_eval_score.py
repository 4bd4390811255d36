"""`vsgrpo eval score` on the released questions, and the run's sample store."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from vsgrpo.cli import main
from vsgrpo.eval.samples import SampleWriter, load_samples


@pytest.fixture(scope="module")
def questions(vsibench_dir):
    return vsibench_dir / "test-dev.parquet"


def _write_predictions(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _score(capsys, *args):
    capsys.readouterr()
    rc = main(["eval", "score", *map(str, args)])
    return rc, capsys.readouterr()


def test_score_output_shape_and_values(questions, tmp_path, capsys):
    df = pd.read_parquet(questions)
    # Correct answers for even ids, a wrong but parseable one for odd ids.
    rows = [{"id": int(r.id), "prediction": r.ground_truth if r.id % 2 == 0 else
             ("Z" if r.options is not None else str(float(r.ground_truth) * 10))} for r in df.itertuples()]
    preds = _write_predictions(tmp_path / "p.jsonl", rows)
    out = tmp_path / "results.json"
    rc, _ = _score(capsys, "--questions", questions, "--predictions", preds, "--out", out)
    assert rc == 0
    res = json.loads(out.read_text())
    assert set(res) == {"scores", "overall", "overall_questions", "ci95", "count", "missing_tasks", "errors",
                        "subset", "scoring"}
    assert res["count"] == len(df) and res["errors"] == 0 and res["missing_tasks"] == []
    assert set(res["scores"]) == set(df.question_type) | {"object_rel_direction"}
    for qt, group in df.groupby("question_type"):
        assert res["scores"][qt] == pytest.approx(100 * (group.id % 2 == 0).mean(), abs=1e-9)
    assert res["scoring"] == {"parser": "official", "answer_tag": True, "option_text": True, "subset": "all",
                              "ci_resamples": 1000, "ci_seed": 0}
    # The mean over questions: every even id right.
    assert res["overall_questions"] == pytest.approx(100 * (df.id % 2 == 0).mean())


def test_score_switches(questions, tmp_path, capsys):
    df = pd.read_parquet(questions)
    mca = df[df.options.notna()].head(40)
    rows = []
    for r in mca.itertuples():
        text = next(o for o in r.options if o.startswith(r.ground_truth + "."))[3:]
        rows.append({"id": int(r.id), "prediction": f"<answer>{text}</answer>"})  # train-style answer, in tags
    preds = _write_predictions(tmp_path / "p.jsonl", rows)
    results = {}
    for flags in ((), ("--no-option-text",), ("--no-answer-tag",), ("--parser", "lmms-eval"),
                  ("--parser", "lmms-eval", "--answer-tag", "--option-text")):
        rc, cap = _score(capsys, "--questions", questions, "--predictions", preds, *flags)
        assert rc == 0
        results[flags] = json.loads(cap.out)
    assert results[()]["overall"] == 100.0
    assert results[("--no-option-text",)]["overall"] == 0.0
    assert results[("--no-answer-tag",)]["overall"] == 0.0
    # lmms-eval alone is lmms-eval's pipeline: no tag or option-text step, so these answers score 0 ...
    assert results[("--parser", "lmms-eval")]["overall"] == 0.0
    assert results[("--parser", "lmms-eval")]["scoring"]["answer_tag"] is False
    # ... unless the steps are asked for.
    assert results[("--parser", "lmms-eval", "--answer-tag", "--option-text")]["overall"] == 100.0
    assert results[()]["count"] == len(rows)
    assert "object_counting" in results[()]["missing_tasks"]


@pytest.mark.parametrize("lines, message", [
    (['{"id": 0, "prediction": "1"}', '{"id": 0, "prediction": "2"}'], "more than one prediction"),
    (['{"id": 123456789, "prediction": "1"}'], "not in the questions file"),
    (['{"prediction": "1"}'], "integer 'id'"),
    (['not json'], "integer 'id'"),
    (['{"id": 0, "prediction": 3}'], "string 'prediction'"),
])
def test_score_rejects_bad_predictions_files(questions, tmp_path, capsys, lines, message):
    preds = tmp_path / "p.jsonl"
    preds.write_text("\n".join(lines) + "\n")
    rc, cap = _score(capsys, "--questions", questions, "--predictions", preds)
    assert rc == 2 and message in cap.err and "Traceback" not in cap.err


def test_score_rejects_bad_questions_file(tmp_path, capsys):
    bad = tmp_path / "q.parquet"
    pd.DataFrame({"id": [1], "question": ["x"]}).to_parquet(bad)
    preds = _write_predictions(tmp_path / "p.jsonl", [{"id": 1, "prediction": "1"}])
    rc, cap = _score(capsys, "--questions", bad, "--predictions", preds)
    assert rc == 2 and "lacks column" in cap.err
    rc, cap = _score(capsys, "--questions", tmp_path / "none.parquet", "--predictions", preds)
    assert rc == 2 and "not found" in cap.err


def test_sample_store_survives_a_torn_last_line(tmp_path):
    path = tmp_path / "s.jsonl"
    with SampleWriter(path) as w:
        w.write({"id": 1, "prediction": "a"})
        w.write({"id": 2, "prediction": "b"})
    with open(path, "ab") as f:
        f.write(b'{"id": 3, "predic')
    assert set(load_samples(path)) == {1, 2}
    assert path.read_bytes().endswith(b'"predic')  # reading alone changes nothing
    load_samples(path, repair=True)
    with SampleWriter(path) as w:
        w.write({"id": 3, "prediction": "c"})
    assert [json.loads(x)["id"] for x in path.read_text().splitlines()] == [1, 2, 3]


def test_sample_store_keeps_a_complete_last_line_without_newline(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text('{"id": 1, "prediction": "a"}\n{"id": 2, "prediction": "b"}')
    assert set(load_samples(path, repair=True)) == {1, 2}
    with SampleWriter(path) as w:
        w.write({"id": 3, "prediction": "c"})
    assert set(load_samples(path)) == {1, 2, 3}
