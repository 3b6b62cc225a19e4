"""The package's import layers, checked by import-linter against the contracts in pyproject.toml
(``[tool.importlinter]``): the runtime imports no area above it and neither torch nor onnx, train never imports
evaluation or export, no sibling packages import each other around a loop. A grimp check below refuses module
cycles inside the runtime too, which the sibling contract skips while the runtime's sub-folders are not layers.

Imports inside functions count (a lazy import still runs on its first call); imports under ``if TYPE_CHECKING:``
never run and do not count.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# import-linter (and its graph library grimp) come with the [dev] extra; a base install skips as for any extra
grimp = pytest.importorskip("grimp")
pytest.importorskip("importlinter")

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = REPO / "pyproject.toml"


def lint_imports(package_parent: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` with this repository's contracts, on the ``oftsr_edge`` found first in ``package_parent``."""
    env = {**os.environ, "PYTHONPATH": str(package_parent), "COLUMNS": "200"}
    command = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    return subprocess.run(
        [sys.executable, "-c", command, "--no-cache", "--no-logo", str(PYPROJECT)],
        cwd=package_parent, env=env, capture_output=True, text=True, timeout=120, check=False,
    )


def test_the_contracts_hold() -> None:
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 3 kept, 0 broken." in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken", "named"),
    [
        ("runtime/__init__.py", "import oftsr_edge.evaluation.report", "areas build on the runtime",
         "oftsr_edge.runtime -> oftsr_edge.evaluation.report"),
        ("train/commands.py", "import oftsr_edge.evaluation.dataset", "areas build on the runtime",
         "oftsr_edge.train.commands -> oftsr_edge.evaluation.dataset"),
        ("runtime/io/colour.py", "import torch", "imports neither torch nor onnx", "oftsr_edge.runtime.io.colour -> torch"),
    ],
)
def test_an_upward_import_breaks_a_contract(tmp_path: Path, module: str, line: str, broken: str, named: str) -> None:
    """Guards the contracts from passing vacuously: a copy of the package with one import added fails them."""
    copy = tmp_path / "oftsr_edge"
    shutil.copytree(REPO / "oftsr_edge", copy, ignore=shutil.ignore_patterns("__pycache__", "*.onnx", "*.npz"))
    target = copy / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}  # added by the test\n", encoding="utf-8")
    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    broken_line = next(text for text in result.stdout.splitlines() if broken in text)
    assert " BROKEN" in broken_line, result.stdout
    assert named in result.stdout, result.stdout


def module_cycles(graph: grimp.ImportGraph, package: str) -> list[str]:
    """One line per import ``a -> b`` of ``package`` that is closed into a loop by a chain from ``b`` back to ``a``."""
    found = []
    for importer in sorted(graph.find_descendants(package) | {package}):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            if imported.startswith(f"{package}.") and imported != importer:
                back = graph.find_shortest_chain(importer=imported, imported=importer)
                if back:
                    found.append(" -> ".join((importer, *back)))
    return found


def test_no_module_imports_itself_around_a_loop() -> None:
    graph = grimp.build_graph("oftsr_edge", exclude_type_checking_imports=True)
    assert len(graph.modules) > 100
    # a lazy import (inside a function) is in the graph
    assert graph.direct_import_exists(importer="oftsr_edge.evaluation.methods", imported="oftsr_edge.train.checkpoint")
    cycles = module_cycles(graph, "oftsr_edge")
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_the_cycle_check_reports_the_loop() -> None:
    graph = grimp.ImportGraph()
    for importer, imported in [("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.c", "p.d")]:
        graph.add_import(importer=importer, imported=imported)
    graph.add_module("p")
    assert module_cycles(graph, "p") == ["p.a -> p.b -> p.c -> p.a", "p.b -> p.c -> p.a -> p.b",
                                         "p.c -> p.a -> p.b -> p.c"]
    graph.remove_import(importer="p.c", imported="p.a")
    assert module_cycles(graph, "p") == []
