"""What a scan source declares about itself (see :mod:`vsgrpo.sources`): its name and category table."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Source:
    """A scan format's name and category table (the contract of a source module: :mod:`vsgrpo.sources`)."""

    name: str
    vocabulary: frozenset[str] | None
    remap: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.vocabulary is not None:
            object.__setattr__(self, "vocabulary", frozenset(self.vocabulary))
