"""LLaVA-OneVision (SigLIP vision tower + Qwen2 language model), the open family VSI-Bench evaluates.

Video input in transformers: ``pixel_values_videos`` of shape (videos, frames, 3, H, W) (every
frame resized to the vision tower's square input), one ``<video>`` placeholder expanded by the
processor to ``frames * ceil(p/2)^2 + 1`` tokens (``p`` patches per side, pooled 2x2, plus one
newline). There is no temporal position encoding, so the sampled fps is not used. Visual
tensors are per sample along the first axis, so the base class's split/merge serve; videos in
one batch need the same frame count (the frame sampler gives every video ``num_frames``).

Real checkpoints: ``llava-hf/llava-onevision-qwen2-0.5b-ov-hf`` / ``-7b-ov-hf`` (the
``<image>``/``<video>`` tokens sit at 151646/151647 of their Qwen2 tokenizer).
"""

from __future__ import annotations

from .base import VideoFamily

# The llava-hf chat template's layout (images, then videos, then text of a turn), switching on
# each part's ``type`` only; assistant turns are emitted verbatim.
LLAVA_OV_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + ' ' }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}"
    "{% for part in message['content'] %}{% if part['type'] == 'image' %}<image>{% endif %}{% endfor %}"
    "{% for part in message['content'] %}{% if part['type'] == 'video' %}<video>{% endif %}{% endfor %}"
    "{% for part in message['content'] %}{% if part['type'] == 'text' %}"
    "{% if message['role'] != 'assistant' %}{{ '\n' }}{% endif %}{{ part['text'] }}"
    "{% endif %}{% endfor %}"
    "{% endif %}"
    "<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


class LlavaOnevisionFamily(VideoFamily):
    name = "llava_onevision"
    model_types = ("llava_onevision",)
    processor_classes = ("LlavaOnevisionProcessor",)
    video_keys = ("pixel_values_videos",)
    suppress_tokens = ("<image>", "<video>")
    tiny_special_tokens = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>", "<video>")
    chat_template = LLAVA_OV_CHAT_TEMPLATE
    language_model_pattern = r".*language_model.*"  # vision_tower (SigLIP) and multi_modal_projector stay frozen

    # Tiny vision tower: 32x32 frames in 8x8 patches -> 4x4 patches, pooled to 2x2 = 4 tokens a frame.
    TINY_IMAGE_SIZE = 32
    TINY_PATCH = 8

    @property
    def model_class(self):
        from transformers import LlavaOnevisionForConditionalGeneration

        return LlavaOnevisionForConditionalGeneration

    def tiny_config(self, tokenizer, size):
        from transformers import LlavaOnevisionConfig

        hidden = size.get("hidden_size", 64)
        text = dict(model_type="qwen2", vocab_size=len(tokenizer), hidden_size=hidden,
                    intermediate_size=size.get("intermediate_size", 128),
                    num_hidden_layers=size.get("num_hidden_layers", 2),
                    num_attention_heads=size.get("num_attention_heads", 4),
                    num_key_value_heads=size.get("num_key_value_heads", 2), max_position_embeddings=4096,
                    tie_word_embeddings=False, bos_token_id=self.token_id(tokenizer, "<|endoftext|>"),
                    eos_token_id=self.token_id(tokenizer, "<|im_end|>"), pad_token_id=tokenizer.pad_token_id)
        vhidden = size.get("vision_hidden_size", 32)
        vision = dict(model_type="siglip_vision_model", hidden_size=vhidden, intermediate_size=2 * vhidden,
                      num_hidden_layers=size.get("vision_depth", 2), num_attention_heads=2,
                      image_size=self.TINY_IMAGE_SIZE, patch_size=self.TINY_PATCH, vision_use_head=False)
        s = self.TINY_IMAGE_SIZE
        return LlavaOnevisionConfig(text_config=text, vision_config=vision,
                                    image_token_index=self.token_id(tokenizer, "<image>"),
                                    video_token_index=self.token_id(tokenizer, "<video>"),
                                    vision_feature_select_strategy="full", vision_feature_layer=-1,
                                    image_grid_pinpoints=[[s, s], [s, 2 * s], [2 * s, s], [2 * s, 2 * s]],
                                    tie_word_embeddings=False)

    def tiny_processor(self, tokenizer):
        import transformers as tf

        s = self.TINY_IMAGE_SIZE
        pinpoints = [[s, s], [s, 2 * s], [2 * s, s], [2 * s, 2 * s]]
        return tf.LlavaOnevisionProcessor(
            image_processor=tf.LlavaOnevisionImageProcessor(size={"height": s, "width": s},
                                                            image_grid_pinpoints=pinpoints),
            video_processor=tf.LlavaOnevisionVideoProcessor(size={"height": s, "width": s}),
            tokenizer=tokenizer, chat_template=self.chat_template,
            num_image_tokens=(s // self.TINY_PATCH) ** 2, vision_feature_select_strategy="full")


FAMILY = LlavaOnevisionFamily()
