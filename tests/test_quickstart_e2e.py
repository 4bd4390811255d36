"""A reduced `vsgrpo quickstart` end to end: real rendering, question building, tiny model, SFT, GRPO, evals, report.

Then a rerun with more GRPO steps: the stages before GRPO are reused, GRPO and its evaluation are redone.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from vsgrpo.eval.report import fmt_ci
from vsgrpo.quickstart.report import fmt, score_columns

SMALL = ["--scenes", "2", "--heldout-scenes", "1", "--sft-steps", "2", "--eval-limit", "12", "--per-scene", "2",
         "--tasks", "object_counting,object_size_estimation,object_rel_direction_easy"]


def _quickstart(out: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "vsgrpo.cli", "quickstart", "--out", str(out), *SMALL, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def _table_rows(text: str) -> dict[str, list[str]]:
    rows = {}
    for stage in ("base", "sft", "grpo"):
        m = re.search(rf"^\| {stage} \|(.*)\|$", text, re.M)
        if m:
            rows[stage] = [c.strip() for c in m.group(1).split("|")]
    return rows


@pytest.mark.slow
def test_reduced_quickstart_end_to_end_and_resume(tmp_path):
    out = tmp_path / "qs"
    proc = _quickstart(out, "--steps", "2")

    summary = json.loads((out / "summary.json").read_text())
    assert [s["name"] for s in summary["stages"]] == [
        "synth_train", "synth_heldout", "questions_train", "questions_heldout", "base_model", "eval_base",
        "eval_base_blind", "train_sft", "eval_sft", "eval_sft_blind", "train_grpo", "eval_grpo", "eval_grpo_blind",
        "report"]
    assert not any(s["reused"] for s in summary["stages"])

    # Disjoint scenes: training and held-out roots name different scenes.
    train_meta = json.loads((out / "data/train/meta/synthetic_meta_info.json").read_text())
    held_meta = json.loads((out / "data/heldout/meta/synthetic_meta_info.json").read_text())
    assert len(train_meta) == 2 and len(held_meta) == 1 and not set(train_meta) & set(held_meta)

    # Every score in report.md (and report.html) equals the stage's results JSON.
    md, page = (out / "report.md").read_text(), (out / "report.html").read_text()
    results = {s: json.loads((out / "eval" / s / "results.json").read_text()) for s in ("base", "sft", "grpo")}
    cols = score_columns(list(results.values()))
    rows = _table_rows(md)
    assert set(rows) == {"base", "sft", "grpo"}
    import pandas as pd

    n_heldout = len(pd.read_parquet(out / "questions/heldout/questions.parquet"))
    n = min(12, n_heldout)
    assert n > 0
    for stage, res in results.items():
        assert res["count"] == n
        cells = [fmt_ci(res, c) for c in cols]  # each score with its 95% interval
        assert cells[0].startswith(fmt(res["overall"]) + " [")
        assert rows[stage] == cells + [str(res["count"])]
        assert f"<td>{stage}</td>" + "".join(f'<td class="r">{c}</td>' for c in cells) in page
        # the CLI's own summary lines carry the same numbers
        assert f"{stage:<5} held-out score {fmt(res['overall'])} ({n} questions)" in proc.stdout

    # Training curves come from the trainers' logs: GRPO logged its rewards and KL every step.
    grpo_rows = [json.loads(x) for x in (out / "train/grpo/metrics.jsonl").read_text().splitlines()]
    steps = [r for r in grpo_rows if "rewards/accuracy/mean" in r]
    assert [r["step"] for r in steps] == [1, 2] and all("kl" in r for r in steps)
    acc_row = re.search(r"^\| accuracy \| (\S+) \| (\S+) \| optimised \|$", md, re.M)
    assert acc_row and acc_row.groups() == (fmt(steps[0]["rewards/accuracy/mean"], 3),
                                            fmt(steps[-1]["rewards/accuracy/mean"], 3))
    assert "beta 0.0001" in md
    # Chance rows of the held-out questions and each stage's blind evaluation sit beside the model rows.
    chance = json.loads((out / "eval/base/baselines.json").read_text())
    chance_row = re.search(r"^\| chance \(frequency\) \|(.*)\|$", md, re.M).group(1).split("|")
    assert chance_row[0].strip() == fmt(chance["overall"]["frequency"])
    assert re.search(r"^\| chance \(random\) \|", md, re.M)
    assert re.search(r"^\| chance \(frequency, training answers\) \|", md, re.M)
    for stage in ("base", "sft", "grpo"):
        blind = json.loads((out / "eval" / f"{stage}-blind" / "results.json").read_text())
        cells = re.search(rf"^\| {stage} \(blind\) \|(.*)\|$", md, re.M).group(1).split("|")
        assert cells[0].strip() == fmt_ci(blind, "overall")
        assert json.loads((out / "eval" / f"{stage}-blind" / "config.json").read_text())["blind"] is True
        gain = results[stage]["overall"] - blind["overall"]
        assert re.search(rf"^\| {stage} \| {re.escape(f'{gain:+.1f}')} \|", md, re.M)  # vision minus blind
    # Worked examples: each with a frame strip and a floor plan, every stage's answer and score.
    examples = re.findall(r"^### #(\d+) ", md, re.M)
    assert examples and "Worked examples" in page
    assert len(re.findall(r'src="data:image/png;base64,', page)) == 4 + 2 * len(examples)
    assert "GRPO (2 steps)" in md

    # Rerun with more GRPO steps: everything up to the SFT evaluation is reused.
    _quickstart(out, "--steps", "3")
    summary = json.loads((out / "summary.json").read_text())
    reused = {s["name"]: s["reused"] for s in summary["stages"]}
    assert all(reused[n] for n in ("synth_train", "synth_heldout", "questions_train", "questions_heldout",
                                   "base_model", "eval_base", "eval_base_blind", "train_sft", "eval_sft",
                                   "eval_sft_blind"))
    assert not reused["train_grpo"] and not reused["eval_grpo"] and not reused["eval_grpo_blind"]
    grpo_rows = [json.loads(x) for x in (out / "train/grpo/metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in grpo_rows if "rewards/accuracy/mean" in r] == [1, 2, 3]
    assert "GRPO (3 steps)" in (out / "report.md").read_text()

    # A second seed on the same data: seed 0's stages are reused, the report gives mean +- sd over seeds.
    _quickstart(out, "--steps", "3", "--seeds", "2")
    summary = json.loads((out / "summary.json").read_text())
    reused = {s["name"]: s["reused"] for s in summary["stages"]}
    assert reused["train_grpo"] and not reused["train_grpo_seed1"] and not reused["base_model_seed1"]
    md = (out / "report.md").read_text()
    import statistics

    per_seed = [json.loads((out / p).read_text())["overall"] for p in (summary["seeds"]["0"]["grpo"],
                                                                       summary["seeds"]["1"]["grpo"])]
    row = re.search(r"^\| grpo \| (\S+) ± (\S+) \|", md, re.M)
    assert row and row.groups() == (f"{statistics.fmean(per_seed):.1f}", f"{statistics.stdev(per_seed):.1f}")
    assert "GRPO's gain over sft (Avg)" in md


def test_quickstart_rejects_bad_flags(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "vsgrpo.cli", "quickstart", "--out", str(tmp_path / "q"),
                           "--tasks", "object_counting,no_such_task"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "no_such_task" in proc.stderr and "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "vsgrpo.cli", "quickstart", "--out", str(tmp_path / "q"),
                           "--scenes", "0"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--scenes: must be >= 1" in proc.stderr and "Traceback" not in proc.stderr
