"""Every command's flags are generated from config dataclass fields (vsgrpo.fields.option).

So a flag's default is the field's default and its choices are the constants the config
validates against; a new field shows up as a flag without touching the command modules.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import pytest

from vsgrpo.answers import PARSERS
from vsgrpo.cli import build_parser
from vsgrpo.data_configs import BuildConfig, ImportConfig, IngestConfig, SynthConfig
from vsgrpo.eval.backends import BackendOptions, backend_names
from vsgrpo.eval.config import EvalConfig, ScoringConfig
from vsgrpo.fields import add_arguments, flag_of, from_args, option, parse_names, parse_size
from vsgrpo.models.loading import DTYPES
from vsgrpo.models.tiny import TinyConfig
from vsgrpo.prompts import MODES, STYLES
from vsgrpo.quickstart.config import SFT_CHOICES, QuickstartConfig

ROOT = Path(__file__).resolve().parents[1]


def _subparser(*path: str) -> argparse.ArgumentParser:
    parser = build_parser()
    for name in path:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return parser


def _actions(parser) -> dict[str, argparse.Action]:
    return {a.dest: a for a in parser._actions}


REQUIRED_RUN = ["--model", "m", "--questions", "q.parquet"]  # --videos: optional (the build record, issue 25)


@pytest.fixture(autouse=True)
def _inputs(tmp_path, monkeypatch):
    """The input files the argv above names exist (flags naming a missing file are refused while parsing)."""
    monkeypatch.chdir(tmp_path)
    for name in ("q.parquet", "p.jsonl", "m.yaml"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "v").mkdir()


@pytest.mark.parametrize("path,classes,argv", [
    (("eval", "run"), (EvalConfig, BackendOptions), REQUIRED_RUN),
    (("eval", "score"), (ScoringConfig,), ["--questions", "q.parquet", "--predictions", "p.jsonl"]),
    (("quickstart",), (QuickstartConfig,), []),
    (("model", "tiny"), (TinyConfig,), ["--out", "o"]),
    (("data", "synth"), (SynthConfig,), ["--out", "o", "--scenes", "10"]),
    (("data", "ingest"), (IngestConfig,), ["--source", "custom", "--root", "v", "--out", "o"]),
    (("data", "import"), (ImportConfig,), ["--format", "jsonl", "--input", "p.jsonl", "--videos", "v",
                                           "--out", "o"]),
])
def test_flag_defaults_are_the_field_defaults(path, classes, argv):
    parser = _subparser(*path)
    args = parser.parse_args(argv)
    actions = _actions(parser)
    for cls in classes:
        for f in dataclasses.fields(cls):
            if "help" not in f.metadata or not f.metadata["cli"]:
                continue  # not a flag (e.g. EvalConfig.backend_options, SynthConfig.width: --size)
            assert f.name in actions, f"{cls.__name__}.{f.name} has no flag"
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                assert actions[f.name].required
                continue
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            if not actions[f.name].required:
                assert getattr(args, f.name) == default, (cls.__name__, f.name)


def test_choices_come_from_the_constants():
    run = _actions(_subparser("eval", "run"))
    assert tuple(run["mode"].choices) == MODES
    assert tuple(run["style"].choices) == STYLES
    assert backend_names() == ("hf", "openai", "vllm")  # checked by EvalConfig, live (plug-ins may add more)
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
                           video_size=(64, 48), eval_style="bench", threads=2,
                           sft_overrides=["learning_rate=1e-3", "report_to=[jsonl, tensorboard]"])
    argv = shlex.split(Pipeline(cfg).command())
    assert argv[:2] == ["vsgrpo", "quickstart"]
    back = QuickstartConfig(**from_args(QuickstartConfig, _subparser("quickstart").parse_args(argv[2:])))
    assert back == cfg


def test_build_flags_are_the_build_config_and_a_preset_fills_only_what_is_not_given():
    """`data build` restates no BuildConfig default: the flag defaults are the fields', and the preset
    fields are left out of the namespace unless given."""
    parser = _subparser("data", "build")
    args = parser.parse_args(["--meta", "v", "--out", "o"])
    actions = _actions(parser)
    for f in dataclasses.fields(BuildConfig):
        assert f.name in actions or not f.metadata.get("cli", True), f.name  # mix: set by --preset only
    assert not hasattr(args, "style") and args.seed == 0
    assert from_args(BuildConfig, parser.parse_args(["--meta", "v", "--out", "o", "--style", "train"]))["style"] \
        == "train"


def test_bounds_are_checked_while_parsing(capsys):
    parser = _subparser("data", "synth")
    for bad in (["--seed", "-1"], ["--fps", "nan"], ["--scenes", "0"], ["--frames", "x"], ["--workers", "1e9"]):
        with pytest.raises(SystemExit) as e:
            parser.parse_args(["--out", "o", "--scenes", "2", *bad])
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("vsgrpo: error: argument " + bad[0]) and err.count("\n") == 1, err


def test_an_option_states_its_bounds_once_for_flags_and_configs():
    from vsgrpo.errors import VsgrpoError
    from vsgrpo.fields import check, problem

    @dataclasses.dataclass
    class Toy:
        rate: float = option(0.5, positive=True, max=1, help="rate")
        n: int = option(1, min=1, help="n")
        kind: str = option("a", choices=("a", "b"), help="kind")

    f = {x.name: x for x in dataclasses.fields(Toy)}
    assert problem(f["rate"], float("nan")) == "must be a finite number, got nan"
    assert problem(f["rate"], 0.0) == "must be > 0, got 0.0"
    assert problem(f["rate"], 2) == "must be <= 1, got 2"
    assert problem(f["n"], True) and problem(f["n"], 2**70) and problem(f["n"], "3")
    assert problem(f["kind"], "c") and problem(f["kind"], "b") is None
    with pytest.raises(VsgrpoError, match="--n must be >= 1, got 0"):
        check(Toy(n=0))
    p = argparse.ArgumentParser()
    add_arguments(p, Toy)
    with pytest.raises(SystemExit):
        p.parse_args(["--rate", "inf"])
    assert p.parse_args(["--rate", "0.25"]).rate == 0.25


def _dry_run(capsys, *argv):
    from vsgrpo.cli import main

    rc = main(["train", "grpo", "--config", str(ROOT / "recipes" / "tiny" / "grpo.yaml"), "--dry-run", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_train_takes_trl_style_overrides(capsys):
    import json

    for argv in (["--learning_rate", "3e-5"], ["--learning-rate", "3e-5"], ["--learning_rate=3e-5"],
                 ["learning_rate=3e-5"]):
        rc, out, err = _dry_run(capsys, *argv, "--lora", "false", "--report-to", "[jsonl]")
        assert rc == 0, err
        cfg = json.loads(out)["vsgrpo"]
        assert (cfg["learning_rate"], cfg["lora"], cfg["report_to"]) == (3e-5, False, ["jsonl"]), argv
    rc, out, err = _dry_run(capsys, "min_pixels=null", "--max_pixels", "null")
    assert rc == 0, err
    assert (json.loads(out)["vsgrpo"]["min_pixels"], json.loads(out)["vsgrpo"]["max_pixels"]) == (0, 0)


def test_train_override_errors_are_one_line_with_the_closest_key(capsys):
    for argv, words in [(["learning_rat=1e-5"], "did you mean learning_rate?"),
                        (["--learning_rate", "-1"], "config: learning_rate must be >= 0, got -1.0"),
                        (["--lora_dropout", "2"], "config: lora_dropout must be <= 1"),
                        (["--seed", ""], "seed must be an integer"),
                        (["--mode", "fast"], "config: mode 'fast' unknown; choose from vanilla")]:
        rc, out, err = _dry_run(capsys, *argv)
        assert rc == 2 and not out and err.count("\n") == 1 and words in err, (argv, err)


def test_quickstart_no_blind_help_says_what_it_does():
    text = " ".join(_subparser("quickstart").format_help().split())
    assert "--no-blind skip the blind evaluations" in text


def test_key_value_overrides_after_a_flag_still_apply(capsys):
    """`train grpo --config R data=D --dry-run max_steps=8`: argparse ends the positionals at the first flag;
    the overrides after it are still overrides, and a stray word is still an error."""
    from vsgrpo.cli import main

    recipe = str(Path(__file__).resolve().parents[1] / "recipes" / "tiny" / "grpo.yaml")
    assert main(["train", "grpo", "--config", recipe, "data=x.parquet", "--dry-run", "max_steps=8",
                 "learning_rate=0.001"]) == 0
    resolved = json.loads(capsys.readouterr().out)
    assert resolved["vsgrpo"]["max_steps"] == 8 and resolved["vsgrpo"]["learning_rate"] == 0.001
    assert main(["train", "grpo", "--config", recipe, "--dry-run", "bogus"]) == 2
    assert "bogus" in capsys.readouterr().err
