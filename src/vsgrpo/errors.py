"""Errors a user can fix. The CLI prints them as one line and exits with code 2."""

from __future__ import annotations


class VsgrpoError(Exception):
    """A mistake in the user's input (paths, files, flags). Message says what to fix."""

    exit_code = 2


class MetaError(VsgrpoError):
    """Invalid scene meta info. Names the file, the scene and the field."""

    def __init__(self, file: object, scene: str | None, field: str | None, problem: str):
        self.file, self.scene, self.field, self.problem = file, scene, field, problem
        where = f"{file}"
        if scene is not None:
            where += f": scene {scene!r}"
        if field is not None:
            where += f": field {field!r}"
        super().__init__(f"{where}: {problem}")


class MetaWarning(UserWarning):
    """The released meta info is inconsistent in a known, documented way; we applied a rule."""
