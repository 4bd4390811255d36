"""`vsgrpo model ...` commands."""

from __future__ import annotations

from . import group


def register(subparsers) -> None:
    from ..models.families import names
    from ..models.tiny import TOKENIZERS

    sub = group(subparsers, "model", "model commands")
    p = sub.add_parser("tiny", help="build a tiny random video LM of a supported family (tests, CPU runs, quickstart)",
                       description="Build a tiny random model of FAMILY from a config and save it with its processor, "
                                   "so from_pretrained(DIR) works offline.")
    p.add_argument("--family", default="qwen2_vl", choices=names(), help="model family (see `vsgrpo model families`)")
    p.add_argument("--out", required=True, help="output folder (replaced if it exists)")
    p.add_argument("--tokenizer", default="qwen", choices=TOKENIZERS,
                   help="qwen: the real Qwen2/3 tokenizer (151,669 tokens); small: a few hundred tokens, fastest")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--hidden-size", type=int, default=64)
    p.add_argument("--layers", type=int, default=2, help="language-model layers")
    p.add_argument("--heads", type=int, default=None,
                   help="attention heads of the language model (default 4); head size = hidden size / heads must be"
                        " >= 32 for vLLM's CPU attention, e.g. --hidden-size 128 --heads 2")
    p.set_defaults(func=_tiny)
    f = sub.add_parser("families", help="list the supported model families, one per line",
                       description="Print the model families vsgrpo trains and evaluates (one adapter each in "
                                   "vsgrpo/models/families/), one name per line.")
    f.set_defaults(func=_families)


def _tiny(args) -> int:
    from ..models.tiny import build_tiny_model

    size = {"num_attention_heads": args.heads} if args.heads else {}
    out = build_tiny_model(args.family, args.out, tokenizer=args.tokenizer, seed=args.seed,
                           hidden_size=args.hidden_size, num_hidden_layers=args.layers, **size)
    print(out)
    return 0


def _families(args) -> int:
    from ..models.families import names

    print("\n".join(names()))
    return 0
