"""Chance rows (`vsgrpo eval baselines`) on the released VSI-Bench sample, and blind runs (`eval run --blind`)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from vsgrpo import metrics
from vsgrpo.chance import best_constant, compute_baselines, exact_mra, prior_scores
from vsgrpo.cli import main
from vsgrpo.eval.scoring import load_questions
from vsgrpo.questions import question_types_of


@pytest.fixture(scope="module")
def sample(vsibench_dir):
    return vsibench_dir / "test-dev.parquet"


def test_baselines_on_the_vsibench_sample(sample, tmp_path, capsys):
    out = tmp_path / "b.json"
    capsys.readouterr()
    assert main(["eval", "baselines", "--questions", str(sample), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| chance (random) |" in printed and "| chance (frequency) |" in printed
    b = json.loads(out.read_text())
    rnd, frq = b["random"], b["frequency"]
    # Keyed exactly like `eval score`'s scores.
    qs = load_questions(sample)
    keys = set(metrics.aggregate((q["question_type"], 0.0) for q in qs)["scores"])
    assert set(rnd) == set(frq) == set(b["best_constant"]) == keys
    # The random row: 4 options -> 25.0; the three direction levels (2, 3, 4 options) -> 36.1.
    assert round(rnd["object_rel_distance"], 1) == 25.0 and round(rnd["object_rel_direction"], 1) == 36.1
    assert round(rnd["obj_appearance_order"], 1) == 25.0
    df = pd.read_parquet(sample)
    route = df[df.question_type == "route_planning"]
    assert rnd["route_planning"] == pytest.approx(100 * np.mean([1 / len(o) for o in route.options]))
    for t in ("object_counting", "object_abs_distance", "object_size_estimation", "room_size_estimation"):
        assert rnd[t] is None and frq[t] is not None
    # Frequency row, as VSI-Bench prints it: the most frequent answer (counting: always "2").
    counts = df[df.question_type == "object_counting"].ground_truth.astype(float)
    assert b["answers"]["object_counting"] == 2 == counts.mode().min()
    assert frq["object_counting"] == pytest.approx(
        100 * np.mean([metrics.mean_relative_accuracy(2.0, y) for y in counts]))
    rooms = df[df.question_type == "room_size_estimation"].ground_truth.astype(float)
    assert b["answers"]["room_size_estimation"] == rooms.mode().min()
    # Best constant row: the value with the highest mean MRA (room size: VSI-Bench's 16.2 m^2; counting 2.1).
    best = b["best_constant"]
    assert b["best_constant_answers"]["room_size_estimation"] == 16.2
    assert b["best_constant_answers"]["object_counting"] == 2.1
    assert best["room_size_estimation"] == pytest.approx(
        100 * np.mean([metrics.mean_relative_accuracy(16.2, y) for y in rooms]))
    for t in ("object_counting", "object_abs_distance", "object_size_estimation", "room_size_estimation"):
        assert best[t] >= frq[t]
    assert best["object_rel_direction"] == frq["object_rel_direction"]  # choices: the same constant
    assert "| best constant |" in printed
    # Multiple choice: share of the most common letter (relative distance) / text (direction levels).
    rd = df[df.question_type == "object_rel_distance"]
    assert frq["object_rel_distance"] == pytest.approx(100 * rd.ground_truth.value_counts().iloc[0] / len(rd))
    hard = df[df.question_type == "object_rel_direction_hard"]
    texts = [next(o[3:] for o in r.options if o.startswith(r.ground_truth + ".")) for r in hard.itertuples()]
    assert frq["object_rel_direction_hard"] == pytest.approx(100 * pd.Series(texts).value_counts().iloc[0] / len(hard))
    # Overall: the mean of the defined task values.
    tasks = [v for k, v in frq.items() if k not in question_types_of("object_rel_direction")]
    assert b["overall"]["frequency"] == pytest.approx(np.mean(tasks))
    assert b["overall"]["random"] == pytest.approx(np.mean([v for k, v in rnd.items() if v is not None and
                                                            k in ("object_rel_distance", "object_rel_direction",
                                                                  "route_planning", "obj_appearance_order")]))


def test_best_constant_beats_every_grid_value():
    rng = np.random.default_rng(0)
    for n in (1, 2, 7, 40):
        y = np.round(rng.lognormal(1.0, 0.8, n), 1) + 0.1
        value, score = best_constant(y)
        assert score == pytest.approx(np.mean([metrics.mean_relative_accuracy(value, v) for v in y]), abs=1e-12)
        grid = np.linspace(0.01, y.max() * 2, 3000)
        assert score >= max(exact_mra(c, y) for c in grid) - 1e-12
    value, score = best_constant([3.0])
    assert score == 1.0 and value == pytest.approx(2.85)  # ties go to the smallest value


def test_prior_from_training_answers():
    train = [{"question_type": "object_rel_direction_easy", "ground_truth": "left", "options": None}] * 3 + \
            [{"question_type": "object_counting", "ground_truth": "4", "options": None}] * 2
    held = [{"question_type": "object_rel_direction_easy", "ground_truth": g, "options": ["A. left", "B. right"]}
            for g in ("A", "A", "B", "A")] + [{"question_type": "object_counting", "ground_truth": "4",
                                                "options": None}]
    out = prior_scores(train, held)
    assert out["answers"] == {"object_rel_direction_easy": "left", "object_counting": "4.0"}
    assert out["scores"]["object_rel_direction_easy"] == pytest.approx(75.0)
    assert out["scores"]["object_counting"] == pytest.approx(100.0)
    b = compute_baselines(train)
    assert b["random"]["object_rel_direction_easy"] is None  # no options: random undefined
    assert b["frequency"]["object_rel_direction_easy"] == pytest.approx(100.0)


# --------------------------------------------------------------------------- blind runs


@pytest.fixture(scope="module")
def blind_bench(tmp_path_factory, vsibench_dir):
    from vsgrpo.video import write_video

    root = tmp_path_factory.mktemp("blind")
    df = pd.read_parquet(vsibench_dir / "test-dev.parquet")
    sub = pd.concat([df[df.question_type == t].head(1) for t in
                     ("object_counting", "object_rel_direction_hard", "object_rel_distance", "room_size_estimation")])
    sub.to_parquet(root / "q.parquet")
    rng = np.random.default_rng(0)
    for ds, scene in set(zip(sub.dataset, sub.scene_name)):
        write_video(root / "videos" / ds / f"{scene}.mp4", rng.integers(0, 256, (8, 48, 64, 3), dtype=np.uint8), fps=4)
    (root / "no-videos").mkdir()
    return {"root": root, "questions": root / "q.parquet", "videos": root / "videos", "df": sub}


def _samples(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_blind_run_sends_the_same_prompt_without_video(blind_bench, tiny_model, tmp_path):
    from train_fixtures import VisionCalls
    from vsgrpo.eval import run_eval
    from vsgrpo.eval.backends.hf import HFBackend

    backend = HFBackend(str(tiny_model), device="cpu")
    video_id = backend.processor.tokenizer.convert_tokens_to_ids("<|video_pad|>")
    placeholders = []

    def hook(module, args, kwargs):
        ids = kwargs.get("input_ids")
        if ids is not None and ids.shape[1] > 1:  # the prefill pass of each generate() call
            placeholders.append(int((ids == video_id).sum()))

    handle = backend.model.register_forward_pre_hook(hook, with_kwargs=True)
    tower = VisionCalls()
    tower.attach(backend.model)
    common = dict(model=str(tiny_model), questions=str(blind_bench["questions"]), frames=4, max_new_tokens=4,
                  batch_size=2)
    try:
        vision = run_eval(out=str(tmp_path / "vision"), videos=str(blind_bench["videos"]),
                          backend_instance=backend, **common)
        seen = (list(placeholders), len(tower.calls))
        placeholders[:], tower.calls[:] = [], []
        # Blind: the videos folder is empty and never read; no sample fails.
        blind = run_eval(out=str(tmp_path / "blind"), videos=str(blind_bench["root"] / "no-videos"), blind=True,
                         backend_instance=backend, **common)
    finally:
        handle.remove()
        for h in tower.handles:
            h.remove()
    assert seen[0] and all(n > 0 for n in seen[0]) and seen[1] == 2  # two batches, each through the vision tower
    assert placeholders and not any(placeholders) and not tower.calls  # blind: no placeholder, tower never runs
    assert blind["errors"] == 0 and blind["count"] == vision["count"] == len(blind_bench["df"])
    v_rows, b_rows = _samples(tmp_path / "vision" / "samples.jsonl"), _samples(tmp_path / "blind" / "samples.jsonl")
    assert [r["prompt"] for r in v_rows] == [r["prompt"] for r in b_rows]
    assert all(r["prompt"].startswith("These are frames of a video.\n") for r in b_rows)
    assert json.loads((tmp_path / "blind" / "config.json").read_text())["blind"] is True
    # The chance rows are written with the run and printed above it.
    assert "| chance (random) |" in (tmp_path / "blind" / "results.md").read_text()
    # A blind folder is not resumed as a vision run (or the other way round).
    with pytest.raises(Exception, match="blind"):
        run_eval(out=str(tmp_path / "blind"), videos=str(blind_bench["videos"]), backend_instance=backend, **common)


def test_blind_cli_and_report_show_chance_rows(blind_bench, tiny_model, tmp_path, capsys):
    args = ["eval", "run", "--model", str(tiny_model), "--questions", str(blind_bench["questions"]), "--frames", "4",
            "--max-new-tokens", "4"]
    assert main([*args, "--videos", str(blind_bench["videos"]), "--out", str(tmp_path / "vision")]) == 0
    capsys.readouterr()
    assert main([*args, "--videos", str(blind_bench["videos"]), "--out", str(tmp_path / "blind"), "--blind"]) == 0
    printed = capsys.readouterr().out
    assert printed.index("| chance (random) |") < printed.index("| chance (frequency) |") < printed.index("| blind |")
    assert main(["eval", "report", str(tmp_path / "vision"), str(tmp_path / "blind")]) == 0
    table = capsys.readouterr().out
    assert table.count("| chance (random) |") == 1 and "| vision |" in table and "| blind |" in table


def test_openai_blind_sends_text_only(blind_bench, tmp_path):
    from test_eval_openai import ChatServer
    from vsgrpo.eval import run_eval

    server = ChatServer()
    try:
        run_eval(model="served", questions=str(blind_bench["questions"]), videos=str(blind_bench["videos"]),
                 out=str(tmp_path / "oa"), backend="openai", blind=True, frames=3,
                 backend_options={"base_url": server.url})
    finally:
        server.close()
    assert len(server.requests) == len(blind_bench["df"])
    for r in server.requests:
        content = r["body"]["messages"][0]["content"]
        assert [p["type"] for p in content] == ["text"]
        assert content[0]["text"].startswith("These are frames of a video.\n")


def test_frequency_scores_average_to_the_frequency_row(sample):
    """Per question, the chance (frequency) row's terms: their per-type means are the row itself (all ten VSI-Bench
    types of the real sample, numeric by MRA and choices by letter or, for the direction levels, by answer word)."""
    from vsgrpo.chance import frequency_scores

    qs = load_questions(sample)
    per_q = frequency_scores(qs)
    assert set(per_q) == {q["id"] for q in qs}
    row = metrics.aggregate(per_q.values())
    b = compute_baselines(qs)
    assert row["scores"] == pytest.approx(b["frequency"])
    assert row["overall"] == pytest.approx(b["overall"]["frequency"])


def test_paired_interval_is_the_bootstrap_of_the_differences(sample):
    """The paired interval resamples scenes once for both rows: a model minus itself is exactly 0; a model that is
    right on one more question per scene than another is above it in every resample."""
    from vsgrpo.chance import frequency_scores
    from vsgrpo.eval.intervals import bootstrap, paired

    qs = load_questions(sample)
    scene = {q["id"]: q["scene_name"] for q in qs}
    freq = {i: (qt, s, scene[i]) for i, (qt, s) in frequency_scores(qs).items()}
    same = paired(freq, freq)
    assert same["difference"] == 0 and same["overall"] == [0.0, 0.0] and same["questions"] == len(qs)
    # "better": also right on the first counting question of each scene that the frequency answer misses.
    better, seen = dict(freq), set()
    for i, (qt, s, sc) in sorted(freq.items()):
        if qt == "object_counting" and s == 0 and sc not in seen:
            better[i] = (qt, 1.0, sc)
            seen.add(sc)
    p = paired(better, freq)
    assert p["difference"] > 0 and p["overall"][0] > 0
    # Narrower than the unpaired intervals side by side.
    a, b = bootstrap(better.values())["overall"], bootstrap(freq.values())["overall"]
    assert p["overall"][1] - p["overall"][0] < min(a[1] - a[0], b[1] - b[0])
    assert paired(freq, {}) is None
