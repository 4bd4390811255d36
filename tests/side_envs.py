"""Where the tests find the side environments (vLLM, verl) that pin their own torch/transformers.

``scripts/setup_vllm_env.sh`` and ``scripts/setup_verl_env.sh`` build them as ``.venv-vllm`` and
``.venv-verl`` in the repository root (or at ``$VSGRPO_VLLM_ENV`` / ``$VSGRPO_VERL_ENV``). A test
that needs one is skipped when it is absent, unless ``VSGRPO_REQUIRE_SIDE_ENVS`` is set (CI sets
it), where the absence is a failure: CI must never pass by skipping them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def side_env(name: str) -> Path:
    """The folder of side environment ``name`` ("vllm" or "verl"), built or not."""
    return Path(os.environ.get(f"VSGRPO_{name.upper()}_ENV") or REPO / f".venv-{name}")


def side_python(name: str) -> Path:
    """The Python of side environment ``name``; skips (or, under VSGRPO_REQUIRE_SIDE_ENVS, fails) if absent."""
    env = side_env(name)
    py = env / "bin" / "python"
    if py.is_file():
        return py
    msg = f"{name} side environment not found at {env} (build it: bash scripts/setup_{name}_env.sh)"
    if os.environ.get("VSGRPO_REQUIRE_SIDE_ENVS"):
        pytest.fail(msg + "; VSGRPO_REQUIRE_SIDE_ENVS is set")
    pytest.skip(msg)
