"""`vsgrpo data annotate`: the rules a saved question obeys, the local server's safety, and the page
in a real headless Chromium (annotate two videos, reload, edit, delete; the file imports)."""

from __future__ import annotations

import http.client
import json
import threading

import numpy as np
import pandas as pd
import pytest

from browser import Chromium, press, type_into
from vsgrpo.annotate import ANNOTATIONS_FILE, AnnotationError, AnnotationStore, validate
from vsgrpo.cli import main
from vsgrpo.errors import VsgrpoError
from vsgrpo.video import write_video


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("site") / "videos"
    rng = np.random.default_rng(0)
    for rel in ("floor1/walk.mp4", "floor2/dock.mp4"):
        frames = rng.integers(0, 255, size=(12, 64, 80, 3), dtype=np.uint8)
        write_video(root / rel, frames, fps=6.0)
    return root


VID = ["floor1/walk.mp4", "floor2/dock.mp4"]


def test_validation_rules():
    ok = validate({"video": VID[0], "question_type": "site_distance", "question_kind": "numeric",
                   "question": "How far is the bay from the door (in meters)?", "answer": "12,5", "unit": "m"}, VID)
    assert ok["answer"] == "12.5" and ok["question_kind"] == "numeric" and ok["unit"] == "m"
    choice = validate({"video": VID[1], "question_type": "site_nearest", "question_kind": "choice",
                       "question": "Which shelf is nearest the exit?", "options": ["red", "blue", "green"],
                       "answer": 1}, VID)
    assert choice["options"] == ["A. red", "B. blue", "C. green"] and choice["answer"] == "B"
    # A VSI-Bench type keeps its own kind.
    counted = validate({"video": VID[0], "question_type": "object_counting", "question": "How many chair(s) "
                        "are in this room?", "answer": "4"}, VID)
    assert counted["question_kind"] == "numeric"
    bad = [({"question_kind": "choice", "question_type": "object_counting"}, "question_kind"),
           ({"answer": "abc"}, "answer"), ({"answer": "-3"}, "answer"), ({"answer": "nan"}, "answer"),
           ({"video": "../etc/passwd"}, "video"), ({"question": "  "}, "question"),
           ({"question_type": "Bad Type!"}, "question_type"),
           ({"question_kind": "choice", "options": ["a"], "answer": 0}, "options"),
           ({"question_kind": "choice", "options": ["a", "A"], "answer": 0}, "options"),
           ({"question_kind": "choice", "options": ["a", "b"], "answer": 5}, "answer"),
           ({"question_kind": "choice", "options": ["a", "b"], "answer": True}, "answer"),
           ({"question_kind": "choice", "options": [f"o{i}" for i in range(7)], "answer": 0}, "options")]
    base = {"video": VID[0], "question_type": "site_distance", "question_kind": "numeric",
            "question": "How far?", "answer": "3"}
    for change, field in bad:
        with pytest.raises(AnnotationError) as e:
            validate({**base, **change}, VID)
        assert e.value.field == field, (change, str(e.value))


def test_store_saves_atomically_refuses_duplicates_and_reloads(videos, tmp_path):
    store = AnnotationStore(tmp_path / "ann", videos)
    a = store.save({"video": VID[0], "question_type": "site_distance", "question_kind": "numeric",
                    "question": "How far is the bay from the door?", "answer": "7"})
    with pytest.raises(AnnotationError, match="already has that question"):
        store.save({"video": VID[0], "question_type": "site_distance", "question_kind": "numeric",
                    "question": "how far is the bay  from the door?", "answer": "8"})
    # The same question on another video is fine.
    store.save({"video": VID[1], "question_type": "site_distance", "question_kind": "numeric",
                "question": "How far is the bay from the door?", "answer": "9"})
    store.save({**a, "answer": "7.5"})
    lines = (tmp_path / "ann" / ANNOTATIONS_FILE).read_text().splitlines()
    assert [json.loads(x)["answer"] for x in lines] == ["7.5", "9"]
    again = AnnotationStore(tmp_path / "ann", videos)
    assert again.rows == store.rows
    again.delete(a["id"])
    assert [r["id"] for r in AnnotationStore(tmp_path / "ann", videos).rows] == [2]
    with pytest.raises(AnnotationError):
        again.delete(a["id"])
    (tmp_path / "ann" / ANNOTATIONS_FILE).write_text('{"id": 1, "video": "nope.mp4"}\n')
    with pytest.raises(VsgrpoError, match="line 1"):
        AnnotationStore(tmp_path / "ann", videos)


@pytest.fixture
def server(videos, tmp_path):
    from vsgrpo.annotate_page import make_server
    from vsgrpo.localweb import url_of

    srv = make_server(videos, tmp_path / "ann", port=0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv, url_of(srv)
    srv.shutdown()
    srv.server_close()


def _request(srv, method, path, body=None, headers=None):
    host, port = srv.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=10)
    hdrs = {"Host": f"{host}:{port}", **(headers or {})}
    if body is not None and "Content-Type" not in hdrs:
        hdrs["Content-Type"] = "application/json"
    conn.request(method, path, body=body, headers=hdrs)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, data


def test_server_refuses_hostile_requests_with_a_body(server):
    srv, _ = server
    good = json.dumps({"video": VID[0], "question_type": "site_distance", "question_kind": "numeric",
                       "question": "How far?", "answer": "2"})
    host, port = srv.server_address[:2]
    cases = [("POST", "/api/save", good, {"Host": f"attacker.example:{port}"}, 421),         # DNS rebinding
             ("GET", "/api/state", None, {"Host": "attacker.example"}, 421),
             ("POST", "/api/save", good, {"Origin": "http://attacker.example"}, 403),       # CSRF
             ("POST", "/api/save", good, {"Content-Type": "text/plain"}, 415),
             ("POST", "/api/save", '{"answer": Infinity}', None, 400),
             ("POST", "/api/save", '{"answer": 1e999}', None, 400),
             ("POST", "/api/save", "[" * 30000 + "]" * 30000, None, 400),
             ("POST", "/api/save", "[" * 40000 + "]" * 40000, None, 413),
             ("POST", "/api/save", "[" * 40 + "]" * 40, None, 400),
             ("POST", "/api/save", b"\xff\xfe", None, 400),
             ("POST", "/api/save", json.dumps({"video": VID[0], "question_type": "x y"}), None, 400),
             ("GET", "/media/..%2F..%2Fetc%2Fpasswd", None, None, 404),
             ("GET", "/nope", None, None, 404)]
    for method, path, body, headers, status in cases:
        got, data = _request(srv, method, path, body, headers)
        assert got == status, (path, headers, body if body is None else str(body)[:40], got, data[:120])
        assert json.loads(data)["error"]
    got, data = _request(srv, "POST", "/api/save", "{}", {"Content-Length": "-1"})
    assert got == 411
    assert not srv.store.rows  # nothing hostile was saved
    assert _request(srv, "POST", "/api/save", good)[0] == 200
    # The video streams with byte ranges, so the player can seek.
    got, data = _request(srv, "GET", "/media/" + VID[0], headers={"Range": "bytes=4-11"})
    assert got == 206 and data == (srv.store.videos_dir / VID[0]).read_bytes()[4:12]


def _choose_template(browser, index: int) -> None:
    browser.evaluate(f"(() => {{ const s = $('template'); s.value = '{index}'; "
                     "s.dispatchEvent(new Event('change')); })()")


def test_annotate_in_the_browser_then_import(server, videos, tmp_path):
    srv, url = server
    browser = Chromium(tmp_path / "profile")
    try:
        browser.navigate(url)
        browser.wait_for("document.querySelectorAll('#videos li').length === 2")
        # Video 1: a question of the team's own numeric type, typed and saved with Ctrl+Enter.
        own_numeric = browser.evaluate("state.templates.findIndex(t => t.own && t.kind === 'numeric')")
        _choose_template(browser, own_numeric)
        type_into(browser, "#qtype", "site_distance")
        type_into(browser, "#question", "How far is the forklift bay from the door (in meters)?")
        type_into(browser, "#answer", "abc")
        assert "positive number" in browser.evaluate("$('msg').textContent")  # validated as typed
        type_into(browser, "#answer", "12.5")
        press(browser, "Enter", ctrl=True)
        browser.wait_for("document.querySelectorAll('#saved li').length === 1")
        # Video 2 (key j): a VSI-Bench counting question, then a choice question of our own type.
        browser.evaluate("document.activeElement.blur()")
        press(browser, "j")
        browser.wait_for("current === 'floor2/dock.mp4'")
        _choose_template(browser, 0)  # object_counting: VSI-Bench's wording, type and kind filled in
        assert browser.evaluate("$('qtype').value") == "object_counting"
        type_into(browser, "#question", "How many pallet(s) are in this room?")
        type_into(browser, "#answer", "6")
        browser.click("#save")
        browser.wait_for("document.querySelectorAll('#saved li').length === 1")
        own_choice = browser.evaluate("state.templates.findIndex(t => t.own && t.kind === 'choice')")
        _choose_template(browser, own_choice)
        type_into(browser, "#qtype", "site_nearest")
        type_into(browser, "#question", "Which shelf is nearest the exit?")
        for i, text in enumerate(["red", "blue", "green"]):
            type_into(browser, f"#options .opt:nth-child({i + 1}) input[type=text]", text)
        browser.click("#delopt")
        browser.click("#options .opt:nth-child(2) input[type=radio]")
        browser.click("#save")
        browser.wait_for("document.querySelectorAll('#saved li').length === 2")
        # Reload: everything is still there (saved on the server after each question).
        browser.navigate(url + "#floor2%2Fdock.mp4")
        browser.wait_for("state && current === 'floor2/dock.mp4' && document.querySelectorAll('#saved li').length === 2")
        # Edit the count, delete the choice question.
        browser.click("#saved li:nth-child(1) button.edit")
        type_into(browser, "#answer", "7")
        browser.click("#save")
        browser.wait_for("$('msg').textContent.startsWith('saved')")
        browser.click("#saved li:nth-child(2) button.del")
        browser.wait_for("document.querySelectorAll('#saved li').length === 1")
    finally:
        browser.close()
    rows = [json.loads(x) for x in (tmp_path / "ann" / ANNOTATIONS_FILE).read_text().splitlines()]
    assert [(r["video"], r["question_type"], r["answer"]) for r in rows] == [
        ("floor1/walk.mp4", "site_distance", "12.5"), ("floor2/dock.mp4", "object_counting", "7")]
    # The VSI-Bench-type row imports unchanged with `data import --format jsonl`.
    vsi_only = tmp_path / "vsi.jsonl"
    vsi_only.write_text("".join(json.dumps(r) + "\n" for r in rows if r["question_type"] == "object_counting"))
    out = tmp_path / "imported"
    assert main(["data", "import", "--format", "jsonl", "--input", str(vsi_only), "--videos", str(videos),
                 "--out", str(out)]) == 0
    df = pd.read_parquet(out / "questions.parquet")
    assert df["ground_truth"].tolist() == ["7"] and df["video"].tolist() == ["floor2/dock.mp4"]


def test_cli_refuses_bad_videos_folder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["data", "annotate", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 2
    assert "no videos" in capsys.readouterr().err
