"""Register torchvision::nms / qnms schemas before torchvision imports (CPU torch build).

Copied into a side environment's site-packages by scripts/setup_vllm_env.sh and
setup_verl_env.sh (with a .pth line that calls install()); acts once, on the first
`import torchvision`. Needed because PyPI's torchvision 0.28 expects these ops from torch, and
the local CPU build of torch 2.13 does not define them.
"""
import importlib.abc
import sys


class _Hook(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != "torchvision":
            return None
        sys.meta_path.remove(self)
        try:
            import torch

            for schema in ("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
                           "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor"):
                try:
                    torch._C._dispatch_find_schema_or_throw("torchvision::" + schema.split("(")[0], "")
                except RuntimeError:
                    lib = torch.library.Library("torchvision", "FRAGMENT")
                    lib.define(schema)
                    _LIBS.append(lib)
        except Exception:  # never break interpreter start-up
            pass
        return None


_LIBS = []


def install():
    if not any(isinstance(f, _Hook) for f in sys.meta_path):
        sys.meta_path.insert(0, _Hook())
