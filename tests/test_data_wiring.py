"""Wiring that follows the data (issue 25, item 3): `train` and `eval run` find the videos from the
build's own record, `data build --meta` takes a data root, and a run that fails before its first
sample (or step) leaves nothing that blocks the corrected rerun.

Real procedural scenes (`data synth`), real mp4s and a real tiny Qwen2-VL; no mocks.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from vsgrpo.cli import main
from vsgrpo.errors import VsgrpoError
from vsgrpo.questions_parquet import BUILD_CONFIG_FILE, FETCH_RECORD_FILE, video_root


def _run(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def _error_line(err: str) -> str:
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("vsgrpo: error: "), err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory) -> Path:
    """A data root as `data synth` writes it (meta/, videos/, visibility/, ..., synth_config.json)."""
    root = tmp_path_factory.mktemp("wiring") / "synth"
    assert main(["data", "synth", "--scenes", "2", "--seed", "5", "--frames", "8", "--size", "64x48",
                 "--out", str(root)]) == 0
    assert (root / "synth_config.json").is_file() and (root / "meta").is_dir()
    return root


@pytest.fixture(scope="module")
def built(synth_root, tmp_path_factory) -> Path:
    """`data build --meta ROOT --out elsewhere --style train`: questions away from the videos."""
    out = tmp_path_factory.mktemp("built") / "q"
    assert main(["data", "build", "--meta", str(synth_root), "--out", str(out), "--style", "train",
                 "--per-scene", "4"]) == 0
    return out / "questions.parquet"


# ----------------------------------------------------------------------------- data build --meta ROOT

def test_build_takes_a_data_root_and_its_meta_folder_alike(synth_root, built, tmp_path, capsys):
    """--meta ROOT and --meta ROOT/meta are the same build: same questions, same record (so a rebuild
    into the same folder with the other spelling is accepted, not refused as other settings)."""
    record = json.loads((built.parent / BUILD_CONFIG_FILE).read_text())
    assert record["meta"] == str((synth_root / "meta").resolve())
    rc, _, err = _run(capsys, "data", "build", "--meta", synth_root / "meta", "--out", built.parent, "--style",
                      "train", "--per-scene", "4")
    assert rc == 0, err
    other = tmp_path / "other"
    assert _run(capsys, "data", "build", "--meta", synth_root / "meta", "--out", other, "--style", "train",
                "--per-scene", "4")[0] == 0
    a, b = pd.read_parquet(built), pd.read_parquet(other / "questions.parquet")
    assert len(a) > 0 and a.drop(columns=["extra"]).equals(b.drop(columns=["extra"]))
    # the data root's sidecars were used (route planning / appearance order need floor plans and visibility)
    assert "route_planning" in set(a["question_type"]) or "obj_appearance_order" in set(a["question_type"])


@pytest.mark.parametrize("what", ["videos", "questions", "empty", "root without meta"])
def test_meta_that_is_neither_a_root_nor_meta_gets_one_line_saying_what_was_expected(what, synth_root, built,
                                                                                     tmp_path, capsys):
    if what == "videos":
        meta = synth_root / "videos"
    elif what == "questions":
        meta = built.parent
    elif what == "empty":
        meta = tmp_path / "empty"
        meta.mkdir()
    else:  # a data root whose meta/ is gone: before, its synth_config.json was read as meta info
        meta = tmp_path / "root"
        shutil.copytree(synth_root, meta)
        shutil.rmtree(meta / "meta")
    rc, _, err = _run(capsys, "data", "build", "--meta", meta, "--out", tmp_path / "out")
    assert rc == 2
    line = _error_line(err)
    assert "--meta takes a data root (the folder holding meta/" in line and str(meta) in line
    assert "expected a JSON object" not in line
    assert not (tmp_path / "out" / "questions.parquet").exists()


# ----------------------------------------------------------------------------- the video root, one rule

def test_video_root_given_else_record_else_beside(synth_root, built, tmp_path):
    assert video_root(built, tmp_path) == tmp_path  # an explicit root always wins
    assert video_root(built) == (synth_root / "videos").resolve()  # the build's record
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(built, bare / "questions.parquet")
    assert video_root(bare / "questions.parquet") == (bare / "videos").resolve()  # no record: the old default
    (bare / FETCH_RECORD_FILE).write_text("{}")  # data fetch's record: {dataset}/{scene}.mp4 beside the file
    assert video_root(bare / "questions.parquet") == bare.resolve()


def test_a_record_whose_videos_are_gone_is_one_error_naming_it(built, tmp_path):
    moved = tmp_path / "q"
    shutil.copytree(built.parent, moved)
    record = moved / BUILD_CONFIG_FILE
    settings = json.loads(record.read_text())
    record.write_text(json.dumps({**settings, "meta": str(tmp_path / "gone" / "meta")}))
    with pytest.raises(VsgrpoError) as e:
        video_root(moved / "questions.parquet", setting="video_root")
    assert str(record.resolve()) in str(e.value) and "video_root" in str(e.value)
    (moved / "videos").mkdir()  # the questions were moved together with their videos: those are used
    assert video_root(moved / "questions.parquet") == (moved / "videos").resolve()


def test_train_and_eval_find_the_videos_from_the_build_record(synth_root, built, tiny_model, tmp_path, capsys):
    """The issue's commands: before, train failed with 'video root .../q/videos does not exist'."""
    assert not (built.parent / "videos").exists()
    run = tmp_path / "run"
    rc, _, err = _run(capsys, "train", "grpo", f"model={tiny_model}", f"data={built}", f"output_dir={run}",
                      "max_steps=1", "num_frames=4", "num_generations=2", "per_device_train_batch_size=2",
                      "max_completion_length=4", "report_to=[jsonl]", "lora_r=4", "lora_alpha=8")
    assert rc == 0, err
    assert (run / "final").is_dir() and json.loads((run / "finished.json").read_text())["global_step"] == 1
    out = tmp_path / "eval"
    rc, _, err = _run(capsys, "eval", "run", "--model", tiny_model, "--questions", built, "--out", out,
                      "--frames", "4", "--limit", "3", "--style", "train", "--device", "cpu")
    assert rc == 0, err
    config = json.loads((out / "config.json").read_text())
    assert config["videos"] == str((synth_root / "videos").resolve())
    samples = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 3 and not any(s.get("error") for s in samples)
    # the same run with the folder given explicitly is the same run (resumes, nothing to redo)
    rc, _, err = _run(capsys, "eval", "run", "--model", tiny_model, "--questions", built, "--out", out,
                      "--videos", synth_root / "videos", "--frames", "4", "--limit", "3", "--style", "train",
                      "--device", "cpu")
    assert rc == 0 and "holds a run with" not in err


def test_eval_with_a_stale_record_and_no_videos_flag_is_one_line(built, tiny_model, tmp_path, capsys):
    moved = tmp_path / "q"
    shutil.copytree(built.parent, moved)
    record = moved / BUILD_CONFIG_FILE
    record.write_text(json.dumps({**json.loads(record.read_text()), "meta": str(tmp_path / "gone" / "meta")}))
    rc, _, err = _run(capsys, "eval", "run", "--model", tiny_model, "--questions", moved / "questions.parquet",
                      "--out", tmp_path / "eval", "--limit", "1")
    assert rc == 2
    line = _error_line(err)
    assert BUILD_CONFIG_FILE in line and "--videos" in line


# ----------------------------------------------------------------------------- failed before step 1, then rerun

def test_train_failing_in_step0_validation_then_corrected_rerun_is_not_refused(built, synth_root, tiny_model,
                                                                                tmp_path, capsys):
    """The run fails in validation at step 0 (its eval_questions lack a column), after it wrote config.yaml
    and eval/ into output_dir; the rerun with the corrected eval_questions into the same folder trains."""
    broken = tmp_path / "broken.parquet"
    pd.read_parquet(built).drop(columns=["ground_truth"]).to_parquet(broken)
    run = tmp_path / "run"
    args = ["train", "grpo", f"model={tiny_model}", f"data={built}", f"output_dir={run}", "max_steps=1",
            "num_frames=4", "num_generations=2", "per_device_train_batch_size=2", "max_completion_length=4",
            "report_to=[jsonl]", "lora_r=4", "lora_alpha=8", "eval_limit=2", "eval_max_new_tokens=4",
            "eval_blind=false", f"eval_videos={synth_root / 'videos'}"]
    rc, _, err = _run(capsys, *args, f"eval_questions={broken}")
    assert rc == 2 and "ground_truth" in _error_line(err)
    assert (run / "config.yaml").is_file() and not list(run.glob("checkpoint-*"))  # what the failed run left
    rc, _, err = _run(capsys, *args, f"eval_questions={built}")
    assert rc == 0, err
    scores = [json.loads(x) for x in (run / "eval" / "scores.jsonl").read_text().splitlines()]
    assert [s["step"] for s in scores] == [0, 1]
    assert json.loads((run / "finished.json").read_text())["global_step"] == 1
