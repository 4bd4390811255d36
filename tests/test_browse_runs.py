"""`vsgrpo data browse --run` in a real headless Chromium: two real `eval run` folders (the openai backend
against a scripted chat server on 127.0.0.1) beside procedural scenes and built questions. The rows show each
run's raw answer, parsed value and score; the filters narrow the rows and the scene list; a per-question URL
opens that question; its objects are marked on the floor plan; visible labels do not overlap."""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import pytest

from browser import Chromium, chromium_binary
from test_eval_openai import ChatServer
from vsgrpo.cli import main

ROOT = Path(__file__).resolve().parents[1]

SCREENSHOT = os.environ.get("VSGRPO_BROWSE_RUNS_SCREENSHOT")  # docs/images/browse_predictions.png, to refresh the docs
needs_chromium = pytest.mark.skipif(chromium_binary() is None and not os.environ.get("VSGRPO_REQUIRE_SIDE_ENVS"),
                                    reason="needs Debian's chromium (scripts/setup.sh installs it); CI requires it")


def _wrong(q: dict) -> str:
    if q["options"] is not None and len(q["options"]) > 0:
        return next(o.split(".")[0] for o in q["options"] if o.split(".")[0] != str(q["ground_truth"]))
    return str(float(q["ground_truth"]) * 3 + 7)  # relative error > 1: MRA score 0


HOSTILE = '<img src=x onerror="window.pwned = 1"><script>window.pwned = 2</script>'


def _prompt_of(questions: list[dict], qid: int) -> str:
    from vsgrpo import metrics
    from vsgrpo.prompts import build_prompt

    q = next(q for q in questions if q["id"] == qid)
    return build_prompt(q["question"], q["options"] if metrics.answer_kind(q["question_type"]) == "mca" else None,
                        mode="think")


def _right_in(run: str, qid: int) -> bool:
    """Which questions each scripted model gets right: the two runs agree on some and differ on others."""
    return qid % 2 == 0 if run == "base" else qid % 3 != 0


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from vsgrpo import metrics
    from vsgrpo.eval.scoring import load_questions
    from vsgrpo.prompts import build_prompt
    from vsgrpo.sources.synthetic import SynthConfig, generate_dataset

    base = tmp_path_factory.mktemp("browse-runs")
    root = base / "root"
    generate_dataset(root, SynthConfig(scenes=3, seed=4, frames=16, width=128, height=96, fps=8.0, workers=1),
                     show_progress=False)
    assert main(["data", "build", "--meta", str(root / "meta"), "--out", str(root / "q")]) == 0
    qfile = root / "q" / "questions.parquet"
    questions = load_questions(qfile)
    replies = {}
    for q in questions:
        options = q["options"] if metrics.answer_kind(q["question_type"]) == "mca" else None
        prompt = build_prompt(q["question"], options, mode="think")
        for run in ("base", "tuned"):
            answer = str(q["ground_truth"]) if _right_in(run, q["id"]) else _wrong(q)
            replies[(run, prompt)] = f"<think>Looking at the frames of the room.</think><answer>{answer}</answer>"
    first = min(q["id"] for q in questions)  # model text is shown as text, never run as markup
    replies[next(k for k in replies if k[0] == "tuned" and k[1] == _prompt_of(questions, first))] += HOSTILE
    chat = ChatServer()  # an OpenAI-compatible server on 127.0.0.1 answering replies[(model, prompt)]
    chat.replies.update(replies)
    try:
        for run in ("base", "tuned"):
            assert main(["eval", "run", "--backend", "openai", "--model", run, "--base-url", chat.url,
                         "--questions", str(qfile), "--videos", str(root / "videos"), "--frames", "2",
                         "--mode", "think", "--batch-size", "4", "--out", str(base / "runs" / run)]) == 0
    finally:
        chat.close()
    samples = {run: {json.loads(line)["id"]: json.loads(line)
                     for line in (base / "runs" / run / "samples.jsonl").read_text().splitlines()}
               for run in ("base", "tuned")}
    return {"base": base, "root": root, "qfile": qfile, "questions": {q["id"]: q for q in questions},
            "runs": [base / "runs" / "base", base / "runs" / "tuned"], "samples": samples}


@pytest.fixture
def served(world):
    from vsgrpo.browse import make_server, url_of

    srv = make_server(world["root"], world["qfile"], port=0, runs=world["runs"])
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield url_of(srv)
    srv.shutdown()
    srv.server_close()


def test_the_runs_really_differ(world):
    """The fixture's premise: both runs answered every question, agreeing on some and not on others."""
    base, tuned = world["samples"]["base"], world["samples"]["tuned"]
    assert set(base) == set(tuned) == set(world["questions"])
    assert {s["score"] for s in base.values()} >= {0.0, 1.0}
    agree = [i for i in base if base[i]["parsed"] == tuned[i]["parsed"]]
    assert 0 < len(agree) < len(base)


def _rows(browser) -> list[dict]:
    return browser.evaluate("""[...document.querySelectorAll('#questions tbody tr')].map(tr => ({
        id: Number(tr.dataset.id), type: tr.dataset.type,
        runs: [...tr.querySelectorAll('td.run')].map(td => ({cls: td.className, text: td.textContent,
               pred: td.querySelector('.pred') ? td.querySelector('.pred').textContent : null}))}))""")


def _select(browser, selector: str, value: str) -> None:
    browser.evaluate(f"(() => {{ const s = document.querySelector({json.dumps(selector)}); s.value = {json.dumps(value)};"
                     " s.dispatchEvent(new Event('change')); })()")


def _scene_list(browser) -> list[str]:
    return browser.evaluate("[...document.querySelectorAll('#scenes li')].map(li => li.dataset.key)")


@needs_chromium
def test_predictions_filters_urls_marks_and_labels_in_the_browser(world, served, tmp_path):
    from vsgrpo.dataset import load_scenes
    from vsgrpo.questions.aliases import to_meta

    qs, samples = world["questions"], world["samples"]
    runs = ("base", "tuned")
    browser = Chromium(tmp_path / "profile")
    try:
        browser.send("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False)
        browser.navigate(served)
        browser.wait_for("document.querySelectorAll('#questions tbody tr').length > 0")
        assert browser.evaluate("[...document.querySelectorAll('th.runhead')].map(t => t.textContent)") == list(runs)

        # Every row shows each run's raw answer, parsed value and score (as samples.jsonl holds them).
        rows = _rows(browser)
        for row in rows:
            for run, cell in zip(runs, row["runs"]):
                s = samples[run][row["id"]]
                assert cell["pred"] == s["prediction"]
                assert f"score {100 * s['score']:.1f}" in cell["text"]
                assert ("right" if s["score"] >= 0.5 else "wrong") in cell["cls"].split()
                parsed = s["parsed"]  # as JavaScript prints a number: 3.0 is "3"
                shown = str(int(parsed)) if isinstance(parsed, float) and parsed.is_integer() else str(parsed)
                assert f"parsed {shown} · score" in cell["text"]

        assert any(r["runs"][1]["pred"].endswith(HOSTILE) for r in rows)
        assert browser.evaluate("window.pwned === undefined && !document.querySelector('#questions img, "
                                "#questions script')")

        # Filters narrow the rows and the scene list. The task filter alone: exactly the scenes with that task.
        all_scenes = _scene_list(browser)
        assert len(all_scenes) == 3
        narrower = 0
        for qtype in sorted({q["question_type"] for q in qs.values()}):
            _select(browser, "#type-filter", qtype)
            expected = [k for k in all_scenes if any(f"{q['dataset']}/{q['scene_name']}" == k
                                                     and q["question_type"] == qtype for q in qs.values())]
            assert _scene_list(browser) == expected
            narrower += len(expected) < len(all_scenes)
        assert narrower  # some task is missing from some scene in this fixture
        _select(browser, "#type-filter", "")
        # With a run's verdict too: find a combination that leaves out a whole scene.
        picked = None
        for qtype in sorted({q["question_type"] for q in qs.values()}):
            for verdict in ("right", "wrong"):
                keep = {f"{q['dataset']}/{q['scene_name']}" for i, q in qs.items() if q["question_type"] == qtype
                        and (samples["base"][i]["score"] >= 0.5) == (verdict == "right")}
                if keep and len(keep) < 3:
                    picked = (qtype, verdict, keep)
                    break
            if picked:
                break
        assert picked, "no filter narrows the scene list in this fixture"
        qtype, verdict, keep = picked
        _select(browser, "#type-filter", qtype)
        _select(browser, "select.run-filter[data-i='0']", verdict)
        assert set(_scene_list(browser)) == keep
        assert f"type={qtype}" in browser.evaluate("location.hash") and f"run0={verdict}" in browser.evaluate(
            "location.hash")
        for row in _rows(browser):
            assert row["type"] == qtype and verdict in row["runs"][0]["cls"].split()
        _select(browser, "#type-filter", "")
        _select(browser, "select.run-filter[data-i='0']", "")
        assert _scene_list(browser) == all_scenes

        # Disagreement between runs: exactly the questions whose parsed answers differ.
        _select(browser, "#agree-filter", "disagree")
        differ = {i for i in qs if str(samples["base"][i]["parsed"]) != str(samples["tuned"][i]["parsed"])}
        shown_ids = {r["id"] for r in _rows(browser)}
        assert shown_ids and shown_ids <= differ
        current = browser.evaluate("document.querySelector('#scenes li.active').dataset.key")
        assert shown_ids == {i for i in differ if f"{qs[i]['dataset']}/{qs[i]['scene_name']}" == current}
        _select(browser, "#agree-filter", "")

        # A per-question URL opens that scene and question (pick one with objects, in another scene).
        index = load_scenes(world["root"] / "meta")

        def named_in(q):
            scene = index[(q["dataset"], q["scene_name"])]
            return scene, {to_meta(str(o), scene) for o in (q["objects"] if q["objects"] is not None else [])}

        target = next(i for i, q in sorted(qs.items()) if f"{q['dataset']}/{q['scene_name']}" != all_scenes[0]
                      and len(named_in(q)[1]) >= 2 and len(named_in(q)[0].objects) > len(named_in(q)[1]))
        q = qs[target]
        browser.navigate(f"{served}#q={target}")
        browser.wait_for(f"!!document.querySelector('#questions tbody tr.selected[data-id=\"{target}\"]')")
        assert browser.evaluate("document.querySelector('#scenes li.active').dataset.key") == \
            f"{q['dataset']}/{q['scene_name']}"
        assert q["scene_name"] in browser.evaluate("document.querySelector('#title').textContent")

        # Its objects are marked on the floor plan: every box of each named category, and no other.
        scene, named = named_in(q)
        marked = browser.evaluate("[...document.querySelectorAll('#plan svg .box.named')].map(b => b.dataset.category)")
        assert sorted(marked) == sorted(c for c in named for _ in scene.objects[c])
        assert browser.evaluate("document.querySelectorAll('#plan svg .box').length") == \
            sum(len(b) for b in scene.objects.values())
        assert browser.evaluate("getComputedStyle(document.querySelector('#plan svg .box.named')).fill") != \
            browser.evaluate("getComputedStyle(document.querySelector('#plan svg .box:not(.named)')).fill")

        # Labels: the named objects' labels are shown, and no two visible labels overlap.
        labels = browser.evaluate("""[...document.querySelectorAll('#plan svg text.label')]
            .filter(t => getComputedStyle(t).display !== 'none')
            .map(t => { const r = t.getBoundingClientRect();
                        return {k: t.dataset.k, named: t.classList.contains('named'), text: t.textContent,
                                x: r.x, y: r.y, w: r.width, h: r.height}; })""")
        assert {lab["text"] for lab in labels if lab["named"]} == {str(o) for o in q["objects"]}
        for i, a in enumerate(labels):
            assert a["w"] > 0 and a["h"] > 0
            for b in labels[i + 1:]:
                apart = (a["x"] + a["w"] <= b["x"] + 0.5 or b["x"] + b["w"] <= a["x"] + 0.5
                         or a["y"] + a["h"] <= b["y"] + 0.5 or b["y"] + b["h"] <= a["y"] + 0.5)
                assert apart, f"labels overlap: {a} {b}"
        if SCREENSHOT:
            _save_small(browser.screenshot(tmp_path / "shot.png"), Path(SCREENSHOT))

        # Choosing another question (a real click on its row) updates the URL and the marks.
        other = browser.evaluate(f"[...document.querySelectorAll('#questions tbody tr')].map(r => Number(r.dataset.id))"
                                 f".find(i => i !== {target})")
        browser.click(f"#questions tbody tr[data-id='{other}'] td:nth-child(3)")
        browser.wait_for(f"location.hash.includes('q={other}')")
        browser.wait_for(f"document.querySelector('#questions tbody tr.selected').dataset.id === '{other}'")
        # Choosing a scene (a real click) names it in the URL and forgets the question.
        second = next(k for k in all_scenes if k != f"{q['dataset']}/{q['scene_name']}")
        browser.click(f"#scenes li[data-key='{second}']")
        browser.wait_for(f"document.querySelector('#scenes li.active').dataset.key === '{second}'")
        assert "q=" not in browser.evaluate("location.hash")
        assert browser.evaluate("document.querySelectorAll('#plan svg .box.named').length") == 0
        # Back goes to the question chosen before.
        browser.evaluate("history.back()")
        browser.wait_for(f"!!document.querySelector('#questions tbody tr.selected') && "
                         f"document.querySelector('#questions tbody tr.selected').dataset.id === '{other}'")
    finally:
        browser.close()


def _save_small(png: Path, out: Path) -> None:
    """The docs copy of a screenshot, in 256 colours (well under 300 KB)."""
    from PIL import Image

    out.parent.mkdir(parents=True, exist_ok=True)
    Image.open(png).convert("RGB").quantize(256, method=Image.Quantize.FASTOCTREE).save(out, optimize=True)


OVERLAPS = """(() => { let n = 0; const r = ts => ts.map(t => t.getBoundingClientRect());
  const boxes = r(LABELS);
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
    const a = boxes[i], b = boxes[j];
    if (a.x + a.width > b.x + 0.5 && b.x + b.width > a.x + 0.5 && a.y + a.height > b.y + 0.5 && b.y + b.height > a.y + 0.5)
      n++; }
  return n; })()"""


@needs_chromium
@pytest.mark.filterwarnings("ignore::UserWarning")  # the released meta info's known quirks (MetaWarning)
def test_labels_of_a_crowded_real_scan_do_not_overlap(vsibench_dir, tmp_path):
    """ScanNet's scene0645_00 (43 objects, from the VSI-Bench meta info): labels at the boxes' centres
    overlap; the page moves or hides them so that none of those shown do, and every box keeps its title."""
    from vsgrpo.browse import make_server, url_of

    (tmp_path / "root" / "meta").mkdir(parents=True)
    shutil.copy(vsibench_dir / "scannet_meta_info_val.json", tmp_path / "root" / "meta")
    srv = make_server(tmp_path / "root", port=0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    browser = Chromium(tmp_path / "profile")
    try:
        browser.navigate(url_of(srv) + "#dataset=scannet&scene=scene0645_00")
        browser.wait_for("document.querySelectorAll('#plan svg text.label').length > 0")
        assert browser.evaluate("document.querySelectorAll('#plan svg .box').length") == 43
        assert browser.evaluate("document.querySelectorAll('#plan svg .box title').length") == 43
        shown = "[...document.querySelectorAll('#plan svg text.label')].filter(t => t.style.display !== 'none')"
        n_shown = browser.evaluate(shown + ".length")
        assert n_shown >= 30  # most fit once moved (42 of 43 with Debian's chromium and fonts)
        assert browser.evaluate(OVERLAPS.replace("LABELS", shown)) == 0
        # The premise: at the boxes' centres (where the plan puts them) the labels do overlap.
        browser.evaluate("document.querySelectorAll('#plan svg text.label').forEach(t => {"
                         " t.setAttribute('x', t.dataset.x); t.setAttribute('y', t.dataset.y); t.style.display = ''; })")
        assert browser.evaluate(OVERLAPS.replace("LABELS", "[...document.querySelectorAll('#plan svg text.label')]")) > 5
    finally:
        browser.close()
        srv.shutdown()
        srv.server_close()


def _cli_error(capsys, *argv) -> str:
    assert main(["data", "browse", *map(str, argv), "--port", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("vsgrpo: error: "), err
    return err[0]


def test_a_folder_that_is_not_an_eval_run_is_one_error_line(world, capsys):
    root, qfile = world["root"], world["qfile"]
    assert "is not an eval run folder" in _cli_error(capsys, root, "--questions", qfile, "--run", root / "meta")
    assert "folder not found" in _cli_error(capsys, root, "--questions", qfile, "--run", world["base"] / "nope")


def test_a_run_on_other_questions_is_one_error_line_and_a_partial_one_a_notice(world, capsys, tmp_path):
    from vsgrpo.browse import BrowseData

    root, qfile = world["root"], world["qfile"]
    # Another question set: the same file shape, ids that match nothing here.
    other = tmp_path / "other"
    other.mkdir()
    lines = [dict(s, id=s["id"] + 10_000) for s in world["samples"]["base"].values()]
    (other / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in lines))
    (other / "config.json").write_text(json.dumps({"questions": "/elsewhere/questions.parquet"}))
    err = _cli_error(capsys, root, "--questions", qfile, "--run", other)
    assert "none of its" in err and "/elsewhere/questions.parquet" in err

    # Partly another set: 3 ids point at other questions (another scene), the rest match.
    partial = tmp_path / "partial"
    shutil.copytree(world["runs"][0], partial)
    rows = list(world["samples"]["base"].values())
    changed = [dict(s, scene_name="not-this-scene") for s in rows[:3]] + rows[3:]
    (partial / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in changed))
    data = BrowseData(root, qfile, [partial])
    notes = data.notices()
    assert any("3 of" in n and "match no question" in n for n in notes), notes
    assert len(data.runs[0].samples) == len(rows) - 3


def test_questions_default_to_the_ones_the_run_answered(world):
    from vsgrpo.browse import BrowseData

    data = BrowseData(world["root"], None, world["runs"])
    assert data.questions_path == world["qfile"] and len(data.rows) == len(world["questions"])
    assert [r.name for r in data.runs] == ["base", "tuned"] and not data.notices()


def test_quickstart_eval_folders_are_runs_named_apart(world, tmp_path):
    """A quickstart's eval/<stage> folders are `eval run` outputs; runs with the same folder name are told apart
    by their parents."""
    from vsgrpo.browse import BrowseData

    folders = [tmp_path / "quickstart" / "eval" / "base", tmp_path / "quickstart" / "eval" / "grpo",
               tmp_path / "other" / "eval" / "grpo"]
    for src, dst in zip([*world["runs"], world["runs"][1]], folders):
        shutil.copytree(src, dst)
    data = BrowseData(world["root"], world["qfile"], folders)
    assert [r.name for r in data.runs] == ["base", "quickstart/eval/grpo", "other/eval/grpo"]
    assert [len(r.samples) for r in data.runs] == [len(world["questions"])] * 3


def test_the_command_serves_the_runs_and_prints_the_notice(world, tmp_path):
    """`vsgrpo data browse ROOT --run A --run B` as a real process: a run matching in part is one note line on
    stderr, then the address; the page's API lists both runs and the notice."""
    import subprocess
    import sys
    import urllib.request

    partial = tmp_path / "partial"
    shutil.copytree(world["runs"][1], partial)
    rows = list(world["samples"]["tuned"].values())
    (partial / "samples.jsonl").write_text("".join(json.dumps(dict(s, scene_name="elsewhere") if i < 2 else s) + "\n"
                                                   for i, s in enumerate(rows)))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen([sys.executable, "-m", "vsgrpo.cli", "data", "browse", str(world["root"]), "--questions",
                             str(world["qfile"]), "--run", str(world["runs"][0]), "--run", str(partial), "--port", "0"],
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        note = proc.stderr.readline()
        assert note.startswith("vsgrpo: note: run partial: 2 of ") and "match no question" in note
        assert proc.stderr.readline().startswith("vsgrpo: note: run partial answered")
        banner = proc.stderr.readline()
        url = banner.split(" at ", 1)[1].split(" ", 1)[0]
        with urllib.request.urlopen(url + "api/scenes", timeout=30) as r:
            info = json.loads(r.read())
        assert [r["name"] for r in info["runs"]] == ["base", "partial"]
        assert [r["answered"] for r in info["runs"]] == [len(rows), len(rows) - 2]
        assert info["notices"] and "2 of" in info["notices"][0]
        assert len(info["index"]) == len(world["questions"])
    finally:
        proc.terminate()
        proc.wait(timeout=30)
