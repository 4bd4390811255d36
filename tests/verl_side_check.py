"""Runs INSIDE the verl side environment (scripts/setup_verl_env.sh), called by tests/test_verl_export.py.

vsgrpo is not installed there; this script uses only verl 0.9.1's own code on the files that
``vsgrpo data export --format verl`` wrote:

- ``configs``: for each entry, compose verl's ``ppo_trainer`` config (Hydra, as ``python -m verl.trainer.main_ppo``
  does) with the export's ``verl_overrides.txt`` plus extra overrides (a recipe's), run verl's
  ``validate_config`` and report selected resolved values.
- ``dataset``: verl's ``RLHFDataset`` reads the exported parquet with the model's processor; each
  row's prompt goes through verl's multimodal path (``RLHFDataset._process_multi_modal_info``:
  qwen-vl-utils reads the video; ``build_multimodal_processor_inputs``: the processor) and the
  token ids and video grid are reported.
- ``reward``: verl's ``RewardLoopWorker`` (the reward worker its trainer runs as a Ray actor; it
  loads the custom reward function by path and runs the configured reward manager) scores
  completions given as text, tokenised with the model's tokenizer as rollouts would be; with
  ``"ray": true`` also through the trainer's ``RewardLoopManager`` on a local one-CPU Ray cluster
  (the worker as a real Ray actor process).

Usage: python verl_side_check.py REQUEST.json RESULT.json
"""

from __future__ import annotations

import json
import os
import sys
import time


def compose(overrides: list[str]):
    import verl
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    config_dir = os.path.join(os.path.dirname(verl.__file__), "trainer", "config")
    with initialize_config_dir(config_dir=config_dir, version_base=None):
        return hydra_compose(config_name="ppo_trainer", overrides=overrides)


def check_config(req: dict) -> dict:
    from omegaconf import OmegaConf
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    cfg = compose(req["overrides"])
    note = "validate_config passed"
    try:
        validate_config(config=cfg, use_reference_policy=need_reference_policy(cfg), use_critic=need_critic(cfg))
    except (ImportError, ValueError) as e:
        # validate_config's last check (the LoRA rank against vLLM's allowed ranks) imports vLLM, which this CPU
        # environment does not have; every check before it passed. Run the others again without that one.
        if "vllm" not in str(e).lower():
            raise
        from omegaconf import open_dict

        with open_dict(cfg):
            rank = cfg.actor_rollout_ref.model.lora_rank
            cfg.actor_rollout_ref.model.lora_rank = 0
        validate_config(config=cfg, use_reference_policy=need_reference_policy(cfg), use_critic=need_critic(cfg))
        cfg.actor_rollout_ref.model.lora_rank = rank
        note = "validate_config passed except its vLLM LoRA-rank check (needs vllm)"
    out = {"_validate": note}
    out.update({key: OmegaConf.to_container(OmegaConf.create({"v": OmegaConf.select(cfg, key)}), resolve=True)["v"]
                for key in req.get("report", [])})
    return out


def check_dataset(req: dict, cfg) -> list[dict]:
    from transformers import AutoProcessor, AutoTokenizer
    from verl.utils.dataset.rl_dataset import RLHFDataset
    from verl.utils.tokenizer import build_multimodal_processor_inputs

    model = req["model"]
    tokenizer = AutoTokenizer.from_pretrained(model)
    processor = AutoProcessor.from_pretrained(model)
    out = []
    for split, files in (("train", cfg.data.train_files), ("val", cfg.data.val_files)):
        dataset = RLHFDataset(data_files=files, tokenizer=tokenizer, config=cfg.data, processor=processor)
        # The patch size the rollout's agent loop passes (AgentLoopBase.process_multi_modal_info).
        patch = getattr(getattr(processor, "image_processor", None), "patch_size", 14)
        for i in range(len(dataset)):
            item = dataset[i]
            messages = item["raw_prompt"]
            images, videos, audios = RLHFDataset._process_multi_modal_info(messages, patch, cfg.data)
            text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            inputs = build_multimodal_processor_inputs(processor, text=[text], images=images, videos=videos,
                                                       audio=audios, mm_processor_kwargs=cfg.data.mm_processor_kwargs)
            ids = inputs["input_ids"][0].tolist()
            out.append({"split": split, "id": item["extra_info"]["id"], "text": text, "input_ids": ids,
                        "video_grid_thw": inputs["video_grid_thw"].tolist(),
                        "video_tokens": ids.count(processor.video_token_id),
                        "frames": int(videos[0][0].shape[0]), "frame_size": list(videos[0][0].shape[-2:])})
    return out


def check_reward(req: dict, cfg) -> list[dict]:
    import numpy as np
    import pandas as pd
    import torch
    from verl import DataProto
    from verl.experimental.reward_loop import RewardLoopWorker

    worker = RewardLoopWorker(cfg)
    tok = worker.input_tokenizer
    rows = {}
    for split, path in (("train", cfg.data.train_files), ("val", cfg.data.val_files)):
        for rec in pd.read_parquet(path).to_dict("records"):
            rows[(split, rec["extra_info"]["id"])] = rec
    samples = req["completions"]
    prompt_len, resp_len = 4, max(len(tok(s["text"], add_special_tokens=False)["input_ids"]) for s in samples) + 2
    prompts = torch.full((len(samples), prompt_len), tok.pad_token_id, dtype=torch.long)
    responses = torch.full((len(samples), resp_len), tok.pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(samples), prompt_len + resp_len), dtype=torch.long)
    mask[:, :prompt_len] = 1
    non_tensor = {"data_source": [], "reward_model": [], "extra_info": []}
    for i, s in enumerate(samples):
        ids = tok(s["text"], add_special_tokens=False)["input_ids"]
        responses[i, : len(ids)] = torch.tensor(ids)
        mask[i, prompt_len: prompt_len + len(ids)] = 1
        rec = rows[(s["split"], s["id"])]
        extra = {k: (list(v) if isinstance(v, np.ndarray) else v) for k, v in rec["extra_info"].items()}
        non_tensor["data_source"].append(rec["data_source"])
        non_tensor["reward_model"].append(dict(rec["reward_model"]))
        non_tensor["extra_info"].append(extra)
    data = DataProto.from_dict(tensors={"prompts": prompts, "responses": responses, "attention_mask": mask},
                               non_tensors={k: np.array(v, dtype=object) for k, v in non_tensor.items()})
    outputs = worker.loop.run_until_complete(worker.compute_score_batch(data))
    # The trainer's RewardLoopManager then places each score on the last response token.
    rm_scores = worker.reward_manager.assemble_rm_scores(data, [o["reward_score"] for o in outputs])
    ray_result = _ray_reward(cfg, data) if req.get("ray") else None
    result = []
    for i, o in enumerate(outputs):
        extra = {k: v for k, v in o["reward_extra_info"].items() if isinstance(v, (int, float))}
        result.append({"score": float(o["reward_score"]), "parts": extra,
                       "rm_score_sum": float(rm_scores[i].sum()),
                       "decoded": tok.decode(responses[i][mask[i, prompt_len:].bool()], skip_special_tokens=True)})
        if ray_result is not None:
            result[-1]["ray"] = {"rm_score_sum": ray_result["rm_score_sum"][i],
                                 "parts": {k: v[i] for k, v in ray_result["extra"].items()}}
    return result


def _ray_reward(cfg, data) -> dict:
    """The trainer's own path: a local Ray cluster, RewardLoopManager with its Ray reward worker actor (a separate
    process that loads the reward file by path), compute_rm_score -> rm_scores + reward_extra_info."""
    import ray
    from omegaconf import open_dict
    from verl.experimental.reward_loop import RewardLoopManager

    ray.init(num_cpus=1, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    try:
        with open_dict(cfg):
            cfg.reward.num_workers = 1
        out = RewardLoopManager(cfg).compute_rm_score(data)
        keys = out.meta_info["reward_extra_keys"]
        return {"rm_score_sum": out.batch["rm_scores"].sum(-1).tolist(),
                "extra": {k: [float(v) for v in out.non_tensor_batch[k]] for k in keys
                          if all(isinstance(v, (int, float)) for v in out.non_tensor_batch[k])}}
    finally:
        ray.shutdown()


def main() -> int:
    req = json.load(open(sys.argv[1]))
    t0 = time.time()
    import torch
    import transformers
    import verl

    torch.set_num_threads(1)
    res: dict = {"versions": {"verl": verl.__version__, "torch": torch.__version__,
                              "transformers": transformers.__version__}}
    if "configs" in req:
        res["configs"] = [check_config(c) for c in req["configs"]]
    res["runs"] = []
    for run in req.get("runs", []):  # one per model: {"model", "overrides", "dataset": bool, "completions": [...]}
        cfg = compose(run["overrides"])
        res["runs"].append({"dataset": check_dataset(run, cfg) if run.get("dataset", True) else None,
                            "reward": check_reward(run, cfg) if run.get("completions") else None})
    res["seconds"] = time.time() - t0
    json.dump(res, open(sys.argv[2], "w"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
