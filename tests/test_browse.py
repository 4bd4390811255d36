"""`vsgrpo data browse` in a real headless Chromium: the page loads, a click flags a question, the flag
file is written, and `data build` / training then leave that question out."""

from __future__ import annotations

import json
import os
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from browser import Chromium, chromium_binary
from vsgrpo.cli import main

SCREENSHOT = os.environ.get("VSGRPO_BROWSE_SCREENSHOT")  # e.g. docs/images/browse.png, to refresh the docs


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    from vsgrpo.sources.synthetic import SynthConfig, generate_dataset

    root = tmp_path_factory.mktemp("browse") / "root"
    generate_dataset(root, SynthConfig(scenes=2, seed=3, frames=24, width=160, height=120, fps=8.0, workers=1),
                     show_progress=False)
    assert main(["data", "build", "--meta", str(root / "meta"), "--out", str(root / "q")]) == 0
    return root


@pytest.fixture
def server(root):
    from vsgrpo.browse import make_server, url_of

    (root / "flags.json").unlink(missing_ok=True)
    srv = make_server(root, root / "q" / "questions.parquet", port=0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield url_of(srv)
    srv.shutdown()
    srv.server_close()


def _get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, r.headers, r.read()


def test_http_api_serves_only_the_root(server, root):
    status, _, body = _get(server + "api/scenes")
    info = json.loads(body)
    assert status == 200 and len(info["scenes"]) == 2 and all(s["video"] and s["preview"] for s in info["scenes"])
    s = info["scenes"][0]
    status, headers, body = _get(f"{server}media/videos/{s['dataset']}/{s['scene_name']}.mp4")
    assert status == 200 and headers["Content-Type"] == "video/mp4" and len(body) > 1000
    req = urllib.request.Request(f"{server}media/videos/{s['dataset']}/{s['scene_name']}.mp4",
                                 headers={"Range": "bytes=10-19"})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 206 and r.read() == body[10:20]
    for bad in ("media/videos/..%2F..%2Fmeta/x.mp4", "media/meta/synthetic_meta_info.json", "nope"):
        with pytest.raises(urllib.error.HTTPError) as e:
            _get(server + bad)
        assert e.value.code == 404
    # A page on another origin cannot change the flags.
    req = urllib.request.Request(server + "api/flag", data=b'{"id": 0}', method="POST",
                                 headers={"Origin": "http://evil.example", "Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 403 and not (root / "flags.json").exists()


@pytest.mark.skipif(chromium_binary() is None and not os.environ.get("VSGRPO_REQUIRE_SIDE_ENVS"),
                    reason="needs Debian's chromium (scripts/setup.sh installs it); CI requires it")
def test_flag_in_the_browser_then_build_and_train_leave_it_out(server, root, tmp_path):
    questions = pd.read_parquet(root / "q" / "questions.parquet")
    browser = Chromium(tmp_path / "profile")
    try:
        browser.navigate(server)
        n_rows = browser.wait_for("document.querySelectorAll('#questions tbody tr').length")
        assert browser.evaluate("document.querySelectorAll('#scenes li').length") == 2
        # The contact sheet really loaded; the floor plan (inline SVG) has a box per object.
        browser.wait_for("[...document.querySelectorAll('#media img')].every(i => i.complete && i.naturalWidth > 0)")
        assert browser.evaluate("document.querySelectorAll('#media img').length") == 1
        n_boxes = browser.evaluate("document.querySelectorAll('#plan svg .box').length")
        assert n_boxes and n_boxes == int(browser.evaluate("document.querySelector('#plan svg').dataset.objects"))
        assert browser.evaluate("!!document.querySelector('#media video')")
        first_scene = questions.scene_name.min()
        assert n_rows == int((questions.scene_name == first_scene).sum())
        # Filter by question type.
        qtype = "object_rel_direction_hard"
        browser.evaluate(f"(() => {{ const s = document.querySelector('#type-filter'); s.value = '{qtype}';"
                         " s.dispatchEvent(new Event('change')); })()")
        types = browser.evaluate("[...document.querySelectorAll('#questions tbody tr')].map(r => r.dataset.type)")
        assert types and set(types) == {qtype}
        # Flag the first shown question with a real click.
        qid = int(browser.evaluate("document.querySelector('#questions tbody tr').dataset.id"))
        browser.click("#questions tbody tr button.flag")
        browser.wait_for("document.querySelector('#questions tbody tr').classList.contains('flagged')")
        assert "flagged question" in browser.evaluate("document.querySelector('#status').textContent")
        browser.screenshot(tmp_path / "browse.png")
        if SCREENSHOT:
            browser.screenshot(Path(SCREENSHOT))
    finally:
        browser.close()
    assert (tmp_path / "browse.png").read_bytes()[:4] == b"\x89PNG"

    flags = json.loads((root / "flags.json").read_text())["flags"]
    assert [f["id"] for f in flags.values()] == [qid]
    flagged = questions[questions.id == qid].iloc[0]

    # `data build` leaves the flagged question out (another valid one may take its slot).
    assert main(["data", "build", "--meta", str(root / "meta"), "--out", str(tmp_path / "rebuilt")]) == 0
    rebuilt = pd.read_parquet(tmp_path / "rebuilt" / "questions.parquet")
    same = ((rebuilt.scene_name == flagged.scene_name) & (rebuilt.question_type == flagged.question_type)
            & (rebuilt.answer == flagged.answer)
            & rebuilt.objects.map(lambda o: list(o) == list(flagged.objects)))
    assert not same.any()
    summary = json.loads((tmp_path / "rebuilt" / "summary.json").read_text())
    assert summary["flagged_left_out"]["questions"] == 1

    # Training data on the original parquet drops it too.
    from vsgrpo.train.data import load_rows

    rows = load_rows(root / "q" / "questions.parquet", root / "videos")
    assert str(qid) not in {r["id"] for r in rows} and len(rows) == len(questions) - 1
