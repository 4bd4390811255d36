"""`eval run --frames-like lmms-eval`: frames, frame size and prompt as lmms-eval 0.7.3's qwen2_vl model.

What runs lmms-eval's own code: the prompt (``vsibench_doc_to_text`` from the installed task) and
the frame pick lmms-eval makes among the frames qwen-vl-utils read (the block of
``Qwen2_VL.generate_until`` that does it, cut out of the installed ``models/simple/qwen2_vl.py``
and executed: it is inline code, not a function). What is replicated: qwen-vl-utils (not
installed here; lmms-eval imports it for this model) reads a video at 2 fps by its documented
``smart_nframes`` / ``fetch_video`` rule and sizes frames by ``smart_resize``; the test writes that
rule out independently below.
"""

from __future__ import annotations

import ast
import json
import math

import numpy as np
import pytest
import torch

import lmms_eval_code
from vsgrpo.eval.frames_like import lmms_eval_indices, pixel_budget, read_frames_like_lmms_eval, two_fps_indices
from vsgrpo.eval.scoring import load_questions
from vsgrpo.prompts import build_prompt


def lmms_eval_pick(n_read: int, max_num_frames: int) -> np.ndarray:
    """lmms-eval's own frame pick: its inline block run on a stand-in tensor of ``n_read`` frames."""
    path = lmms_eval_code.package_root() / "models" / "simple" / "qwen2_vl.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    block = next(n for n in ast.walk(tree) if isinstance(n, ast.If)
                 and "video_tensor.ndim > 0" in ast.unparse(n.test))
    scope = {"video_tensor": torch.arange(n_read), "video_inputs": [torch.arange(n_read)], "np": np,
             "torch": torch, "self": type("M", (), {"max_num_frames": max_num_frames})(),
             "eval_logger": None}
    exec(compile(ast.Module(body=[block], type_ignores=[]), str(path), "exec"), scope)
    return scope["video_inputs"][0].numpy()


def qwen_vl_utils_nframes(total: int, fps: float) -> int:
    """qwen-vl-utils' smart_nframes with its defaults (FPS 2, FRAME_FACTOR 2, 4..768 frames), written out."""
    def round_down(x, f):
        return math.floor(x / f) * f

    min_frames = math.ceil(4 / 2) * 2
    max_frames = round_down(min(768, total), 2)
    n = total / fps * 2.0
    n = min(min(max(n, min_frames), max_frames), total)
    return round_down(n, 2)


@pytest.mark.parametrize("total, fps", [(2880, 24.0), (3600, 30.0), (1801, 29.97), (150, 30.0), (40, 24.0),
                                        (9, 30.0), (30000, 30.0)])
@pytest.mark.parametrize("frames", [8, 32])
def test_frame_indices_are_lmms_evals(total, fps, frames):
    n = qwen_vl_utils_nframes(total, fps)
    read = torch.linspace(0, total - 1, n).round().long().numpy()  # fetch_video's placement
    assert np.array_equal(two_fps_indices(total, fps), read)
    assert np.array_equal(lmms_eval_indices(total, fps, frames), read[lmms_eval_pick(len(read), frames)])


def test_pixel_budget_follows_qwen_vl_utils():
    # A 2-minute 30 fps scan: 240 frames at 2 fps, so the total budget caps each frame below 602112.
    assert pixel_budget(3600, 30.0) == (3136, 24576 * 28 * 28 / 240 * 2)
    # A short video: lmms-eval's max_pixels is the cap.
    assert pixel_budget(150, 30.0) == (3136, 602112)


def test_prompt_is_lmms_evals(vsibench_dir):
    utils = lmms_eval_code.vsibench_utils()
    # The task's default lmms_eval_specific_kwargs (vsibench's _default_template_yaml).
    kwargs = {"pre_prompt": "", "mca_post_prompt": "Answer with the option's letter from the given choices directly.",
              "na_post_prompt": "Please answer the question using a single word or phrase."}
    for q in load_questions(vsibench_dir / "test-dev.parquet"):
        doc = {**q, "options": q["options"]}
        assert build_prompt(q["question"], q["options"], mode="vanilla", style="bench") == \
            utils.vsibench_doc_to_text(doc, kwargs), q["id"]


def test_real_video_frames_and_size(tmp_path):
    from vsgrpo.video import write_video

    # 5 s at 24 fps, 640x480; frame i is a flat grey of level 2*i, so a frame's level names it.
    total, rate = 120, 24.0
    frames = np.stack([np.full((480, 640, 3), 2 * i, np.uint8) for i in range(total)])
    path = tmp_path / "v.mp4"
    write_video(path, frames, fps=rate, crf=0)
    got, fps = read_frames_like_lmms_eval(path, 4)
    want = lmms_eval_indices(total, rate, 4)
    assert len(got) == len(want) == 4
    # Every frame resized to Qwen's smart_resize of 480x640 under the budget: 476 x 644.
    assert got.shape[1:] == (476, 644, 3)
    levels = got.reshape(len(got), -1).mean(axis=1) / 2
    assert np.allclose(levels, want, atol=0.6), (levels, want)
    assert fps == pytest.approx(4 / (total / rate))


def test_eval_run_frames_like_is_part_of_the_run(tiny_model, tmp_path, vsibench_dir):
    import pandas as pd

    from vsgrpo.cli import main
    from vsgrpo.video import write_video

    df = pd.read_parquet(vsibench_dir / "test-dev-full.parquet").head(2)  # one pruned, one kept
    df.to_parquet(tmp_path / "q.parquet")
    for ds, scene in set(zip(df.dataset, df.scene_name)):
        write_video(tmp_path / "videos" / ds / f"{scene}.mp4",
                    np.random.default_rng(0).integers(0, 256, (24, 56, 84, 3), dtype=np.uint8), fps=8)
    args = ["eval", "run", "--model", str(tiny_model), "--questions", str(tmp_path / "q.parquet"), "--videos",
            str(tmp_path / "videos"), "--frames", "4", "--max-new-tokens", "2", "--device", "cpu", "--out",
            str(tmp_path / "run"), "--frames-like", "lmms-eval"]
    assert main(args) == 0
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["frames_like"] == "lmms-eval"
    rows = [json.loads(x) for x in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    assert all(r["error"] is None for r in rows)
    # The full release's 'pruned' column: VSI-Bench-Debiased beside VSI-Bench, with its own chance rows.
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["count"] == 2 and results["debiased"]["count"] == 1
    assert json.loads((tmp_path / "run" / "baselines.json").read_text())["debiased"]["count"] == {"object_counting": 1}
    table = (tmp_path / "run" / "results.md").read_text()
    assert "| run (VSI-Bench-Debiased) |" in table and "| chance (frequency) (VSI-Bench-Debiased) |" in table
    assert json.loads((tmp_path / "run" / "question_ids.json").read_text()) == {"ids": [0, 1]}
    # Resuming with the other sampling is refused: the samples would mean something else.
    assert main(args[:-1] + ["vsgrpo"]) == 2
