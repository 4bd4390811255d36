"""Raw annotation labels -> VSI-Bench category vocabulary (each source's table, in its ``SOURCE``).

Every real source maps its raw label through :class:`LabelMap`: a remap (e.g. ScanNet
``desk -> table``), then the source's vocabulary filter. The tables (``SOURCE.vocabulary`` and
``SOURCE.remap`` of ``sources/<name>.py``) hold VSI-Bench's curated categories (facts.md section 2
plus the categories seen in the released meta info); ``--labels FILE`` extends them. A label that lands outside the
vocabulary is *dropped* (walls, floors, clutter are not annotated in VSI-Bench meta); a label the
map cannot even interpret (ScanNet: absent from ``scannetv2-labels.combined.tsv``) is an error
raised by the source, because it means the label file does not belong to the scan.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

from .base import Source
from .errors import IngestError


def _normalise(label: str) -> str:
    return " ".join(str(label).strip().lower().split())


@dataclass
class LabelMap:
    """``category(raw) -> str | None``; ``None`` means "not a VSI-Bench category, drop it"."""

    vocabulary: frozenset[str] | None  # None: keep every label (custom scans define their own)
    remap: dict[str, str] = field(default_factory=dict)

    @classmethod
    def for_source(cls, source: Source, extra: str | Path | None = None) -> "LabelMap":
        """The table of ``source`` (a module's ``SOURCE``), extended by a user file (see :func:`read_label_file`)."""
        vocab = source.vocabulary
        remap = {_normalise(k): v for k, v in source.remap.items()}
        vocabulary = None if vocab is None else set(vocab)
        if extra is not None:
            user = read_label_file(extra)
            remap.update(user)
            if vocabulary is not None:
                vocabulary |= set(user.values())
        return cls(None if vocabulary is None else frozenset(vocabulary), remap)

    def category(self, *candidates: str) -> str | None:
        """First candidate (normalised, remapped) that is in the vocabulary, else ``None``."""
        for raw in candidates:
            if raw is None:
                continue
            name = _normalise(raw)
            name = self.remap.get(name, name)
            if self.vocabulary is None or name in self.vocabulary:
                return name
        return None


def read_label_file(path: str | Path) -> dict[str, str]:
    """A user's remap: JSON ``{"raw label": "category"}`` or a two-column TSV/CSV (raw, category)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise IngestError(path, f"cannot read label file: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise IngestError(path, f"label file is not UTF-8 text (byte {e.start}: {e.reason})") from None
    if path.suffix.lower() == ".json":
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as e:
            raise IngestError(path, f"not valid JSON ({e.msg} at line {e.lineno})") from None
        if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
            raise IngestError(path, 'expected a JSON object {"raw label": "category", ...}')
        return {_normalise(k): _normalise(v) for k, v in raw.items()}
    first = text.splitlines()[0] if text.strip() else ""
    delim = "\t" if "\t" in first else ","
    out = {}
    for i, row in enumerate(csv.reader(text.splitlines(), delimiter=delim), 1):
        if not row or row[0].startswith("#"):
            continue
        if len(row) < 2:
            raise IngestError(path, f"line {i}: expected two columns (raw label, category)")
        out[_normalise(row[0])] = _normalise(row[1])
    return out


def read_scannet_tsv(path: str | Path) -> dict[str, str]:
    """``scannetv2-labels.combined.tsv``: raw_category -> category (both normalised)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise IngestError(path, "label map not found (pass --labels scannetv2-labels.combined.tsv)") from None
    except OSError as e:
        raise IngestError(path, f"cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise IngestError(path, f"not UTF-8 text (byte {e.start}: {e.reason})") from None
    rows = list(csv.DictReader(text.splitlines(), delimiter="\t"))
    if not rows or "raw_category" not in rows[0] or "category" not in rows[0]:
        raise IngestError(path, "expected a TSV with columns raw_category and category")
    return {_normalise(r["raw_category"]): _normalise(r["category"] or r["raw_category"]) for r in rows}
