"""Shared fixtures. Tests run on CPU; the real VSI-Bench sample ships in tests/data/vsibench."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
VSIBENCH_SAMPLE = REPO / "tests" / "data" / "vsibench"
EXAMPLE_META = REPO / "examples" / "vsibench_sample"

os.environ.setdefault("VSGRPO_PROGRESS", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def vsibench_dir() -> Path:
    """The released VSI-Bench sample (meta info + questions parquet)."""
    if not (VSIBENCH_SAMPLE / "test-dev.parquet").exists():
        pytest.fail(f"VSI-Bench sample missing at {VSIBENCH_SAMPLE}; it is part of the repository")
    return VSIBENCH_SAMPLE


@pytest.fixture(scope="session")
def example_meta() -> Path:
    return EXAMPLE_META


@pytest.fixture(scope="session")
def train_data(tmp_path_factory) -> Path:
    """A small train-style dataset with real mp4s (tests/train_fixtures.py), shared by the trainer tests."""
    from train_fixtures import make_train_data

    return make_train_data(tmp_path_factory.mktemp("train-data"))


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A tiny random Qwen2-VL with the small in-process tokenizer, saved to disk."""
    from vsgrpo.models.tiny import build_tiny_model

    return build_tiny_model("qwen2_vl", tmp_path_factory.mktemp("tiny") / "model", tokenizer="small")
