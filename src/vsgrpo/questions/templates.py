"""Question templates (verbatim from the released VSI-Bench parquet) and their parsers.

Every template is used both to write questions (``str.format``) and to read the objects back
out of released questions (the regex built from the same string), so the two cannot drift.
"""

from __future__ import annotations

import re

COUNTING = "How many {category}(s) are in this room?"
ABS_DISTANCE = ("Measuring from the closest point of each object, what is the distance between the "
                "{a} and the {b} (in meters)?")
# VSI-100k asks about centre distances; same sentence without the closest-point preamble
ABS_DISTANCE_CENTER = "What is the distance between the {a} and the {b} (in meters)?"
OBJECT_SIZE = ("What is the length of the longest dimension (length, width, or height) of the "
               "{category}, measured in centimeters?")
ROOM_SIZE = ("What is the size of this room (in square meters)? \nIf multiple rooms are shown, "
             "estimate the size of the combined space.")
REL_DISTANCE = ("Measuring from the closest point of each object, which of these objects "
                "({c0}, {c1}, {c2}, {c3}) is the closest to the {category}?")
REL_DISTANCE_CENTER = "Which of these objects ({c0}, {c1}, {c2}, {c3}) is the closest to the {category}?"
_DIR_PREFIX = "If I am standing by the {p} and facing the {o}, is the {q} "
REL_DIRECTION_EASY = _DIR_PREFIX + "to the left or the right of the {o}?"
REL_DIRECTION_MEDIUM = (_DIR_PREFIX + "to my left, right, or back?\nAn object is to my back if I would "
                        "have to turn at least 135 degrees in order to face it.")
REL_DIRECTION_HARD = (_DIR_PREFIX + "to my front-left, front-right, back-left, or back-right?\nThe "
                      "directions refer to the quadrants of a Cartesian plane (if I am standing at "
                      "the origin and facing along the positive y-axis).")


def _pattern(template: str) -> re.Pattern:
    """A regex matching ``template`` with each ``{field}`` captured (repeated fields backref'd)."""
    out, seen, pos = [], set(), 0
    for m in re.finditer(r"\{(\w+)\}", template):
        out.append(re.escape(template[pos:m.start()]))
        name = m.group(1)
        out.append(f"(?P={name})" if name in seen else f"(?P<{name}>.+?)")
        seen.add(name)
        pos = m.end()
    out.append(re.escape(template[pos:]))
    return re.compile("^" + "".join(out) + "$", re.S)


_PATTERNS: dict[str, re.Pattern] = {}


def parse(template: str, question: str) -> dict[str, str] | None:
    """The fields of ``question`` if it was written from ``template``, else None."""
    pat = _PATTERNS.get(template)
    if pat is None:
        pat = _PATTERNS[template] = _pattern(template)
    m = pat.match(question.strip() if not template.endswith(" ") else question)
    return m.groupdict() if m else None
