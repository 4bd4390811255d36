"""route_planning questions: VSI-Bench's template, exactly one valid option, re-derivation."""

import warnings

import numpy as np
import pandas as pd
import pytest

from vsgrpo import navigation as nav
from vsgrpo.errors import MetaWarning
from vsgrpo.questions.base import BuildConfig, Unchecked
from vsgrpo.questions.route import (
    RoutePlanningTask,
    distractor_turns,
    parse_route_question,
    parse_turn_text,
    route_question,
    turn_text,
)
from vsgrpo.scene import FloorPlan, ObjectBox, Scene, load_meta_dir


def box(cat, cx, cy, sx, sy, z0=0.0, z1=1.0):
    return ObjectBox.create(cat, [cx, cy, (z0 + z1) / 2], [sx, sy, z1 - z0], np.eye(3))


def living_room_scene():
    objs = {
        "sofa": [box("sofa", 1.0, 0.5, 1.6, 0.6, 0, 0.8)],
        "tv": [box("tv", 1.0, 5.8, 1.0, 0.2, 0.5, 1.1)],
        "cabinet": [box("cabinet", 0.45, 3.0, 0.7, 0.8, 0, 1.0)],
        "refrigerator": [box("refrigerator", 5.6, 2.3, 0.6, 0.7, 0, 1.8)],
        "chair": [box("chair", 4.0, 5.0, 0.5, 0.5, 0, 0.9), box("chair", 4.8, 5.0, 0.5, 0.5, 0, 0.9)],
        "ceiling light": [box("ceiling light", 3, 3, 0.3, 0.3, 2.4, 2.5)],
    }
    plan = FloorPlan([np.array([[0, 0], [6, 0], [6, 6], [0, 6]], float)])
    return Scene("toy_living", "synthetic", 36.0, None, {c: len(b) for c, b in objs.items()}, objs,
                 floor_plan=plan)


@pytest.fixture(scope="module")
def generated():
    scene = living_room_scene()
    task = RoutePlanningTask()
    return scene, task, task.generate(scene, np.random.default_rng(0), BuildConfig())


def lettered(choices):
    return [f"{letter}. {c}" for letter, c in zip("ABCD", choices)]


def test_known_route_question_is_generated(generated):
    _, _, qs = generated
    want = ("You are a robot beginning at the sofa and facing the tv. You want to navigate to the refrigerator. "
            "You will perform the following actions (Note: for each [please fill in], choose either 'turn back,' "
            "'turn left,' or 'turn right.'): 1. Go forward until the cabinet 2. [please fill in] "
            "3. Go forward until the refrigerator. You have reached the final destination.")
    match = [q for q in qs if q.question == want]
    assert len(match) == 1
    q = match[0]
    assert q.answer == "Turn Right"
    assert sorted(q.choices) == ["Turn Back", "Turn Left", "Turn Right"]


def test_every_question_has_exactly_one_executable_option(generated):
    scene, task, qs = generated
    assert qs
    world = task.world(scene)
    for q in qs:
        start, facing, dest, moves = parse_route_question(q.question)
        assert "chair" not in {start, facing, dest} | {a for k, a in moves}  # names must be unique objects
        assert 2 <= len(moves) <= 5
        n_blanks = sum(k == "turn" for k, _ in moves)
        assert len(q.choices) == (3 if n_blanks == 1 else 4)
        assert len(set(q.choices)) == len(q.choices) and q.answer in q.choices
        pose = world.start_pose(start, facing)
        for choice in q.choices:
            turns = iter(parse_turn_text(choice))
            filled = [("turn", next(turns)) if k == "turn" else (k, a) for k, a in moves]
            run = world.execute(pose, filled)
            reaches = run.ok and world.reached(run.poses[-1], dest)
            assert reaches == (choice == q.answer), (q.question, choice, run.reason)
            if reaches:  # the correct route never enters a blocked cell
                for a, b in zip(run.poses, run.poses[1:]):
                    seg = a.xy + np.outer(np.linspace(0, 1, 40), b.xy - a.xy)
                    assert world.grid.is_free(seg).all()


def test_derive_reproduces_generated_answers(generated):
    scene, task, qs = generated
    for q in qs:
        assert task.derive(scene, {"question": q.question}) == q.answer
        opts = lettered(q.choices)
        assert task.derive(scene, {"question": q.question, "options": opts}) == opts[q.choices.index(q.answer)][0]


def test_derive_flags_a_wrong_route(generated):
    scene, task, qs = generated
    q = next(x for x in qs if "until the cabinet" in x.question)
    broken = q.question.replace("Go forward until the cabinet", "Go forward until the tv")
    assert not isinstance(task.derive(scene, {"question": broken}), Unchecked)
    assert task.derive(scene, {"question": broken}) != q.answer


def test_scene_without_floor_plan_yields_nothing_and_is_unchecked(generated):
    scene, task, qs = generated
    bare = Scene(scene.name, scene.dataset, scene.room_size, None, scene.object_counts, scene.objects)
    assert task.generate(bare, np.random.default_rng(0), BuildConfig()) == []
    got = task.derive(bare, {"question": qs[0].question})
    assert isinstance(got, Unchecked) and "floor plan" in got.reason


def test_released_vsibench_routes_follow_our_template_and_are_unchecked(vsibench_dir):
    df = pd.read_parquet(vsibench_dir / "test-dev.parquet")
    rows = df[df.question_type == "route_planning"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetaWarning)
        index = load_meta_dir(vsibench_dir)
    task = RoutePlanningTask()
    parsed = 0
    for _, r in rows.iterrows():
        for opt in r.options:  # every released option is a turn sequence in our spelling
            assert turn_text(parse_turn_text(opt[3:])) == opt[3:]
        p = parse_route_question(r.question)
        if p is not None:
            parsed += 1
            start, facing, _, moves = p
            filled = [("turn", "left") if k == "turn" else (k, a) for k, a in moves]
            if not any(a.endswith(".") for k, a in moves):
                assert route_question(start, facing, filled) == r.question
        got = task.derive(index[(r.dataset, r.scene_name)], r.to_dict())
        assert isinstance(got, Unchecked)
    assert parsed > len(rows) // 2  # the rest use free-text starts ("facing into the room") or landmarks


def test_distractors_follow_vsibench_option_shapes():
    rng = np.random.default_rng(1)
    assert sorted(distractor_turns(["left"], rng)) == [("back",), ("right",)]
    for _ in range(20):
        wrong = distractor_turns(["back", "left"], rng)
        assert len(wrong) == 3 and len(set(wrong)) == 3 and ("back", "left") not in wrong
        assert all("back" not in w[1:] for w in wrong)


def test_route_question_text_round_trips():
    moves = [("turn", "left"), ("forward", "bed"), ("turn", "right"), ("forward", "toilet")]
    text = route_question("door", "window", moves)
    start, facing, dest, parsed = parse_route_question(text)
    assert (start, facing, dest) == ("door", "window", "toilet")
    assert parsed == [("turn", "?"), ("forward", "bed"), ("turn", "?"), ("forward", "toilet")]
    assert "1. [please fill in] 2. Go forward until the bed 3. [please fill in] 4. Go forward until the toilet." in text
    assert nav.fillings(parsed)[0][0] == ("turn", "left")


def test_facing_the_start_object_itself_gives_turn_back_routes(generated):
    """VSI-Bench often starts 'at the sink and facing the sink'; the first turn is then often back."""
    scene, task, qs = generated
    want = ("You are a robot beginning at the sofa and facing the sofa. You want to navigate to the refrigerator. "
            "You will perform the following actions (Note: for each [please fill in], choose either 'turn back,' "
            "'turn left,' or 'turn right.'): 1. [please fill in] 2. Go forward until the cabinet 3. [please fill in] "
            "4. Go forward until the refrigerator. You have reached the final destination.")
    q = next(x for x in qs if x.question == want)
    assert q.answer == "Turn Back, Turn Right"
    assert len(q.choices) == 4 and all("Turn Back" not in c.split(", ", 1)[1] for c in q.choices)
    pose = task.world(scene).start_pose("sofa", "sofa")
    assert abs(np.degrees(pose.heading) + 90) < 3  # in front of the sofa (south wall), facing it


def test_rows_carry_their_navigation_settings():
    """A dataset built with another NavConfig verifies with that config, not the registered one."""
    import json

    scene = living_room_scene()
    wide = RoutePlanningTask(nav.NavConfig(clearance=0.3, reach=0.6))
    qs = wide.generate(scene, np.random.default_rng(0), BuildConfig())
    assert qs and qs[0].extra["nav"]["clearance"] == 0.3
    default = RoutePlanningTask()
    rows = [{"question": q.question, "extra": json.dumps(dict(q.extra))} for q in qs]
    assert all(default.derive(scene, r) == q.answer for r, q in zip(rows, qs))
    # without the stored settings some answers would not re-derive
    assert any(default.derive(scene, {"question": q.question}) != q.answer for q in qs)
    assert default.world(scene).config == nav.NavConfig()  # the registered config is untouched
