"""`--parser lmms-eval` is lmms-eval 0.7.3's whole scoring pipeline, and `eval score` reads its
`--log_samples` output: the same responses give lmms-eval's own numbers.

The log is written by lmms-eval's own code paths (``tests/lmms_eval_code.py``: its
``ConfigurableTask.process_results``, ``evaluator._process_document_results`` and
``EvaluationTracker.save_results_samples``, taken from the installed package's source), and its
aggregation functions give the reference numbers.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import lmms_eval_code
from vsgrpo.cli import main
from vsgrpo.eval.scoring import load_predictions, load_questions


def canned_responses(questions: list[dict], seed: int = 0) -> dict[int, str]:
    """Responses of the kinds models give: bare, padded, wrapped, worded, tagged, right and wrong."""
    rng = np.random.default_rng(seed)
    out = {}
    for q in questions:
        gt = str(q["ground_truth"])
        if q["options"] is None:
            kinds = [gt, f" {gt}\n", f"{gt} meters", f"about {gt}", f"<answer>{gt}</answer>", "three",
                     f"{float(gt) * 1.4:g}", f"The answer is {gt}."]
        else:
            text = next((o.partition(". ")[2] for o in q["options"] if o.startswith(gt + ".")), "")
            kinds = [gt, f" {gt}", f"{gt}.", f"\n{gt}. {text}", f"<answer>{gt}</answer>", text, f"({gt})",
                     "B", f"The answer is {gt}."]
        out[q["id"]] = kinds[int(rng.integers(len(kinds)))]
    return out


@pytest.fixture(scope="module")
def full_questions(vsibench_dir):
    return vsibench_dir / "test-dev-full.parquet"


@pytest.fixture(scope="module")
def lmms_run(full_questions, tmp_path_factory):
    every = load_questions(full_questions)
    questions = [every[i] for i in np.linspace(0, len(every) - 1, 900).astype(int)]  # 900, over every type
    responses = canned_responses(questions)
    path, aggregated = lmms_eval_code.log_samples(questions, responses, tmp_path_factory.mktemp("lmms"))
    return {"questions": questions, "responses": responses, "path": path, "lmms": aggregated}


def test_log_samples_are_read_as_lmms_eval_wrote_them(lmms_run):
    lines = [json.loads(x) for x in lmms_run["path"].read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 900
    first = lines[0]
    # The layout save_results_samples writes: no 'doc', the response flattened to a string.
    assert {"doc_id", "target", "filtered_resps", "vsibench_overall"} <= set(first) and "doc" not in first
    assert isinstance(first["filtered_resps"], str)
    preds = load_predictions(lmms_run["path"])
    # Ids come from the logged question record, not doc_id (lmms-eval's row position).
    assert preds == lmms_run["responses"]


def test_parser_lmms_eval_alone_gives_lmms_evals_numbers(lmms_run, full_questions, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["eval", "score", "--questions", str(full_questions), "--predictions", str(lmms_run["path"]),
                 "--parser", "lmms-eval", "--out", str(out)]) == 0
    ours = json.loads(out.read_text())
    lmms = lmms_run["lmms"]
    assert ours["count"] == 900 and ours["unanswered"] == 3588 - 900
    assert round(ours["overall"] / 100, 6) == lmms["vsibench_overall"]
    names = {"object_counting": "object_counting_mra", "object_abs_distance": "object_abs_distance_mra",
             "object_size_estimation": "object_size_estimation_mra", "room_size_estimation": "room_size_estimation_mra",
             "object_rel_distance": "object_rel_distance_accuracy", "object_rel_direction": "object_rel_direction_accuracy",
             "route_planning": "route_planning_accuracy", "obj_appearance_order": "obj_appearance_order_accuracy"}
    for task, metric in names.items():
        assert round(ours["scores"][task] / 100, 6) == lmms[metric], task
    # vsgrpo's own steps (answer tag, option text) are extra: with them the number is another one.
    assert main(["eval", "score", "--questions", str(full_questions), "--predictions", str(lmms_run["path"]),
                 "--parser", "lmms-eval", "--answer-tag", "--option-text", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["overall"] > ours["overall"] + 1


def test_lmms_eval_sample_without_a_question_record_is_refused(full_questions, tmp_path, capsys):
    bad = tmp_path / "s.jsonl"
    bad.write_text(json.dumps({"doc_id": 0, "filtered_resps": "A", "target": "A"}) + "\n")
    capsys.readouterr()
    assert main(["eval", "score", "--questions", str(full_questions), "--predictions", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "lmms-eval sample" in err and "Traceback" not in err
