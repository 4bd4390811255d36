"""Fault suite, the scenarios every writing command shares, as one matrix over the commands.

A scenario that is the same for every command lives here once, parametrised by command, instead
of once per ``tests/test_faults_COMMAND.py`` (those keep what is particular to a command: its kill
moments, its settings, its second writer paused at its own point). Inputs are built lazily, per
command, from the session fixtures of conftest.py or small ones made here.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from fault_harness import error_line, read_only, run_cli


def _synth(request, out):
    return ["data", "synth", "--scenes", "1", "--frames", "8", "--size", "64x48", "--workers", "1", "--out", out]


def _build(request, out):
    return ["data", "build", "--meta", request.getfixturevalue("example_meta"), "--out", out,
            "--tasks", "object_counting,object_size_estimation"]


def _ingest(request, out):
    from ingest_fixtures import FixtureRoom, write_scannet

    raw = request.getfixturevalue("tmp_path") / "scannet-raw"
    write_scannet(FixtureRoom(n_frames=4, width=80, height=60), raw, "scene0999_00")
    return ["data", "ingest", "--source", "scannet", "--root", raw, "--out", out, "--include-eval-scenes"]


def _bench(request):
    from vsgrpo.video import write_video

    root = request.getfixturevalue("tmp_path") / "bench"
    df = pd.read_parquet(request.getfixturevalue("vsibench_dir") / "test-dev.parquet").head(1)
    df.to_parquet(root.mkdir() or root / "questions.parquet")
    row = df.iloc[0]
    write_video(root / "videos" / row.dataset / f"{row.scene_name}.mp4",
                np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8), fps=2)
    return root


def _eval(request, out):
    b = _bench(request)
    return ["eval", "run", "--model", request.getfixturevalue("tiny_model"), "--questions", b / "questions.parquet",
            "--videos", b / "videos", "--frames", "2", "--max-new-tokens", "4", "--out", out]


def _train(request, out):
    return ["train", "sft", f"model={request.getfixturevalue('tiny_model')}",
            f"data={request.getfixturevalue('train_data')}", f"output_dir={out}", "num_frames=2",
            "per_device_train_batch_size=2", "max_steps=2", "lora=true", "lora_r=4", "lora_alpha=8"]


def _import(request, out):
    b = _bench(request)
    row = pd.read_parquet(b / "questions.parquet").iloc[0]
    src = b / "in.jsonl"
    src.write_text(json.dumps({"question": row.question, "answer": str(row.ground_truth),
                               "video": f"{row.dataset}/{row.scene_name}.mp4",
                               "question_type": row.question_type}) + "\n")
    return ["data", "import", "--format", "jsonl", "--input", src, "--videos", b / "videos", "--out", out]


COMMANDS = {"data synth": _synth, "data build": _build, "data ingest": _ingest, "eval run": _eval,
            "train sft": _train, "data import": _import}
# What the one line says: "output directory OUT is not writable" where the folder is checked up front.
READ_ONLY_SAYS = {"data synth": "writ"}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_read_only_output(command, request, tmp_path):
    """An output folder that cannot be written: one line naming it, exit 2, before any work; nothing written."""
    out = tmp_path / "ro"
    args = COMMANDS[command](request, out)
    with read_only(out):
        assert READ_ONLY_SAYS.get(command, "writable") in error_line(run_cli(*args))
    assert list(out.iterdir()) == []
