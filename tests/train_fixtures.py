"""Helpers for the training tests: a tiny train-style dataset with real mp4s, and tiny models."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vsgrpo.video import write_video

ROWS = [
    ("scannet", "scene0000_00", "object_counting", "How many chair(s) are in this room?", "3"),
    ("scannet", "scene0000_00", "object_abs_distance",
     "Measuring from the closest point of each object, what is the distance between the sofa and the tv (in meters)?",
     "2.4"),
    ("scannet", "scene0001_00", "object_rel_direction_medium",
     "If I am standing by the sink and facing the door, is the lamp to my left, right, or back?", "left"),
    ("scannet", "scene0001_00", "object_rel_distance",
     "Measuring from the closest point of each object, which of these objects (chair, table, lamp, door) is the "
     "closest to the tv?", "table"),
]


def make_train_data(root: Path, *, n_frames: int = 8, size=(56, 56)) -> Path:
    """Write ``root/questions.parquet`` (train style) and ``root/videos/{dataset}/{scene}.mp4``."""
    import pandas as pd

    rng = np.random.default_rng(0)
    for dataset, scene in sorted({(r[0], r[1]) for r in ROWS}):
        frames = rng.integers(0, 255, size=(n_frames, size[0], size[1], 3), dtype=np.uint8)
        write_video(root / "videos" / dataset / f"{scene}.mp4", frames, fps=4)
    df = pd.DataFrame([{"id": i, "dataset": d, "scene_name": s, "question_type": qt, "question": q,
                        "ground_truth": gt, "options": None, "answer": gt, "video": f"{d}/{s}.mp4"}
                       for i, (d, s, qt, q, gt) in enumerate(ROWS)])
    path = root / "questions.parquet"
    df.to_parquet(path)
    return path


def vision_tower(model):
    """The vision encoder module of a (possibly peft-wrapped) video LM (Qwen-VL, SigLIP, ...)."""
    for module in model.modules():
        name = type(module).__name__
        if name.endswith(("VisionTransformerPretrainedModel", "VisionModel")):
            return module
    raise AssertionError("no vision tower found")


class VisionCalls:
    """Records every call of the vision tower: grad mode, pixel rows and grid (a real forward hook)."""

    def __init__(self):
        self.calls = []
        self.handles = []

    def attach(self, model):
        import torch

        def hook(module, args, kwargs):
            pixels = args[0] if args else kwargs.get("hidden_states")
            grid = args[1] if len(args) > 1 else kwargs.get("grid_thw")  # Qwen-VL; None for per-frame towers
            self.calls.append((torch.is_grad_enabled(), pixels.detach().clone(),
                               None if grid is None else grid.detach().clone()))

        self.handles.append(vision_tower(model).register_forward_pre_hook(hook, with_kwargs=True))


class AllVisionTowers:
    """Context manager recording (tower id, grad mode) for calls of *every* vision tower instance,
    including copies a trainer makes (TRL's reference model)."""

    def __enter__(self):
        import torch

        self.calls = []

        def hook(module, args):
            if type(module).__name__.endswith(("VisionTransformerPretrainedModel", "VisionModel")):
                self.calls.append((id(module), torch.is_grad_enabled()))

        self.handle = torch.nn.modules.module.register_module_forward_pre_hook(hook)
        return self

    def __exit__(self, *exc):
        self.handle.remove()


def hook_callback(recorder: VisionCalls):
    """A TrainerCallback attaching ``recorder`` to the trained model when training starts."""
    from transformers import TrainerCallback

    class _Attach(TrainerCallback):
        def on_train_begin(self, args, state, control, model=None, **kwargs):
            if not recorder.handles:
                recorder.attach(model)

    return _Attach()


def per_sample_blocks(pixels, grid, n_videos: int | None = None):
    """Split a vision call's pixel rows into one block per video.

    Qwen-VL towers get patch rows with a (t, h, w) grid per video; per-frame towers (LLaVA-OneVision's
    SigLIP) get (videos * frames, 3, H, W) with no grid: equal blocks of ``n_videos``.
    """
    import torch

    if grid is None:
        return list(torch.chunk(pixels, n_videos))
    return list(torch.split(pixels, grid.prod(-1).tolist()))
