"""Progress in logs: a command whose stderr is a pipe prints done/total, rate and ETA lines; the
training run's closing summary line; libraries' own bars kept out of logs."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest

from vsgrpo.progress import LineProgress, format_duration, format_rate, progress, quiet_libraries
from vsgrpo.run_summary import train_summary

ROOT = Path(__file__).resolve().parents[1]

# "vsgrpo: verifying: 12/52 q (23%), 0.85 q/s, elapsed 14s, ETA 47s" (rate may read "4.2 s/q")
RATE = r"(?:\d+\.\d+ \w+/s|\d+\.\d+ s/\w+|\? \w+/s)"
LINE = re.compile(rf"^vsgrpo: (?P<desc>[^:]+): (?P<done>\d+)/(?P<total>\d+) (?P<unit>\w+) \((?P<pct>\d+)%\), "
                  rf"(?:started|{RATE}, elapsed \S+, (?:ETA \S+|done|stopped))$")


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VSGRPO_PROGRESS", "TQDM_"))}
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def test_cli_under_a_pipe_prints_progress_lines(tmp_path, vsibench_dir):
    df = pd.read_parquet(vsibench_dir / "test-dev.parquet").head(6)
    q = tmp_path / "q.parquet"
    df.to_parquet(q)
    # stderr is a pipe (not a terminal): lines, not a bar; interval 0: a line after every update
    proc = subprocess.run([sys.executable, "-m", "vsgrpo.cli", "data", "verify", "--meta", str(vsibench_dir),
                           "--questions", str(q)], capture_output=True, timeout=300,
                          env=_env(VSGRPO_PROGRESS_INTERVAL="0"))
    err = proc.stderr.decode()  # bytes: a carriage return stays visible
    assert proc.returncode == 0, err
    assert "\r" not in err  # no carriage-return bar in a log
    lines = [ln for ln in err.splitlines() if ln.startswith("vsgrpo: verifying:")]
    assert len(lines) == 1 + 6 + 1, err  # start, one per question, end
    for ln in lines:
        m = LINE.match(ln)
        assert m, ln
        assert m["total"] == "6" and m["unit"] == "q"
    assert lines[0].endswith("0/6 q (0%), started")
    assert [int(LINE.match(ln)["done"]) for ln in lines] == [0, 1, 2, 3, 4, 5, 6, 6]
    assert re.search(r", ETA \S+$", lines[3]) and lines[-1].endswith(", done")


def test_progress_off_and_forced_bar(tmp_path, vsibench_dir):
    df = pd.read_parquet(vsibench_dir / "test-dev.parquet").head(3)
    q = tmp_path / "q.parquet"
    df.to_parquet(q)
    cmd = [sys.executable, "-m", "vsgrpo.cli", "data", "verify", "--meta", str(vsibench_dir), "--questions", str(q)]
    off = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=_env(VSGRPO_PROGRESS="0"))
    assert off.returncode == 0 and "verifying" not in off.stderr
    bar = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=_env(VSGRPO_PROGRESS="1"))
    assert bar.returncode == 0 and "100%|" in bar.stderr and "3/3" in bar.stderr  # tqdm's bar, forced


def test_heartbeat_lines_while_a_step_is_slow():
    """With an interval, lines come from a timer, so a step slower than the interval still shows."""
    out = io.StringIO()
    bar = LineProgress(desc="slow", total=4, unit="step", every=0.01, file=out)
    bar.update(1)
    seen = threading.Event()
    for _ in range(3000):  # wait (up to 30 s on a busy machine) for two timer lines after the update
        if sum(ln.startswith("vsgrpo: slow: 1/4") for ln in out.getvalue().splitlines()) >= 2:
            seen.set()
            break
        threading.Event().wait(0.01)
    bar.close()
    assert seen.is_set(), out.getvalue()
    lines = out.getvalue().splitlines()
    assert lines[0] == "vsgrpo: slow: 0/4 step (0%), started"
    assert all(LINE.match(ln) for ln in lines), lines
    assert lines[-1].startswith("vsgrpo: slow: 1/4 step (25%), ") and lines[-1].endswith(", stopped")


def test_resumed_work_counts_toward_done_not_rate(monkeypatch):
    monkeypatch.setenv("VSGRPO_PROGRESS", "")
    out = io.StringIO()
    bar = LineProgress(desc="synth scenes", total=10, unit="scene", initial=8, every=0, file=out)
    assert out.getvalue() == "vsgrpo: synth scenes: 8/10 scene (80%), started\n"
    assert bar.line().startswith("vsgrpo: synth scenes: 8/10 scene (80%), ? scene/s, elapsed ")
    bar.set_postfix({"loss": "0.5"})
    bar.update(2)
    bar.close()
    assert out.getvalue().splitlines()[-1].endswith(", done | loss=0.5")


def test_iterable_and_formats(monkeypatch):
    monkeypatch.setenv("VSGRPO_PROGRESS", "0")
    assert list(progress(range(5), desc="x")) == [0, 1, 2, 3, 4]
    assert [format_duration(s) for s in (0, 45, 185, 7380)] == ["0s", "45s", "3m05s", "2h03m"]
    assert format_rate(2.5, "q") == "2.50 q/s" and format_rate(0.025, "step") == "40.0 s/step"


def test_quiet_libraries_sets_defaults_only_in_logs(monkeypatch):
    env = {"TQDM_DISABLE": "0"}  # a user's own setting wins
    monkeypatch.setenv("VSGRPO_PROGRESS", "")
    quiet_libraries(env)  # stderr under pytest is not a terminal
    assert env["TQDM_DISABLE"] == "0" and env["HF_HUB_DISABLE_PROGRESS_BARS"] == "1"
    forced = {}
    monkeypatch.setenv("VSGRPO_PROGRESS", "1")
    quiet_libraries(forced)
    assert forced == {}


def test_train_summary_from_a_run_folder(tmp_path):
    run = tmp_path / "grpo"
    (run / "eval").mkdir(parents=True)
    (run / "final").mkdir()
    (run / "finished.json").write_text(json.dumps({"global_step": 100, "max_steps": 100}))
    rows = [{"step": 1, "loss": 0.2, "reward": 0.25, "kl": 0.0},
            {"step": 100, "loss": 0.1, "reward": 0.61, "kl": 0.0012},
            {"step": 100, "train_runtime": 3725.0}]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"step": 10')  # a torn line
    (run / "eval" / "scores.jsonl").write_text(
        "".join(json.dumps({"step": s, "overall": o, "checkpoint": f"checkpoint-{s}" if s else None}) + "\n"
                for s, o in ((0, 30.0), (50, 41.25), (100, 39.0))))
    (run / "config.yaml").write_text("eval_questions: data/val.parquet\neval_videos: ''\nmode: think\n")
    line = train_summary(run)
    assert line == (f"trained {run}: 100 steps in 1h02m; last reward 0.61, KL 0.0012; best validation 41.2 "
                    f"(step 50, checkpoint-50); evaluate: vsgrpo eval run --model {run}/final --questions "
                    f"data/val.parquet --mode think --out {run}/eval-final")  # eval run finds the videos as training did


def test_train_summary_sft_lora_and_unfinished(tmp_path):
    run = tmp_path / "sft"
    (run / "final").mkdir(parents=True)
    (run / "final" / "adapter_config.json").write_text("{}")
    (run / "metrics.jsonl").write_text(json.dumps({"step": 5, "loss": 1.23456}) + "\n")
    assert train_summary(run) == f"trained {run}: 5 steps (not finished); last loss 1.235"
    (run / "finished.json").write_text(json.dumps({"global_step": 5}))
    line = train_summary(run)
    assert f"--model {run}/final " in line and "merged" not in line  # eval run loads an adapter folder itself
    assert "--questions vsibench/full.parquet --videos vsibench" in line


def test_summary_names_match_the_trainer():
    from vsgrpo import run_summary
    from vsgrpo.train import run_folder as runner
    from vsgrpo.train import validation

    assert run_summary.FINISHED_FILE == runner.FINISHED_FILE and run_summary.METRICS_FILE == runner.METRICS_FILE
    assert run_summary.CONFIG_FILE == runner.CONFIG_FILE
    assert run_summary.SCORES_FILE == f"{validation.EVAL_DIR}/{validation.SCORES_FILE}"
    assert run_summary.BEST_FILE == f"{validation.EVAL_DIR}/{validation.BEST_FILE}"


@pytest.mark.slow
def test_train_under_a_pipe_shows_steps_and_ends_with_the_summary(tmp_path):
    from train_fixtures import make_train_data
    from vsgrpo.models.tiny import build_tiny_model

    data = make_train_data(tmp_path / "data")
    model = build_tiny_model("qwen2_vl", tmp_path / "model", tokenizer="small")
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "vsgrpo.cli", "train", "grpo", f"model={model}", f"data={data}",
                           f"output_dir={out}", "num_frames=4", "num_generations=2", "per_device_train_batch_size=2",
                           "max_completion_length=6", "lora=false", "report_to=[jsonl]", "max_steps=2"],
                          capture_output=True, timeout=600, env=_env(VSGRPO_PROGRESS_INTERVAL="0"))
    err = proc.stderr.decode()
    assert proc.returncode == 0, err[-3000:]
    assert proc.stdout.decode().strip() == str(out)  # stdout: the run folder alone, for scripts
    assert "\r" not in err  # neither our bar nor the Trainer's in a log
    steps = [ln for ln in err.splitlines() if ln.startswith("vsgrpo: train:")]
    assert steps[0] == "vsgrpo: train: 0/2 step (0%), started"
    assert re.match(r"vsgrpo: train: 2/2 step \(100%\), .*, done \| loss=\S+ reward=\S+ kl=\S+$", steps[-1]), steps
    summary = err.strip().splitlines()[-1]
    assert re.fullmatch(rf"vsgrpo: trained {re.escape(str(out))}: 2 steps in \S+; last reward \S+, KL \S+; "
                        rf"evaluate: vsgrpo eval run --model {re.escape(str(out))}/final .*", summary), summary


def test_quiet_libraries_also_quiets_libraries_imported_before():
    """`vsgrpo.cli.main` called in a process that imported transformers already (a notebook, a test run): the
    environment is read too late there, so transformers' own switch turns its bars ("Loading weights") off."""
    code = ("import transformers.utils.logging as l; import huggingface_hub.utils as h\n"
            "assert l.is_progress_bar_enabled()\n"
            "from vsgrpo.progress import quiet_libraries; quiet_libraries()\n"
            "print(l.is_progress_bar_enabled(), h.are_progress_bars_disabled())")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TQDM_", "VSGRPO_PROGRESS"))}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True"]
    env["HF_HUB_DISABLE_PROGRESS_BARS"] = "0"  # a user's own setting wins
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.stdout.split() == ["True", "False"], out.stderr
