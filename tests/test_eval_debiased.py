"""VSI-Bench-Debiased beside VSI-Bench from one set of predictions, both averages, and the
scene-bootstrap 95% intervals on every score."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from vsgrpo import metrics
from vsgrpo.cli import main
from vsgrpo.eval.intervals import bootstrap


@pytest.fixture(scope="module")
def full(vsibench_dir):
    return vsibench_dir / "test-dev-full.parquet"


@pytest.fixture(scope="module")
def predictions(full, tmp_path_factory):
    """Right answers for ids divisible by 3, wrong ones otherwise."""
    df = pd.read_parquet(full)
    rows = [{"id": int(r.id), "prediction": r.ground_truth if r.id % 3 == 0 else
             ("Z" if r.options is not None else str(float(r.ground_truth) * 10))} for r in df.itertuples()]
    path = tmp_path_factory.mktemp("preds") / "p.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _score(tmp_path, questions, preds, *flags):
    out = tmp_path / "r.json"
    assert main(["eval", "score", "--questions", str(questions), "--predictions", str(preds), "--out", str(out),
                 *flags]) == 0
    return json.loads(out.read_text())


def _expected(df):
    return metrics.aggregate((r.question_type, float(r.id % 3 == 0)) for r in df.itertuples())


def test_full_release_scores_both_sets_from_one_run(full, predictions, tmp_path):
    df = pd.read_parquet(full)
    res = _score(tmp_path, full, predictions)
    kept = df[~df.pruned]
    assert res["count"] == len(df) == 3588 and res["debiased"]["count"] == len(kept) == 1684
    want_all, want_deb = _expected(df), _expected(kept)
    assert res["overall"] == pytest.approx(want_all["overall"])
    assert res["debiased"]["overall"] == pytest.approx(want_deb["overall"])
    assert res["debiased"]["scores"] == pytest.approx(want_deb["scores"])
    # Both averages: over tasks (VSI-Bench, lmms-eval) and over questions (the debiasing paper).
    assert res["overall_questions"] == pytest.approx(100 * (df.id % 3 == 0).mean())
    assert res["debiased"]["overall_questions"] == pytest.approx(100 * (kept.id % 3 == 0).mean())
    # The debiased block is laid out like the full scores.
    assert {"scores", "overall", "overall_questions", "count", "missing_tasks", "ci95"} <= set(res["debiased"])
    assert set(res["debiased"]["ci95"]["scores"]) == set(res["debiased"]["scores"])


def test_subset_debiased_scores_only_those(full, predictions, tmp_path):
    res = _score(tmp_path, full, predictions, "--subset", "debiased")
    both = _score(tmp_path, full, predictions)
    assert res["subset"] == "debiased" and "debiased" not in res and "unanswered" not in res
    for key in ("overall", "overall_questions", "count", "scores", "ci95"):
        assert res[key] == both["debiased"][key], key


def test_no_pruned_column_no_debiased(vsibench_dir, predictions, tmp_path, capsys):
    res = _score(tmp_path, vsibench_dir / "test-dev.parquet", predictions)
    assert "debiased" not in res
    capsys.readouterr()
    assert main(["eval", "score", "--questions", str(vsibench_dir / "test-dev.parquet"), "--predictions",
                 str(predictions), "--subset", "debiased"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vsgrpo: error:") and "pruned" in err and "Traceback" not in err


def _slow_bootstrap(rows, resamples, seed):
    """Reference: the same scene draws, each resample aggregated by metrics.aggregate one at a time."""
    scenes = list(dict.fromkeys(r[2] for r in rows))
    by_scene = {s: [r for r in rows if r[2] == s] for s in scenes}
    draws = np.random.default_rng(seed).integers(0, len(scenes), size=(resamples, len(scenes)))
    overall, micro, per = [], [], {}
    for d in draws:
        picked = [(qt, s) for i in d for qt, s, _ in by_scene[scenes[i]]]
        agg = metrics.aggregate(picked)
        overall.append(agg["overall"])
        micro.append(agg["overall_questions"])
        for k, v in agg["scores"].items():
            per.setdefault(k, []).append(v)
    return overall, micro, per


def test_bootstrap_equals_a_resample_by_resample_reference(full):
    df = pd.read_parquet(full).head(400)
    rng = np.random.default_rng(3)
    rows = [(r.question_type, float(rng.random() < 0.4), (r.dataset, r.scene_name)) for r in df.itertuples()]
    got = bootstrap(rows, resamples=60, seed=7)
    overall, micro, per = _slow_bootstrap(rows, 60, 7)
    assert got["overall"] == pytest.approx(list(np.percentile(overall, [2.5, 97.5])))
    assert got["overall_questions"] == pytest.approx(list(np.percentile(micro, [2.5, 97.5])))
    for k, v in per.items():
        assert got["scores"][k] == pytest.approx(list(np.percentile(v, [2.5, 97.5]))), k
    assert got["scenes"] == len({r[2] for r in rows}) and got["unit"] == "scene"
    assert bootstrap(rows, resamples=60, seed=7) == got  # seeded
    assert bootstrap(rows, resamples=60, seed=8) != got


def test_intervals_cover_the_score_and_narrow_with_more_scenes(full, predictions, tmp_path):
    res = _score(tmp_path, full, predictions)
    ci = res["ci95"]
    assert ci["resamples"] == 1000 and ci["level"] == 0.95
    for key in ("overall", "overall_questions"):
        lo, hi = ci[key]
        assert lo < res[key] < hi
    for task, value in res["scores"].items():
        lo, hi = ci["scores"][task]
        assert lo <= value <= hi, task
    # Fewer scenes (the debiased subset has fewer questions per scene): a wider interval.
    deb = res["debiased"]["ci95"]["overall"]
    assert deb[1] - deb[0] > ci["overall"][1] - ci["overall"][0]
    off = _score(tmp_path, full, predictions, "--ci-resamples", "0")
    assert off["ci95"] is None and off["overall"] == res["overall"]
