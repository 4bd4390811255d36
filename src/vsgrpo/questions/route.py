"""``route_planning``: fill in the turns of a route between two objects.

Ground truth comes from the floor plan and the object boxes through :mod:`vsgrpo.navigation`:
an occupancy grid with the agent's clearance, a search over turns and landmark-terminated
straight runs ("Go forward until the sofa"), and an executor that decides whether a move list
reaches the destination without collision. A route becomes a question only if it is
unambiguous: its own turns work from every slightly perturbed start pose, and no other filling
of the blanks with left / right / back works from any of them. See
docs/routes_and_appearance.md.

Template and option form are VSI-Bench's: the turns are blanked as ``[please fill in]`` and the
options are turn sequences ``"Turn Left, Turn Right"`` (3 options for one blank, 4 otherwise).
"""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, fields
from typing import Any

import numpy as np

from .. import navigation as nav
from ..scene import Scene
from .base import BuildConfig, Question, Task, Unchecked, letter_of, register_task

QUESTION_TYPE = "route_planning"
BLANK = "[please fill in]"
HEAD = ("You are a robot beginning at the {start} and facing the {facing}. You want to navigate to the "
        "{dest}. You will perform the following actions (Note: for each [please fill in], choose either "
        "'turn back,' 'turn left,' or 'turn right.'): ")
TAIL = ". You have reached the final destination."
FORWARD = "Go forward until the {}"

DEFAULT_MAX_PAIRS = 40
"""Most (start, facing) pairs tried per scene (drawn with the build's rng)."""
DEFAULT_PER_PAIR = 2
"""Most questions kept per (start, facing) pair, so one start does not fill a scene's quota."""

_PARSE = re.compile(
    r"^You are a robot beginning at the (?P<start>.+?) and facing the (?P<facing>.+?)\. "
    r"You want to navigate to the (?P<dest>.+?)\. You will perform the following actions "
    r"\(Note: for each \[please fill in\], choose either 'turn back,' 'turn left,' or 'turn right\.'\): "
    r"(?P<steps>.+)\. You have reached the final destination\.$", re.S)


def turn_text(turns: Sequence[str]) -> str:
    """``["left", "back"]`` -> ``"Turn Left, Turn Back"`` (VSI-Bench's option form)."""
    return ", ".join(f"Turn {t.capitalize()}" for t in turns)


def parse_turn_text(text: str) -> list[str] | None:
    parts = [p.strip() for p in text.split(",")]
    out = []
    for p in parts:
        m = re.fullmatch(r"turn (left|right|back)", p, re.I)
        if not m:
            return None
        out.append(m.group(1).lower())
    return out


def route_question(start: str, facing: str, moves: Sequence[nav.Move]) -> str:
    """The question text of a route, turns blanked."""
    steps = []
    for i, (kind, arg) in enumerate(moves, 1):
        steps.append(f"{i}. {BLANK if kind == 'turn' else FORWARD.format(arg)}")
    return HEAD.format(start=start, facing=facing, dest=moves[-1][1]) + " ".join(steps) + TAIL


def parse_route_question(question: str) -> tuple[str, str, str, list[nav.Move]] | None:
    """``(start, facing, destination, moves)`` with turns as ``("turn", "?")``; None if off-template."""
    m = _PARSE.match(question.strip())
    if not m:
        return None
    pieces = re.split(r"(?:^| )(\d+)\. ", m.group("steps"))
    # re.split with a group gives ["", "1", step1, "2", step2, ...]
    if pieces[0].strip() or len(pieces) < 3:
        return None
    moves: list[nav.Move] = []
    for n, (num, text) in enumerate(zip(pieces[1::2], pieces[2::2]), 1):
        if int(num) != n:
            return None
        text = text.strip()
        if text.lower() == BLANK:
            moves.append(("turn", "?"))
        elif text.startswith("Go forward until the "):
            moves.append(("forward", text[len("Go forward until the "):]))
        else:
            return None
    if not moves or moves[-1] != ("forward", m.group("dest")):
        return None
    return m.group("start"), m.group("facing"), m.group("dest"), moves


def distractor_turns(turns: Sequence[str], rng: np.random.Generator) -> list[tuple[str, ...]]:
    """Wrong turn sequences: for one blank the other two turns (3 options, as in VSI-Bench),
    otherwise 3 random wrong sequences (4 options).

    As in VSI-Bench's options, "turn back" appears only in the first blank (a real route never
    turns back after its first move, so a distractor with a later "back" would be a give-away).
    """
    n = len(turns)
    if n == 1:
        return [(t,) for t in nav.TURNS if t != turns[0]]
    cands = [combo for combo in itertools.product(nav.TURNS, repeat=n)
             if combo != tuple(turns) and "back" not in combo[1:]]
    picks = rng.choice(len(cands), size=min(3, len(cands)), replace=False)
    return [cands[i] for i in sorted(picks)]


class RoutePlanningTask(Task):
    """Turn sequence of a landmark route (needs a floor plan)."""

    name = QUESTION_TYPE

    def matches(self, question: str) -> bool:
        # released route questions vary the head ("at the bed facing", "by the chair and facing"): its opening
        return question.strip().startswith(HEAD.split(" at the {start}")[0])

    def __init__(self, config: nav.NavConfig | None = None, max_pairs: int = DEFAULT_MAX_PAIRS,
                 per_pair: int = DEFAULT_PER_PAIR):
        self.nav_config = config or nav.NavConfig()
        self.max_pairs = int(max_pairs)
        self.per_pair = int(per_pair)
        self._world_cache: tuple[tuple, nav.World] | None = None

    def world(self, scene: Scene, config: nav.NavConfig | None = None) -> nav.World:
        """The scene's navigation world (the last one is cached: verify asks per row)."""
        config = config or self.nav_config
        key = (scene.dataset, scene.name, id(scene.floor_plan), id(scene.objects), config)
        if self._world_cache is None or self._world_cache[0] != key:
            self._world_cache = (key, nav.build_world(scene.floor_plan, scene.objects, config))
        return self._world_cache[1]

    def candidate_routes(self, scene: Scene, rng: np.random.Generator,
                         reasons: Counter | None = None) -> list[tuple[str, str, nav.Route]]:
        """Accepted ``(start, facing, route)`` triples of a scene, in a deterministic order given ``rng``.

        ``reasons``, when given, counts why candidates were rejected (for reports).
        """
        reasons = Counter() if reasons is None else reasons
        if scene.floor_plan is None:
            reasons["no floor plan"] += 1
            return []
        world = self.world(scene)
        names = sorted(world.landmarks)
        if len(names) < 2:
            reasons["fewer than 2 unique landmark objects"] += 1
            return []
        pairs = [(a, b) for a in names for b in names]  # a == b: "at the sink and facing the sink"
        order = rng.permutation(len(pairs))[: self.max_pairs]
        out = []
        for i in order:
            start, facing = pairs[i]
            pose = world.start_pose(start, facing)
            if pose is None:
                reasons["no free start pose at the start object facing the other"] += 1
                continue
            routes = nav.plan_routes(world, pose, exclude={start})
            dests = sorted(d for d in routes if d != facing)
            if not dests:
                reasons["no 2-5 move landmark route with a turn from this start"] += 1
            kept = 0
            # random order, but routes with more blanks first: VSI-Bench's routes mostly have 2+
            # blanks, while 1-blank routes are the most common kind a room offers
            order = sorted(rng.permutation(len(dests)), key=lambda j: -len(routes[dests[j]].turns))
            for j in order:
                if kept >= self.per_pair:
                    break
                route = routes[dests[j]]
                if not nav.route_within_detour(world, route)[0]:
                    reasons["route much longer than the A* shortest path"] += 1
                    continue
                ok, why = nav.route_is_unambiguous(world, route, start)
                if not ok:
                    reasons["ambiguous: " + ("fails from a perturbed start" if "perturbed" in why
                                             else "another turn sequence also arrives")] += 1
                    continue
                out.append((start, facing, route))
                reasons["accepted"] += 1
                kept += 1
        return out

    def generate(self, scene: Scene, rng: np.random.Generator, config: BuildConfig) -> list[Question]:
        out = []
        for start, facing, route in self.candidate_routes(scene, rng):
            turns = route.turns
            wrong = distractor_turns(turns, rng)
            answer = turn_text(turns)
            out.append(Question(
                dataset=scene.dataset, scene_name=scene.name, question_type=self.name,
                question=route_question(start, facing, route.moves), answer=answer,
                choices=(answer, *(turn_text(w) for w in wrong)),
                objects=(start, facing, route.destination),
                extra={"route_length_m": round(route.length, 2), "nav": asdict(self.nav_config)}))
        return out

    def derive(self, scene: Scene, row: Mapping[str, Any]) -> str | Unchecked:
        parsed = parse_route_question(str(row.get("question", "")))
        if scene.floor_plan is None:
            return Unchecked("no floor plan for this scene (VSI-Bench's released routes are human-annotated)")
        if parsed is None:
            return Unchecked("question does not follow the route template (free-text landmarks)")
        start, facing, dest, moves = parsed
        world = self.world(scene, _row_nav_config(row, self.nav_config))
        unknown = [n for n in {start, facing, dest} if n not in world.landmarks]
        unknown += [a for k, a in moves if k == "forward" and a not in world.landmarks and a != nav.WALL]
        if unknown:
            return f"<not a unique landmark: {', '.join(sorted(set(unknown)))}>"
        pose = world.start_pose(start, facing)
        if pose is None:
            return f"<no start pose at the {start} facing the {facing}>"
        valid = [alt for alt in nav.fillings(moves) if world.arrives(pose, alt, dest)]
        if len(valid) != 1:
            return f"<{len(valid)} turn sequences reach the {dest}>"
        route = nav.Route(pose, valid[0], 0.0)
        ok, why = nav.route_is_unambiguous(world, route, start)
        if not ok:
            return f"<{why}>"
        word = turn_text(route.turns)
        options = row.get("options")
        if options is not None and len(options):
            return letter_of(options, word) or f"<{word} is not among the options>"
        return word


def _row_nav_config(row: Mapping[str, Any], default: nav.NavConfig) -> nav.NavConfig:
    """The NavConfig a row was built with (its JSON ``extra``'s "nav"), else ``default``."""
    extra = row.get("extra")
    if isinstance(extra, str):
        try:
            extra = json.loads(extra)
        except ValueError:
            return default
    raw = extra.get("nav") if isinstance(extra, Mapping) else None
    if not isinstance(raw, Mapping):
        return default
    known = {f.name for f in fields(nav.NavConfig)}
    try:
        return nav.NavConfig(**{k: v for k, v in raw.items() if k in known})
    except TypeError:
        return default


register_task(RoutePlanningTask())
