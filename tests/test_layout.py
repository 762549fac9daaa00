"""The layout holds: imports point one way (riverbed -> pipeline -> index), no module imports
another that imports it back, nothing in the product imports the tests, and no face reaches
past the store protocol."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import ROOT

PACKAGES = ("index", "pipeline", "riverbed")
MAY_IMPORT = {"index": {"index"}, "pipeline": {"index", "pipeline"}, "riverbed": set(PACKAGES)}


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def imports(path: Path, name: str, known: dict[str, Path]) -> Iterator[str]:
    """The product modules that `name` imports (under TYPE_CHECKING too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            targets = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known and "." in target:
                target = target.rpartition(".")[0]
            if target in known and target != name:
                yield target


def test_imports_point_one_way_and_close_no_circle() -> None:
    known = modules()
    graph = {name: set(imports(path, name, known)) for name, path in known.items()}
    for name, targets in graph.items():
        allowed = MAY_IMPORT[name.split(".")[0]]
        wrong = {target for target in targets if target.split(".")[0] not in allowed}
        assert not wrong, f"{name} imports {sorted(wrong)}"

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            current = todo.pop()
            if current == goal:
                return True
            if current not in seen:
                seen.add(current)
                todo.extend(graph[current])
        return False

    circles = [(a, b) for a, targets in graph.items() for b in targets if reaches(b, a)]
    assert not circles, f"import circles: {circles}"


def test_the_product_imports_nothing_from_the_tests() -> None:
    for name, path in modules().items():
        assert not re.search(r"^\s*(from|import) tests\b", path.read_text(), re.M), name


def test_nothing_outside_the_stores_probes_a_store() -> None:
    """Faces and the pipeline ask a store only what the Store protocol says."""
    probe = re.compile(r"\b(hasattr|getattr)\((self\.)?(store|_store|backend\.store)\b")
    for name, path in modules().items():
        if name.startswith("index.store"):
            continue
        assert not probe.search(path.read_text()), name
