"""`vsgrpo model ...` commands (`model tiny` flags: the fields of :class:`vsgrpo.models.tiny.TinyConfig`)."""

from __future__ import annotations

from dataclasses import dataclass

from ..fields import option
from . import group


@dataclass
class MergeFlags:
    adapter: str = option(path="dir", flag="adapter", metavar="ADAPTER",
                          help="LoRA adapter folder (adapter_config.json + adapter_model.safetensors)")
    out: str = option(nonempty=True, help="output folder (must not exist, unless --overwrite)")
    dtype: str = option("auto", choices=("auto", "float32", "bfloat16", "float16"),
                        help="dtype of the merged weights (auto: the base model's)")


def register(subparsers) -> None:
    from ..fields import add_arguments
    from ..models.tiny import TinyConfig

    sub = group(subparsers, "model", "model commands")
    p = sub.add_parser("tiny", help="build a tiny random video LM of a supported family (tests, CPU runs, quickstart)",
                       description="Build a tiny random model of FAMILY from a config and save it with its processor, "
                                   "so from_pretrained(DIR) works offline. A folder it built before is rebuilt in "
                                   "place; a folder holding anything else is refused unless --overwrite, and files "
                                   "it did not write are never deleted.")
    add_arguments(p, TinyConfig)
    p.set_defaults(func=_tiny)
    f = sub.add_parser("families", help="list the supported model families, one per line",
                       description="Print the model families vsgrpo trains and evaluates (one adapter each in "
                                   "vsgrpo/models/families/), one name per line.")
    f.set_defaults(func=_families)
    m = sub.add_parser("merge", help="merge a LoRA adapter (a run's final/ or checkpoint-N/) into its base model",
                       description="Write ADAPTER's base model (named in its adapter_config.json) with the adapter "
                                   "merged in float32 and the run's processor, as one standalone safetensors folder "
                                   "that plain transformers and vLLM load without peft.")
    add_arguments(m, MergeFlags)
    m.add_argument("--overwrite", action="store_true", help="replace --out if it holds a merged model")
    m.set_defaults(func=_merge)


def _tiny(args) -> int:
    from ..fields import from_args
    from ..models.tiny import TinyConfig, build_tiny_model

    cfg = TinyConfig(**from_args(TinyConfig, args))
    cfg.validate()
    out = build_tiny_model(cfg.family, cfg.out, tokenizer=cfg.tokenizer, seed=cfg.seed, overwrite=cfg.overwrite,
                           **cfg.size())
    print(out)
    return 0


def _families(args) -> int:
    from ..models.families import names

    print("\n".join(names()))
    return 0


def _merge(args) -> int:
    from pathlib import Path

    from ..errors import VsgrpoError
    from ..models.loading import is_adapter, save_merged

    src, out = Path(args.adapter), Path(args.out)
    if not is_adapter(src):
        raise VsgrpoError(f"{src} is not a LoRA adapter folder (no adapter_config.json, or it is a full model)")
    if out.exists() and not (out.is_dir() and not any(out.iterdir())):
        if not args.overwrite or not (out / "config.json").is_file():
            raise VsgrpoError(f"{out} exists; choose a new --out (--overwrite replaces an earlier merged model only)")
        import shutil

        shutil.rmtree(out)  # an earlier merged model (config.json), replaced as asked
    print(save_merged(src, out, dtype=args.dtype))
    return 0
