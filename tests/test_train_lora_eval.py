"""What training writes evaluates as it is (issue 19 items 1 and 3).

A tiny LoRA GRPO run trained from a *relative* model path: its ``final/`` (and ``checkpoint-N/``)
evaluates with ``vsgrpo eval run`` from another working directory; ``vsgrpo model merge`` writes a
standalone model that plain transformers loads with peft unavailable, with the same predictions;
the merged weights equal W + B A x scaling computed here in float64; ``final/README.md`` is a
real model card. Also: the float32 merge keeps more of a small update than peft's bf16 one, and
a prompt-id mismatch between vLLM and the trainer stops the run with one line naming the question.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from test_train_paper import varied_reward  # noqa: F401 - named in the recipe below
from vsgrpo.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def lora_run(tiny_model, train_data, tmp_path_factory):
    """Trained from cwd A with model=tiny-model (relative); returns (run folder, base model folder)."""
    from vsgrpo.train import load_config, run_grpo

    a = tmp_path_factory.mktemp("cwd-a")
    shutil.copytree(tiny_model, a / "tiny-model")
    old = os.getcwd()
    os.chdir(a)
    try:
        cfg = load_config("grpo", ROOT / "recipes/tiny/grpo.yaml",
                          ["model=tiny-model", f"data={train_data}", "output_dir=run", "max_steps=2", "save_steps=2",
                           "learning_rate=0.05", "rewards=[test_train_lora_eval:varied_reward]", "report_to=[jsonl]",
                           "max_completion_length=6"])
        run_grpo(cfg)
    finally:
        os.chdir(old)
    return a / "run", a / "tiny-model"


def _eval(model, data: Path, out: Path):
    """``vsgrpo eval run`` (hf, float32, CPU) of ``model`` on the parquet ``data``; its predictions."""
    assert main(["eval", "run", "--model", str(model), "--questions", str(data), "--videos",
                 str(data.parent / "videos"), "--out", str(out), "--frames", "4", "--max-new-tokens", "6", "--dtype",
                 "float32", "--device", "cpu"]) == 0
    return [json.loads(x)["prediction"] for x in (out / "samples.jsonl").read_text().splitlines()]


def _lm_key(keys, module: str) -> str:
    """The checkpoint key of a language-model weight named by its module path (files keep transformers' legacy
    names, e.g. ``model.layers.0...`` for the module ``model.language_model.layers.0...``)."""
    suffix = module[module.index("layers."):] + ".weight"
    (key,) = [k for k in keys if k.endswith(suffix) and "visual" not in k]
    return key


def _expected_merge(final: Path, base: Path) -> dict:
    """Every LoRA target's merged weight, W + B @ A * alpha / r, in float64 from the files themselves,
    keyed by the checkpoint key."""
    from safetensors.torch import load_file

    cfg = json.loads((final / "adapter_config.json").read_text())
    scaling = cfg["lora_alpha"] / cfg["r"]
    lora = load_file(str(final / "adapter_model.safetensors"))
    weights = load_file(str(next(base.glob("*.safetensors"))))
    out = {}
    for key, a in lora.items():
        if ".lora_A." not in key:
            continue
        b = lora[key.replace(".lora_A.", ".lora_B.")]
        name = _lm_key(weights, key.replace(".lora_A.weight", ""))
        out[name] = weights[name].double() + (b.double() @ a.double()) * scaling
    return out


def test_final_evaluates_directly_and_after_merge_from_another_cwd(lora_run, train_data, tmp_path, monkeypatch,
                                                                  capsys):
    import torch
    from safetensors.torch import load_file

    run, base = lora_run
    final = run / "final"
    record = json.loads((final / "adapter_config.json").read_text())
    assert record["base_model_name_or_path"] == str(base.resolve())  # absolute: works from any folder
    lora_b = [v for k, v in load_file(str(final / "adapter_model.safetensors")).items() if ".lora_B." in k]
    assert any(v.abs().max() > 0 for v in lora_b)  # training moved the adapter: merging it changes the model

    monkeypatch.chdir(tmp_path)  # another working directory; base and adapter found from the adapter's record
    direct = _eval(final, train_data, tmp_path / "eval-final")
    assert main(["model", "merge", str(final), "--out", "merged", "--dtype", "float32"]) == 0
    merged = tmp_path / "merged"
    assert (merged / "model.safetensors").is_file() and not list(merged.glob("adapter*"))
    after = _eval(merged, train_data, tmp_path / "eval-merged")
    assert direct == after

    # The merged weights are W + B A s (float32 merge vs float64 here), and the others the base's.
    saved = load_file(str(merged / "model.safetensors"))
    original = load_file(str(next(base.glob("*.safetensors"))))
    expected = _expected_merge(final, base)
    assert expected and set(saved) == set(original)  # the base's keys, no adapter keys
    for key, w in expected.items():
        torch.testing.assert_close(saved[key].double(), w, rtol=0, atol=1e-6)
        assert not torch.equal(saved[key], original[key])  # the adapter moved every target
    assert all(torch.equal(saved[k], original[k]) for k in saved if k not in expected)

    # A checkpoint evaluates the same way (max_steps=2, save_steps=2: the final weights).
    assert _eval(run / "checkpoint-2", train_data, tmp_path / "eval-ckpt") == direct
    # Refused: a merge over an existing folder that is not a merged model.
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "thesis.tex").write_text("keep me")
    assert main(["model", "merge", str(final), "--out", "taken"]) == 2
    assert "exists" in capsys.readouterr().err
    assert (tmp_path / "taken" / "thesis.tex").read_text() == "keep me"


def test_merged_model_loads_with_plain_transformers_without_peft(lora_run, tmp_path):
    """`model merge`'s folder is a standalone checkpoint: transformers loads it with `import peft` failing."""
    run, _ = lora_run
    assert main(["model", "merge", str(run / "final"), "--out", str(tmp_path / "m")]) == 0
    code = ("import sys; sys.modules['peft'] = None\n"
            "from transformers import AutoModelForImageTextToText, AutoProcessor\n"
            f"m = AutoModelForImageTextToText.from_pretrained({str(tmp_path / 'm')!r}, use_safetensors=True)\n"
            f"p = AutoProcessor.from_pretrained({str(tmp_path / 'm')!r})\n"
            "assert not any('lora' in n for n, _ in m.named_parameters())\n"
            "print(type(m).__name__, p.video_processor.size['longest_edge'])\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["Qwen2VLForConditionalGeneration", "12544"]  # the run's pixel budget (recipe)


def test_model_card_names_base_family_recipe_data_and_scores(lora_run, tmp_path):
    from vsgrpo.train.config import load_config
    from vsgrpo.train.model_card import model_card

    run, base = lora_run
    card = (run / "final" / "README.md").read_text()
    assert f'base_model: "{base.resolve()}"' in card and "- family: qwen2_vl" in card
    assert "after 2 optimizer steps" in card and "## Recipe" in card and "learning_rate: 0.05" in card
    assert "questions trained on" in card and "Validation did not run" in card
    # With validation: the held-out scores per step and the best checkpoint.
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    (copy / "eval").mkdir()
    (copy / "eval" / "scores.jsonl").write_text(
        json.dumps({"step": 0, "overall": 12.5, "scores": {"object_counting": 25.0}}) + "\n"
        + json.dumps({"step": 2, "overall": 40.0, "scores": {"object_counting": 80.0}}) + "\n")
    (copy / "eval" / "best.json").write_text(json.dumps({"step": 2, "overall": 40.0, "checkpoint": "checkpoint-2"}))
    cfg = load_config("grpo", None, [f"model={base}", f"data={run.parent / 'x.parquet'}"], check_paths=False)
    text = model_card(copy / "final", cfg, run_dir=copy, global_step=2)
    assert "| 0 | 12.5 | 25.0 |" in text and "| 2 | 40.0 | 80.0 |" in text and "Best: step 2 (overall 40.0)" in text


def test_adapter_base_relative_paths_resolve_from_the_adapter_folder(tmp_path, monkeypatch):
    """Adapters written before absolute records: a relative base is looked up beside the adapter, then in the cwd."""
    from vsgrpo.errors import VsgrpoError
    from vsgrpo.models.loading import adapter_base

    (tmp_path / "models" / "base").mkdir(parents=True)
    (tmp_path / "models" / "base" / "config.json").write_text("{}")
    adapter = tmp_path / "models" / "run" / "final"
    adapter.mkdir(parents=True)
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "../../base"}))
    monkeypatch.chdir(tmp_path)
    assert adapter_base(adapter) == str((tmp_path / "models" / "base").resolve())
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "models/base"}))
    assert adapter_base(adapter) == str((tmp_path / "models" / "base").resolve())  # the cwd, as trained
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "Qwen/Qwen2-VL-2B-Instruct"}))
    assert adapter_base(adapter) == "Qwen/Qwen2-VL-2B-Instruct"
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "./gone/model"}))
    with pytest.raises(VsgrpoError, match="not found"):
        adapter_base(adapter)


# ----------------------------------------------------------------------------- vLLM weight sync and prompt check

def _lora_layer(dtype):
    """A peft LoRA linear layer of a realistic size (1536x1536, r=64, alpha=128) with an lr-sized update in B."""
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    net = torch.nn.Sequential()
    net.add_module("proj", torch.nn.Linear(1536, 1536, bias=False))
    torch.nn.init.normal_(net.proj.weight, std=0.02)  # Qwen2's initializer_range
    net = net.to(dtype)
    model = get_peft_model(net, LoraConfig(r=64, lora_alpha=128, target_modules=["proj"]))
    layer = model.base_model.model.proj
    return model, layer


def test_weights_sent_to_vllm_are_merged_in_float32_and_cast_once():
    import torch

    from vsgrpo.train.vllm_rollout import policy_weights

    model, layer = _lora_layer(torch.bfloat16)
    with torch.no_grad():  # lora_B after a few Adam steps at lr 1e-4 (each entry moves ~lr per step)
        layer.lora_B["default"].weight.copy_(torch.randn(1536, 64, generator=torch.Generator().manual_seed(1)) * 3e-4)
    base = layer.base_layer.weight.detach().clone()
    sent = dict(policy_weights(model))["proj.weight"]
    assert sent.dtype == torch.bfloat16 and torch.equal(layer.base_layer.weight, base)  # training weights untouched
    exact = base.double() + (layer.lora_B["default"].weight.double() @ layer.lora_A["default"].weight.double()) * 2.0
    correctly_rounded = exact.to(torch.bfloat16)
    assert (sent != correctly_rounded).float().mean() < 1e-5  # W + BA s rounded once (fp32 matmul: a few ties)
    rounded_twice = base + layer.get_delta_weight("default").to(torch.bfloat16)  # before: bf16 delta, bf16 sum
    assert (rounded_twice != correctly_rounded).sum() > 100 * max((sent != correctly_rounded).sum(), 1)
    err_once = (sent.double() - exact).abs().mean()
    err_twice = (rounded_twice.double() - exact).abs().mean()
    assert err_once < err_twice


def test_prompt_mismatch_stops_with_one_line_naming_the_question():
    from vsgrpo.errors import VsgrpoError
    from vsgrpo.train.vllm_rollout import PromptMismatch, VideoVLLMRollout

    class Trainer:
        _metrics = {"train": __import__("collections").defaultdict(list)}

    rollout = VideoVLLMRollout.__new__(VideoVLLMRollout)  # the real check, without an engine
    rollout.trainer, rollout.video_id = Trainer(), 7
    ids = [1, 2, 7, 7, 7, 7, 3, 4]
    rollout._check_prompt(ids, list(ids), "How many chairs?")  # equal: recorded, no error
    assert Trainer._metrics["train"]["vllm/vision_tokens"] == [4.0]
    question = "If I am standing by the sink and facing the door, is the lamp to my left, right, or back?"
    with pytest.raises(PromptMismatch) as e:  # same vision tokens, one text token differs
        rollout._check_prompt([1, 2, 7, 7, 7, 7, 3, 5], ids, question)
    msg = str(e.value)
    assert isinstance(e.value, VsgrpoError) and "\n" not in msg
    assert question in msg and "first difference at token 7" in msg and "chat template or tokenizer" in msg
    with pytest.raises(PromptMismatch, match="2 vision tokens in vLLM and 4 in the trainer"):
        rollout._check_prompt([1, 2, 7, 7, 3, 4], ids, question)
