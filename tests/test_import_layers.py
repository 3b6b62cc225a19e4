"""The package's import graph, read from source with ``ast`` (nothing heavy is imported): layers and cycles.

- The deployed side (``oftsr_edge.runtime*``) never imports the export, train or evaluation side: a Jetson installs
  the runtime alone, and one import back up the layers would drag torch/onnx code onto it.
- No two ``oftsr_edge`` modules import each other, directly or around a loop. Imports inside functions count too:
  a lazy import hides a cycle from start-up but not from the reader, and it still runs on the first call.
  Imports under ``if TYPE_CHECKING:`` never run, so they count for the layers but not for cycles.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

import oftsr_edge

PACKAGE = "oftsr_edge"
ROOT = Path(oftsr_edge.__file__).resolve().parent
DEPLOYED = f"{PACKAGE}.runtime"
FORBIDDEN_FOR_DEPLOYED = tuple(f"{PACKAGE}.{side}" for side in ("export", "train", "evaluation"))


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int
    type_checking_only: bool


def module_files() -> dict[str, Path]:
    """Every module of the package on disk, by dotted name (a package is its ``__init__``)."""
    modules = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, guarded: bool = False) -> list[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement anywhere in ``tree`` (functions included), flagged when under TYPE_CHECKING."""
    found: list[tuple[ast.Import | ast.ImportFrom, bool]] = []
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append((node, guarded))
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                found += _imports(ast.Module(body=[child], type_ignores=[]), True)
            for child in node.orelse:
                found += _imports(ast.Module(body=[child], type_ignores=[]), guarded)
        else:
            found += _imports(node, guarded)
    return found


def _absolute(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module a ``from ... import`` names, relative levels resolved against ``module``."""
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def import_graph(modules: dict[str, Path]) -> list[Edge]:
    """Edges between package modules. ``from pkg import name`` points at ``pkg.name`` when that is a module."""
    edges = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for node, guarded in _imports(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = _absolute(module, is_package, node)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for target in targets:
                if target == PACKAGE or target.startswith(f"{PACKAGE}."):
                    edges.append(Edge(module, target, node.lineno, guarded))
    return edges


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle path (first node repeated at the end) per strongly connected component that has a loop."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(node: str) -> None:  # Tarjan's algorithm; the package graph is small, recursion is fine
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return [_cycle_through(component, graph) for component in components]


def _cycle_through(component: list[str], graph: dict[str, set[str]]) -> list[str]:
    """A shortest loop from the component's first module back to itself (breadth-first inside the component)."""
    members, start = set(component), component[0]
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph.get(node, ()) & members):
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if nxt not in parents:
                    parents[nxt] = node
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"no loop found in component {component}")


@pytest.fixture(scope="module")
def edges() -> list[Edge]:
    return import_graph(module_files())


def test_the_graph_is_read(edges: list[Edge]) -> None:
    """Guards the two checks below from passing on an empty or mis-resolved graph."""
    modules = module_files()
    assert len(modules) > 40 and f"{PACKAGE}.runtime.backends.tensorrt.builder" in modules
    pairs = {(e.source, e.target) for e in edges}
    tensorrt = f"{PACKAGE}.runtime.backends.tensorrt"
    assert (f"{tensorrt}.builder", f"{tensorrt}.engine_cache") in pairs  # module level
    assert (f"{tensorrt}.commands", f"{tensorrt}.builder") in pairs  # inside a function
    assert all(e.target in modules for e in edges if e.target.startswith(f"{PACKAGE}."))


def test_the_runtime_never_imports_export_train_or_evaluation(edges: list[Edge]) -> None:
    wrong = [
        f"{e.source} (line {e.line}) imports {e.target}"
        for e in edges
        if (e.source == DEPLOYED or e.source.startswith(f"{DEPLOYED}."))
        and any(e.target == side or e.target.startswith(f"{side}.") for side in FORBIDDEN_FOR_DEPLOYED)
    ]
    assert not wrong, "the deployed side imports back up the layers:\n" + "\n".join(wrong)


def test_no_import_cycles(edges: list[Edge]) -> None:
    graph: dict[str, set[str]] = {}
    for e in edges:
        if not e.type_checking_only and e.source != e.target:
            graph.setdefault(e.source, set()).add(e.target)
    cycles = find_cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_cycle_finder_reports_the_loop() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert find_cycles(graph) == [["a", "b", "c", "a"], ["e", "e"]]
    assert find_cycles({"a": {"b"}, "b": {"c"}}) == []
