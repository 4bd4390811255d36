"""The one error every ingest parser raises: it names the offending file."""

from __future__ import annotations

import os

from ..errors import VsgrpoError


class IngestError(VsgrpoError):
    """Malformed or missing raw input. ``file`` is the path to fix; the scene is skipped."""

    def __init__(self, file: str | os.PathLike, problem: str):
        self.file, self.problem = str(file), problem
        super().__init__(f"{file}: {problem}")
