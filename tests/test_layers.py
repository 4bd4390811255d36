"""The package's layers: no import cycle between modules, and no import from a lower layer up to a
higher one, counting imports at module level *and* inside functions (a lazy import is still a
dependency; it only hides a cycle until the function runs).

Every module's imports are read with ``ast`` (nothing is imported). A unit is ``vsgrpo.X``: a
top-level module or sub-package; a unit may import units of its own layer or lower ones. Imports
within one unit are free (but still checked for cycles). A new module or sub-package must be
placed in :data:`LAYERS`, so the order stays a decision, not an accident.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "vsgrpo"

# Lowest first. A unit may import units of its own layer or of the layers before it.
LAYERS = [
    {"__init__", "errors", "progress", "hub", "plugins"},                                  # no vsgrpo imports beyond these
    {"io", "fields", "prompts", "question_types"},                         # crash-safe output, flags, facts
    {"answers", "metrics", "scene", "scene_files", "geometry", "navigation", "video", "flags", "presets",
     "questions_parquet", "localweb", "chance"},                                     # shared truth, scenes, files
    {"questions", "rewards", "data_configs"},                                              # question generators; rewards
    {"dataset", "audit", "sources", "models"},                                      # build/verify; ingest; model families
    {"eval", "train"},                                                     # evaluation and training
    {"importers", "export", "browse", "browse_page", "browse_runs", "quickstart", "annotate", "annotate_page", "split",
     "fetch", "run_summary"},  # tools built on both
    {"commands", "cli"},                                                   # the command line
]
# Upward imports still to be removed, each with the change that removes it. Keep this list empty:
# a new entry needs a reason and an owner.
KNOWN_UPWARD: set[tuple[str, str]] = set()


def _module_name(src: Path, path: Path) -> str:
    parts = list(path.relative_to(src.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _targets(modules: dict, module: str, is_pkg: bool, node: ast.AST) -> list[str]:
    """The package's modules an import statement loads (``from pkg import mod`` -> ``pkg.mod``)."""
    top = module.split(".")[0]

    def existing(name: str) -> str:
        while name not in modules and "." in name:
            name = name.rsplit(".", 1)[0]
        return name

    if isinstance(node, ast.Import):
        return [existing(a.name) for a in node.names if a.name.split(".")[0] == top]
    if node.level == 0:
        if (node.module or "").split(".")[0] != top:
            return []
        base = node.module
    else:
        parts = module.split(".") if is_pkg else module.split(".")[:-1]
        parts = parts[: len(parts) - (node.level - 1)]
        base = ".".join(parts + ([node.module] if node.module else []))
    return [existing(f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base) for a in node.names]


def import_graph(src: Path = SRC) -> dict[str, set[str]]:
    """``{module: {modules it imports}}`` over every import statement of the package at ``src``, at any depth."""
    modules = {_module_name(src, p): p for p in src.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                targets = _targets(modules, module, path.name == "__init__.py", node)
                graph[module] |= {t for t in targets if t != module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def upward_imports(graph: dict[str, set[str]], layers: list[set[str]] = LAYERS) -> set[tuple[str, str]]:
    layer = {unit: i for i, units in enumerate(layers) for unit in units}
    return {(a, b) for a, targets in graph.items() for b in targets if layer[_unit(b)] > layer[_unit(a)]}


def test_every_unit_has_a_layer():
    placed = set().union(*LAYERS)
    assert {_unit(m) for m in import_graph()} - placed == set(), "place new modules in LAYERS"


def test_no_import_cycle():
    assert cycles(import_graph()) == []


def test_no_import_from_a_lower_layer_up():
    assert upward_imports(import_graph()) - KNOWN_UPWARD == set()


def test_scoring_imports_no_question_generator():
    """metrics (scoring) and rewards reach only the light table of question types, so the verl reward copy
    stays small and standard-library + numpy."""
    graph = import_graph()
    seen, todo = set(), ["vsgrpo.rewards"]
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo += graph[m]
    assert seen == {"vsgrpo.rewards", "vsgrpo.metrics", "vsgrpo.answers", "vsgrpo.prompts", "vsgrpo.errors",
                    "vsgrpo.question_types"}


@pytest.mark.parametrize("source, problem", [
    ({"a": "from . import b\n", "b": "def f():\n    from . import a\n"}, "cycle"),
    ({"a": "def f():\n    from .b import g\n", "b": "x = 1\n"}, "upward"),
])
def test_the_checks_fail_on_a_new_cycle_or_upward_import(tmp_path, source, problem):
    """The same checks on a toy package: a cycle through a lazy import, and a lazy upward import."""
    pkg = tmp_path / "toy"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for name, text in source.items():
        (pkg / f"{name}.py").write_text(text)
    graph = import_graph(pkg)
    if problem == "cycle":
        assert cycles(graph) == [["toy.a", "toy.b"]]
    else:
        assert cycles(graph) == [] and upward_imports(graph, [{"__init__", "a"}, {"b"}]) == {("toy.a", "toy.b")}
