"""Models: loading, family adapters, tiny-model factory, and the one way to build video inputs.

API (import from the submodules; this package imports nothing heavy)::

    from vsgrpo.models.loading import load_model_and_processor, load_processor, set_pixel_budget
    model, processor = load_model_and_processor("Qwen/Qwen2-VL-2B-Instruct" or "/path/dir",
                                                dtype="auto", device="cuda",
                                                min_pixels=None, max_pixels=None)

    from vsgrpo.models.families import family_of, get_family, names
    names()                     # llava_onevision, qwen2_vl, qwen2_5_vl, qwen3_vl (one module each)
    fam = family_of(model)      # or a config, processor, model folder or name

    from vsgrpo.models.tiny import build_tiny_model
    out_dir = build_tiny_model("qwen2_vl", "tiny-model", tokenizer="qwen" | "small", seed=0)

    from vsgrpo.models import inputs
    messages = inputs.user_message(prompt_text)            # [{"role": "user", "content": [video, text]}]
    text = inputs.render_prompt(processor, messages)       # chat template, one video placeholder per video
    batch = inputs.encode(processor, texts, videos, fps)   # any texts (prompt, prompt+answer, ...)
    batch = inputs.encode_prompts(processor, prompt_texts, videos, fps)  # = user_message+render+encode
    out = model.generate(**batch, suppress_tokens=inputs.vision_token_ids(processor), ...)

``videos[i]`` are decoded frames, uint8 (T, H, W, 3), e.g. from
``vsgrpo.video.read_frames(path, n)`` which also returns the sampled ``fps``. ``batch`` is a
``BatchFeature`` with ``input_ids``, ``attention_mask`` (left padded), the family's per-token
inputs (Qwen: ``mm_token_type_ids``) and its visual tensors (``fam.video_keys``; Qwen:
``pixel_values_videos``, ``video_grid_thw``, Qwen2.5-VL also ``second_per_grid_ts``;
LLaVA-OneVision: ``pixel_values_videos``). Decode completions with
``skip_special_tokens=True``: reasoning tags (``<think>``...) are ordinary text in our tokenizers
and survive.
"""
