"""Load a video LM (any registered family) and its processor from a hub id or a local folder (safetensors only)."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import VsgrpoError

DTYPES = ("auto", "float32", "bfloat16", "float16")


def resolve_model_path(id_or_dir: str | os.PathLike) -> str:
    """Return an existing local model folder, or a hub id (``owner/name``); fail clearly otherwise."""
    s = str(id_or_dir)
    p = Path(s).expanduser()
    if p.exists():
        if not p.is_dir():
            raise VsgrpoError(f"model path {p} is a file; pass the folder that holds config.json")
        if not (p / "config.json").is_file():
            raise VsgrpoError(f"{p} has no config.json; is it a model folder? (build one: vsgrpo model tiny --out DIR)")
        return str(p)
    # Anything that cannot be a hub id ("owner/name"), or whose first part is a local folder
    # ("runs/model" with runs/ present), is a local folder that is missing.
    if (isinstance(id_or_dir, os.PathLike) or s.startswith((".", "~", os.sep)) or s.count("/") != 1
            or Path(s.split("/")[0]).is_dir()):
        raise VsgrpoError(f"model folder {s} does not exist")
    return s


def set_pixel_budget(processor, *, min_pixels: int | None = None, max_pixels: int | None = None) -> None:
    """Set the per-frame pixel range (pixels, not tokens) the way the processor's family understands it.

    Qwen-VL: the image and video processors' ``min_pixels``/``max_pixels``. Families whose vision
    tower takes a fixed input size (LLaVA-OneVision) have no pixel budget and reject one.
    """
    if min_pixels is None and max_pixels is None:
        return
    from .families import family_of

    family_of(processor).set_pixel_budget(processor, min_pixels=min_pixels, max_pixels=max_pixels)


def load_processor(id_or_dir, *, min_pixels: int | None = None, max_pixels: int | None = None,
                   trust_remote_code: bool = False):
    from transformers import AutoProcessor

    path = resolve_model_path(id_or_dir)
    try:
        processor = AutoProcessor.from_pretrained(path, trust_remote_code=trust_remote_code)
    except OSError as e:
        raise VsgrpoError(f"cannot load the processor of {path!r}: {str(e).splitlines()[0]} "
                          "(no hub access? pass a local folder)") from None
    processor.tokenizer.padding_side = "left"
    set_pixel_budget(processor, min_pixels=min_pixels, max_pixels=max_pixels)
    return processor


def load_model_and_processor(id_or_dir, *, dtype: str = "auto", device: str | None = None,
                             trust_remote_code: bool = False, min_pixels: int | None = None,
                             max_pixels: int | None = None, attn_implementation: str | None = None):
    """``(model, processor)`` for a checkpoint of a supported family (``vsgrpo model families``).

    ``id_or_dir``: a local folder (e.g. from ``vsgrpo model tiny``) or a hub id. Weights are read
    from safetensors only (``use_safetensors=True``). ``dtype``: auto | float32 | bfloat16 |
    float16. ``device``: e.g. ``"cpu"``, ``"cuda"``; ``None`` leaves the model on CPU.
    ``min_pixels``/``max_pixels``: per-frame pixel budget of the image and video processors.
    """
    import torch
    from transformers import AutoModelForImageTextToText

    if dtype not in DTYPES:
        raise VsgrpoError(f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPES)}")
    path = resolve_model_path(id_or_dir)
    if Path(path).is_dir():
        from .families import family_of

        family_of(path)  # an unsupported family fails here, clearly, before any weights load
    processor = load_processor(path, min_pixels=min_pixels, max_pixels=max_pixels,
                               trust_remote_code=trust_remote_code)
    kwargs = {"dtype": "auto" if dtype == "auto" else getattr(torch, dtype), "use_safetensors": True,
              "trust_remote_code": trust_remote_code}
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    try:
        model = AutoModelForImageTextToText.from_pretrained(path, **kwargs)
    except OSError as e:
        raise VsgrpoError(f"cannot load model weights from {path!r}: {str(e).splitlines()[0]} "
                          "(safetensors only; no hub access? pass a local folder)") from None
    if device:
        model.to(device)
    return model, processor
