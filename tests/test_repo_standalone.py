"""The repository stands on its own: nothing it ships reads outside the clone."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _tracked_text_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    files = [REPO / line for line in out.splitlines()]
    return [f for f in files if f.suffix in {".py", ".md", ".sh", ".yaml", ".yml", ".toml", ".txt", ""} and f.is_file()]


def test_no_file_names_the_shared_folder_outside_the_repo():
    needle = "../" + "shared"  # split so this file does not match itself
    offenders = [str(f.relative_to(REPO)) for f in _tracked_text_files()
                 if f.name != "test_repo_standalone.py" and needle in f.read_text(errors="replace")]
    assert offenders == []


def test_vsibench_sample_ships_in_the_repo(vsibench_dir):
    assert vsibench_dir.is_relative_to(REPO)
    import pandas as pd

    df = pd.read_parquet(vsibench_dir / "test-dev.parquet")
    assert len(df) == 3588 and df["scene_name"].nunique() == 192
