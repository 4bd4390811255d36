"""The quickstart report generator on stage outputs shaped like the real ones (eval results JSON, metrics JSONL)."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from vsgrpo.quickstart.report import build_report, fmt, read_metrics, reward_names, score_columns


def _results(overall, scores, count):
    return {"scores": scores, "overall": overall, "count": count, "missing_tasks": [], "errors": 0}


def _write_run(out: Path) -> dict:
    evals = {
        "base": _results(0.0, {"object_counting": 0.0, "object_rel_direction_easy": 0.0,
                               "object_rel_direction_medium": 0.0, "object_rel_direction": 0.0}, 30),
        "sft": _results(21.25, {"object_counting": 12.5, "object_rel_direction_easy": 50.0,
                                "object_rel_direction_medium": 40.0, "object_rel_direction": 30.0}, 30),
        "grpo": _results(33.375, {"object_counting": 26.75, "object_rel_direction_easy": 60.0,
                                  "object_rel_direction_medium": 20.0, "object_rel_direction": 40.0}, 30),
    }
    for stage, res in evals.items():
        (out / "eval" / stage).mkdir(parents=True)
        (out / "eval" / stage / "results.json").write_text(json.dumps(res))
    (out / "train" / "sft").mkdir(parents=True)
    (out / "train" / "grpo").mkdir(parents=True)
    with open(out / "train" / "sft" / "metrics.jsonl", "w") as f:
        for step in range(1, 6):
            f.write(json.dumps({"step": step, "loss": 3.0 / step, "mean_token_accuracy": 0.1 * step}) + "\n")
        f.write(json.dumps({"step": 5, "train_runtime": 12.0, "train_loss": 1.2}) + "\n")
    with open(out / "train" / "grpo" / "metrics.jsonl", "w") as f:
        for step in range(1, 5):
            f.write(json.dumps({"step": step, "loss": 0.01, "kl": 1e-3 * step, "completions/mean_length": 5.0 + step,
                                "rewards/accuracy/mean": 0.1 * step, "rewards/accuracy/std": 0.05,
                                "rewards/format/mean": 0.2, "rewards/format/std": 0.0}) + "\n")
        f.write('{"step": 5, "loss": 0.0')  # torn by a crash: skipped
    return evals


def test_report_numbers_match_the_stage_outputs(tmp_path):
    evals = _write_run(tmp_path)
    summary = {"title": "t", "command": "vsgrpo quickstart --out x",
               "evals": {s: f"eval/{s}/results.json" for s in evals},
               "training": {"sft": "train/sft/metrics.jsonl", "grpo": "train/grpo/metrics.jsonl"},
               "stages": [{"name": "a", "title": "stage a", "seconds": 75.5, "reused": False}],
               "total_seconds": 75.5, "settings": {"seed": 0}}
    md_path, html_path = build_report(summary, tmp_path)
    md, page = md_path.read_text(), html_path.read_text()

    # The score table: one row per stage, every cell equals the results JSON value.
    cols = score_columns(list(evals.values()))
    assert cols == ["overall", "object_counting", "object_rel_direction", "object_rel_direction_easy",
                    "object_rel_direction_medium"]
    for stage, res in evals.items():
        row = re.search(rf"^\| {stage} \|(.*)\|$", md, re.M)
        assert row, stage
        cells = [c.strip() for c in row.group(1).split("|")]
        expected = [fmt(res["overall"])] + [fmt(res["scores"][c]) for c in cols[1:]] + [str(res["count"])]
        assert cells == expected
        assert f"<td>{stage}</td>" in page
    assert "grpo 33.4" in md and "sft 21.2" in md  # the summary line, same numbers
    # GRPO reward table: means over the first and last tenth of logged steps (4 steps: one each; the torn line is skipped).
    assert re.search(r"^\| accuracy \| 0\.100 \| 0\.400 \| optimised \|$", md, re.M)
    assert re.search(r"^\| format \| 0\.200 \| 0\.200 \| optimised \|$", md, re.M)
    assert "1 min 15.5 s" in md

    # Markdown links its PNGs; the HTML inlines every one as base64 and references no other file.
    pngs = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert {Path(p).name for p in pngs} == {"scores.png", "sft_loss.png", "grpo_rewards.png", "grpo_kl_length.png"}
    imgs = re.findall(r'<img [^>]*src="([^"]+)"', page)
    assert len(imgs) == len(pngs)
    for src in imgs:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert not re.search(r'(src|href)="(?!data:)', page)


def test_read_metrics_skips_summary_and_torn_rows(tmp_path):
    _write_run(tmp_path)
    sft = read_metrics(tmp_path / "train" / "sft" / "metrics.jsonl")
    assert [r["step"] for r in sft] == [1, 2, 3, 4, 5] and all("train_runtime" not in r for r in sft)
    grpo = read_metrics(tmp_path / "train" / "grpo" / "metrics.jsonl")
    assert [r["step"] for r in grpo] == [1, 2, 3, 4]
    assert reward_names(grpo) == ["accuracy", "format"]
    assert read_metrics(tmp_path / "missing.jsonl") == []


@pytest.mark.parametrize("value,text", [(None, "-"), (0, "0.0"), (33.35, "33.4"), (100.0, "100.0")])
def test_fmt(value, text):
    assert fmt(value) == text


def test_reward_table_averages_first_and_last_tenth():
    from vsgrpo.quickstart.report import _edge_mean

    rows = [{"step": i + 1, "rewards/accuracy/mean": float(i)} for i in range(40)] + [{"step": 41, "loss": 0.1}]
    assert _edge_mean(rows, "rewards/accuracy/mean", first=True) == 1.5    # steps 1-4: 0,1,2,3
    assert _edge_mean(rows, "rewards/accuracy/mean", first=False) == 37.5  # steps 37-40
    assert _edge_mean(rows, "kl", first=True) is None
