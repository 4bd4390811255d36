"""Issue 14, bad input: each gives one `vsgrpo: error:` line (exit 2), never a traceback or a silent mistake.

The kill, full-disk and concurrency cases live in the other tests/test_faults_*.py files.
"""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest

from vsgrpo.cli import main
from vsgrpo.errors import VsgrpoError
from vsgrpo.io import safe_join


def _error(capsys, rc, code=2):
    err = capsys.readouterr().err
    errors = [ln for ln in err.splitlines() if ln.startswith("vsgrpo: error:")]
    assert rc == code and len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


@pytest.fixture
def questions(tmp_path, vsibench_dir):
    df = pd.read_parquet(vsibench_dir / "test-dev.parquet").head(3)
    path = tmp_path / "q.parquet"
    df.to_parquet(path)
    return path, [int(i) for i in df.id]


def _score(questions, lines: bytes, tmp_path):
    pred = tmp_path / "pred.jsonl"
    pred.write_bytes(lines)
    return main(["eval", "score", "--questions", str(questions), "--predictions", str(pred)])


def test_binary_bytes_in_predictions(questions, tmp_path, capsys):
    q, ids = questions
    rc = _score(q, b'{"id": %d, "prediction": "A"}\n\xff\xfe\x00garbage\n' % ids[0], tmp_path)
    assert "line 2" in _error(capsys, rc)


@pytest.mark.parametrize("bad", ["1e400", "1.9", "true", "[1]", "\"x\""])
def test_ids_that_are_not_integers(bad, questions, tmp_path, capsys):
    """`"id": 1e400` raised OverflowError; `"id": 1.9` was scored as id 1."""
    q, _ = questions
    rc = _score(q, b'{"id": %s, "prediction": "A"}\n' % bad.encode(), tmp_path)
    assert "integer 'id'" in _error(capsys, rc)


def test_integral_ids_in_other_spellings_are_accepted(questions, tmp_path, capsys):
    q, ids = questions
    rc = _score(q, b'{"id": %d.0, "prediction": "A"}\n{"id": "%d", "prediction": "B"}\n' % (ids[0], ids[1]), tmp_path)
    assert rc == 0
    assert json.loads(capsys.readouterr().out)["count"] == 2


@pytest.mark.parametrize("value", [".nan", "nan", ".inf", "-.inf"])
def test_non_finite_numbers_in_a_recipe(value, tmp_path, capsys, train_data, tiny_model):
    """`learning_rate: .nan` gave a traceback and left config.yaml behind."""
    out = tmp_path / "run"
    rc = main(["train", "sft", f"model={tiny_model}", f"data={train_data}", f"output_dir={out}",
               f"learning_rate={value}"])
    assert "learning_rate" in _error(capsys, rc)
    assert not out.exists()


def test_training_refuses_question_types_evaluation_refuses(tmp_path, train_data):
    from vsgrpo.train.data import load_rows

    df = pd.read_parquet(train_data)
    df.loc[0, "question_type"] = "object_colour"
    bad = tmp_path / "bad-types.parquet"
    df.to_parquet(bad)
    with pytest.raises(VsgrpoError, match="object_colour"):
        load_rows(bad, train_data.parent / "videos")
    with pytest.raises(VsgrpoError, match="object_colour"):
        load_rows(train_data, question_types=["object_colour"])


def test_training_reads_symlinked_video_folders(tmp_path, train_data):
    """Issue 14 item 6: a dataset folder linked into the video root was refused as an escape."""
    from vsgrpo.train.data import load_rows

    root = tmp_path / "videos"
    root.mkdir()
    for d in (train_data.parent / "videos").iterdir():
        os.symlink(d, root / d.name)
    rows = load_rows(train_data, root)
    assert rows and all(os.path.isfile(r["video"]) for r in rows)


def test_safe_join_follows_links_inside_but_refuses_dot_dot_and_absolute(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "root").mkdir()
    os.symlink(tmp_path / "elsewhere", tmp_path / "root" / "scannet")
    assert safe_join(tmp_path / "root", "scannet", "a.mp4") == tmp_path / "root" / "scannet" / "a.mp4"
    for bad in (("..", "x.mp4"), ("scannet", "../../x.mp4"), ("/etc/passwd",), ("scannet\\..\\..\\x",)):
        with pytest.raises(VsgrpoError, match="escapes"):
            safe_join(tmp_path / "root", *bad)


def test_build_refuses_scene_names_that_leave_the_videos_folder(tmp_path, example_meta, capsys):
    """Issue 14 item 11: `data build` from a plain meta folder wrote a video path containing `..`."""
    src = example_meta / "scannet_meta_info_val.json"
    meta = json.loads(src.read_text())
    name = next(iter(meta))
    meta["../../outside"] = meta.pop(name)
    d = tmp_path / "meta"
    d.mkdir()
    (d / "scannet_meta_info_val.json").write_text(json.dumps(meta))
    rc = main(["data", "build", "--meta", str(d), "--out", str(tmp_path / "ds"), "--tasks", "object_counting"])
    assert "../../outside" in _error(capsys, rc)
    assert not (tmp_path / "ds" / "questions.parquet").exists()
