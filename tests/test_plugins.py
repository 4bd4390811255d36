"""Extension points as docs/architecture.md describes them: a scan source and an eval backend added
from a package of one's own (a temp folder on sys.path with its entry points), with no edit to vsgrpo.

The package declares ``[vsgrpo.sources] toyscan = toyplug.toy_source`` and ``[vsgrpo.backends]
echo = toyplug.echo_backend`` in its ``entry_points.txt``, as ``pip install`` of a package with
``[project.entry-points."vsgrpo.sources"]`` writes it. Then ``vsgrpo data ingest --source toyscan``
and ``vsgrpo eval run --backend echo`` work, and a module that breaks a contract fails in one line.
"""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pandas as pd
import pytest

from ingest_fixtures import FixtureRoom
from vsgrpo.cli import main

TOY_SOURCE = '''
"""A toy scan format: ROOT/<scene>/scan.npz (vertices) + boxes.json ([{label, centroid, extents}])."""
import json
from pathlib import Path

import numpy as np

from vsgrpo.sources import Source
from vsgrpo.sources.assemble import Instance, RawScene, SceneLoader

SOURCE = Source("toyscan", vocabulary=("table", "chair"), remap={"desk": "table"})


def list_scenes(root: Path) -> list[str]:
    return sorted(p.name for p in Path(root).iterdir() if (p / "boxes.json").exists())


class Loader(SceneLoader):
    def load(self, name):
        d = self.root / name
        verts = np.load(d / "scan.npz")["vertices"]
        instances = [Instance(cat, None, box=(np.array(b["centroid"]), np.array(b["extents"]), np.eye(3)))
                     for b in json.loads((d / "boxes.json").read_text())
                     if (cat := self.labels.category(b["label"])) is not None]
        return RawScene(name, SOURCE.name, verts, None, instances)
'''

ECHO_BACKEND = '''
"""A toy backend: answers every question with the first option's letter, or "2"."""


class EchoBackend:
    name = "echo"
    options = ("dtype",)

    def __init__(self, model, **options):
        self.model, self.options = model, options

    def generate(self, requests, *, max_new_tokens):
        return ["A" if "Options:" in r.prompt else "2" for r in requests]

    def describe(self):
        return {"backend": self.name, "model": self.model, **self.options}

    def close(self):
        pass


BACKEND = EchoBackend
'''


def _plugin_package(root, entry_points: str, package: str = "toyplug", **modules: str):
    pkg = root / package
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    for name, text in modules.items():
        (pkg / f"{name}.py").write_text(textwrap.dedent(text))
    info = root / f"{package}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))


@pytest.fixture
def plugins(tmp_path, monkeypatch):
    root = tmp_path / "site"
    _plugin_package(root, """
        [vsgrpo.sources]
        toyscan = toyplug.toy_source

        [vsgrpo.backends]
        echo = toyplug.echo_backend
        """, toy_source=TOY_SOURCE, echo_backend=ECHO_BACKEND)
    monkeypatch.syspath_prepend(str(root))
    yield root
    import vsgrpo.eval.backends as backends
    import vsgrpo.sources as sources

    sources._PLUGINS.pop("toyscan", None)
    backends._PLUGINS.pop("echo", None)


def test_a_source_from_another_package_ingests_and_builds(plugins, tmp_path):
    from vsgrpo.sources import source_names

    room = FixtureRoom()
    raw = tmp_path / "raw" / "lab_1"
    raw.mkdir(parents=True)
    np.savez(raw / "scan.npz", vertices=room.vertices)
    (raw / "boxes.json").write_text(json.dumps([
        {"label": ob.label, "centroid": list(ob.centroid), "extents": list(ob.extents)} for ob in room.objects]))
    out = tmp_path / "root"
    assert main(["data", "ingest", "--source", "toyscan", "--root", str(tmp_path / "raw"), "--out", str(out)]) == 0
    assert "toyscan" in source_names()
    meta = json.loads((out / "meta" / "toyscan_meta_info.json").read_text())["lab_1"]
    # Its own category table: desk -> table (remap), tv dropped (not in its vocabulary).
    assert meta["object_counts"] == {"table": 1, "chair": 2} and meta["dataset"] == "toyscan"
    assert main(["data", "build", "--meta", str(out / "meta"), "--out", str(tmp_path / "qs"),
                 "--tasks", "object_counting,room_size_estimation"]) == 0
    df = pd.read_parquet(tmp_path / "qs" / "questions.parquet")
    assert set(df["dataset"]) == {"toyscan"} and "room_size_estimation" in set(df["question_type"])


def test_a_backend_from_another_package_runs_eval(plugins, tmp_path, vsibench_dir):
    from vsgrpo.eval.backends import backend_names, make_backend

    df = pd.read_parquet(vsibench_dir / "test-dev.parquet")
    sub = pd.concat([df[df.question_type == t].head(1) for t in ("object_counting", "object_rel_distance")])
    sub.to_parquet(tmp_path / "q.parquet")
    out = tmp_path / "run"
    assert main(["eval", "run", "--backend", "echo", "--model", "m", "--questions", str(tmp_path / "q.parquet"),
                 "--videos", str(tmp_path), "--out", str(out), "--blind", "--dtype", "bfloat16"]) == 0
    assert "echo" in backend_names()
    config = json.loads((out / "config.json").read_text())
    assert config["backend_info"] == {"backend": "echo", "model": "m", "dtype": "bfloat16"}  # only its options
    rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert sorted(r["prediction"] for r in rows) == ["2", "A"]
    assert make_backend("echo", "x").describe()["model"] == "x"


@pytest.mark.parametrize("kind, module, text, message", [
    ("sources", "bad_source", "SOURCE = None\n", "defines no SOURCE"),
    ("sources", "bad_source", "from vsgrpo.sources import Source\nSOURCE = Source('badscan', None)\n"
                              "def list_scenes(root):\n    return []\n", "lacks Loader"),
    ("backends", "bad_backend", "class B:\n    name = 'bad'\n    def generate(self, r, *, max_new_tokens):\n"
                                "        return []\nBACKEND = B\n", "lacks describe()"),
    ("backends", "bad_backend", "class B:\n    name = 'bad'\n    options = ('colour',)\n"
                                "    def generate(self, r, *, max_new_tokens):\n        return []\n"
                                "    def describe(self):\n        return {}\nBACKEND = B\n", "unknown option(s) colour"),
])
def test_a_broken_contract_fails_in_one_line(tmp_path, monkeypatch, capsys, kind, module, text, message):
    root = tmp_path / "site"
    package = f"badplug_{tmp_path.name}"  # a package name of its own: an earlier one stays in sys.modules
    _plugin_package(root, f"[vsgrpo.{kind}]\nbad = {package}.{module}\n", package=package, **{module: text})
    monkeypatch.syspath_prepend(str(root))
    argv = (["data", "ingest", "--source", "badscan", "--root", str(tmp_path), "--out", str(tmp_path / "o")]
            if kind == "sources" else
            ["eval", "run", "--backend", "hf", "--model", "m", "--questions", str(tmp_path / "q.parquet"),
             "--videos", str(tmp_path), "--out", str(tmp_path / "o")])
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("vsgrpo: error: ") and message in err[0], err


def test_discover_scans_the_package_then_the_entry_points(tmp_path, monkeypatch):
    """The one discovery loop behind the three registries: module order, helpers, sub-packages, entry points."""
    from vsgrpo.errors import VsgrpoError
    from vsgrpo.plugins import discover

    root = tmp_path / "site"
    package = f"kinds_{tmp_path.name}"
    _plugin_package(root, f"[vsgrpo.test_kinds]\nextra = {package}_ext.more\nseen = {package}_ext.more\n",
                    package=package, b_two="THING = 'two'\n", a_one="THING = 'one'\n", base="HELPER = 1\n",
                    _private="HELPER = 1\n", helper="HELPER = 1\n")
    (root / package / "sub").mkdir()
    (root / package / "sub" / "__init__.py").write_text("HELPER = 1\n")
    (root / f"{package}_ext").mkdir()
    (root / f"{package}_ext" / "__init__.py").write_text("")
    (root / f"{package}_ext" / "more.py").write_text("THING = 'three'\n")
    monkeypatch.syspath_prepend(str(root))

    found: list[str] = []
    discover(package, "THING", "vsgrpo.test_kinds", lambda m: found.append(m.THING), required=False, known={"seen"})
    assert found == ["one", "two", "three"]  # name order, helpers skipped, the known entry point skipped
    found.clear()
    discover(package, "THING", "vsgrpo.test_kinds", lambda m: found.append(m.THING), required=False,
             scan_package=False)
    assert found == ["three", "three"]
    with pytest.raises(VsgrpoError, match=rf"^{package}\.helper defines no THING or OTHER$"):
        discover(package, ("THING", "OTHER"), None, lambda m: None)  # every module must be a plug-in here
