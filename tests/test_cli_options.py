"""`eval run`, `eval score` and `quickstart` flags are generated from their config dataclasses.

So a flag's default is the field's default and its choices are the constants the config
validates against; a new field shows up as a flag without touching the command modules.
"""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from vsgrpo.answers import PARSERS
from vsgrpo.cli import build_parser
from vsgrpo.eval.backends import BACKENDS, BackendOptions
from vsgrpo.eval.config import EvalConfig, ScoringConfig
from vsgrpo.models.loading import DTYPES
from vsgrpo.options import add_arguments, flag_of, from_args, option, parse_names, parse_size
from vsgrpo.prompts import MODES, STYLES
from vsgrpo.quickstart.config import SFT_CHOICES, QuickstartConfig


def _subparser(*path: str) -> argparse.ArgumentParser:
    parser = build_parser()
    for name in path:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return parser


def _actions(parser) -> dict[str, argparse.Action]:
    return {a.dest: a for a in parser._actions}


REQUIRED_RUN = ["--model", "m", "--questions", "q.parquet", "--videos", "v"]


@pytest.mark.parametrize("path,classes,argv", [
    (("eval", "run"), (EvalConfig, BackendOptions), REQUIRED_RUN),
    (("eval", "score"), (ScoringConfig,), ["--questions", "q.parquet", "--predictions", "p.jsonl"]),
    (("quickstart",), (QuickstartConfig,), []),
])
def test_flag_defaults_are_the_field_defaults(path, classes, argv):
    parser = _subparser(*path)
    args = parser.parse_args(argv)
    actions = _actions(parser)
    for cls in classes:
        for f in dataclasses.fields(cls):
            if "help" not in f.metadata:
                continue  # not a flag (e.g. EvalConfig.backend_options)
            assert f.name in actions, f"{cls.__name__}.{f.name} has no flag"
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                assert actions[f.name].required
                continue
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            assert getattr(args, f.name) == default, (cls.__name__, f.name)


def test_choices_come_from_the_constants():
    run = _actions(_subparser("eval", "run"))
    assert tuple(run["mode"].choices) == MODES
    assert tuple(run["style"].choices) == STYLES
    assert tuple(run["backend"].choices) == BACKENDS
    assert tuple(run["parser"].choices) == PARSERS
    assert tuple(run["dtype"].choices) == DTYPES
    assert tuple(_actions(_subparser("eval", "score"))["parser"].choices) == PARSERS
    qs = _actions(_subparser("quickstart"))
    assert tuple(qs["sft"].choices) == SFT_CHOICES
    assert tuple(qs["eval_style"].choices) == STYLES


def test_flag_spellings_kept():
    """The flags the README and docs use keep their names."""
    run = _subparser("eval", "run")
    flags = {s for a in run._actions for s in a.option_strings}
    assert {"--model", "--questions", "--videos", "--frames", "--mode", "--style", "--backend", "--out", "--limit",
            "--batch-size", "--max-new-tokens", "--retry-errors", "--parser", "--no-answer-tag", "--no-option-text",
            "--device", "--dtype", "--min-pixels", "--max-pixels", "--base-url", "--api-key-env"} <= flags
    qs = _subparser("quickstart")
    flags = {s for a in qs._actions for s in a.option_strings}
    assert {"--out", "--model", "--scenes", "--heldout-scenes", "--steps", "--sft-steps", "--sft", "--seed", "--tasks",
            "--per-scene", "--frames", "--video-frames", "--video-size", "--eval-style", "--eval-limit",
            "--eval-batch-size", "--workers", "--threads", "--tiny-hidden-size", "--tiny-layers", "--recipes",
            "--sft-set", "--grpo-set"} <= flags


def test_parsed_flags_build_the_configs():
    args = _subparser("eval", "run").parse_args(
        REQUIRED_RUN + ["--frames", "8", "--mode", "think", "--no-answer-tag", "--backend", "openai",
                        "--base-url", "http://127.0.0.1:9/v1", "--max-pixels", "100"])
    cfg = EvalConfig(**from_args(EvalConfig, args))
    assert (cfg.frames, cfg.mode, cfg.answer_tag, cfg.option_text, cfg.backend) == (8, "think", False, True, "openai")
    opts = BackendOptions(**from_args(BackendOptions, args))
    openai, hf, vllm = (opts.for_backend(b) for b in ("openai", "hf", "vllm"))
    assert {"base_url": "http://127.0.0.1:9/v1", "api_key_env": "OPENAI_API_KEY"}.items() <= openai.items()
    assert "dtype" not in openai and "max_pixels" not in openai
    assert hf == {"dtype": "auto", "max_pixels": 100} == vllm  # options not given are left out

    args = _subparser("quickstart").parse_args(
        ["--tasks", "object_counting, room_size_estimation", "--video-size", "64x48", "--sft-set", "a=1",
         "--sft-set", "b=2", "--grpo-set", "c=3", "--sft", "off"])
    cfg = QuickstartConfig(**from_args(QuickstartConfig, args))
    assert cfg.tasks == ("object_counting", "room_size_estimation")
    assert cfg.video_size == (64, 48)
    assert cfg.sft_overrides == ["a=1", "b=2"] and cfg.grpo_overrides == ["c=3"]
    assert cfg.sft == "off" and not cfg.sft_enabled


def test_help_states_profile_defaults():
    from vsgrpo.quickstart.config import PAPER, TINY

    text = _subparser("quickstart").format_help().replace("\n", " ")
    text = " ".join(text.split())
    assert f"tiny {TINY.scenes}, real model {PAPER.scenes}" in text
    assert f"tiny {TINY.video_size[0]}x{TINY.video_size[1]}" in text


def test_a_new_field_is_a_new_flag():
    @dataclasses.dataclass
    class Toy:
        name: str = option(help="required name")
        count: int = option(3, help="how many")
        fast: bool = option(False, help="go fast")
        checks: bool = option(True, help="run checks", off_help="skip checks")
        size: tuple = option((4, 3), type=parse_size, metavar="WxH", help="size")
        kinds: tuple | None = option(None, type=parse_names, help="kinds")
        hidden: int = option(0, help="not a flag", cli=False)

    p = argparse.ArgumentParser()
    add_arguments(p, Toy)
    flags = {f.name: flag_of(f) for f in dataclasses.fields(Toy)}
    assert flags["count"] == "--count"
    args = p.parse_args(["--name", "x", "--fast", "--no-checks", "--size", "10X20", "--kinds", "a,,b "])
    toy = Toy(**from_args(Toy, args))
    assert (toy.name, toy.count, toy.fast, toy.checks, toy.size, toy.kinds, toy.hidden) == (
        "x", 3, True, False, (10, 20), ("a", "b"), 0)
    with pytest.raises(SystemExit):
        p.parse_args([])  # --name is required
    with pytest.raises(SystemExit):
        p.parse_args(["--name", "x", "--size", "big"])
    with pytest.raises(SystemExit):
        p.parse_args(["--name", "x", "--hidden", "1"])


def test_reproduce_command_round_trips():
    """The quickstart report's "Reproduce" line parses back to the same settings."""
    import shlex

    from vsgrpo.quickstart.stages import Pipeline

    cfg = QuickstartConfig(out="runs/a b", scenes=3, steps=7, sft="on", seed=5, tasks=("object_counting",),
                           video_size=(64, 48), eval_style="bench", threads=2, sft_overrides=["a=1", "b=[x, y]"])
    argv = shlex.split(Pipeline(cfg).command())
    assert argv[:2] == ["vsgrpo", "quickstart"]
    back = QuickstartConfig(**from_args(QuickstartConfig, _subparser("quickstart").parse_args(argv[2:])))
    assert back == cfg
