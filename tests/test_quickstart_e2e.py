"""A reduced `vsgrpo quickstart` end to end: real rendering, question building, tiny model, warm-up, SFT and GRPO
from the warm-up at one budget, evals, report (its headline first).

Then a rerun with more GRPO steps: the stages up to the warm-up are reused; GRPO, the SFT baseline (whose budget
follows GRPO's) and their evaluations are redone.
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

SMALL = ["--scenes", "2", "--heldout-scenes", "1", "--warmup-steps", "2", "--eval-limit", "12", "--per-scene", "2",
         "--tasks", "object_counting,object_size_estimation,object_rel_direction_easy"]


def _quickstart(out: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "vsgrpo.cli", "quickstart", "--out", str(out), *SMALL, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


STAGES = ("base", "warmup", "sft", "grpo")


def _config(run: Path) -> dict:
    import yaml

    return yaml.safe_load((run / "config.yaml").read_text())


def _table_rows(text: str) -> dict[str, list[str]]:
    rows = {}
    for stage in STAGES:
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
        "eval_base_blind", "train_warmup", "eval_warmup", "eval_warmup_blind", "train_sft", "eval_sft", "eval_sft_blind",
        "train_grpo", "eval_grpo", "eval_grpo_blind", "report"]
    assert not any(s["reused"] for s in summary["stages"])

    # Disjoint scenes: training and held-out roots name different scenes.
    train_meta = json.loads((out / "data/train/meta/synthetic_meta_info.json").read_text())
    held_meta = json.loads((out / "data/heldout/meta/synthetic_meta_info.json").read_text())
    assert len(train_meta) == 2 and len(held_meta) == 1 and not set(train_meta) & set(held_meta)

    # Every score in report.md (and report.html) equals the stage's results JSON.
    md, page = (out / "report.md").read_text(), (out / "report.html").read_text()
    results = {s: json.loads((out / "eval" / s / "results.json").read_text()) for s in STAGES}
    blinds = {s: json.loads((out / "eval" / f"{s}-blind" / "results.json").read_text()) for s in STAGES}
    cols = score_columns(list(results.values()))
    rows = _table_rows(md)
    assert set(rows) == set(STAGES)

    # The headline (first line of both reports) cannot oversell: GRPO beside its blind twin and the chance row,
    # each with its interval.
    chance = json.loads((out / "eval/base/baselines.json").read_text())
    first = md.splitlines()[0]
    head = re.fullmatch(r"# GRPO (.+) · blind (.+) · chance \(frequency\) (\S+) \[(\S+), (\S+)\]", first)
    assert head, first
    assert head.group(1) == fmt_ci(results["grpo"], "overall") and head.group(2) == fmt_ci(blinds["grpo"], "overall")
    assert head.group(3) == fmt(chance["overall"]["frequency"])
    assert float(head.group(4)) <= float(head.group(3)) <= float(head.group(5))
    assert re.search(r"<body>\s*<h1>" + re.escape(first[2:]) + "</h1>", page)
    assert proc.stdout.splitlines()[0] == first[2:]  # the CLI prints the headline first

    # SFT and GRPO both start from the warm-up, and the SFT baseline sees as many questions as GRPO.
    warm, sft, grpo = (_config(out / "train" / m) for m in ("warmup", "sft", "grpo"))
    assert Path(sft["model"]) == Path(grpo["model"]) == out / "train/warmup/final"
    grpo_questions = grpo["max_steps"] * grpo["per_device_train_batch_size"] // grpo["num_generations"]
    assert sft["train_questions"] == grpo_questions == summary["budget"]["grpo"] == summary["budget"]["sft"]
    assert warm["max_steps"] == 2 and Path(warm["model"]) == out / "models/base"
    assert "## SFT and GRPO at the same budget" in md
    assert re.search(r"^(GRPO beat SFT|SFT beat GRPO|GRPO minus SFT is)", md, re.M)
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
        assert f"{stage:<6} held-out score {fmt(res['overall'])} ({n} questions)" in proc.stdout

    # Training curves come from the trainers' logs: GRPO logged its rewards and KL every step.
    grpo_rows = [json.loads(x) for x in (out / "train/grpo/metrics.jsonl").read_text().splitlines()]
    steps = [r for r in grpo_rows if "rewards/accuracy/mean" in r]
    assert [r["step"] for r in steps] == [1, 2] and all("kl" in r for r in steps)
    acc_row = re.search(r"^\| accuracy \| (\S+) \| (\S+) \| optimised \|$", md, re.M)
    assert acc_row and acc_row.groups() == (fmt(steps[0]["rewards/accuracy/mean"], 3),
                                            fmt(steps[-1]["rewards/accuracy/mean"], 3))
    assert "beta 0.0001" in md
    # Chance rows of the held-out questions and each stage's blind evaluation sit beside the model rows.
    chance_row = re.search(r"^\| chance \(frequency\) \|(.*)\|$", md, re.M).group(1).split("|")
    assert chance_row[0].strip() == fmt(chance["overall"]["frequency"])
    assert re.search(r"^\| chance \(random\) \|", md, re.M)
    assert re.search(r"^\| chance \(frequency, training answers\) \|", md, re.M)
    for stage in STAGES:
        blind = json.loads((out / "eval" / f"{stage}-blind" / "results.json").read_text())
        cells = re.search(rf"^\| {stage} \(blind\) \|(.*)\|$", md, re.M).group(1).split("|")
        assert cells[0].strip() == fmt_ci(blind, "overall")
        assert json.loads((out / "eval" / f"{stage}-blind" / "config.json").read_text())["blind"] is True
        gain = results[stage]["overall"] - blind["overall"]
        assert re.search(rf"^\| {stage} \| {re.escape(f'{gain:+.1f}')} \[", md, re.M)  # vision minus blind
    # Worked examples: each with a frame strip and a floor plan, every stage's answer and score.
    examples = re.findall(r"^### #(\d+) ", md, re.M)
    assert examples and "Worked examples" in page
    assert len(re.findall(r'src="data:image/png;base64,', page)) == md.count("![")  # every plot inlined
    assert len(re.findall(r"\]\(report/example_\d+_(?:frames|plan)\.png\)", md)) == 2 * len(examples)
    assert "GRPO (2 steps)" in md

    # Rerun with more GRPO steps: everything up to the warm-up's evaluation is reused; the SFT baseline follows
    # GRPO's budget, so it is redone too.
    _quickstart(out, "--steps", "3")
    summary = json.loads((out / "summary.json").read_text())
    reused = {s["name"]: s["reused"] for s in summary["stages"]}
    assert all(reused[n] for n in ("synth_train", "synth_heldout", "questions_train", "questions_heldout",
                                   "base_model", "eval_base", "eval_base_blind", "train_warmup", "eval_warmup",
                                   "eval_warmup_blind"))
    assert not any(reused[n] for n in ("train_sft", "eval_sft", "train_grpo", "eval_grpo", "eval_grpo_blind"))
    assert _config(out / "train/sft")["train_questions"] == 3 * 4
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


@pytest.mark.slow
def test_real_model_profile_runs_the_paper_recipes_on_a_local_model(tmp_path):
    """`--model DIR` takes the paper profile: no warm-up, the paper's LoRA recipes (here on a tiny local model, the
    stand-in for Qwen2-VL-2B), the SFT baseline with `--sft on` at GRPO's budget, and the same report."""
    from vsgrpo.models.tiny import build_tiny_model

    model = build_tiny_model("qwen2_vl", tmp_path / "model", tokenizer="small")
    out = tmp_path / "qs"
    cmd = [sys.executable, "-m", "vsgrpo.cli", "quickstart", "--out", str(out), "--model", str(model), "--sft", "on",
           "--scenes", "2", "--heldout-scenes", "1", "--steps", "1", "--eval-limit", "6", "--per-scene", "1",
           "--video-frames", "16", "--tasks", "object_counting,room_size_estimation"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    names = [s["name"] for s in summary["stages"]]
    assert "train_warmup" not in names and {"train_sft", "train_grpo", "eval_grpo_blind"} <= set(names)
    sft, grpo = _config(out / "train/sft"), _config(out / "train/grpo")
    assert Path(sft["model"]) == Path(grpo["model"]) == model  # both from the given model
    assert sft["lora"] and grpo["lora"] and grpo["learning_rate"] == 1e-5 and grpo["num_generations"] == 14
    questions = grpo["max_steps"] * grpo["per_device_train_batch_size"] * grpo["gradient_accumulation_steps"]
    assert sft["train_questions"] == questions // grpo["num_generations"] == summary["budget"]["grpo"]
    md = (out / "report.md").read_text()
    assert md.startswith("# GRPO ") and " · blind " in md.splitlines()[0] and "## SFT and GRPO at the same budget" in md
    assert (out / "train/grpo/merged/config.json").is_file()  # the adapter, merged for evaluation
