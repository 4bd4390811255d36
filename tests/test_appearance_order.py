"""obj_appearance_order: first appearances from visibility, the 1 s rule, VSI-Bench's template."""

import itertools
import json
import warnings

import numpy as np
import pandas as pd
import pytest

from vsgrpo.errors import MetaWarning
from vsgrpo.questions.appearance import (
    DEFAULT_PIXEL_THRESHOLD,
    TEMPLATE,
    AppearanceOrderTask,
    appearance_question,
    first_appearances,
    order_is_robust,
    parse_categories,
    valid_combinations,
    well_separated,
)
from vsgrpo.questions.base import BuildConfig, Unchecked
from vsgrpo.scene import CameraTrack, ObjectBox, Scene, Visibility, load_meta_dir

T = DEFAULT_PIXEL_THRESHOLD


def walkthrough_scene():
    """Ten seconds at 2 fps. Known first appearances (default threshold):
    door 0.0 s, bed 1.5 s (its second instance), lamp 3.0 s, sink 5.0 s, chair 5.5 s, tv never
    (always at the threshold, which does not count), sofa 8.0 s."""
    times = np.arange(20) * 0.5
    inst = [("door", 0), ("bed", 0), ("bed", 1), ("lamp", 0), ("sink", 0), ("chair", 0), ("tv", 0), ("sofa", 0)]
    px = np.zeros((20, len(inst)), int)
    px[0:, 0] = 5000          # door from the start
    px[3, 2] = T + 1          # bed #1 at 1.5 s, just above the threshold
    px[8:, 1] = 9000          # bed #0 later
    px[2, 3] = T              # lamp at exactly the threshold at 1.0 s: not seen yet
    px[6:9, 3] = 2000         # lamp at 3.0 s
    px[10:, 4] = 5000         # sink at 5.0 s
    px[11:, 5] = 5000         # chair at 5.5 s (0.5 s after the sink)
    px[:, 6] = T              # tv never above the threshold
    px[16:, 7] = 5000         # sofa at 8.0 s
    objs = {c: [ObjectBox.create(c, [i, 0, 0.5], [0.5, 0.5, 1], np.eye(3)) for i in range(n)]
            for c, n in (("door", 1), ("bed", 2), ("lamp", 1), ("sink", 1), ("chair", 1), ("tv", 1), ("sofa", 1))}
    vis = Visibility(times=times, instances=inst, pixels=px)
    return Scene("toy_walk", "synthetic", 20.0, None, {c: len(b) for c, b in objs.items()}, objs, visibility=vis)


KNOWN = {"door": 0.0, "bed": 1.5, "lamp": 3.0, "sink": 5.0, "chair": 5.5, "sofa": 8.0}


def test_first_appearances_use_the_pixel_threshold_strictly():
    vis = walkthrough_scene().visibility
    assert first_appearances(vis) == KNOWN
    # a lower threshold sees the lamp at 1.0 s and the tv from the start
    low = first_appearances(vis, threshold=T - 1)
    assert low["lamp"] == 1.0 and low["tv"] == 0.0


def test_combinations_need_gaps_over_one_second():
    assert well_separated([0.0, 1.5, 3.0, 8.0])
    assert not well_separated([0.0, 1.0, 3.0, 8.0])  # exactly 1 s is not enough
    combos = valid_combinations(KNOWN)
    expected = [c for c in itertools.combinations(sorted(KNOWN), 4)
                if all(abs(KNOWN[a] - KNOWN[b]) > 1.0 for a, b in itertools.combinations(c, 2))]
    assert combos == expected
    assert all(not {"sink", "chair"} <= set(c) for c in combos)
    assert ("bed", "door", "lamp", "sink") in combos


def test_generated_questions_have_the_known_order():
    scene = walkthrough_scene()
    task = AppearanceOrderTask(robust_factor=None)
    qs = task.generate(scene, np.random.default_rng(0), BuildConfig())
    assert len(qs) == len(valid_combinations(KNOWN))
    for q in qs:
        listed = parse_categories(q.question)
        assert q.question == TEMPLATE.format(", ".join(listed))
        assert sorted(listed) == sorted(q.objects)
        assert q.answer == ", ".join(sorted(listed, key=KNOWN.get))
        assert len(q.choices) == 4 and len(set(q.choices)) == 4 and q.choices[0] == q.answer
        assert all(sorted(c.split(", ")) == sorted(listed) for c in q.choices)
        assert task.derive(scene, {"question": q.question}) == q.answer
        opts = [f"{letter}. {c}" for letter, c in zip("ABCD", q.choices[::-1])]
        assert task.derive(scene, {"question": q.question, "options": opts}) == "D"
    one = [q for q in qs if set(q.objects) == {"door", "bed", "lamp", "sofa"}]
    assert one and one[0].answer == "door, bed, lamp, sofa"


def test_vsibench_list_order_puts_a_distractor_in_the_question():
    rng = np.random.default_rng(3)
    for _ in range(30):
        text, answer, orderings = appearance_question(["sofa", "door", "lamp", "bed"], KNOWN, rng, "vsibench")
        listed = tuple(parse_categories(text))
        assert listed != answer and listed in orderings[1:]
    with pytest.raises(ValueError):
        AppearanceOrderTask(list_order="sorted")


def test_derive_detects_a_wrong_threshold_or_unseen_category():
    scene = walkthrough_scene()
    task = AppearanceOrderTask(robust_factor=None)
    q = TEMPLATE.format("sink, door, bed, lamp")
    assert task.derive(scene, {"question": q}) == "door, bed, lamp, sink"
    # at a lower threshold the lamp appears at 1.0 s, within 1 s of the bed: no longer a valid question
    assert task.derive(scene, {"question": q, "pixel_threshold": T - 1}).startswith("<first appearances within")
    assert task.derive(scene, {"question": q, "extra": json.dumps({"pixel_threshold": T - 1})}).startswith("<first")
    assert "never visible" in task.derive(scene, {"question": TEMPLATE.format("tv, door, bed, lamp")})


def test_released_vsibench_rows_match_the_template_and_are_unchecked(vsibench_dir):
    df = pd.read_parquet(vsibench_dir / "test-dev.parquet")
    rows = df[df.question_type == "obj_appearance_order"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetaWarning)
        index = load_meta_dir(vsibench_dir)
    task = AppearanceOrderTask()
    for _, r in rows.iterrows():
        cats = parse_categories(r.question)
        assert len(cats) == 4 and TEMPLATE.format(", ".join(cats)) == r.question
        assert all(sorted(o[3:].split(", ")) == sorted(cats) for o in r.options)
        got = task.derive(index[(r.dataset, r.scene_name)], r.to_dict())
        assert isinstance(got, Unchecked) and "visibility" in got.reason


def test_default_threshold_scales_with_the_frame_and_travels_with_the_row():
    scene = walkthrough_scene()
    task = AppearanceOrderTask(robust_factor=None)
    assert task.threshold(scene) == T == 500  # 0.163% of 640x480 when there is no camera track
    scene.cameras = CameraTrack(np.eye(3), np.tile(np.eye(4), (20, 1, 1)), width=320, height=240)
    small = task.threshold(scene)
    assert small == 125  # the same share of a 320x240 frame
    qs = task.generate(scene, np.random.default_rng(0), BuildConfig())
    assert qs and all(q.extra["pixel_threshold"] == small for q in qs)
    # at the lower threshold the tv (always at 500 px) is seen from the start, like the door
    assert all("tv" not in q.objects or "door" not in q.objects for q in qs)
    assert any("tv" in q.objects for q in qs)
    assert AppearanceOrderTask(pixel_threshold=T).threshold(scene) == T


def test_order_must_survive_halving_and_doubling_the_threshold():
    scene = walkthrough_scene()
    vis = scene.visibility
    # the bed's first sighting (1.5 s) is just above the threshold; at twice the threshold the bed
    # is first seen at 4.0 s, after the lamp (3.0 s): the order door, bed, lamp, sofa is fragile
    assert first_appearances(vis, 2 * T)["bed"] == 4.0
    assert not order_is_robust(vis, ["door", "bed", "lamp", "sofa"], T, 2.0)
    assert order_is_robust(vis, ["door", "lamp", "sink", "sofa"], T, 2.0)
    assert order_is_robust(vis, ["door", "bed", "lamp", "sofa"], T, None)
    task = AppearanceOrderTask()
    qs = task.generate(scene, np.random.default_rng(0), BuildConfig())
    assert qs and all("bed" not in q.objects or "lamp" not in q.objects for q in qs)
    assert task.derive(scene, {"question": TEMPLATE.format("sofa, door, bed, lamp")}).startswith("<order changes")
    loose = AppearanceOrderTask(robust_factor=None)
    assert len(loose.generate(scene, np.random.default_rng(0), BuildConfig())) == len(valid_combinations(KNOWN))
