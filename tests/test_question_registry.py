"""The task registry is the one table of question types: a type registered here, and nowhere else,
is built, verified, scored, reported and rewarded."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from vsgrpo import metrics
from vsgrpo.cli import main
from vsgrpo.eval.report import results_table
from vsgrpo.questions import (
    Question,
    Task,
    Unchecked,
    register_task,
    scored_task_of,
    scored_tasks,
    task_label,
    unregister_task,
)
from vsgrpo.questions.common import MissingObject, unique_box
from vsgrpo.rewards import accuracy_reward

NAME = "test_shortest_side"
TEMPLATE = "What is the length of the shortest dimension of the {category}, measured in centimeters?"


class ShortestSide(Task):
    """A toy numeric task: the shortest box extent of a category that occurs once, in cm."""

    name = NAME
    kind = "NA"
    label = "Shortest"
    question_templates = (TEMPLATE,)

    @staticmethod
    def answer(scene, category) -> int:
        return int(round(float(min(unique_box(scene, category).extents)) * 100))

    def generate(self, scene, rng, config):
        out = []
        for cat in scene.unique_categories():
            cm = self.answer(scene, cat)
            if cm > 0:
                out.append(Question(scene.dataset, scene.name, self.name, TEMPLATE.format(category=cat), str(cm),
                                    answer_value=float(cm), objects=(cat,)))
        return out

    def derive(self, scene, row):
        m = re.fullmatch(re.escape(TEMPLATE).replace(r"\{category\}", "(.+)"), row["question"])
        if m is None:
            return Unchecked("not this template")
        try:
            return str(self.answer(scene, m.group(1)))
        except MissingObject as e:
            return Unchecked(str(e))


@pytest.fixture
def toy_task():
    register_task(ShortestSide())
    try:
        yield NAME
    finally:
        unregister_task(NAME)
    assert NAME not in scored_tasks()


def test_a_registered_type_flows_through_build_verify_score_report_and_reward(toy_task, vsibench_dir, tmp_path,
                                                                                capsys):
    # the table: kind, scored task, label, column (after the 8 VSI-Bench tasks)
    assert metrics.answer_kind(NAME) == "na" and scored_task_of(NAME) == NAME
    assert scored_tasks()[-1] == NAME and len(scored_tasks()) == 9 and task_label(NAME) == "Shortest"

    # build -> verify
    out = tmp_path / "data"
    assert main(["data", "build", "--meta", str(vsibench_dir), "--out", str(out), "--tasks", NAME]) == 0
    df = pd.read_parquet(out / "questions.parquet")
    assert len(df) > 100 and set(df.question_type) == {NAME} and df.options.isna().all()
    capsys.readouterr()
    report = tmp_path / "verify.json"
    assert main(["data", "verify", "--meta", str(vsibench_dir), "--questions", str(out / "questions.parquet"),
                 "--report", str(report)]) == 0
    assert json.loads(report.read_text())["tasks"][NAME]["rate"] == 1.0

    # data import: a question set with no question_type column is recognised by the type's template
    from vsgrpo.importers import ImportConfig, import_questions

    src = tmp_path / "other.jsonl"
    src.write_text("".join(json.dumps({"question": r.question, "answer": r.ground_truth,
                                       "video": f"{r.dataset}/{r.scene_name}.mp4"}) + "\n"
                           for r in df.head(5).itertuples()))
    for r in df.head(5).itertuples():  # import checks that each video is there; it does not decode it
        (tmp_path / "videos" / r.dataset).mkdir(parents=True, exist_ok=True)
        (tmp_path / "videos" / r.dataset / f"{r.scene_name}.mp4").touch()
    summary = import_questions(ImportConfig(format="jsonl", input=str(src), videos=str(tmp_path / "videos"),
                                            out=str(tmp_path / "imported")))
    assert summary["questions"] == 5 and summary["counts"] == {NAME: 5}

    # eval score: right for even ids, 1.3x for odd ids (MRA 0.4)
    preds = tmp_path / "p.jsonl"
    preds.write_text("".join(json.dumps({"id": int(r.id), "prediction": r.ground_truth if r.id % 2 == 0 else
                                         f"{float(r.ground_truth) * 1.3:g}"}) + "\n" for r in df.itertuples()))
    results_path = tmp_path / "results.json"
    assert main(["eval", "score", "--questions", str(out / "questions.parquet"), "--predictions", str(preds),
                 "--out", str(results_path)]) == 0
    results = json.loads(results_path.read_text())
    expect = [1.0 if r.id % 2 == 0 else metrics.mean_relative_accuracy(round(float(r.ground_truth) * 1.3, 4),
                                                                       float(r.ground_truth)) for r in df.itertuples()]
    assert results["scores"][NAME] == pytest.approx(100 * sum(expect) / len(expect))
    assert results["overall"] == pytest.approx(results["scores"][NAME]) and results["count"] == len(df)
    assert NAME not in results["missing_tasks"] and "object_counting" in results["missing_tasks"]

    # report: its own column, by its label
    table = results_table({"toy": results})
    assert table.splitlines()[0].split(" | ")[-3] == "Shortest"

    # reward: the evaluation score itself (metric shape), and a dense shape on the same parse
    rows = df.to_dict("records")
    completions = [f"<answer>{p}</answer>" for p in (json.loads(line)["prediction"]
                                                     for line in preds.read_text().splitlines())]
    columns = dict(ground_truth=[r["ground_truth"] for r in rows], question_type=[NAME] * len(rows),
                   options=[None] * len(rows))
    metric = accuracy_reward(na_shape="metric")(completions=completions, **columns)
    assert metric == [metrics.score_prediction(c, r["ground_truth"], NAME) for c, r in zip(completions, rows)]
    linear = accuracy_reward()(completions=completions, **columns)
    assert all(v == 1.0 for v, r in zip(linear, rows) if r["id"] % 2 == 0)
    assert all(0.0 < v < 1.0 for v, r in zip(linear, rows) if r["id"] % 2 == 1)


def test_an_unregistered_type_is_refused_everywhere():
    with pytest.raises(metrics.VsgrpoError, match="unknown question_type 'object_colour'"):
        metrics.score_prediction("1", "1", "object_colour")
    with pytest.raises(metrics.VsgrpoError, match="unknown question_type"):
        accuracy_reward()(completions=["1"], ground_truth=["1"], question_type=["object_colour"])
    assert task_label("object_colour") == "object_colour"
