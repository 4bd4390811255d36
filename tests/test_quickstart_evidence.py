"""The quickstart report's evidence sections from hand-made run files: chance and blind rows, the
vision-minus-blind table, mean +- sd over seeds with the gain verdict, and the choice of worked examples."""

from __future__ import annotations

import re
import statistics

from vsgrpo.io import write_json
from vsgrpo.quickstart.evidence import pick_examples
from vsgrpo.quickstart.report import build_report


def _results(overall, count=10):
    return {"scores": {"object_counting": overall, "object_rel_direction_easy": overall / 2,
                       "object_rel_direction": overall / 2}, "overall": overall, "count": count, "errors": 0}


def test_report_sections_from_run_files(tmp_path):
    out = tmp_path
    overall = {"0": {"base": 0.0, "sft": 30.0, "grpo": 40.0}, "1": {"base": 0.0, "sft": 34.0, "grpo": 41.0},
               "2": {"base": 0.0, "sft": 32.0, "grpo": 45.0}}
    seeds, seeds_blind = {}, {}
    for seed, stages in overall.items():
        seeds[seed], seeds_blind[seed] = {}, {}
        for st, v in stages.items():
            for blind, value in ((False, v), (True, v / 2)):
                rel = f"s{seed}/eval/{st}{'-blind' if blind else ''}/results.json"
                write_json(out / rel, _results(value))
                (seeds_blind if blind else seeds)[seed][st] = rel
    write_json(out / "chance.json", {"random": {"object_counting": None, "object_rel_direction_easy": 50.0,
                                                "object_rel_direction": 50.0},
                                     "frequency": {"object_counting": 55.0, "object_rel_direction_easy": 52.0,
                                                   "object_rel_direction": 52.0},
                                     "overall": {"random": 50.0, "frequency": 53.5}, "count": {"x": 10}})
    write_json(out / "prior.json", _results(20.0))
    summary = {"title": "t", "evals": seeds["0"], "blind": seeds_blind["0"], "seeds": seeds,
               "seeds_blind": seeds_blind, "baselines": "chance.json", "train_prior": "prior.json"}
    md_path, html_path = build_report(summary, out)
    md = md_path.read_text()
    assert re.search(r"^\| chance \(random\) \| 50\.0 \| - \| 50\.0 \|", md, re.M)
    assert re.search(r"^\| chance \(frequency\) \| 53\.5 \| 55\.0 \|", md, re.M)
    assert re.search(r"^\| chance \(frequency, training answers\) \| 20\.0 \|", md, re.M)
    assert re.search(r"^\| grpo \(blind\) \| 20\.0 \|", md, re.M)
    assert re.search(r"^\| grpo \| \+20\.0 \|", md, re.M)  # vision minus blind
    grpo = [40.0, 41.0, 45.0]
    assert re.search(rf"^\| grpo \| {statistics.fmean(grpo):.1f} ± {statistics.stdev(grpo):.1f} \|", md, re.M)
    gains = [10.0, 7.0, 13.0]
    assert f"GRPO's gain over sft (Avg): {statistics.fmean(gains):+.1f} ± {statistics.stdev(gains):.1f}" in md
    assert "The difference exceeds the spread; GRPO is better than sft for every seed." in md
    assert "chance (frequency)" in html_path.read_text()


def test_worked_examples_mix_successes_and_failures():
    questions = {i: {"question_type": t} for i, t in enumerate(["a", "a", "b", "b", "c", "c", "a", "b"])}
    last = {0: 1.0, 1: 1.0, 2: 0.0, 3: 1.0, 4: 0.0, 5: 0.0, 6: 0.0, 7: 1.0}
    first = {0: 0.0, 1: 1.0, 2: 1.0, 3: 1.0, 4: 0.0, 5: 0.0, 6: 0.0, 7: 1.0}
    per_stage = {"sft": {i: {"score": s} for i, s in first.items()},
                 "grpo": {i: {"score": s} for i, s in last.items()}}
    ids = pick_examples(per_stage, questions, n=4)
    assert len(ids) == 4
    assert sum(last[i] >= 0.5 for i in ids) == 2
    assert ids[0] == 0 and 2 in ids  # stages disagree: an improvement and a regression come first
