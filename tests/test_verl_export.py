"""`vsgrpo data export --format verl`: the export itself (main environment), and the exported files
run through verl 0.9.1's own code in the verl side environment (scripts/setup_verl_env.sh).

The side-environment tests run tests/verl_side_check.py with the side env's python. They skip when
the environment is absent, unless VSGRPO_REQUIRE_SIDE_ENVS is set (CI), where they fail instead.
The environment is found at $VSGRPO_VERL_ENV or REPO/.venv-verl.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from side_envs import side_env, side_python
from vsgrpo.errors import VsgrpoError
from vsgrpo.export.verl import VerlExport, export_verl, from_recipe
from vsgrpo.prompts import build_prompt
from vsgrpo.video import write_video

REPO = Path(__file__).resolve().parents[1]
PAPER_RECIPE = REPO / "recipes" / "paper" / "vsgrpo-2b.yaml"
VERL_ENV = side_env("verl")
VERL_PY = VERL_ENV / "bin" / "python"

# (dataset, scene, frames, (height, width)): sizes that the pixel budgets below resize differently.
VIDEOS = [("scannet", "scene0000_00", 20, (150, 200)), ("scannet", "scene0001_00", 12, (56, 168)),
          ("arkitscenes", "41069025", 9, (120, 96))]
ROWS = [  # (video index, type, question, ground truth, options)
    (0, "object_counting", "How many chair(s) are in this room?", "3", None),
    (0, "object_abs_distance", "Measuring from the closest point of each object, what is the distance between the "
                               "sofa and the tv (in meters)?", "2.4", None),
    (1, "object_rel_direction_medium", "If I am standing by the sink and facing the door, is the lamp to my left, "
                                       "right, or back?", "left", None),
    (1, "room_size_estimation", "What is the size of this room (in square meters)?", "18.5", None),
    (2, "object_rel_distance", "Measuring from the closest point of each object, which of these objects (chair, "
                               "table, lamp, door) is the closest to the tv?", "B",
     ["A. chair", "B. table", "C. lamp", "D. door"]),
    (2, "object_size_estimation", "What is the length of the longest dimension (length, width, or height) of the bed, "
                                  "measured in centimeters?", "203", None),
]


def make_data(root: Path, video_paths: dict[int, str] | None = None) -> Path:
    rng = np.random.default_rng(0)
    for dataset, scene, n, (h, w) in VIDEOS:
        write_video(root / "videos" / dataset / f"{scene}.mp4",
                    rng.integers(0, 255, size=(n, h, w, 3), dtype=np.uint8), fps=4)
    recs = []
    for i, (v, qt, q, gt, opts) in enumerate(ROWS):
        d, s = VIDEOS[v][:2]
        recs.append({"id": i, "dataset": d, "scene_name": s, "question_type": qt, "question": q, "ground_truth": gt,
                     "options": opts, "video": (video_paths or {}).get(i, f"{d}/{s}.mp4")})
    path = root / "questions.parquet"
    pd.DataFrame(recs).to_parquet(path)
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_data(tmp_path_factory.mktemp("verl-data"))


def run_cli(*argv) -> int:
    from vsgrpo.cli import main

    return main(list(argv))


def read(out: Path, split: str) -> list[dict]:
    return pd.read_parquet(out / f"{split}.parquet").to_dict("records")


# ------------------------------------------------------------------------------------- the export


def test_cli_export_schema_overrides_and_recipe_settings(data, tmp_path):
    out = tmp_path / "verl"
    assert run_cli("data", "export", "--format", "verl", "--questions", str(data), "--out", str(out),
                   "--config", str(PAPER_RECIPE), "--mode", "think", "--val-fraction", "0.3") == 0
    train, val = read(out, "train"), read(out, "val")
    assert len(train) + len(val) == len(ROWS) and train and val
    # Whole scenes are held out.
    assert not {r["videos"][0]["video"] for r in train} & {r["videos"][0]["video"] for r in val}
    by_id = {r["extra_info"]["id"]: r for r in train + val}
    for i, (v, qt, q, gt, opts) in enumerate(ROWS):
        r = by_id[str(i)]
        style = "bench" if opts else "train"
        assert list(r["prompt"]) == [{"role": "user", "content": "<video>" + build_prompt(q, opts, mode="think",
                                                                                        style=style)}]
        d, s, n, _ = VIDEOS[v]
        video = r["videos"][0]
        assert len(r["videos"]) == 1
        assert video["video"] == str(data.parent / "videos" / d / f"{s}.mp4")
        # The paper recipe's 16 frames and pixel budget; capped (and made even) for short videos.
        assert video["nframes"] == min(16, n - n % 2)
        assert (video["min_pixels"], video["max_pixels"]) == (3136, 100352)
        assert r["data_source"] == qt
        assert dict(r["reward_model"]) == {"style": "rule", "ground_truth": gt}
        extra = r["extra_info"]
        assert extra["question_type"] == qt and extra["question"] == q and extra["mode"] == "think"
        assert list(extra["options"]) == (opts or [])
        assert extra["na_shape"] == ("metric" if extra["split"] == "val" else None)
    lines = (out / "verl_overrides.txt").read_text().splitlines()
    kv = dict(line.split("=", 1) for line in lines)
    assert len(kv) == len(lines)
    assert kv["data.train_files"] == str(out / "train.parquet") and kv["data.val_files"] == str(out / "val.parquet")
    assert kv["reward.custom_reward_function.path"] == str(out / "vsgrpo_reward.py")
    assert kv["reward.custom_reward_function.name"] == "compute_score"
    assert (kv["data.prompt_key"], kv["data.video_key"]) == ("prompt", "videos")
    assert (kv["++data.mm_processor_kwargs.min_pixels"], kv["++data.mm_processor_kwargs.max_pixels"]) == \
        ("3136", "100352")
    # 200x150 under 100352 pixels stays 196x140 -> 7*5 tokens per frame pair, 8 pairs.
    assert int(kv["data.max_prompt_length"]) >= 8 * 35
    settings = json.loads((out / "vsgrpo_reward.json").read_text())
    assert settings == {"mode": "think", "na_shape": "linear", "na_tolerance": 0.5, "parser": "official",
                        "allow_empty_reasoning": True, "format_weight": 1.0, "rewards": [], "user_modules": {},
                        "own_types": {}}


@pytest.mark.parametrize("mode", ["vanilla", "observe"])
def test_modes_and_val_questions(data, tmp_path, mode):
    out = tmp_path / "verl"
    spec = VerlExport(questions=str(data), out=str(out), mode=mode, val_questions=str(data), num_frames=4,
                      min_pixels=3136, max_pixels=12544)
    summary = export_verl(spec)
    assert summary["train"] == summary["val"] == len(ROWS)
    for r in read(out, "val"):
        q = ROWS[int(r["extra_info"]["id"])]
        assert r["prompt"][0]["content"] == "<video>" + build_prompt(q[2], q[4], mode=mode,
                                                                     style="bench" if q[4] else "train")
        assert r["videos"][0]["nframes"] == 4 and r["extra_info"]["mode"] == mode
    assert json.loads((out / "vsgrpo_reward.json").read_text())["mode"] == mode


def test_root_as_rewrites_video_paths(data, tmp_path):
    out = tmp_path / "verl"
    export_verl(VerlExport(questions=str(data), out=str(out), root_as="/mnt/shared/videos", val_fraction=0.3))
    paths = {r["videos"][0]["video"] for r in read(out, "train") + read(out, "val")}
    assert paths == {f"/mnt/shared/videos/{d}/{s}.mp4" for d, s, _, _ in VIDEOS}


@pytest.mark.parametrize("bad", ["../outside.mp4", "/etc/passwd", "scannet/../../x.mp4"])
def test_refuses_video_paths_that_escape_the_root(tmp_path, bad):
    data = make_data(tmp_path / "d", video_paths={0: bad})
    with pytest.raises(VsgrpoError, match="escapes"):
        export_verl(VerlExport(questions=str(data), out=str(tmp_path / "out"), val_fraction=0.3))
    assert not (tmp_path / "out" / "train.parquet").exists()


def test_bad_settings_fail_clearly(data, tmp_path):
    with pytest.raises(VsgrpoError, match="validation"):
        export_verl(VerlExport(questions=str(data), out=str(tmp_path / "o"), val_fraction=0.0))
    with pytest.raises(VsgrpoError, match="max-pixels"):
        export_verl(VerlExport(questions=str(data), out=str(tmp_path / "o"), min_pixels=5000, max_pixels=4000))
    with pytest.raises(VsgrpoError, match="mode"):
        export_verl(VerlExport(questions=str(data), out=str(tmp_path / "o"), mode="cot"))


def test_from_recipe_takes_the_paper_settings():
    spec = from_recipe(PAPER_RECIPE, out="x")
    assert (spec.num_frames, spec.min_pixels, spec.max_pixels, spec.mode) == (16, 3136, 100352, "vanilla")
    assert (spec.na_shape, spec.na_tolerance) == ("linear", 0.5)
    assert from_recipe(PAPER_RECIPE, out="x", mode="think", num_frames=8).num_frames == 8


# ------------------------------------------------------------------------------------- the reward file

# (row index, completion): right/wrong answers, formats, hacks.
COMPLETIONS = [
    (0, "<think>I count three.</think><answer>3</answer>"), (0, "<think> </think><answer>4</answer>"),
    (0, "3"), (0, "<think>a</think><answer>3</answer><answer>3</answer>"),
    (1, "<think>far</think> <answer>2.0</answer>"), (1, "<think>x</think><answer>about 2 m</answer>"),
    (2, "<observe>a lamp</observe><answer>left</answer>"), (2, "<think>hmm</think><answer>Left.</answer>"),
    (3, "<think>big</think><answer>30</answer>"), (4, "<think>t</think><answer>table</answer>"),
    (4, "<think>t</think><answer>B</answer>"), (4, "C"), (5, "<think>long</think><answer>180</answer>"),
    (5, "<THINK>x</THINK><answer>203</answer>"),
]


def _isolated_reward(reward_file: Path, calls: list[dict]) -> dict:
    """Load the exported reward file in a fresh interpreter where vsgrpo, torch and transformers cannot be
    imported, and score ``calls`` there."""
    res = _run_isolated_reward(reward_file, calls)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def _run_isolated_reward(reward_file: Path, calls: list[dict]) -> subprocess.CompletedProcess:
    code = r"""
import importlib.util, json, sys
for name in ("vsgrpo", "torch", "transformers", "trl", "pandas", "pyarrow", "datasets"):
    sys.modules[name] = None  # any import of them raises ImportError
spec = importlib.util.spec_from_file_location("vsgrpo_reward", sys.argv[1])
mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
calls = json.load(open(sys.argv[2]))
out = [mod.compute_score(**c) for c in calls]
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("vsgrpo", "torch", "transformers") and sys.modules[m])
print(json.dumps({"scores": out, "heavy": loaded}))
"""
    calls_file = reward_file.parent / "calls.json"
    calls_file.write_text(json.dumps(calls))
    return subprocess.run([sys.executable, "-c", code, str(reward_file), str(calls_file)], capture_output=True,
                          text=True, timeout=120)


def _grpo_reward(mode: str, row, text: str, **settings) -> dict:
    from vsgrpo.rewards import default_rewards

    funcs, weights = default_rewards(mode, monitors=True, **settings)
    parts = {f.__name__: f(prompts=[None], completions=[text], ground_truth=[row[3]], question_type=[row[1]],
                           options=[row[4]])[0] for f in funcs}
    return {"score": sum(w * parts[f.__name__] for f, w in zip(funcs, weights)), "acc": parts["accuracy"], **parts}


@pytest.mark.parametrize("mode", ["vanilla", "think"])
def test_reward_file_scores_as_grpo_without_vsgrpo_or_torch(data, tmp_path, mode):
    out = tmp_path / "verl"
    export_verl(VerlExport(questions=str(data), out=str(out), mode=mode, val_fraction=0.3))
    rows = {r["extra_info"]["id"]: r for r in read(out, "train") + read(out, "val")}
    calls = []
    for i, text in COMPLETIONS:
        r = rows[str(i)]
        extra = {k: (list(v) if isinstance(v, np.ndarray) else v) for k, v in r["extra_info"].items()}
        extra["na_shape"] = None  # training rows: the recipe's shape (validation rows are checked below)
        calls.append({"data_source": r["data_source"], "solution_str": text,
                      "ground_truth": r["reward_model"]["ground_truth"], "extra_info": extra})
    res = _isolated_reward(out / "vsgrpo_reward.py", calls)
    assert res["heavy"] == []
    for (i, text), got in zip(COMPLETIONS, res["scores"]):
        want = _grpo_reward(mode, ROWS[i], text)
        assert got == pytest.approx(want), (mode, ROWS[i][1], text)
    assert any(s["score"] > 0 for s in res["scores"]) and any(s["score"] == 0 for s in res["scores"])


USER_REWARD = """import re


def brevity(prompts=None, completions=(), **columns):
    return [1.0 / (1 + len(re.findall(r"\\w+", str(c)))) for c in completions]
"""


def _recipe_with_rewards(tmp_path: Path, rewards: str) -> Path:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text((REPO / "recipes" / "tiny" / "grpo.yaml").read_text() + f"\nrewards: {rewards}\n")
    return recipe


def test_reward_file_returns_the_trainers_weighted_total_for_the_recipes_rewards(data, tmp_path, monkeypatch):
    """A think-mode recipe with its own weights and a user reward: verl's reward file (run without vsgrpo)
    returns the weighted total of the rewards the trainer resolves from the same recipe."""
    from vsgrpo.train.config import load_config
    from vsgrpo.train.reward_config import resolve_rewards

    pkg = tmp_path / "userpkg"
    pkg.mkdir()
    (pkg / "myrewards_verl.py").write_text(USER_REWARD)
    monkeypatch.syspath_prepend(str(pkg))
    recipe = _recipe_with_rewards(tmp_path, "[{accuracy: 0.7}, {format: 0.3}, {'myrewards_verl:brevity': 0.2}]")
    out = tmp_path / "verl"
    assert run_cli("data", "export", "--format", "verl", "--questions", str(data), "--out", str(out),
                   "--config", str(recipe), "--val-fraction", "0.3") == 0
    settings = json.loads((out / "vsgrpo_reward.json").read_text())
    assert settings["rewards"] == [["accuracy", 0.7], ["format", 0.3], ["myrewards_verl:brevity", 0.2]]
    assert (out / settings["user_modules"]["myrewards_verl"]).read_text() == USER_REWARD

    cfg = load_config("grpo", recipe, check_paths=False)
    assert cfg.mode == "think"
    funcs, weights = resolve_rewards(cfg)
    rows = {r["extra_info"]["id"]: r for r in read(out, "train") + read(out, "val")}
    calls, want = [], []
    for i, text in COMPLETIONS:
        r = rows[str(i)]
        extra = {k: (list(v) if isinstance(v, np.ndarray) else v) for k, v in r["extra_info"].items()}
        extra["na_shape"] = None  # the recipe's shape on every row, as the trainer scores
        calls.append({"data_source": r["data_source"], "solution_str": text,
                      "ground_truth": r["reward_model"]["ground_truth"], "extra_info": extra})
        row = ROWS[i]
        parts = [f(prompts=[None], completions=[text], ground_truth=[row[3]], question_type=[row[1]],
                   options=[row[4]])[0] for f in funcs]
        want.append(sum(w * p for w, p in zip(weights, parts)))
    res = _isolated_reward(out / "vsgrpo_reward.py", calls)
    assert res["heavy"] == []
    got = [s["score"] for s in res["scores"]]
    assert got == pytest.approx(want)
    # Not the default set: accuracy + format at weight 1 each gives other totals on these completions.
    default = [_grpo_reward("think", ROWS[i], text)["score"] for i, text in COMPLETIONS]
    assert sum(abs(g - d) > 1e-9 for g, d in zip(got, default)) >= len(COMPLETIONS) // 2


def test_export_refuses_a_user_reward_it_cannot_carry_before_writing(data, tmp_path, monkeypatch, capsys):
    pkg = tmp_path / "userpkg"
    pkg.mkdir()
    (pkg / "heavy_reward_verl.py").write_text("def score(prompts=None, completions=(), **kw):\n"
                                              "    import pandas\n    return [0.0] * len(completions)\n")
    monkeypatch.syspath_prepend(str(pkg))
    recipe = _recipe_with_rewards(tmp_path, "[accuracy, {'heavy_reward_verl:score': 0.5}]")
    out = tmp_path / "verl"
    assert run_cli("data", "export", "--format", "verl", "--questions", str(data), "--out", str(out),
                   "--config", str(recipe), "--val-fraction", "0.3") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "heavy_reward_verl:score" in err[0] and "imports pandas" in err[0]
    assert not out.exists()


def test_validation_rows_score_as_vsgrpo_eval(data, tmp_path):
    """Validation rows carry na_shape=metric: their accuracy is VSI-Bench's metric, as `vsgrpo eval score`."""
    from vsgrpo import metrics

    out = tmp_path / "verl"
    export_verl(VerlExport(questions=str(data), out=str(out), mode="vanilla", val_questions=str(data)))
    rows = {r["extra_info"]["id"]: r for r in read(out, "val")}
    texts = [(0, "3"), (0, "4"), (1, "2.1"), (1, "3.5m"), (2, "left"), (3, "20"), (4, "B"), (4, "table"), (4, "A"),
             (5, "150"), (5, "203")]
    calls = [{"data_source": rows[str(i)]["data_source"], "solution_str": t,
              "ground_truth": rows[str(i)]["reward_model"]["ground_truth"],
              "extra_info": {k: (list(v) if isinstance(v, np.ndarray) else v)
                             for k, v in rows[str(i)]["extra_info"].items()}} for i, t in texts]
    res = _isolated_reward(out / "vsgrpo_reward.py", calls)
    for (i, t), got in zip(texts, res["scores"]):
        row = ROWS[i]
        assert got["accuracy"] == pytest.approx(metrics.score_prediction(t, row[3], row[1], row[4])), (row[1], t)
    # And `vsgrpo eval score` itself on one prediction per question gives the same per-type scores (in %).
    first = {}
    for (i, t), got in zip(texts, res["scores"]):
        first.setdefault(i, (t, got["acc"]))
    preds = tmp_path / "predictions.jsonl"
    preds.write_text("".join(json.dumps({"id": i, "prediction": t}) + "\n" for i, (t, _) in first.items()))
    assert run_cli("eval", "score", "--questions", str(data), "--predictions", str(preds),
                   "--out", str(tmp_path / "results.json")) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    for i, (_, acc) in first.items():
        assert results["scores"][ROWS[i][1]] == pytest.approx(100 * acc), ROWS[i][1]


# ------------------------------------------------------------------------------------- a team's own question types

# (video index, type, question, ground truth, options, question_kind): a numeric and a choice type of a team's own
# (docs/own-site.md), beside one of VSI-Bench's.
OWN_ROWS = [
    (0, "site_distance", "How far is the forklift bay from the door (in meters)?", "10", None, "numeric"),
    (1, "site_distance", "How far is the rack from the door (in meters)?", "4", None, "numeric"),
    (2, "site_nearest", "Which shelf is nearest the exit?", "B", ["A. red", "B. blue", "C. green"], "choice"),
    (2, "object_counting", "How many pallet(s) are in this room?", "3", None, None),
]
OWN_TYPES = {"site_distance": "numeric", "site_nearest": "choice"}
# (row index, completion): exact, an MRA partial score, wrong, unparsable; right and wrong choices.
OWN_COMPLETIONS = [(0, "10"), (0, "<answer>11</answer>"), (0, "25"), (1, "3.5"), (1, "far"), (2, "B"),
                   (2, "<answer>B</answer>"), (2, "A"), (2, "C. green"), (3, "3"), (3, "5")]


@pytest.fixture
def own_data(tmp_path):
    """A questions parquet with own types; the registry starts without them (as in a fresh process, where the
    file's question_kind column declares them) and is left without them."""
    from vsgrpo import question_types

    for name in OWN_TYPES:
        question_types.unregister_type(name)
    root = tmp_path / "own-data"
    make_data(root)  # the videos
    recs = [{"id": i, "dataset": VIDEOS[v][0], "scene_name": VIDEOS[v][1], "question_type": qt, "question": q,
             "ground_truth": gt, "options": opts, "video": f"{VIDEOS[v][0]}/{VIDEOS[v][1]}.mp4", "question_kind": kind}
            for i, (v, qt, q, gt, opts, kind) in enumerate(OWN_ROWS)]
    path = root / "own_questions.parquet"
    pd.DataFrame(recs).to_parquet(path)
    yield path
    for name in OWN_TYPES:
        question_types.unregister_type(name)


def _calls(out: Path, texts) -> list[dict]:
    """verl's reward calls for ``(row index, completion, split)``, from the exported rows."""
    rows = {(r["extra_info"]["split"], r["extra_info"]["id"]): r for r in read(out, "train") + read(out, "val")}
    calls = []
    for i, text, split in texts:
        r = rows[(split, str(i))]
        calls.append({"data_source": r["data_source"], "solution_str": text,
                      "ground_truth": r["reward_model"]["ground_truth"],
                      "extra_info": {k: (list(v) if isinstance(v, np.ndarray) else v)
                                     for k, v in r["extra_info"].items()}})
    return calls


def test_reward_file_scores_own_question_types_as_vsgrpo(own_data, tmp_path):
    """Own types in the exported rows go into vsgrpo_reward.json; the reward, run without vsgrpo, scores an own
    numeric type by MRA and an own choice type by exact match, as vsgrpo's metric (validation rows) and the
    trainer's accuracy reward (training rows) do."""
    from vsgrpo.metrics import score_prediction

    out = tmp_path / "verl"
    summary = export_verl(VerlExport(questions=str(own_data), out=str(out), val_questions=str(own_data)))
    assert summary["train"] == summary["val"] == len(OWN_ROWS)
    settings = json.loads((out / "vsgrpo_reward.json").read_text())
    assert settings["own_types"] == OWN_TYPES  # only the types vsgrpo does not ship
    assert {r["data_source"] for r in read(out, "val")} == {"site_distance", "site_nearest", "object_counting"}

    texts = [(i, t, split) for split in ("val", "train") for i, t in OWN_COMPLETIONS]
    res = _isolated_reward(out / "vsgrpo_reward.py", _calls(out, texts))
    assert res["heavy"] == []
    got = {(split, i, t): s for (i, t, split), s in zip(texts, res["scores"])}
    for i, t in OWN_COMPLETIONS:  # the registry now holds the own types (export_verl read the file)
        _, qt, _, gt, opts, _ = row = OWN_ROWS[i]
        assert got["val", i, t]["accuracy"] == pytest.approx(score_prediction(t, gt, qt, opts)), (qt, t)
        assert got["train", i, t] == pytest.approx(_grpo_reward("vanilla", row, t)), (qt, t)
    metric = {(i, t): got["val", i, t]["accuracy"] for i, t in OWN_COMPLETIONS}
    assert metric[0, "10"] == metric[2, "B"] == metric[2, "<answer>B</answer>"] == 1.0
    assert 0 < metric[0, "<answer>11</answer>"] < 1  # MRA: partly right
    assert metric[0, "25"] == metric[1, "far"] == metric[2, "A"] == metric[2, "C. green"] == 0.0
    # Training rows use the recipe's shape (linear, tolerance 0.5: 1 - 0.1 / 0.5 for 11 against 10), not MRA.
    assert got["train", 0, "<answer>11</answer>"]["accuracy"] == pytest.approx(0.8) != metric[0, "<answer>11</answer>"]
    assert got["train", 0, "25"]["accuracy"] == 0.0

    # Without the table the copy does not know the own types: the gap this closes.
    settings["own_types"] = {}
    (out / "vsgrpo_reward.json").write_text(json.dumps(settings))
    bare = _run_isolated_reward(out / "vsgrpo_reward.py", _calls(out, [(0, "10", "val")]))
    assert bare.returncode != 0 and "site_distance" in bare.stderr
    # verl's reward_kwargs can hand the table in too (+reward.custom_reward_function.reward_kwargs.own_types=...).
    call = dict(_calls(out, [(0, "<answer>11</answer>", "val")])[0], own_types={"site_distance": "numeric"})
    assert _isolated_reward(out / "vsgrpo_reward.py", [call])["scores"][0] == got["val", 0, "<answer>11</answer>"]


def test_reward_file_without_own_types_records_none(data, tmp_path):
    out = tmp_path / "verl"
    export_verl(VerlExport(questions=str(data), out=str(out), val_fraction=0.3))
    assert json.loads((out / "vsgrpo_reward.json").read_text())["own_types"] == {}


# ------------------------------------------------------------------------------------- verl itself (side env)


def _require_verl_env():
    side_python("verl")


def _side(request: dict, tmp_path: Path) -> dict:
    req, res = tmp_path / "side-request.json", tmp_path / "side-result.json"
    req.write_text(json.dumps(request))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS="1", RAY_USAGE_STATS_ENABLED="0",
               HOME=str(tmp_path / "home"))  # verl caches parquet copies under ~/.cache/verl
    proc = subprocess.run([str(VERL_PY), str(REPO / "tests" / "verl_side_check.py"), str(req), str(res)],
                          capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return json.loads(res.read_text())


# Qwen3-VL is left out on purpose: its transformers 5.x video processor applies min/max pixels to the whole clip
# (frames x height x width) while qwen-vl-utils (verl's reader) applies them per frame, so the same budget gives
# different frame sizes; see docs/scaling.md.
FAMILIES = ("qwen2_vl", "qwen2_5_vl")


def test_verl_dataset_and_reward_match_vsgrpo(data, tmp_path):
    """verl's RLHFDataset + qwen-vl-utils + processor give the same vision tokens as vsgrpo's training inputs
    (Qwen2-VL, Qwen2.5-VL: the same prompt token ids throughout), and verl's reward worker scores completions
    exactly as vsgrpo's GRPO reward."""
    _require_verl_env()
    from vsgrpo.models.inputs import encode_prompts
    from vsgrpo.models.loading import load_processor
    from vsgrpo.models.tiny import build_tiny_model
    from vsgrpo.train.data import load_rows
    from vsgrpo.video import read_frames

    min_px, max_px, frames = 3136, 28 * 28 * 12, 8
    out = tmp_path / "verl"
    export_verl(VerlExport(questions=str(data), out=str(out), mode="think", val_fraction=0.3, num_frames=frames,
                           min_pixels=min_px, max_pixels=max_px))
    rows = {r["extra_info"]["id"]: r for r in read(out, "train") + read(out, "val")}
    completions = [{"split": rows[str(i)]["extra_info"]["split"], "id": str(i), "text": t} for i, t in COMPLETIONS]
    models = {f: build_tiny_model(f, tmp_path / f, tokenizer="small") for f in FAMILIES}
    runs = [{"model": str(m), "overrides": (out / "verl_overrides.txt").read_text().splitlines()
             + [f"actor_rollout_ref.model.path={m}"], "completions": completions if f == "qwen2_vl" else [], "ray": f == "qwen2_vl"}
            for f, m in models.items()]
    res = _side({"runs": runs}, tmp_path)
    assert res["versions"]["verl"] == "0.9.1"

    # vsgrpo's own inputs for the same questions: its prompt rows, frames and processor with the same budget.
    ours = {r["id"]: r for r in load_rows(data, data.parent / "videos", mode="think")}
    for family, run in zip(FAMILIES, res["runs"]):
        processor = load_processor(models[family], min_pixels=min_px, max_pixels=max_px)
        video_id = processor.tokenizer.convert_tokens_to_ids("<|video_pad|>")
        assert len(run["dataset"]) == len(ROWS)
        for item in run["dataset"]:
            row = ours[item["id"]]
            video, fps = read_frames(row["video"], frames)
            enc = encode_prompts(processor, [row["prompt"]], [video], [fps])
            ids = enc["input_ids"][0].tolist()
            assert item["video_tokens"] == ids.count(video_id) > 0, (family, item["id"])
            assert item["video_grid_thw"] == enc["video_grid_thw"].tolist(), (family, item["id"])
            assert item["input_ids"] == ids, (family, item["id"])  # same chat text, same vision placeholders
        # Three frame sizes, three grids: 150x200 shrunk to the budget, 56x168 kept, 120x96 rounded.
        assert len({tuple(item["video_grid_thw"][0]) for item in run["dataset"]}) == len(VIDEOS)

    # verl's reward worker (custom reward loaded by path, naive reward manager) = vsgrpo's GRPO reward.
    reward = res["runs"][0]["reward"]
    assert len(reward) == len(COMPLETIONS)
    for (i, text), got in zip(COMPLETIONS, reward):
        split = rows[str(i)]["extra_info"]["split"]
        want = _grpo_reward("think", ROWS[i], text, na_shape="metric" if split == "val" else "linear")
        assert got["decoded"] == text
        assert got["score"] == pytest.approx(want["score"]) and got["rm_score_sum"] == pytest.approx(want["score"])
        assert got["parts"] == pytest.approx(want), (ROWS[i][1], text)
        # The same through the trainer's RewardLoopManager and its Ray reward-worker actor.
        assert got["ray"]["rm_score_sum"] == pytest.approx(want["score"])
        assert got["ray"]["parts"] == pytest.approx(want)


REPORT = {  # verl key -> the value the paper recipe maps to (recipes/verl/vsgrpo-2b.overrides)
    "algorithm.adv_estimator": "grpo", "algorithm.norm_adv_by_std_in_grpo": True, "algorithm.use_kl_in_reward": False,
    "actor_rollout_ref.actor.use_kl_loss": True, "actor_rollout_ref.actor.kl_loss_coef": 1e-4,
    "actor_rollout_ref.actor.kl_loss_type": "low_var_kl", "actor_rollout_ref.actor.clip_ratio": 0.2,
    "actor_rollout_ref.actor.loss_agg_mode": "seq-mean-token-mean", "actor_rollout_ref.actor.optim.lr": 1e-5,
    "actor_rollout_ref.model.lora_rank": 64, "actor_rollout_ref.model.lora_alpha": 128,
    "actor_rollout_ref.model.target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                               "down_proj"],
    "actor_rollout_ref.model.exclude_modules": ".*visual.*",
    "actor_rollout_ref.rollout.name": "vllm", "actor_rollout_ref.rollout.n": 14,
    "actor_rollout_ref.rollout.temperature": 1.0, "actor_rollout_ref.rollout.val_kwargs.do_sample": False,
    "data.train_batch_size": 32, "data.max_response_length": 256, "trainer.total_training_steps": 1500,
    "trainer.test_freq": 100, "reward.custom_reward_function.name": "compute_score",
    "data.video_key": "videos", "data.mm_processor_kwargs": {"min_pixels": 3136, "max_pixels": 100352},
}


def test_verl_recipes_compose_into_valid_verl_configs(data, tmp_path):
    """recipes/verl/*.sh (their DRY_RUN override lists) compose with verl's own config schema (no unknown key)
    and pass verl's validate_config, single node and 4 nodes, with the paper's values."""
    _require_verl_env()
    out = tmp_path / "verl"
    export_verl(from_recipe(PAPER_RECIPE, questions=str(data), out=str(out), val_fraction=0.3))
    runs = [("single_node.sh", {}, 1), ("multi_node.sh", {"NNODES": "4", "NODE_RANK": "0"}, 4)]
    configs = []
    for script, env, _ in runs:
        dry = subprocess.run(["bash", str(REPO / "recipes" / "verl" / script)], capture_output=True, text=True,
                             env={**os.environ, "EXPORT": str(out), "DRY_RUN": "1", **env}, timeout=60)
        assert dry.returncode == 0, dry.stderr
        configs.append({"overrides": dry.stdout.splitlines(),
                        "report": list(REPORT) + ["trainer.nnodes", "trainer.n_gpus_per_node", "data.train_files",
                                                  "reward.custom_reward_function.path"]})
    res = _side({"configs": configs}, tmp_path)
    for (script, _, nnodes), got in zip(runs, res["configs"]):
        assert got["_validate"].startswith("validate_config passed"), got["_validate"]
        for key, want in REPORT.items():
            assert got[key] == (pytest.approx(want) if isinstance(want, float) else want), (script, key)
        assert (got["trainer.nnodes"], got["trainer.n_gpus_per_node"]) == (nnodes, 8)
        assert got["data.train_files"] == str(out / "train.parquet")
        assert got["reward.custom_reward_function.path"] == str(out / "vsgrpo_reward.py")


def test_reward_module_from_the_package_is_import_light_and_uses_installed_vsgrpo(tmp_path):
    """Used straight from the package (no export beside it), the reward imports the installed vsgrpo scoring
    modules, still without torch or transformers."""
    code = ("import sys, vsgrpo.export.verl_reward as m; "
            "r = m.compute_score('object_counting', '<answer>3</answer>', '3', "
            "{'question_type': 'object_counting', 'options': []}); "
            "print(r['score'], r['accuracy'], 'torch' in sys.modules, 'transformers' in sys.modules, "
            "m._REWARDS.__name__)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.split() == ["1.0", "1.0", "False", "False", "vsgrpo.rewards"]


def test_verl_reward_worker_scores_own_question_types(own_data, tmp_path):
    """verl's reward worker, loading the export's reward by path in verl's environment (no vsgrpo there), scores
    a team's own numeric and choice types as vsgrpo: MRA / exact match on validation rows, the trainer's accuracy
    reward on training rows; also through the trainer's RewardLoopManager and its Ray reward-worker actor."""
    _require_verl_env()
    from vsgrpo.metrics import score_prediction
    from vsgrpo.models.tiny import build_tiny_model

    out = tmp_path / "verl"
    export_verl(VerlExport(questions=str(own_data), out=str(out), val_questions=str(own_data), num_frames=4))
    model = build_tiny_model("qwen2_vl", tmp_path / "qwen2_vl", tokenizer="small")
    texts = [(i, t, split) for split in ("val", "train") for i, t in OWN_COMPLETIONS]
    run = {"model": str(model), "dataset": False, "ray": True,
           "overrides": (out / "verl_overrides.txt").read_text().splitlines() + [f"actor_rollout_ref.model.path={model}"],
           "completions": [{"split": split, "id": str(i), "text": t} for i, t, split in texts]}
    reward = _side({"runs": [run]}, tmp_path)["runs"][0]["reward"]
    assert len(reward) == len(texts)
    for (i, t, split), got in zip(texts, reward):
        _, qt, _, gt, opts, _ = row = OWN_ROWS[i]
        assert got["decoded"] == t
        if split == "val":
            assert got["parts"]["accuracy"] == pytest.approx(score_prediction(t, gt, qt, opts)), (qt, t)
        want = _grpo_reward("vanilla", row, t, na_shape="metric" if split == "val" else "linear")
        assert got["parts"] == pytest.approx(want) and got["rm_score_sum"] == pytest.approx(want["score"]), (qt, t)
        assert got["ray"]["parts"] == pytest.approx(want), (qt, t)
    val = {(i, t): got["parts"]["accuracy"] for (i, t, split), got in zip(texts, reward) if split == "val"}
    assert 0 < val[0, "<answer>11</answer>"] < 1 and val[2, "A"] == val[0, "25"] == 0.0 and val[2, "B"] == 1.0
