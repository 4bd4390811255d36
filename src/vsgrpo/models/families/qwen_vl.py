"""Qwen2-VL, Qwen2.5-VL and Qwen3-VL: one base, three small subclasses.

Visual tensors: ``pixel_values_videos`` (patch rows of all videos, concatenated),
``video_grid_thw`` (one (t, h, w) row per video; a video has ``t*h*w`` pixel rows) and, for
Qwen2.5-VL only, ``second_per_grid_ts`` (seconds per temporal patch, from the sampled fps).
Their M-RoPE needs ``mm_token_type_ids`` (0 text, 1 image, 2 video), computed from the ids.

Positions (M-RoPE) of Qwen2-VL and Qwen2.5-VL: the text after an image or video block starts at
the largest position used inside the block + 1, as in Qwen's original code, transformers
4.51-4.57 and vLLM. transformers 5.x instead starts it ``max(h, w) / merge`` past the block start,
ignoring the block's temporal extent, so with more (scaled) temporal patches than spatial ones
the text would sit inside the video's time range. :meth:`QwenVLFamily.prepare_model` replaces the
loaded model's ``get_rope_index`` with :func:`original_rope_index`; generation continues from it
through the ``rope_deltas`` the model derives from these positions. Qwen3-VL gives every frame
its own block with t = 1, where both rules agree, and is left alone.
"""

from __future__ import annotations

import itertools
import types

import numpy as np

from .base import VideoFamily

# Our chat template: Qwen-VL layout, but it switches on each part's ``type`` (a datasets
# round-trip adds ``video: None`` to every part, so testing ``'video' in part`` would insert
# spurious video tokens). Assistant turns are emitted verbatim, so <think> text survives.
QWEN_CHAT_TEMPLATE = (
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

# Special tokens at the ids the Qwen-VL configs expect when the real tokenizer is used.
QWEN_SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
                 "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
                 "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>")


def original_rope_index(self, input_ids, mm_token_type_ids, image_grid_thw=None, video_grid_thw=None,
                        attention_mask=None, second_per_grid_ts=None, **kwargs):
    """``get_rope_index`` of a Qwen2-VL / Qwen2.5-VL inner model (``self``) with the original layout.

    Same contract as transformers': ``(position_ids (3, batch, seq), rope_deltas (batch, 1))``, padding
    (``attention_mask == 0``) at position 0. Vision positions come from the model's own
    ``get_vision_position_ids`` (temporal index x ``tokens_per_second * second_per_grid_t`` for
    Qwen2.5-VL videos); only where the next text starts differs: (largest position in the block) + 1.
    """
    import torch

    vision = self.config.vision_config
    merge = vision.spatial_merge_size
    tokens_per_second = getattr(vision, "tokens_per_second", None)  # Qwen2.5-VL only
    position_ids = torch.zeros(3, *input_ids.shape, dtype=input_ids.dtype, device=input_ids.device)
    grids = {1: iter(image_grid_thw if image_grid_thw is not None else ()),
             2: iter(video_grid_thw if video_grid_thw is not None else ())}
    seconds = iter(second_per_grid_ts if second_per_grid_ts is not None else ())
    deltas = []
    for b in range(input_ids.shape[0]):
        kinds = mm_token_type_ids[b]
        real = attention_mask[b].bool() if attention_mask is not None else torch.ones_like(kinds, dtype=torch.bool)
        pieces, start = [], 0
        for kind, run in itertools.groupby(kinds[real].tolist()):
            if kind == 0:
                n = len(list(run))
                pieces.append(torch.arange(start, start + n, device=input_ids.device).expand(3, -1))
            else:
                interval = 1.0
                if kind == 2 and tokens_per_second is not None:
                    interval = tokens_per_second * next(seconds, 1.0)
                pieces.append(self.get_vision_position_ids(start, next(grids[kind]), 1, merge, interval,
                                                           device=input_ids.device))
            start = int(pieces[-1].max()) + 1
        layout = torch.cat(pieces, dim=1)
        position_ids[:, b, real] = layout.to(position_ids.dtype)
        deltas.append(start - int(real.sum()))
    return position_ids, torch.tensor(deltas, device=input_ids.device).unsqueeze(1)


def inner_model(model):
    """The ``Qwen2VLModel``-like module under DDP / peft / ``...ForConditionalGeneration`` wrappers."""
    model = getattr(model, "module", model)
    if hasattr(model, "get_base_model"):
        model = model.get_base_model()
    return getattr(model, "model", model)


class QwenVLFamily(VideoFamily):
    video_keys = ("pixel_values_videos", "video_grid_thw")
    suppress_tokens = ("<|vision_start|>", "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>")
    tiny_special_tokens = QWEN_SPECIALS
    chat_template = QWEN_CHAT_TEMPLATE
    vision_tower_attr = "visual"
    # transformers 5.x's text-after-a-block positions differ from the checkpoints' (module docstring).
    original_positions = True

    def prepare_model(self, model):
        inner = inner_model(model)
        if self.original_positions and hasattr(inner, "get_vision_position_ids"):
            inner.get_rope_index = types.MethodType(original_rope_index, inner)
        return model

    # ------------------------------------------------------------------ inputs
    def set_pixel_budget(self, processor, *, min_pixels=None, max_pixels=None):
        for name in ("image_processor", "video_processor"):
            proc = getattr(processor, name, None)
            if proc is None:
                continue
            size = dict(getattr(proc, "size", None) or {})
            if min_pixels is not None:
                size["shortest_edge"] = int(min_pixels)
                if hasattr(proc, "min_pixels"):
                    proc.min_pixels = int(min_pixels)
            if max_pixels is not None:
                size["longest_edge"] = int(max_pixels)
                if hasattr(proc, "max_pixels"):
                    proc.max_pixels = int(max_pixels)
            if size:
                proc.size = size

    def prepare_frames(self, frames):
        if frames.shape[0] % 2:
            # Qwen-VL merges frames in temporal pairs; repeat the last frame as the processors do.
            frames = np.concatenate([frames, frames[-1:]], axis=0)
        return frames

    def processor_call(self, processor, text, frames, fps):
        if frames is None:
            return dict(processor(text=[text], return_tensors="pt"))
        vp = getattr(processor, "video_processor", None)
        if vp is not None and getattr(vp, "cap_pixels_per_frame", False) is None:
            vp.cap_pixels_per_frame = False  # the recipe's max_pixels is the budget; no hidden second cap
        from transformers.video_utils import VideoMetadata

        n = int(frames.shape[0])
        meta = VideoMetadata(total_num_frames=n, fps=float(fps or 1.0), frames_indices=list(range(n)),
                             height=int(frames.shape[1]), width=int(frames.shape[2]))
        return dict(processor(text=[text], videos=[frames], return_tensors="pt",
                              videos_kwargs={"video_metadata": [meta], "do_sample_frames": False}))

    def token_inputs(self, input_ids, processor_or_config):
        """``mm_token_type_ids``: the modality of each token (0 text, 1 image, 2 video)."""
        image_id, video_id = self._image_video_ids(processor_or_config)
        out = (input_ids == image_id).long()
        out[input_ids == video_id] = 2
        return {"mm_token_type_ids": out}

    @staticmethod
    def _image_video_ids(obj) -> tuple[int, int]:
        obj = getattr(obj, "config", obj)  # a model
        if hasattr(obj, "video_token_id") and hasattr(obj, "image_token_id"):
            return int(obj.image_token_id), int(obj.video_token_id)
        tok = getattr(obj, "tokenizer", obj)
        return int(tok.convert_tokens_to_ids("<|image_pad|>")), int(tok.convert_tokens_to_ids("<|video_pad|>"))

    def split_video(self, batch, n):
        import torch

        from ...errors import VsgrpoError

        grid = batch["video_grid_thw"]
        if grid.shape[0] != n:
            raise VsgrpoError(f"expected one video per sample: {n} samples but {grid.shape[0]} videos")
        rows = grid.prod(-1).tolist()
        out = {"pixel_values_videos": list(torch.split(batch["pixel_values_videos"], rows)),
               "video_grid_thw": list(torch.split(grid, 1))}
        for k in self.video_keys[2:]:
            if k in batch:
                out[k] = list(torch.split(torch.as_tensor(batch[k]), 1))
        return out

    def merge_video(self, pieces):
        import torch

        out = {}
        for k, v in pieces.items():
            if v is None or not len(v):
                continue
            dtype = torch.float32 if k == "second_per_grid_ts" else None
            out[k] = torch.cat([torch.as_tensor(t, dtype=dtype) for t in v])  # rows of different videos stack
        return out

    # ------------------------------------------------------------------ tiny models
    def _text_config(self, tokenizer, size: dict) -> dict:
        hidden = size.get("hidden_size", 64)
        heads = size.get("num_attention_heads", 4)
        bos, eos = self.token_id(tokenizer, "<|endoftext|>"), self.token_id(tokenizer, "<|im_end|>")
        return dict(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=size.get("intermediate_size", 128),
                    num_hidden_layers=size.get("num_hidden_layers", 2), num_attention_heads=heads,
                    num_key_value_heads=size.get("num_key_value_heads", 2), max_position_embeddings=4096,
                    tie_word_embeddings=False, bos_token_id=bos, eos_token_id=eos, pad_token_id=tokenizer.pad_token_id)

    def _ids(self, tokenizer) -> dict:
        return {name: self.token_id(tokenizer, t) for name, t in (
            ("image_token_id", "<|image_pad|>"), ("video_token_id", "<|video_pad|>"),
            ("vision_start_token_id", "<|vision_start|>"), ("vision_end_token_id", "<|vision_end|>"))}

    @staticmethod
    def _mrope_section(text: dict) -> list[int]:
        # M-RoPE splits the rotary half-dimension into (temporal, height, width) sections.
        half = text["hidden_size"] // text["num_attention_heads"] // 2
        return [half - 2 * (half // 3), half // 3, half // 3]

    def _pixel_budget(self) -> dict:
        # Small default pixel budgets keep tiny-model runs fast; users override at load time.
        return dict(min_pixels=28 * 28 * 4, max_pixels=28 * 28 * 16)


class Qwen2VLFamily(QwenVLFamily):
    name = "qwen2_vl"
    model_types = ("qwen2_vl",)
    processor_classes = ("Qwen2VLProcessor",)
    reusable_video_embeddings = True

    @property
    def model_class(self):
        from transformers import Qwen2VLForConditionalGeneration

        return Qwen2VLForConditionalGeneration

    def tiny_config(self, tokenizer, size):
        from transformers import Qwen2VLConfig

        text = self._text_config(tokenizer, size)
        text["rope_parameters"] = {"rope_type": "default", "mrope_section": self._mrope_section(text),
                                   "rope_theta": 1e6}
        vision = dict(depth=size.get("vision_depth", 2), embed_dim=size.get("vision_hidden_size", 32),
                      hidden_size=text["hidden_size"], num_heads=2, mlp_ratio=2, patch_size=14, spatial_merge_size=2,
                      temporal_patch_size=2)
        return Qwen2VLConfig(text_config=text, vision_config=vision, **self._ids(tokenizer))

    def tiny_processor(self, tokenizer):
        import transformers as tf

        pix = self._pixel_budget()
        return tf.Qwen2VLProcessor(image_processor=tf.Qwen2VLImageProcessor(**pix),
                                   video_processor=tf.Qwen2VLVideoProcessor(**pix),
                                   tokenizer=tokenizer, chat_template=self.chat_template)


class Qwen2_5VLFamily(QwenVLFamily):
    name = "qwen2_5_vl"
    model_types = ("qwen2_5_vl",)
    processor_classes = ("Qwen2_5_VLProcessor",)
    reusable_video_embeddings = True
    video_keys = ("pixel_values_videos", "video_grid_thw", "second_per_grid_ts")

    @property
    def model_class(self):
        from transformers import Qwen2_5_VLForConditionalGeneration

        return Qwen2_5_VLForConditionalGeneration

    def tiny_config(self, tokenizer, size):
        from transformers import Qwen2_5_VLConfig

        text = self._text_config(tokenizer, size)
        text["rope_parameters"] = {"rope_type": "default", "mrope_section": self._mrope_section(text),
                                   "rope_theta": 1e6}
        vdepth, vhidden = size.get("vision_depth", 2), size.get("vision_hidden_size", 32)
        vision = dict(depth=vdepth, hidden_size=vhidden, out_hidden_size=text["hidden_size"],
                      intermediate_size=2 * vhidden, num_heads=2, patch_size=14, spatial_merge_size=2,
                      temporal_patch_size=2, window_size=56, fullatt_block_indexes=[vdepth - 1])
        return Qwen2_5_VLConfig(text_config=text, vision_config=vision, **self._ids(tokenizer))

    def tiny_processor(self, tokenizer):
        import transformers as tf

        pix = self._pixel_budget()
        return tf.Qwen2_5_VLProcessor(image_processor=tf.Qwen2VLImageProcessor(**pix),
                                      video_processor=tf.Qwen2VLVideoProcessor(**pix),
                                      tokenizer=tokenizer, chat_template=self.chat_template)


class Qwen3VLFamily(QwenVLFamily):
    name = "qwen3_vl"
    model_types = ("qwen3_vl",)
    processor_classes = ("Qwen3VLProcessor",)
    original_positions = False  # one block per frame with t = 1: transformers' layout is already the original

    @property
    def model_class(self):
        from transformers import Qwen3VLForConditionalGeneration

        return Qwen3VLForConditionalGeneration

    def tiny_config(self, tokenizer, size):
        from transformers import Qwen3VLConfig

        text = self._text_config(tokenizer, size)
        text["head_dim"] = text["hidden_size"] // text["num_attention_heads"]
        text["rope_parameters"] = {"rope_type": "default", "mrope_section": self._mrope_section(text),
                                   "rope_theta": 5e6, "mrope_interleaved": True}
        vhidden = size.get("vision_hidden_size", 32)
        vision = dict(depth=size.get("vision_depth", 2), hidden_size=vhidden, out_hidden_size=text["hidden_size"],
                      intermediate_size=2 * vhidden, num_heads=2, patch_size=16, spatial_merge_size=2,
                      temporal_patch_size=2, num_position_embeddings=64, deepstack_visual_indexes=[0])
        return Qwen3VLConfig(text_config=text, vision_config=vision, **self._ids(tokenizer))

    def tiny_processor(self, tokenizer):
        import transformers as tf

        size = {"shortest_edge": 32 * 32 * 4, "longest_edge": 32 * 32 * 16}
        # Qwen3-VL normalises images and video with mean = std = 0.5 (as its released checkpoints); vLLM's
        # fused input normalisation reads the image processor's values for video too.
        image = tf.Qwen2VLImageProcessor(size=size, patch_size=16, image_mean=[0.5] * 3, image_std=[0.5] * 3)
        return tf.Qwen3VLProcessor(image_processor=image,
                                   video_processor=tf.Qwen3VLVideoProcessor(size=size),
                                   tokenizer=tokenizer, chat_template=self.chat_template)


FAMILIES = [Qwen2VLFamily(), Qwen2_5VLFamily(), Qwen3VLFamily()]
