"""Batch builders for SFT and DPO with video (TRL 1.16's collators handle images only).

Both decode videos with :class:`~vsgrpo.train.data.VideoLoader` and encode with
:func:`vsgrpo.models.inputs.encode`, the same code GRPO and evaluation use. Sequences are
``chat-template(prompt with video) + answer + end-of-turn token`` (the family's, e.g.
``<|im_end|>``); only the answer and the end token are supervised.
"""

from __future__ import annotations

from ..models.families import VideoFamily, family_of
from ..models.inputs import encode, render_prompt, user_message


class _VideoCollator:
    def __init__(self, processor, video_loader, family: VideoFamily | str | None = None):
        self.processor = processor
        self.video_loader = video_loader
        self.family = family_of(family if family is not None else processor)

    def _encode(self, prompts: list[str], answers: list[str], paths: list[str]):
        import torch

        end = self.family.end_of_turn
        texts = [render_prompt(self.processor, user_message(p)) + a + end for p, a in zip(prompts, answers)]
        videos, fps = zip(*(self.video_loader(p) for p in paths))
        batch = encode(self.processor, texts, list(videos), list(fps), padding_side="right", family=self.family)
        tok = self.processor.tokenizer
        n_answer = [len(tok(a + end, add_special_tokens=False)["input_ids"]) for a in answers]
        lengths = batch["attention_mask"].sum(1).tolist()
        completion_mask = torch.zeros_like(batch["input_ids"])
        for i, (n, length) in enumerate(zip(n_answer, lengths)):
            completion_mask[i, length - n:length] = 1
        return batch, completion_mask


class VideoSFTCollator(_VideoCollator):
    """Rows with ``prompt``, ``answer``, ``video`` -> model inputs with ``labels`` (-100 off the answer)."""

    def __call__(self, examples: list[dict]) -> dict:
        batch, completion_mask = self._encode([e["prompt"] for e in examples], [e["answer"] for e in examples],
                                              [e["video"] for e in examples])
        out = dict(batch)
        out["labels"] = batch["input_ids"].masked_fill(completion_mask == 0, -100)
        return out


class VideoDPOCollator(_VideoCollator):
    """Rows with ``prompt``, ``chosen``, ``rejected``, ``video`` -> [chosen..., rejected...] as TRL's DPO expects."""

    def __call__(self, examples: list[dict]) -> dict:
        prompts = [e["prompt"] for e in examples] * 2
        answers = [e["chosen"] for e in examples] + [e["rejected"] for e in examples]
        paths = [e["video"] for e in examples] * 2
        batch, completion_mask = self._encode(prompts, answers, paths)
        out = dict(batch)
        out["completion_mask"] = completion_mask
        return out
