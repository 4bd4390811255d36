"""The questions parquet as a file: its columns (schema) and the one reader every command uses.

Kept apart from :mod:`vsgrpo.dataset` (building and verifying questions), so that evaluation,
training and ``data import`` read and write the file without importing the question generators.
The columns are documented in :mod:`vsgrpo.dataset`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from .errors import VsgrpoError

REQUIRED_COLUMNS = ("id", "dataset", "scene_name", "question_type", "question", "ground_truth", "options")
#: the settings of a ``data build``, written beside its questions.parquet; its ``meta`` names the scenes' folder
BUILD_CONFIG_FILE = "build_config.json"
#: the record ``data fetch`` writes beside the benchmark's parquet; the videos are ``{dataset}/{scene_name}.mp4`` there
FETCH_RECORD_FILE = "fetch.json"


def questions_schema():
    """The pyarrow schema of a questions parquet (see the module doc); ``data import`` writes it too."""
    import pyarrow as pa

    return pa.schema([
        ("id", pa.int64()), ("dataset", pa.string()), ("scene_name", pa.string()),
        ("question_type", pa.string()), ("question", pa.string()), ("ground_truth", pa.string()),
        ("options", pa.list_(pa.string())), ("answer", pa.string()), ("answer_value", pa.float64()),
        ("objects", pa.list_(pa.string())), ("video", pa.string()), ("extra", pa.string()),
        ("question_kind", pa.string()),
    ])


def read_questions(path: str | os.PathLike, *, required: Iterable[str] = REQUIRED_COLUMNS,
                   what: str = "questions file"):
    """A VSI-Bench-format parquet as a DataFrame, with a clear error for a wrong file.

    The one reader behind ``data verify``, ``eval`` and training data, so every command rejects
    a wrong file the same way. ``what`` names the file in messages.
    """
    import pandas as pd
    import pyarrow as pa

    path = Path(path)
    required = tuple(required)
    if not path.is_file():
        raise VsgrpoError(f"{what} not found: {path}")
    try:
        df = pd.read_parquet(path)
    except (OSError, ValueError, pa.ArrowException) as e:
        raise VsgrpoError(f"{path} is not a readable parquet file ({str(e).splitlines()[0][:120]})") from None
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise VsgrpoError(f"{path} lacks column(s) {', '.join(missing)}; a VSI-Bench parquet needs "
                          f"{', '.join(required)}")
    if "id" in df.columns:
        df["id"] = _integer_ids(df["id"], path)
    declare_own_types(df, path)
    return df


def _integer_ids(ids, path: Path):
    """The id column as int64, or a clear error naming the first id that is not a whole number in int64."""
    import math

    import numpy as np
    import pandas as pd

    if pd.api.types.is_integer_dtype(ids) and not pd.api.types.is_bool_dtype(ids):
        return ids.astype("int64")
    for pos, v in enumerate(ids.tolist()):
        ok = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) \
            and math.isfinite(v) and float(v).is_integer() and -2**63 <= v < 2**63
        if not ok:
            raise VsgrpoError(f"{path}: row {pos} has id {v!r}; question ids must be whole numbers (int64)")
    return ids.astype("int64")


def declare_own_types(df, source: str | os.PathLike = "questions file") -> None:
    """Register the question types of a user's own that ``df`` declares by its ``question_kind`` column.

    Rows of VSI-Bench's types leave ``question_kind`` empty; a row of a team's own type
    (``site_distance``) says ``numeric`` or ``choice`` there, and every command that reads the file
    (scoring, rewards, reports, the audit) then scores it as such, in a column of its own.
    """
    from .question_types import declare_own_type

    if "question_kind" not in df.columns or "question_type" not in df.columns:
        return
    pairs = df.loc[df["question_kind"].notna(), ["question_type", "question_kind"]].drop_duplicates()
    for qt, kind in pairs.itertuples(index=False):
        try:
            declare_own_type(qt, kind)
        except VsgrpoError as e:
            raise VsgrpoError(f"{source}: {e}") from None


def video_root(questions: str | os.PathLike, given: str | os.PathLike | None = None, *,
               setting: str = "--videos") -> Path:
    """The folder holding the videos of a questions file (``{dataset}/{scene_name}.mp4``, or its ``video`` column).

    The one rule behind ``train`` (``video_root``), validation while training and ``eval run``
    (``--videos``): ``given`` always wins. Else, for questions made by ``data build --meta ROOT``
    (or ``ROOT/meta``), the build's record beside them (``build_config.json``) names ROOT, and the
    videos are ``ROOT/videos``, wherever ``--out`` was. Else, for a benchmark ``data fetch`` wrote
    (its record ``fetch.json`` beside the file), the file's own folder. Else ``videos/`` beside the
    questions file (the layout of ``data import`` and of a build into the data root itself). A record
    whose videos folder is gone falls back to ``videos/`` beside the file when that exists (the
    questions were moved with their videos), else it is an error naming the record. ``setting``
    names the setting to pass in that error.
    """
    if given:
        return Path(given)
    path = Path(questions)
    folder = path.resolve().parent
    beside = folder / "videos"
    record = folder / BUILD_CONFIG_FILE
    recorded = _recorded_video_root(record)
    if recorded is None:
        return folder if (folder / FETCH_RECORD_FILE).is_file() else beside
    if recorded.is_dir():
        return recorded
    if beside.is_dir():
        return beside
    raise VsgrpoError(f"{record} says these questions were built from the scenes in {recorded.parent / 'meta'}, "
                      f"but their videos folder {recorded} does not exist (nor videos/ beside {path.name}); pass "
                      f"{setting} with the folder holding {{dataset}}/{{scene_name}}.mp4")


def _recorded_video_root(record: Path) -> Path | None:
    """``ROOT/videos`` of the data root a build record's ``meta`` names (``None``: no record, or a
    bare meta folder with no data root around it)."""
    import json

    from .scene_files import META_DIR, VIDEO_DIR

    try:
        meta = json.loads(record.read_text(encoding="utf-8")).get("meta")
    except (OSError, ValueError, AttributeError):
        return None  # no record (or not one data build wrote): the layout beside the file decides
    if not isinstance(meta, str) or Path(meta).name != META_DIR:
        return None
    return Path(meta).parent / VIDEO_DIR
