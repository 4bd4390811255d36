"""Export vsgrpo training data for other RL engines (``vsgrpo data export``).

- ``verl`` (:mod:`vsgrpo.export.verl`): verl's RL parquet (train/val), a self-contained reward
  file verl loads by path, and the command-line overrides that wire them in.
"""

from __future__ import annotations

FORMATS = ("verl",)
