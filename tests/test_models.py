"""Tiny-model factory, loading, and the shared video-input builder, with real mp4s and real forward passes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vsgrpo.cli import main
from vsgrpo.errors import VsgrpoError
from vsgrpo.models import inputs as I
from vsgrpo.models.families import family_of, get_family, names
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


FAMILIES = names()


def test_registry_lists_every_family_and_detects_it(tmp_path):
    assert {"qwen2_vl", "qwen2_5_vl", "qwen3_vl", "llava_onevision"} <= set(FAMILIES)
    assert all(get_family(n).name == n and family_of(n) is get_family(n) for n in FAMILIES)
    with pytest.raises(VsgrpoError, match="unknown model family"):
        get_family("nope")


@pytest.mark.parametrize("family", FAMILIES)
def test_tiny_model_forward_and_generate_on_real_video(family, videos, tmp_path):
    out = build_tiny_model(family, tmp_path / "m", tokenizer="small")
    assert (out / "model.safetensors").is_file() and not list(out.glob("*.bin"))
    model, processor = load_model_and_processor(out, dtype="float32")
    fam = get_family(family)
    # Detected the same way from the folder, the model, its config and its processor.
    assert family_of(out) is family_of(model) is family_of(model.config) is family_of(processor) is fam
    frames, fps = zip(*(read_frames(p, 4) for p in videos))
    batch = I.encode_prompts(processor, ["How many chairs?", "Which is closest to the tv, chair or lamp?"],
                             list(frames), list(fps))
    assert batch["input_ids"].shape[0] == 2 and set(fam.video_keys) <= set(batch)
    assert (batch["attention_mask"][:, -1] == 1).all()  # left padding
    n_video_tokens = (batch["input_ids"] == model.config.video_token_id).sum(1)
    assert (n_video_tokens > 0).all()
    if family.startswith("qwen"):
        assert batch["video_grid_thw"].shape == (2, 3)
        merge = processor.video_processor.merge_size ** 2
        assert n_video_tokens.tolist() == (batch["video_grid_thw"].prod(-1) // merge).tolist()
        assert torch.equal(fam.token_inputs(batch["input_ids"], model.config)["mm_token_type_ids"],
                           batch["mm_token_type_ids"])
    if family == "qwen2_5_vl":
        assert batch["second_per_grid_ts"].shape == (2,)
    if family == "llava_onevision":
        # (videos, frames, 3, H, W); frames*ceil(patches/2)^2 + 1 newline tokens per video.
        assert batch["pixel_values_videos"].shape[:2] == (2, 4)
        assert n_video_tokens.tolist() == [4 * 4 + 1] * 2
    # Per-sample pieces round-trip (what chunked log-prob passes and TRL's shuffle rely on).
    video = {k: batch[k] for k in fam.video_keys}
    pieces = fam.split_video(video, 2)
    assert all(len(v) == 2 for v in pieces.values())
    joined = fam.merge_video(pieces)
    assert all(torch.equal(joined[k], video[k]) for k in video)
    swapped = fam.merge_video({k: v[::-1] for k, v in pieces.items()})
    second = fam.merge_video({k: v[1:] for k, v in pieces.items()})
    assert all(torch.equal(swapped[k][:second[k].shape[0]], second[k]) for k in video)
    logits = model(**batch).logits
    assert logits.shape[:2] == batch["input_ids"].shape and torch.isfinite(logits).all()
    # The video changes the output: the pixels really enter the model.
    other = dict(batch, pixel_values_videos=torch.zeros_like(batch["pixel_values_videos"]))
    assert not torch.allclose(model(**other).logits, logits)
    suppress = I.vision_token_ids(processor)
    assert model.config.video_token_id in suppress
    gen = model.generate(**batch, max_new_tokens=6, do_sample=True, suppress_tokens=suppress)
    assert not torch.isin(gen[:, batch["input_ids"].shape[1]:], torch.tensor(suppress)).any()
    # LoRA targets the language model only, never the vision tower.
    import re

    regex = fam.lora_target_regex(["q_proj", "v_proj"])
    hits = [n for n, _ in model.named_modules() if re.fullmatch(regex, n)]
    assert hits and all("language_model" in n for n in hits)


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
    with pytest.raises(VsgrpoError, match="no vsgrpo model family supports model_type 'bert'"):
        from transformers import BertConfig

        family_of(BertConfig())


def test_encode_rejects_bad_frames(tmp_path):
    processor = load_processor(build_tiny_model("qwen2_vl", tmp_path / "m", tokenizer="small"))
    with pytest.raises(VsgrpoError, match="uint8"):
        I.encode_prompts(processor, ["q"], [np.zeros((4, 32, 32, 3), dtype=np.float32)], [1.0])


def test_cli_model_tiny(tmp_path, capsys):
    assert main(["model", "tiny", "--family", "qwen2_5_vl", "--out", str(tmp_path / "m"), "--tokenizer", "small"]) == 0
    assert (tmp_path / "m" / "config.json").is_file()
    model, _ = load_model_and_processor(tmp_path / "m")
    assert type(model).__name__ == "Qwen2_5_VLForConditionalGeneration"


def test_cli_model_tiny_llava_onevision_and_families(tmp_path, capsys):
    assert main(["model", "families"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed == names() and "llava_onevision" in listed and "qwen2_vl" in listed
    assert main(["model", "tiny", "--family", "llava_onevision", "--out", str(tmp_path / "m"),
                 "--tokenizer", "small"]) == 0
    model, processor = load_model_and_processor(tmp_path / "m")
    assert type(model).__name__ == "LlavaOnevisionForConditionalGeneration"
    assert I.render_prompt(processor, I.user_message("Q?")).count("<video>") == 1


def test_llava_onevision_real_qwen_tokenizer_gets_its_vision_tokens(tmp_path):
    out = build_tiny_model("llava_onevision", tmp_path / "m", tokenizer="qwen", num_hidden_layers=1)
    model, processor = load_model_and_processor(out)
    tok = processor.tokenizer
    assert len(tok) == 151669 + 2 and model.config.video_token_id == tok.convert_tokens_to_ids("<video>")
    assert model.get_input_embeddings().weight.shape[0] == len(tok)
    text = "<think>two chairs</think><answer>2</answer>"
    assert tok.decode(tok(text)["input_ids"], skip_special_tokens=True) == text


@pytest.mark.parametrize("family", ["llava_onevision", "qwen2_vl"])
def test_hf_backend_batches_videos_of_different_lengths_and_blind_prompts(family, videos, tmp_path):
    """A video shorter than --frames cannot share LLaVA-OneVision's fixed-shape video tensor: the backend
    falls back to one by one, so batched output still equals one-by-one output. Blind requests carry no video."""
    from vsgrpo.eval.backends.base import Request
    from vsgrpo.eval.backends.hf import HFBackend

    model, processor = load_model_and_processor(build_tiny_model(family, tmp_path / "m", tokenizer="small"),
                                                dtype="float32")
    backend = HFBackend.from_model(model, processor)
    (long, fps_a), (short, fps_b) = read_frames(videos[0], 4), read_frames(videos[1], 4)
    short = short[:3]
    reqs = [Request(0, "How many chairs?", long, fps_a), Request(1, "Which is closest?", short, fps_b),
            Request(2, "How big is the room?", None, None)]
    if family == "llava_onevision":
        from vsgrpo.models.families.base import MixedVideoShapes

        with pytest.raises(MixedVideoShapes, match="same number of frames"):
            I.encode_prompts(processor, ["a", "b"], [long, short], [fps_a, fps_b])
    batched = backend.generate(reqs, max_new_tokens=5)
    single = [backend.generate([r], max_new_tokens=5)[0] for r in reqs]
    assert batched == single and all(isinstance(p, str) for p in batched)
    blind = I.encode_prompts(processor, ["Q?"], [None], [None])
    assert not set(get_family(family).video_keys) & set(blind)
    assert not (blind["input_ids"] == model.config.video_token_id).any()


def test_pixel_budget_is_family_specific(tmp_path):
    qwen = load_processor(build_tiny_model("qwen2_vl", tmp_path / "q", tokenizer="small"), max_pixels=28 * 28 * 8)
    assert qwen.video_processor.size["longest_edge"] == 28 * 28 * 8
    llava = build_tiny_model("llava_onevision", tmp_path / "l", tokenizer="small")
    assert load_processor(llava).video_processor.size == {"height": 32, "width": 32}  # no budget: untouched
    with pytest.raises(VsgrpoError, match="fixed input size"):
        load_processor(llava, max_pixels=28 * 28 * 8)
