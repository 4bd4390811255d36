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


@pytest.fixture(scope="session")
def lmms_vsibench():
    """lmms-eval 0.7.3's ``lmms_eval/tasks/vsibench/utils.py``, imported from the installed package.

    lmms-eval cannot be installed with its dependencies beside our pins (it requires av<16), so
    ``scripts/setup.sh`` installs it with ``--no-deps``; its VSI-Bench module needs only numpy,
    pandas, datasets, pyyaml and loguru, all installed. Loading the file directly skips
    ``lmms_eval/tasks/__init__.py``, which would import the whole harness.
    """
    import importlib.util

    spec = importlib.util.find_spec("lmms_eval")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("lmms-eval is not installed; run `bash scripts/setup.sh` (it installs lmms-eval==0.7.3)")
    from importlib.metadata import version

    assert version("lmms-eval") == "0.7.3"
    path = Path(list(spec.submodule_search_locations)[0]) / "tasks" / "vsibench" / "utils.py"
    module_spec = importlib.util.spec_from_file_location("lmms_eval_vsibench_utils", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _question_type_table():
    """Each test starts from the same table of question types: a file read in-process with a team's own
    types (``question_kind``) registers them, and they must not leak into the next test."""
    from vsgrpo import question_types

    types, own = dict(question_types.TYPES), set(question_types.OWN)
    yield
    question_types.TYPES.clear()
    question_types.TYPES.update(types)
    question_types.OWN.clear()
    question_types.OWN.update(own)
