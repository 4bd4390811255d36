"""The one way to declare a setting: a config dataclass field whose metadata is its help, type,
bounds and flag, so defaults, choices and limits live once.

A field declared with :func:`option` carries its help text, choices, bounds and flag spelling
in its metadata; :func:`add_arguments` turns a dataclass into ``argparse`` flags (values are
converted *and checked* while parsing, before any command runs), :func:`from_args` turns the
parsed flags back into keyword arguments, and :func:`check` applies the same checks to a
config built any other way (a training recipe, a library call)::

    @dataclass
    class RunConfig:
        model: str = option(help="hub id or local folder", path="model")   # required: --model
        frames: int = option(32, help="frames per video", min=1, max=4096)  # --frames (default 32)
        mode: str = option("vanilla", help="prompt mode", choices=MODES)
        answer_tag: bool = option(True, help="...")                          # --no-answer-tag
        size: tuple = option((320, 240), help="frame size", type=parse_size, metavar="WxH")

Rules: the flag is ``--`` + the field name with ``-`` for ``_`` (``flag=`` overrides it); a
field without a default is a required flag; a bool field defaulting to False is a ``--name``
switch, one defaulting to True a ``--no-name`` switch, one declared ``option(None, type=bool)`` the
pair ``--name`` / ``--no-name`` (``None`` when neither is given); ``cli=False`` keeps a field off the
command line (its bounds still hold). The value type comes from the default (or ``type=``);
``None`` defaults need ``type=`` unless the field holds text; ``None`` is allowed ("not set")
where the default is ``None`` or the annotation says ``X | None``. Help ends with the default
unless ``show_default=False``.

Bounds (checked by :func:`problem`): ``min``/``max`` (inclusive), ``positive`` (> 0),
``finite`` (floats: on by default, so NaN and infinities are refused), integers within int64
unless a tighter ``max`` is given, ``choices`` (for a list field: every item), ``items`` (a
function giving the allowed item names, resolved only when checked, e.g. the question-type
registry), ``path`` (``"file"``/``"dir"``: an existing input; ``"out_dir"``: an output folder,
not an existing file; ``"out_file"``: an output file, not an existing folder; ``"model"``: a
hub id or an existing local folder), ``nonempty`` (text or list). This module imports nothing
heavy, so ``vsgrpo --help`` stays fast.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from dataclasses import MISSING, field
from pathlib import Path
from typing import Any, Callable

_UNSET = object()
INT64_MAX = 2**63 - 1
PATH_KINDS = ("file", "dir", "out_dir", "out_file", "model")


def option(default: Any = _UNSET, *, help: str, choices=None, type: Callable | None = None, flag: str | None = None,
           metavar: str | None = None, group: str | None = None, cli: bool = True, show_default: bool = True,
           default_text: str | None = None, action: str | None = None, off_help: str | None = None,
           min: float | None = None, max: float | None = None, positive: bool = False, finite: bool = True,
           path: str | None = None, items: Callable[[], Any] | None = None, nonempty: bool = False):
    """A dataclass field whose metadata describes its flag and its valid values (see the module docstring).

    ``default_text`` replaces the default shown in help (e.g. "one per core"); ``group`` names an
    argparse argument group; ``action="append"`` collects a repeated flag into a list; ``off_help``
    is the help of the ``--no-name`` switch of a bool field defaulting to True.
    """
    if path is not None and path not in PATH_KINDS:
        raise ValueError(f"path must be one of {PATH_KINDS}")
    meta = {"help": help, "choices": tuple(choices) if choices is not None else None, "type": type, "flag": flag,
            "metavar": metavar, "group": group, "cli": cli, "show_default": show_default,
            "default_text": default_text, "action": action, "off_help": off_help, "min": min, "max": max,
            "positive": positive, "finite": finite, "path": path, "items": items, "nonempty": nonempty}
    if default is _UNSET:
        return field(metadata=meta)
    if isinstance(default, (list, dict)):
        return field(default_factory=default.copy, metadata=meta)
    return field(default=default, metadata=meta)


def _kind(f: dataclasses.Field):
    """The Python type a field's value has (from its default, or ``int``/``float`` named by ``type=``)."""
    default = default_of(f)
    if default is not MISSING and default is not None:
        return default.__class__
    conv = f.metadata.get("type")
    return conv if conv in (int, float) else None


def _path_problem(kind: str, value: str) -> str | None:
    if not isinstance(value, str) or value == "":
        return "must name a path"
    p = Path(value).expanduser()
    if kind == "file" and not p.is_file():
        return f"{value!r} is not a folder, a file is needed" if p.is_dir() else f"file {value!r} not found"
    if kind == "dir" and not p.is_dir():
        return f"{value!r} is a file, a folder is needed" if p.exists() else f"folder {value!r} not found"
    if kind == "out_dir" and p.exists() and not p.is_dir():
        return f"{value!r} is a file; an output folder is needed"
    if kind == "out_file" and p.is_dir():
        return f"{value!r} is a folder; an output file path is needed"
    if kind == "model":
        local = value.startswith((".", "/", "~")) or value.count("/") > 1 or p.exists()
        if local and not p.is_dir():
            return (f"model folder {value!r} not found" if not p.exists() else
                    f"{value!r} is a file; a model folder or a hub id (org/name) is needed")
    return None


def problem(f: dataclasses.Field, value: Any) -> str | None:
    """What is wrong with ``value`` for field ``f`` (its type and bounds from the metadata), or ``None``."""
    m = f.metadata
    if value is None and (default_of(f) is None or "None" in str(f.type)):
        return None  # "not set" (a field annotated `X | None`): the code picks the value
    kind = _kind(f)
    if kind is bool:
        return None if isinstance(value, bool) else f"must be true or false, got {value!r}"
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"must be an integer, got {value!r}"
        if m.get("max") is None and abs(value) > INT64_MAX:
            return f"must be at most {INT64_MAX}, got {value}"
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"must be a number, got {value!r}"
        if m.get("finite", True) and not math.isfinite(value):
            return f"must be a finite number, got {value!r}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if m.get("positive") and not value > 0:
            return f"must be > 0, got {value!r}"
        if m.get("min") is not None and not value >= m["min"]:
            return f"must be >= {m['min']:g}, got {value!r}"
        if m.get("max") is not None and not value <= m["max"]:
            return f"must be <= {m['max']:g}, got {value!r}"
    if kind is str and not isinstance(value, str):
        return f"must be text, got {value!r}"
    if m.get("nonempty") and not value:
        return "must not be empty"
    names = m.get("choices")
    if names is None and m.get("items") is not None:
        names = tuple(m["items"]())
    if names:
        many = isinstance(value, (list, tuple)) and not isinstance(default_of(f), str)
        bad = [v for v in (value if many else [value]) if v not in names]
        if bad:
            shown = ", ".join(map(str, names))
            return f"{', '.join(map(repr, bad))} unknown; choose from {shown}"
    if m.get("path") and isinstance(value, str):
        return _path_problem(m["path"], value)
    return None


def check(config, *, name: Callable[[dataclasses.Field], str] | None = None, skip: tuple[str, ...] = ()) -> None:
    """Raise a :class:`~vsgrpo.errors.VsgrpoError` naming the first field of ``config`` whose value breaks
    its metadata. ``name`` spells a field in the message (default: its flag); ``skip``: fields not checked
    (e.g. paths in a dry run)."""
    from .errors import VsgrpoError

    name = name or flag_of
    for f in dataclasses.fields(config):
        if "help" not in f.metadata or f.name in skip:
            continue
        bad = problem(f, getattr(config, f.name))
        if bad:
            raise VsgrpoError(f"{name(f)} {bad}")


def same_as(cls, name: str):
    """A field declared like field ``name`` of dataclass ``cls`` (same default, help and choices), for
    configs that embed another config's settings."""
    f = {f.name: f for f in dataclasses.fields(cls)}[name]
    if f.default_factory is not MISSING:
        return field(default_factory=f.default_factory, metadata=f.metadata)
    if f.default is not MISSING:
        return field(default=f.default, metadata=f.metadata)
    return field(metadata=f.metadata)


def default_of(f: dataclasses.Field) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    return MISSING


def flag_of(f: dataclasses.Field) -> str:
    """The flag of field ``f``: ``flag=``, else ``--name``, or ``--no-name`` for a bool defaulting to True."""
    if f.metadata.get("flag"):
        return f.metadata["flag"]
    return ("--no-" if default_of(f) is True else "--") + f.name.replace("_", "-")


def _shown(value) -> str:
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return f"{value[0]}x{value[1]}"
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return str(value)


def add_arguments(parser, cls, *, exclude: tuple[str, ...] = (), groups: dict | None = None,
                  required: tuple[str, ...] = (), unset: tuple[str, ...] = ()) -> None:
    """Add one flag per :func:`option` field of dataclass ``cls`` to ``parser``.

    ``groups``: argument groups already made, by name; a field's ``group`` not found there is
    created as a new argument group of ``parser``. ``required``: fields whose flag the command
    requires although the field has a default. ``unset``: fields left out of the parsed namespace
    unless given (so the command can tell "not given" from "given the default", e.g. for presets);
    their help still shows the field's default. A ``flag=`` without a leading dash is a positional
    argument.
    """
    groups = {} if groups is None else groups
    for f in dataclasses.fields(cls):
        m = f.metadata
        if "help" not in m or not m.get("cli", True) or f.name in exclude:
            continue
        target = parser
        if m.get("group"):
            if m["group"] not in groups:
                groups[m["group"]] = parser.add_argument_group(m["group"])
            target = groups[m["group"]]
        default = default_of(f)
        text = m["help"]
        kw: dict[str, Any] = {"dest": f.name}
        if default is None and m.get("type") is bool:  # --name / --no-name, None when neither is given
            act = target.add_argument("--" + f.name.replace("_", "-"), action=argparse.BooleanOptionalAction,
                                      default=None, help=text, **kw)
            act.field = f
            continue
        if isinstance(default, bool):
            kw["action"] = "store_false" if default else "store_true"
            if f.name in unset:
                kw["default"] = argparse.SUPPRESS
            act = target.add_argument(flag_of(f), help=(m.get("off_help") or text) if default else text, **kw)
            act.field = f  # the declaration behind the flag (tests generate bad values from it)
            continue
        flag = flag_of(f)
        if default is MISSING or f.name in required:
            if flag.startswith("-"):
                kw["required"] = True
            if default is not MISSING and f.name in required:
                default = MISSING
        if default is not MISSING:
            kw["default"] = argparse.SUPPRESS if f.name in unset else default
            if m.get("default_text"):
                text = f"{text} (default: {m['default_text']})"
            elif m.get("show_default", True) and default is not None and default != [] and default != "":
                text = f"{text} (default: {_shown(default)})"
        if m.get("action"):
            kw["action"] = m["action"]
            kw["default"] = []
        else:
            conv = m.get("type") or _kind(f)
            kw["type"] = checked(f, conv if conv is not None else str)
        if m.get("choices") and not m.get("action"):
            kw["choices"] = m["choices"]
        if m.get("metavar"):
            kw["metavar"] = m["metavar"]
        if not flag.startswith("-"):
            kw.pop("dest")
            flag = f.name
        target.add_argument(flag, help=text, **kw).field = f


def checked(f: dataclasses.Field, conv: Callable) -> Callable:
    """The argparse ``type`` of field ``f``: ``conv`` then the field's bounds, so a bad value is a
    parse error (one line, exit 2) before the command starts."""
    def convert(text: str):
        try:
            value = conv(text)
        except (ValueError, TypeError, OverflowError):
            raise argparse.ArgumentTypeError(f"invalid value {text!r}") from None
        bad = problem(f, value)
        if bad:
            raise argparse.ArgumentTypeError(bad)
        return value

    convert.__name__ = getattr(conv, "__name__", "value")
    return convert


def from_args(cls, args: argparse.Namespace, *, exclude: tuple[str, ...] = ()) -> dict:
    """The keyword arguments of ``cls`` given on the command line (every CLI field found in ``args``)."""
    out = {}
    for f in dataclasses.fields(cls):
        if "help" in f.metadata and f.metadata.get("cli", True) and f.name not in exclude and hasattr(args, f.name):
            out[f.name] = getattr(args, f.name)
    return out


def to_argv(config, *, always: tuple[str, ...] = ()) -> list[str]:
    """The flags that rebuild ``config`` from its defaults (fields at their default are left out,
    except those named in ``always``); the inverse of :func:`add_arguments` + :func:`from_args`."""
    argv: list[str] = []
    for f in dataclasses.fields(config):
        m = f.metadata
        if "help" not in m or not m.get("cli", True):
            continue
        value, default = getattr(config, f.name), default_of(f)
        if value == default and f.name not in always:
            continue
        if isinstance(default, bool):
            argv.append(flag_of(f))  # --name, or --no-name for a True default
        elif default is None and m.get("type") is bool:
            argv.append(("--" if value else "--no-") + f.name.replace("_", "-"))
        elif m.get("action") == "append":
            for item in value:
                argv += [flag_of(f), str(item)]
        elif value is not None:
            argv += [flag_of(f), _shown(value)]
    return argv


def parse_device(text: str) -> str:
    """A torch device name (``cpu``, ``cuda``, ``cuda:N``, ``mps``) that exists on this machine; the
    argparse type of device flags. Imports torch only when the flag is given."""
    import re

    if not re.fullmatch(r"cpu|mps|cuda(:\d{1,3})?", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a device; use cpu, cuda, cuda:N or mps")
    if text.startswith("cuda"):
        import torch

        n = torch.cuda.device_count()
        index = int(text.split(":")[1]) if ":" in text else 0
        if index >= n:
            raise argparse.ArgumentTypeError(f"{text}: this machine has {n} CUDA device(s)" +
                                             ("; use cpu" if n == 0 else ""))
    if text == "mps":
        import torch

        if not torch.backends.mps.is_available():
            raise argparse.ArgumentTypeError("mps is not available on this machine; use cpu")
    return text


def parse_size(text: str) -> tuple[int, int]:
    """``WIDTHxHEIGHT`` (e.g. ``320x240``) -> ``(320, 240)``; the argparse type of size flags."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 320x240, got {text!r}") from None
    return w, h


def parse_names(text: str) -> tuple[str, ...]:
    """A comma-separated list of names (blanks dropped) -> a tuple; the argparse type of list flags."""
    return tuple(t.strip() for t in text.split(",") if t.strip())
