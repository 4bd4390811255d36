"""Tiny-model factory, loading, and the shared video-input builder, with real mp4s and real forward passes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vsgrpo.cli import main
from vsgrpo.errors import VsgrpoError
from vsgrpo.models import inputs as I
from vsgrpo.models.loading import load_model_and_processor, load_processor
from vsgrpo.models.tiny import build_tiny_model
from vsgrpo.video import read_frames, write_video


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    rng = np.random.default_rng(0)
    paths = []
    for i, (n, h, w) in enumerate([(9, 64, 80), (6, 48, 48)]):
        path = root / f"v{i}.mp4"
        write_video(path, rng.integers(0, 255, (n, h, w, 3), dtype=np.uint8), fps=6)
        paths.append(path)
    return paths


@pytest.mark.parametrize("family", ["qwen2_vl", "qwen2_5_vl", "qwen3_vl"])
def test_tiny_model_forward_and_generate_on_real_video(family, videos, tmp_path):
    out = build_tiny_model(family, tmp_path / "m", tokenizer="small")
    assert (out / "model.safetensors").is_file() and not list(out.glob("*.bin"))
    model, processor = load_model_and_processor(out, dtype="float32")
    frames, fps = zip(*(read_frames(p, 4) for p in videos))
    batch = I.encode_prompts(processor, ["How many chairs?", "Which is closest to the tv, chair or lamp?"],
                             list(frames), list(fps))
    assert batch["input_ids"].shape[0] == 2 and batch["video_grid_thw"].shape == (2, 3)
    assert (batch["attention_mask"][:, -1] == 1).all()  # left padding
    merge = processor.video_processor.merge_size ** 2
    for i in range(2):
        n_video_tokens = int((batch["input_ids"][i] == model.config.video_token_id).sum())
        assert n_video_tokens == int(batch["video_grid_thw"][i].prod()) // merge
    assert torch.equal(I.mm_token_type_ids(batch["input_ids"], model.config), batch["mm_token_type_ids"])
    if family == "qwen2_5_vl":
        assert batch["second_per_grid_ts"].shape == (2,)
    logits = model(**batch).logits
    assert logits.shape[:2] == batch["input_ids"].shape and torch.isfinite(logits).all()
    # The video changes the output: the pixels really enter the model.
    other = dict(batch, pixel_values_videos=torch.zeros_like(batch["pixel_values_videos"]))
    assert not torch.allclose(model(**other).logits, logits)
    suppress = I.vision_token_ids(processor)
    gen = model.generate(**batch, max_new_tokens=6, do_sample=True, suppress_tokens=suppress)
    assert not torch.isin(gen[:, batch["input_ids"].shape[1]:], torch.tensor(suppress)).any()


def test_real_qwen_tokenizer_keeps_reasoning_tags(tmp_path):
    out = build_tiny_model("qwen2_vl", tmp_path / "m", tokenizer="qwen", num_hidden_layers=1)
    processor = load_processor(out)
    tok = processor.tokenizer
    assert len(tok) == 151669 and tok.convert_tokens_to_ids("<|video_pad|>") == 151656
    text = "<think>two chairs</think><answer>2</answer><observe>x</observe>"
    assert tok.decode(tok(text)["input_ids"], skip_special_tokens=True) == text
    assert {"<think>", "</think>", "<answer>"}.isdisjoint(tok.all_special_tokens)


def test_chat_template_switches_on_part_type(tmp_path):
    processor = load_processor(build_tiny_model("qwen2_vl", tmp_path / "m", tokenizer="small"))
    # A datasets round-trip adds `video: None` / `text: None` keys to every part.
    messages = [{"role": "user", "content": [{"type": "video", "video": None, "text": None},
                                             {"type": "text", "text": "Q?", "video": None}]}]
    text = I.render_prompt(processor, messages)
    assert text.count("<|video_pad|>") == 1 and text.endswith("<|im_start|>assistant\n")
    text_only = I.render_prompt(processor, I.user_message("Q?", with_video=False))
    assert "<|video_pad|>" not in text_only


def test_loading_errors(tmp_path):
    with pytest.raises(VsgrpoError, match="does not exist"):
        load_model_and_processor(tmp_path / "missing" / "model")
    (tmp_path / "empty").mkdir()
    with pytest.raises(VsgrpoError, match="config.json"):
        load_model_and_processor(tmp_path / "empty")
    with pytest.raises(VsgrpoError, match="unknown model family"):
        build_tiny_model("llava", tmp_path / "x")


def test_encode_rejects_bad_frames(tmp_path):
    processor = load_processor(build_tiny_model("qwen2_vl", tmp_path / "m", tokenizer="small"))
    with pytest.raises(VsgrpoError, match="uint8"):
        I.encode_prompts(processor, ["q"], [np.zeros((4, 32, 32, 3), dtype=np.float32)], [1.0])


def test_cli_model_tiny(tmp_path, capsys):
    assert main(["model", "tiny", "--family", "qwen2_5_vl", "--out", str(tmp_path / "m"), "--tokenizer", "small"]) == 0
    assert (tmp_path / "m" / "config.json").is_file()
    model, _ = load_model_and_processor(tmp_path / "m")
    assert type(model).__name__ == "Qwen2_5_VLForConditionalGeneration"
