"""The resumable stage runner on small stages writing real files: skipping, key changes, deleted outputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from vsgrpo.quickstart.engine import Engine, digest


def _pipeline(out: Path, calls: list[str], *, n: int = 1) -> Engine:
    """a -> b -> c, plus d after nothing; each stage writes one file into the folder it owns."""
    engine = Engine(out, marker_dir=".run", log_prefix="test")

    def stage(name: str, after: tuple[str, ...], key: dict) -> None:
        def run() -> dict:
            calls.append(name)
            d = out / name
            d.mkdir(parents=True, exist_ok=True)
            upstream = "".join((out / a / "value.txt").read_text() for a in after)
            (d / "value.txt").write_text(upstream + name)
            return {"wrote": name}

        engine.add(name, f"stage {name}", key, run, after=after, owns=(out / name,))

    stage("a", (), {"n": n})
    stage("b", ("a",), {})
    stage("c", ("b",), {})
    stage("d", (), {})
    return engine


def test_rerun_skips_finished_stages(tmp_path):
    calls: list[str] = []
    _pipeline(tmp_path, calls).run()
    assert calls == ["a", "b", "c", "d"]
    calls.clear()
    timings = _pipeline(tmp_path, calls).run()
    assert calls == []
    assert all(t["reused"] for t in timings)
    assert (tmp_path / "c" / "value.txt").read_text() == "abc"


def test_changed_key_redoes_the_stage_and_everything_after_it(tmp_path):
    calls: list[str] = []
    _pipeline(tmp_path, calls).run()
    calls.clear()
    _pipeline(tmp_path, calls, n=2).run()
    assert calls == ["a", "b", "c"]


def test_deleted_output_is_redone_with_everything_downstream(tmp_path, capsys):
    calls: list[str] = []
    _pipeline(tmp_path, calls).run()
    calls.clear()
    shutil.rmtree(tmp_path / "b")
    timings = _pipeline(tmp_path, calls).run()
    assert calls == ["b", "c"]  # a and d do not depend on b
    assert {t["name"]: t["reused"] for t in timings} == {"a": True, "b": False, "c": False, "d": True}
    assert (tmp_path / "b" / "value.txt").read_text() == "ab"
    err = capsys.readouterr().err
    assert f"stage b: done earlier but {tmp_path / 'b'} is missing or empty, redone" in err
    # Once redone, a third run skips everything again.
    calls.clear()
    _pipeline(tmp_path, calls).run()
    assert calls == []


def test_emptied_output_counts_as_deleted(tmp_path):
    calls: list[str] = []
    _pipeline(tmp_path, calls).run()
    calls.clear()
    (tmp_path / "c" / "value.txt").unlink()  # the folder stays, empty
    _pipeline(tmp_path, calls).run()
    assert calls == ["c"]
    assert (tmp_path / "c" / "value.txt").read_text() == "abc"


def test_downstream_is_redone_even_if_interrupted_after_the_upstream_redo(tmp_path):
    """The redo is recorded in the upstream marker, not in memory: a run stopped between the redo of
    ``a`` and that of ``b`` still redoes ``b`` and ``c`` next time."""
    calls: list[str] = []
    _pipeline(tmp_path, calls).run()
    shutil.rmtree(tmp_path / "a")
    engine = _pipeline(tmp_path, calls)
    engine.stages[:] = engine.stages[:1]  # the run stops after stage a
    calls.clear()
    engine.run()
    assert calls == ["a"]
    calls.clear()
    _pipeline(tmp_path, calls).run()
    assert calls == ["b", "c"]


def test_markers_without_run_digest_still_match(tmp_path):
    """Markers written before run digests existed: the stages after them are not redone."""
    calls: list[str] = []
    _pipeline(tmp_path, calls).run()
    # Rewrite the markers as the older engine did: the key digest stood for the run, no "run" field.
    for name in ("a", "b", "c", "d"):
        m = tmp_path / ".run" / f"{name}.json"
        rec = json.loads(m.read_text())
        rec.pop("run")
        m.write_text(json.dumps(rec))
    engine = _pipeline(tmp_path, calls)
    # Recompute each marker key as the older engine would have (upstream key digests in "after").
    keys: dict[str, str] = {}
    for stage in engine.stages:
        engine.keys.update(keys)
        k = digest(stage.key())
        keys[stage.name] = k
        m = tmp_path / ".run" / f"{stage.name}.json"
        rec = json.loads(m.read_text())
        rec["key"] = k
        m.write_text(json.dumps(rec))
    calls.clear()
    _pipeline(tmp_path, calls).run()
    assert calls == []
