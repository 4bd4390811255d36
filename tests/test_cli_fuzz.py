"""Bad command-line input never ends in a traceback, and nothing is written before it is refused.

The bad values are generated from the flags' declarations (:func:`vsgrpo.fields.option`
metadata: type, ``min``/``max``/``positive``, ``finite``, ``choices``/``items``, ``path``,
``nonempty``), for every flag of every command: negative, zero, NaN, infinite, huge, wrong type,
empty, unknown name, missing file, folder for a file, file for a folder, invalid UTF-8 (in a
file and in argv). Hand-written cases add the inputs the metadata cannot describe (a questions
parquet with bad ids, malformed import files, recipe contents). Each case runs in-process
(:func:`vsgrpo.cli.main`, fast enough for CI) and must give exit code 2, one
``vsgrpo: error:`` line on stderr (warnings aside), no traceback, and an output folder with no
file in it. A few cases also run as real subprocesses, and `data browse` (which would serve
forever if a bad value got through) only runs as a subprocess with a timeout.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from vsgrpo.cli import build_parser, main
from vsgrpo.fields import MISSING, default_of

ROOT = Path(__file__).resolve().parents[1]
BAD_UTF8 = os.fsdecode(b"bad-\xff\xfe")  # an argv element that is not valid UTF-8 (surrogate-escaped)
MIN_CASES = 200


@dataclass
class Case:
    name: str
    argv: list[str]
    out: Path  # must hold no file afterwards


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """Valid inputs for every command, so that each case is wrong in exactly one value."""
    d = tmp_path_factory.mktemp("fuzz")
    df = pd.read_parquet(ROOT / "tests" / "data" / "vsibench" / "test-dev.parquet").head(12)
    q = d / "questions.parquet"
    df.to_parquet(q)
    (d / "videos").mkdir()
    (d / "model").mkdir()  # a local model folder (empty: a case that got through fails when loading it)
    (d / "raw").mkdir()
    (d / "a_folder").mkdir()
    (d / "a_file").write_text("x\n", encoding="utf-8")
    (d / "not_utf8").write_bytes(b"\xff\xfe\x00bad\x80\n")
    preds = d / "preds.jsonl"
    preds.write_text("".join(json.dumps({"id": int(i), "prediction": "A"}) + "\n" for i in df["id"]), encoding="utf-8")
    records = d / "records.jsonl"
    records.write_text(json.dumps({"id": 1, "question": "How many chairs are in this room?", "answer": "2",
                                   "video": "a.mp4", "question_type": "object_counting"}) + "\n", encoding="utf-8")
    from train_fixtures import make_train_data

    train_q = make_train_data(d / "train")  # train-style questions with real mp4s (for data export)
    recipes = {}
    for method in ("grpo", "sft", "dpo"):
        r = d / f"{method}.yaml"
        r.write_text(f"method: {method}\nmodel: {d / 'model'}\ndata: {q}\noutput_dir: OUT\nmax_steps: 1\n",
                     encoding="utf-8")
        recipes[method] = r
    return {"dir": d, "questions": q, "videos": d / "videos", "model": d / "model", "raw": d / "raw",
            "meta": ROOT / "examples" / "vsibench_sample", "folder": d / "a_folder", "file": d / "a_file",
            "not_utf8": d / "not_utf8", "predictions": preds, "records": records, "train_questions": train_q,
            "train_videos": train_q.parent / "videos", **recipes}


def _base(command: tuple[str, ...], inp: dict, out: Path) -> list[str] | None:
    """A valid command line whose output goes to ``out`` (``None``: the command is not fuzzed in-process)."""
    q, o = str(inp["questions"]), str(out)
    argv = {
        ("data", "synth"): ["--scenes", "1", "--out", o],
        ("data", "ingest"): ["--source", "custom", "--root", str(inp["raw"]), "--out", o],
        ("data", "build"): ["--meta", str(inp["meta"]), "--out", o],
        ("data", "verify"): ["--meta", str(inp["meta"]), "--questions", q, "--report", str(out / "r.json")],
        ("data", "export"): ["--format", "verl", "--questions", str(inp["train_questions"]), "--root",
                             str(inp["train_videos"]), "--out", o],
        ("data", "import"): ["--format", "jsonl", "--input", str(inp["records"]), "--videos", str(inp["videos"]),
                             "--out", o],
        ("eval", "score"): ["--questions", q, "--predictions", str(inp["predictions"]), "--out",
                            str(out / "results.json")],
        ("eval", "run"): ["--model", str(inp["model"]), "--questions", q, "--videos", str(inp["videos"]), "--out", o],
        ("eval", "baselines"): ["--questions", q, "--out", str(out / "b.json")],
        ("model", "tiny"): ["--tokenizer", "small", "--out", o],
        ("quickstart",): ["--out", o, "--scenes", "1", "--heldout-scenes", "1", "--steps", "1", "--sft", "off"],
        ("train", "grpo"): ["--config", str(inp["grpo"]), f"output_dir={out}", "--dry-run"],
        ("train", "sft"): ["--config", str(inp["sft"]), f"output_dir={out}", "--dry-run"],
        ("train", "dpo"): ["--config", str(inp["dpo"]), f"output_dir={out}", "--dry-run"],
    }.get(command)
    return None if argv is None else [*command, *argv]


def _commands(parser=None, path=()):
    parser = parser or build_parser()
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
        return
    for name, p in subs[0].choices.items():
        yield from _commands(p, path + (name,))


def _num(v: float, integer: bool) -> str:
    return str(int(v)) if integer else repr(float(v))


def bad_values(action: argparse.Action, inp: dict) -> list[tuple[str, str]]:
    """(label, value) pairs that the declaration behind ``action`` must refuse."""
    f = getattr(action, "field", None)
    if f is None or action.nargs == 0:
        return []  # a switch takes no value
    m, default = f.metadata, default_of(f)
    kind = type(default) if default not in (MISSING, None) else m.get("type")
    out: list[tuple[str, str]] = []
    if kind is bool:
        return [("not a bool", "maybe"), ("a number for a bool", "2")] if getattr(action, "raw_text", False) else []
    if kind in (int, float) or (kind is not None and m.get("min") is not None):
        integer = kind is int or (kind is not float and isinstance(m.get("min"), int))
        out += [("text", "abc"), ("empty", ""), ("NaN", "nan"), ("infinite", "inf"), ("-infinite", "-inf")]
        if integer:
            out += [("fraction", "1.5"), ("past int64", str(2**64))]
        if m.get("min") is not None:
            out.append(("below min", _num(m["min"] - 1, integer)))
            out.append(("negative", _num(-abs(m["min"]) - 5, integer)))
        if m.get("positive"):
            out += [("zero", "0"), ("negative", "-1")]
        if m.get("max") is not None:
            out.append(("above max", _num(m["max"] * 2 + 1, integer)))
        if getattr(action, "raw_text", False):
            out += [("a list", "[1, 2]"), ("a mapping", "{a: 1}")]
    if m.get("choices") or m.get("items"):
        out += [("unknown name", "bogus_name"), ("invalid UTF-8", BAD_UTF8)]
    if m.get("nonempty"):
        out.append(("empty", ""))
    kind_of_path = m.get("path")
    missing = str(inp["dir"] / "missing" / "nothing")
    if kind_of_path == "file":
        out += [("missing file", missing), ("folder for a file", str(inp["folder"])),
                ("invalid UTF-8 name", str(inp["dir"] / BAD_UTF8)), ("invalid UTF-8 content", str(inp["not_utf8"]))]
    if kind_of_path == "dir":
        out += [("missing folder", missing), ("file for a folder", str(inp["file"]))]
    if kind_of_path == "out_dir":
        out.append(("file for an output folder", str(inp["file"])))
    if kind_of_path == "out_file":
        out.append(("folder for an output file", str(inp["folder"])))
    if kind_of_path == "model":
        out += [("missing model folder", "./nope"), ("file for a model", str(inp["file"]))]
    return list(dict.fromkeys(out))


def _replace(argv: list[str], flag: str, value: str) -> list[str]:
    """``argv`` with ``flag``'s value set to ``value`` (added when absent); positional: replaced."""
    if flag in argv:
        i = argv.index(flag)
        return argv[:i + 1] + [value] + argv[i + 2:]
    return argv + [flag, value]


def generated_cases(inp: dict, tmp: Path) -> list[Case]:
    cases = []
    for command, parser in _commands():
        for action in parser._actions:
            if not action.option_strings:
                continue
            flag = action.option_strings[0]
            for label, value in bad_values(action, inp):
                if command[0] == "train" and action.field.metadata.get("path"):
                    continue  # a dry run lists missing paths instead of refusing them (cases below run without it)
                out = tmp / f"out{len(cases)}"
                base = _base(command, inp, out)
                if base is None:
                    continue
                cases.append(Case(f"{' '.join(command)} {flag} {label}", _replace(base, flag, value), out))
    return cases


def _questions_with(inp: dict, name: str, **column) -> str:
    df = pd.read_parquet(inp["questions"])
    for col, values in column.items():
        df[col] = values
    p = inp["dir"] / f"{name}.parquet"
    df.to_parquet(p)
    return str(p)


def _file(inp: dict, name: str, text: str | bytes) -> str:
    p = inp["dir"] / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return str(p)


def handwritten_cases(inp: dict, tmp: Path) -> list[Case]:
    """Bad inputs inside files, and combinations no single declaration states."""
    n = len(pd.read_parquet(inp["questions"]))
    ids = {"string ids": [f"q{i}" for i in range(n)], "NaN ids": [math.nan] + [float(i) for i in range(1, n)],
           "ids past int64": [1e20] + [float(i) for i in range(1, n)], "fractional ids": [i + 0.5 for i in range(n)]}
    cases: list[Case] = []

    def add(name, command, edit):
        out = tmp / f"hand{len(cases)}"
        cases.append(Case(name, edit(_base(command, inp, out), out), out))

    for label, values in ids.items():
        bad = _questions_with(inp, label.replace(" ", "_"), id=values)
        for command in (("eval", "run"), ("eval", "score"), ("eval", "baselines"), ("data", "verify")):
            add(f"{' '.join(command)} questions with {label}", command,
                lambda a, o, bad=bad: _replace(a, "--questions", bad))
    deep = "[" * 100_000 + "]" * 100_000
    import_files = {
        "deeply nested JSON": deep, "deeply nested JSON line": deep + "\n",
        "id past int64": json.dumps({"id": 2**70, "question": "How many chairs are in this room?", "answer": "2",
                                     "video": "a.mp4"}) + "\n",
        "options: 5": json.dumps({"id": 1, "question": "Which is closest?", "answer": "A", "video": "a.mp4",
                                  "options": 5}) + "\n",
        "empty input": "", "invalid UTF-8 input": b"\xff\xfe{\n",
        "not JSON": "this is not json\n",
    }
    for label, text in import_files.items():
        f = _file(inp, f"import_{len(cases)}.jsonl", text)
        add(f"data import {label}", ("data", "import"), lambda a, o, f=f: _replace(a, "--input", f))
    recipe_texts = {
        "invalid UTF-8 recipe": b"method: grpo\nmodel: \xff\xfe\n",
        "recipe not a mapping": "- a\n- b\n",
        "trl_args beta: abc": "trl_args: {beta: abc}\n", "NaN reward weight": "rewards: [{accuracy: .nan}]\n",
        "unknown key": "learning_rat: 1e-5\n", "deeply nested recipe": "a: " + "[" * 5000 + "]" * 5000 + "\n",
        "num_train_epochs -1": "num_train_epochs: -1\n", "batch size 0": "per_device_train_batch_size: 0\n",
    }
    for label, text in recipe_texts.items():
        base = inp["grpo"].read_bytes()
        body = text if isinstance(text, bytes) else text.encode()
        f = _file(inp, f"recipe_{len(cases)}.yaml", body if b"method" in body else base + body)
        add(f"train grpo {label}", ("train", "grpo"), lambda a, o, f=f: _replace(a, "--config", f))
    add("model tiny --heads 3", ("model", "tiny"), lambda a, o: a + ["--heads", "3"])
    add("model tiny --out FILE", ("model", "tiny"), lambda a, o: _replace(a, "--out", str(inp["file"])))
    add("eval run --device bogus", ("eval", "run"), lambda a, o: a + ["--device", "bogus"])
    add("eval run --min-pixels above --max-pixels", ("eval", "run"),
        lambda a, o: a + ["--min-pixels", "1000", "--max-pixels", "10"])
    add("data build --add-tasks bogus", ("data", "build"), lambda a, o: a + ["--add-tasks", "bogus"])
    add("data synth --size odd", ("data", "synth"), lambda a, o: a + ["--size", "33x33"])
    add("data synth --size huge", ("data", "synth"), lambda a, o: a + ["--size", "99999x99999"])
    add("data synth --size text", ("data", "synth"), lambda a, o: a + ["--size", "big"])
    add("quickstart --model ./nope", ("quickstart",), lambda a, o: a + ["--model", "./nope"])
    add("quickstart --sft-set typo", ("quickstart",), lambda a, o: a + ["--sft-set", "learning_rat=1"])
    add("quickstart --grpo-set bad value", ("quickstart",), lambda a, o: a + ["--grpo-set", "temperature=0"])
    add("quickstart --grpo-set no =", ("quickstart",), lambda a, o: a + ["--grpo-set", "beta"])
    add("train grpo --learning_rate -1", ("train", "grpo"), lambda a, o: a + ["--learning_rate", "-1"])
    add("train grpo lora_r=0", ("train", "grpo"), lambda a, o: a + ["lora_r=0"])
    for label, value in [("missing model", "./nope"), ("file for a model", str(inp["file"]))]:
        add(f"train grpo model: {label}", ("train", "grpo"),
            lambda a, o, v=value: [x for x in a if x != "--dry-run"] + [f"model={v}"])
    add("train grpo output_dir is a file", ("train", "grpo"),
        lambda a, o: [x for x in a if x != "--dry-run"] + ["--output_dir", str(inp["file"])])
    add("eval run --device cuda:99", ("eval", "run"), lambda a, o: a + ["--device", "cuda:99"])
    import torch

    if not torch.cuda.is_available():
        add("eval run --device cuda without a GPU", ("eval", "run"), lambda a, o: a + ["--device", "cuda"])
    return cases


def run_case(case: Case) -> str:
    """``"clean"``, or what went wrong: ``"traceback"``, ``"exit N"``, ``"stderr: ..."``, ``"wrote ..."``."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            rc = main(case.argv)
    except SystemExit as e:  # noqa: PERF203 - a parse error may still exit this way
        rc = e.code
    except BaseException as e:  # an uncaught exception is a traceback for a user
        return f"traceback: {type(e).__name__}: {str(e)[:200]}"
    lines = [x for x in err.getvalue().splitlines() if x.strip() and not x.startswith("vsgrpo: warning:")]
    written = [p for p in case.out.rglob("*") if p.is_file()] if case.out.exists() else []
    if "Traceback" in err.getvalue():
        return "traceback printed"
    if rc != 2:
        return f"exit {rc}"
    if len(lines) != 1 or not lines[0].startswith("vsgrpo: error: "):
        return f"stderr: {lines[:3]}"
    if written:
        return f"wrote {written[0]}"
    return "clean"


def all_cases(inputs: dict, tmp: Path) -> list[Case]:
    return generated_cases(inputs, tmp) + handwritten_cases(inputs, tmp)


def test_every_bad_value_is_one_clean_error(inputs, tmp_path, capsys):
    cases = all_cases(inputs, tmp_path)
    generated = len(generated_cases(inputs, tmp_path / "count"))
    assert generated >= MIN_CASES, generated
    results = {c.name: run_case(c) for c in cases}
    bad = {k: v for k, v in results.items() if v != "clean"}
    tracebacks = sum(v.startswith("traceback") for v in bad.values())
    with capsys.disabled():
        print(f"\nCLI fuzz: {len(cases)} bad inputs ({generated} generated from the declarations), "
              f"{len(cases) - len(bad)} clean errors, {tracebacks} tracebacks, {len(bad) - tracebacks} other failures")
    assert not bad, "\n".join(f"{k}: {v}" for k, v in bad.items())


def test_the_valid_command_lines_parse(inputs, tmp_path):
    """Each case is the valid command line with one value changed, so the base lines must parse."""
    parser = build_parser()
    for command, _ in _commands():
        base = _base(command, inputs, tmp_path / "out")
        if base is not None:
            parser.parse_args(base)


def test_every_flag_with_a_value_is_declared():
    """The generator sees every flag: each one that takes a value comes from an option() declaration."""
    undeclared = []
    for command, parser in _commands():
        for a in parser._actions:
            if a.nargs != 0 and not isinstance(a, (argparse._HelpAction, argparse._VersionAction)) \
                    and getattr(a, "field", None) is None and a.dest not in ("overrides", "map", "runs"):
                undeclared.append(f"{' '.join(command)} {a.option_strings or a.dest}")
    assert not undeclared, undeclared


def _subprocess(argv: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run([sys.executable, "-m", "vsgrpo.cli", *argv], capture_output=True, text=True,
                          timeout=timeout, env=env, errors="backslashreplace")


@pytest.mark.parametrize("label", ["port -1", "port 70000", "port text", "missing root", "string ids", "NaN ids"])
def test_browse_refuses_bad_input_before_serving(inputs, label):
    root = inputs["dir"] / "browse_root"
    root.mkdir(exist_ok=True)
    argv = {"port -1": [str(root), "--port", "-1"], "port 70000": [str(root), "--port", "70000"],
            "port text": [str(root), "--port", "http"], "missing root": [str(root / "none")],
            "string ids": [str(root), "--questions", _questions_with(inputs, "b1", id=[f"q{i}" for i in range(12)])],
            "NaN ids": [str(root), "--questions",
                        _questions_with(inputs, "b2", id=[math.nan] + [float(i) for i in range(1, 12)])]}[label]
    proc = _subprocess(["data", "browse", *argv], timeout=60)  # a bad value that got through would serve forever
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("vsgrpo: error: "), proc.stderr


@pytest.mark.parametrize("argv", [
    ["data", "synth", "--scenes", "1", "--out", "OUT", "--seed", "-1"],
    ["eval", "run", "--model", "m", "--questions", "Q", "--videos", "V", "--out", "OUT", "--max-new-tokens", "0"],
    ["model", "tiny", "--out", "OUT", "--hidden-size", "0"],
    ["train", "grpo", "--config", "RECIPE", "--learning-rate", "nan"],
    ["data", "import", "--format", "jsonl", "--input", "BADUTF8", "--videos", "V", "--out", "OUT"],
])
def test_real_processes_print_one_line(inputs, tmp_path, argv):
    out = tmp_path / "out"
    swap = {"OUT": str(out), "Q": str(inputs["questions"]), "V": str(inputs["videos"]),
            "RECIPE": str(inputs["grpo"]), "BADUTF8": str(inputs["not_utf8"])}
    proc = _subprocess([swap.get(a, a) for a in argv])
    lines = [x for x in proc.stderr.splitlines() if not x.startswith("vsgrpo: warning:")]
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("vsgrpo: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists() or not any(p.is_file() for p in out.rglob("*"))


def test_a_run_refused_before_its_first_sample_leaves_nothing_that_blocks_the_rerun(inputs, tmp_path):
    """An eval run that fails before its first sample (here: the model folder is empty) may leave
    config.json; the corrected rerun with other settings is not refused because of it."""
    out = tmp_path / "run"
    base = ["eval", "run", "--model", str(inputs["model"]), "--questions", str(inputs["questions"]), "--videos",
            str(inputs["videos"]), "--out", str(out)]
    for argv in (base, base + ["--frames", "8"]):  # the corrected rerun uses other settings
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            assert main(argv) == 2  # the empty model folder fails to load, after config.json was written
        assert "holds a run with" not in err.getvalue() and "model" in err.getvalue(), err.getvalue()
