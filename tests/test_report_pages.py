"""Reports people debug with (issue 25, item 5), on real outputs: a reduced `vsgrpo quickstart` (real
rendering, tiny model, SFT, GRPO with TRL's own metrics.jsonl, evaluations) and a real `eval run`.

- The GRPO section plots zero-spread groups, entropy, gradient norm and clip ratio under the names
  TRL 1.16 logs them; keys a run did not log get no panel (and no plot at all when none is there).
- report.html fits a 1280 x 900 window in real headless Chromium: no table pushes the page wider.
- `eval run`'s chart draws the chance rows (random, frequency) as lines.

``VSGRPO_REPORT_SCREENSHOTS=docs/images`` refreshes the docs' screenshots from these runs.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from browser import Chromium, chromium_binary
from vsgrpo.quickstart.config import PAPER_TASKS
from vsgrpo.quickstart.report import GRPO_HEALTH, plot_lines, read_metrics

pytestmark = pytest.mark.slow
SCREENSHOTS = os.environ.get("VSGRPO_REPORT_SCREENSHOTS")  # e.g. docs/images, to refresh the docs
WIDTH, HEIGHT = 1280, 900
# the paper's eight tasks (so the Data table has all its columns), a 2-step warm-up, two GRPO steps
SMALL = ["--scenes", "2", "--heldout-scenes", "1", "--warmup-steps", "2", "--steps", "2", "--eval-limit", "12",
         "--per-scene", "2", "--tasks", ",".join(PAPER_TASKS)]


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report-pages") / "qs"
    proc = subprocess.run([sys.executable, "-m", "vsgrpo.cli", "quickstart", "--out", str(out), *SMALL],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if chromium_binary() is None:
        pytest.fail("chromium is not installed (scripts/setup.sh installs it)")
    b = Chromium(tmp_path_factory.mktemp("chromium-profile"))
    b.send("Emulation.setDeviceMetricsOverride", width=WIDTH, height=HEIGHT, deviceScaleFactor=1, mobile=False)
    yield b
    b.close()


def _health_keys() -> list[str]:
    return [k for key, _ in GRPO_HEALTH for k in ((key,) if isinstance(key, str) else key)]


def test_grpo_section_plots_what_trl_logs(quickstart, tmp_path):
    rows = read_metrics(quickstart / "train" / "grpo" / "metrics.jsonl")
    assert rows
    # The names are TRL's own: every key the report plots is in a real GRPO run's log.
    logged = set().union(*rows)
    assert set(_health_keys()) <= logged, sorted(set(_health_keys()) - logged)
    md = (quickstart / "report.md").read_text()
    grpo = md.split("## Training: grpo", 1)[1].split("\n## ", 1)[0]
    assert "grpo_health.png" in grpo and "Groups with zero reward spread" in grpo
    assert "health" not in md.split("## Training: sft", 1)[1].split("\n## ", 1)[0]  # SFT logs no GRPO health
    assert _png_size(quickstart / "report" / "grpo_health.png")[0] == round(3.8 * 4 * 110)  # four panels

    # A run that logged only some keys: only their panels; none of them: no plot, no empty image.
    only = [{"step": r["step"], "entropy": r["entropy"], "clip_ratio/high_mean": r["clip_ratio/high_mean"]}
            for r in rows]
    path = plot_lines(only, GRPO_HEALTH, tmp_path / "two.png", title="t")
    assert _png_size(path)[0] == round(3.8 * 2 * 110)
    assert plot_lines([{"step": 1, "loss": 0.1}], GRPO_HEALTH, tmp_path / "none.png", title="t") is None
    assert not (tmp_path / "none.png").exists()


def test_report_html_fits_1280_px_in_chromium(quickstart, browser):
    browser.navigate((quickstart / "report.html").as_uri())
    page = browser.evaluate("""(() => {
        const doc = document.documentElement;
        const tables = [...document.querySelectorAll('table')].map(t => {
            const box = t.parentElement.getBoundingClientRect();
            return {right: box.right, scroll: t.parentElement.scrollWidth, client: t.parentElement.clientWidth,
                    head: t.querySelector('th').textContent};
        });
        return {scrollWidth: doc.scrollWidth, clientWidth: doc.clientWidth, tables};
    })()""")
    assert page["clientWidth"] == WIDTH
    names = [t["head"] for t in page["tables"]]
    assert "split" in names and "setting" in names, names  # the Data and Settings tables are there
    assert page["scrollWidth"] <= WIDTH, page
    for t in page["tables"]:
        assert t["right"] <= WIDTH, t  # every table (its scrolling box) ends inside the window
    if SCREENSHOTS:
        from PIL import Image

        browser.evaluate("document.querySelector('img[alt*=\"zero-spread\"]').scrollIntoView({block: 'start'}); "
                         "window.scrollBy(0, -40)")
        shot = browser.screenshot(Path(SCREENSHOTS) / "quickstart_report_grpo.png")
        Image.open(shot).convert("P", palette=Image.ADAPTIVE).save(shot, optimize=True)  # small for the repo


def test_eval_run_chart_draws_the_chance_rows(quickstart, tmp_path):
    """The quickstart's base evaluation is an `eval run` folder: its chart, drawn with the chance lines,
    differs from the same chart without them (black line segments and their legend entries)."""
    import numpy as np
    from PIL import Image

    from vsgrpo.chance import table_rows
    from vsgrpo.eval.report import bar_chart, chance_lines, load_baselines, load_run, run_label

    run = quickstart / "eval" / "base"
    lines = chance_lines(table_rows(load_baselines(run)))
    assert list(lines) == ["chance (random)", "chance (frequency)"]
    plain = bar_chart({run_label(run): load_run(run)}, tmp_path / "plain.png", title=f"VSI-Bench: {run_label(run)}")
    again = bar_chart({run_label(run): load_run(run)}, tmp_path / "again.png", title=f"VSI-Bench: {run_label(run)}",
                      reference=lines)
    drawn, bare, redrawn = (np.asarray(Image.open(p).convert("L")) for p in (run / "results.png", plain, again))
    assert drawn.shape == bare.shape
    assert (drawn != bare).sum() > 200  # the dashed and dotted lines and their legend entries
    assert (drawn == redrawn).all()  # exactly the chance rows of the run's own baselines.json
    # `eval report` of runs on one question set draws the same lines; its own chart without them differs
    from vsgrpo.eval.report import compare_runs

    compare_runs([run, quickstart / "eval" / "sft"], out=tmp_path / "cmp")
    runs = {"base": load_run(run), "sft": load_run(quickstart / "eval" / "sft")}
    with_lines = np.asarray(Image.open(bar_chart(runs, tmp_path / "l.png", reference=lines)).convert("L"))
    without = np.asarray(Image.open(bar_chart(runs, tmp_path / "n.png")).convert("L"))
    report = np.asarray(Image.open(tmp_path / "cmp" / "report.png").convert("L"))
    assert (report == with_lines).all() and (report != without).sum() > 200
    if SCREENSHOTS:
        Image.open(run / "results.png").convert("P", palette=Image.ADAPTIVE).save(
            Path(SCREENSHOTS) / "eval_report.png", optimize=True)
