"""Config dataclass fields that double as command-line flags, so defaults and choices live once.

A field declared with :func:`option` carries its help text, choices and flag spelling in its
metadata; :func:`add_arguments` turns a dataclass into ``argparse`` flags and :func:`from_args`
turns the parsed flags back into keyword arguments of the dataclass::

    @dataclass
    class RunConfig:
        model: str = option(help="hub id or local folder")            # required: --model
        frames: int = option(32, help="frames per video")             # --frames (default 32)
        mode: str = option("vanilla", help="prompt mode", choices=MODES)
        answer_tag: bool = option(True, help="...")                   # --no-answer-tag
        size: tuple = option((320, 240), help="frame size", type=parse_size, metavar="WxH")

Rules: the flag is ``--`` + the field name with ``-`` for ``_`` (``flag=`` overrides it); a
field without a default is a required flag; a bool field defaulting to False is a ``--name``
switch, one defaulting to True a ``--no-name`` switch; ``cli=False`` keeps a field off the
command line. The value type comes from the default (or ``type=``); ``None`` defaults need
``type=`` unless the field holds text. Help ends with the default unless ``show_default=False``.
This module imports nothing heavy, so ``vsgrpo --help`` stays fast.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import MISSING, field
from typing import Any, Callable

_UNSET = object()


def option(default: Any = _UNSET, *, help: str, choices=None, type: Callable | None = None, flag: str | None = None,
           metavar: str | None = None, group: str | None = None, cli: bool = True, show_default: bool = True,
           default_text: str | None = None, action: str | None = None, off_help: str | None = None):
    """A dataclass field whose metadata describes its command-line flag (see the module docstring).

    ``default_text`` replaces the default shown in help (e.g. "one per core"); ``group`` names an
    argparse argument group; ``action="append"`` collects a repeated flag into a list; ``off_help``
    is the help of the ``--no-name`` switch of a bool field defaulting to True.
    """
    meta = {"help": help, "choices": tuple(choices) if choices is not None else None, "type": type, "flag": flag,
            "metavar": metavar, "group": group, "cli": cli, "show_default": show_default,
            "default_text": default_text, "action": action, "off_help": off_help}
    if default is _UNSET:
        return field(metadata=meta)
    if isinstance(default, (list, dict)):
        return field(default_factory=default.copy, metadata=meta)
    return field(default=default, metadata=meta)


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


def add_arguments(parser, cls, *, exclude: tuple[str, ...] = (), groups: dict | None = None) -> None:
    """Add one flag per :func:`option` field of dataclass ``cls`` to ``parser``.

    ``groups``: argument groups already made, by name; a field's ``group`` not found there is
    created as a new argument group of ``parser``.
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
        if isinstance(default, bool):
            kw["action"] = "store_false" if default else "store_true"
            target.add_argument(flag_of(f), help=(m.get("off_help") or text) if default else text, **kw)
            continue
        flag = flag_of(f)
        if default is MISSING:
            kw["required"] = True
        else:
            kw["default"] = default
            if m.get("default_text"):
                text = f"{text} (default: {m['default_text']})"
            elif m.get("show_default", True) and default is not None and default != [] and default != "":
                text = f"{text} (default: {_shown(default)})"
        if m.get("action"):
            kw["action"] = m["action"]
            kw["default"] = []
        else:
            conv = m.get("type")
            if conv is None and default not in (MISSING, None) and not isinstance(default, str):
                conv = default.__class__
            if conv is not None and conv is not str:
                kw["type"] = conv
        if m.get("choices"):
            kw["choices"] = m["choices"]
        if m.get("metavar"):
            kw["metavar"] = m["metavar"]
        target.add_argument(flag, help=text, **kw)


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
        elif m.get("action") == "append":
            for item in value:
                argv += [flag_of(f), str(item)]
        elif value is not None:
            argv += [flag_of(f), _shown(value)]
    return argv


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
