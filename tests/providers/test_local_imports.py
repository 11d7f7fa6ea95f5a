"""The embedded model's modules import one way: the engine creates its batch workers and they call
back into it through ``jobs.WorkerEngine``, so no module of ``providers/local`` imports, even under
``TYPE_CHECKING``, one that imports it back."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "unigate.providers.local"
LOCAL = Path(__file__).resolve().parents[2] / "src" / "unigate" / "providers" / "local"


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in sorted(LOCAL.glob("*.py")):
        module = PACKAGE if path.stem == "__init__" else f"{PACKAGE}.{path.stem}"
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PACKAGE + "."):
                found.add(node.module)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith(PACKAGE + "."))
        graph[module] = found
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        for target in sorted(graph.get(module, ())):
            cycle = visit(target, [*path, module])
            if cycle is not None:
                return cycle
        done.add(module)
        return None

    for module in sorted(graph):
        cycle = visit(module, [])
        if cycle is not None:
            return cycle
    return None


def test_local_modules_import_one_way() -> None:
    graph = _graph()
    assert f"{PACKAGE}.batch" in graph[f"{PACKAGE}.engine"]  # the walk sees the package's imports
    cycle = _cycle(graph)
    assert cycle is None, "an import cycle: " + " -> ".join(cycle or ())


def test_the_walk_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
