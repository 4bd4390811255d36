"""Load a video LM (any registered family) and its processor: a hub id, a model folder, or a LoRA adapter folder.

The one loading path of the project: training, validation while training, ``eval run`` (hf and
vllm backends), the quickstart and ``vsgrpo model merge`` all come through here.

A LoRA adapter folder (``adapter_config.json`` and no ``config.json``: a run's ``final/`` or
``checkpoint-N/``) is loaded as its base model, named by the adapter's own record
(``base_model_name_or_path``: a hub id or a folder; a relative folder is looked up relative to
the adapter folder first, then to the current directory), with the adapter merged in float32
and cast once to the model's dtype (:func:`merge_lora`), and the processor the run saved beside
the adapter (its pixel budget included). :func:`save_merged` writes that model as one
standalone safetensors folder that plain transformers and vLLM load without peft.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import VsgrpoError

DTYPES = ("auto", "float32", "bfloat16", "float16")


def resolve_model_path(id_or_dir: str | os.PathLike) -> str:
    """Return an existing local model or LoRA adapter folder, or a hub id (``owner/name``); fail clearly otherwise.

    A hub id is checked with one quick request (:func:`vsgrpo.hub.model_location`): offline, the
    cached snapshot folder is returned, or one error line comes in seconds instead of minutes of retries.
    """
    s = str(id_or_dir)
    p = Path(s).expanduser()
    if p.exists():
        if not p.is_dir():
            raise VsgrpoError(f"model path {p} is a file; pass the folder that holds config.json")
        if not (p / "config.json").is_file() and not is_adapter(p):
            raise VsgrpoError(f"{p} has no config.json; is it a model folder? (build one: vsgrpo model tiny --out DIR)")
        return str(p)
    # Anything that cannot be a hub id ("owner/name"), or whose first part is a local folder
    # ("runs/model" with runs/ present), is a local folder that is missing.
    if (isinstance(id_or_dir, os.PathLike) or s.startswith((".", "~", os.sep)) or s.count("/") != 1
            or Path(s.split("/")[0]).is_dir()):
        raise VsgrpoError(f"model folder {s} does not exist")
    from ..hub import model_location

    return model_location(s)


ADAPTER_CONFIG = "adapter_config.json"


def is_adapter(path: str | os.PathLike) -> bool:
    """``path`` is a LoRA adapter folder (not a full model)."""
    p = Path(path).expanduser()
    return (p / ADAPTER_CONFIG).is_file() and not (p / "config.json").is_file()


def adapter_base(adapter_dir: str | os.PathLike) -> str:
    """The base model an adapter was trained on: an absolute folder or a hub id, whatever the current directory."""
    adapter = Path(adapter_dir).expanduser()
    try:
        record = json.loads((adapter / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise VsgrpoError(f"cannot read {adapter / ADAPTER_CONFIG}: {e}") from None
    base = record.get("base_model_name_or_path") if isinstance(record, dict) else None
    if not base or not isinstance(base, str):
        raise VsgrpoError(f"{adapter / ADAPTER_CONFIG} does not name its base model (base_model_name_or_path)")
    p = Path(base).expanduser()
    if p.is_absolute():
        return str(p)
    tried = [adapter.resolve() / p, Path.cwd() / p]
    for candidate in tried:
        if (candidate / "config.json").is_file():
            return str(candidate.resolve())
    if base.count("/") == 1 and not base.startswith("."):
        return base  # a hub id
    raise VsgrpoError(f"base model {base!r} of adapter {adapter} not found (looked in {tried[0]} and {tried[1]}); "
                      f"set base_model_name_or_path in {adapter / ADAPTER_CONFIG} to the base model's folder")


def _has_processor(folder: Path) -> bool:
    return any((folder / f).is_file() for f in ("processor_config.json", "preprocessor_config.json",
                                                 "tokenizer_config.json"))


def merged_weight(module):
    """The float32 weight of a peft LoRA layer with its active adapters added: ``W + sum(B @ A * scaling)``.

    Computed in float32 from the stored weights, so the caller rounds once (to the model's dtype);
    adding a bf16-rounded delta in bf16 rounds twice and loses more of a small update.
    """
    import torch

    weight = module.get_base_layer().weight.detach().float()
    for adapter in module.active_adapters:
        if adapter not in getattr(module, "lora_A", {}) or module.merged:
            continue
        if getattr(module, "use_dora", {}).get(adapter):
            raise VsgrpoError("DoRA adapters are not supported by vsgrpo's merge")
        a, b = module.lora_A[adapter], module.lora_B[adapter]
        if isinstance(a, torch.nn.Linear) and isinstance(b, torch.nn.Linear):
            delta = b.weight.detach().float() @ a.weight.detach().float()
            if getattr(module, "fan_in_fan_out", False):
                delta = delta.T
            weight = weight + delta * module.scaling[adapter]
        else:  # conv / embedding adapters: peft's own delta, in float32
            weight = weight + module.get_delta_weight(adapter).float()
    return weight


def merge_lora(model):
    """A peft LoRA model as a plain transformers model: each adapter merged in float32, cast once (see
    :func:`merged_weight`); the LoRA layers removed."""
    import torch
    from peft.tuners.lora import LoraLayer

    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, LoraLayer) and not module.merged:
                base = module.get_base_layer()
                base.weight.data = merged_weight(module).to(base.weight.dtype)
    return model.unload()


def load_adapter(adapter_dir, *, dtype: str = "auto", device: str | None = None, trust_remote_code: bool = False,
                 min_pixels: int | None = None, max_pixels: int | None = None,
                 attn_implementation: str | None = None):
    """``(model, processor)`` of a LoRA adapter folder: its base model with the adapter merged (module doc)."""
    from peft import PeftModel

    adapter = Path(adapter_dir).expanduser().resolve()
    base = adapter_base(adapter)
    if is_adapter(base):
        raise VsgrpoError(f"the base model of {adapter} is itself an adapter ({base}); merge that one first")
    model, processor = load_model_and_processor(base, dtype=dtype, trust_remote_code=trust_remote_code,
                                                min_pixels=min_pixels, max_pixels=max_pixels,
                                                attn_implementation=attn_implementation)
    try:
        model = merge_lora(PeftModel.from_pretrained(model, str(adapter)))
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        raise VsgrpoError(f"cannot apply adapter {adapter} to {base}: {str(e).splitlines()[0]}") from None
    model.name_or_path = str(adapter)
    if _has_processor(adapter):  # the run saved its processor (the training pixel budget) beside the adapter
        processor = load_processor(adapter, min_pixels=min_pixels, max_pixels=max_pixels,
                                   trust_remote_code=trust_remote_code)
    if device:
        model.to(device)
    return model, processor


def save_merged(id_or_dir, out: str | os.PathLike, *, dtype: str = "auto") -> Path:
    """Write the model of ``id_or_dir`` (an adapter folder is merged) with its processor to ``out``,
    atomically: one standalone safetensors folder (no peft needed to load it). Returns ``out``."""
    from ..io import atomic_path

    model, processor = load_model_and_processor(id_or_dir, dtype=dtype)
    out = Path(out)
    with atomic_path(out) as tmp:
        tmp.unlink(missing_ok=True)
        model.save_pretrained(str(tmp), safe_serialization=True)
        processor.save_pretrained(str(tmp))
    return out


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

    ``id_or_dir``: a local folder (e.g. from ``vsgrpo model tiny``), a LoRA adapter folder (merged
    into its base model, :func:`load_adapter`) or a hub id. Weights are read
    from safetensors only (``use_safetensors=True``). ``dtype``: auto | float32 | bfloat16 |
    float16. ``device``: e.g. ``"cpu"``, ``"cuda"``; ``None`` leaves the model on CPU.
    ``min_pixels``/``max_pixels``: per-frame pixel budget of the image and video processors.
    The family's :meth:`~vsgrpo.models.families.base.VideoFamily.prepare_model` is applied.
    """
    import torch
    from transformers import AutoModelForImageTextToText

    if dtype not in DTYPES:
        raise VsgrpoError(f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPES)}")
    if is_adapter(id_or_dir):
        return load_adapter(id_or_dir, dtype=dtype, device=device, trust_remote_code=trust_remote_code,
                            min_pixels=min_pixels, max_pixels=max_pixels, attn_implementation=attn_implementation)
    path = resolve_model_path(id_or_dir)
    if Path(path).is_dir():
        # Absolute: peft records this path as an adapter's base model, which must hold from any directory.
        path = str(Path(path).resolve())
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
    from .families import family_of

    family_of(model).prepare_model(model)  # e.g. Qwen2/2.5-VL's original M-RoPE layout (families/qwen_vl.py)
    if device:
        model.to(device)
    return model, processor
