"""The package layers of ``src/unigate`` and the size of its modules.

Imports run one way, down this list: a package may import its own modules and those of any
lower layer, never a higher one, and never a sibling of its own layer (``storage`` and
``providers`` know nothing of each other). ``docs/architecture.md`` draws the same stack.
Every import counts: at module level, inside a function, or under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "unigate"

LAYERS: list[tuple[str, ...]] = [
    ("primitives",),
    ("errors",),
    ("settings",),
    ("catalog",),
    ("observability", "limits"),
    ("accounts",),
    ("core",),
    ("storage", "providers"),
    ("api",),
    ("console",),
    ("app",),
    ("server",),
    ("cli",),
    ("__main__",),
]

MAX_LINES = 400
LONGER: dict[str, str] = {}
"""Modules allowed past ``MAX_LINES``, each with the reason (none today)."""


def _layer_of(package: str) -> int:
    for i, names in enumerate(LAYERS):
        if package in names:
            return i
    raise AssertionError(f"package {package!r} has no layer in tests/test_layers.py")


def _top(module: str) -> str:
    return module.split(".")[1] if module.count(".") else ""


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
    return [(line, name) for line, name in found if name == "unigate" or name.startswith("unigate.")]


def _package_of(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if p.name != "__init__.py" or p.parent != SRC)


def test_every_package_has_a_layer() -> None:
    packages = {_package_of(p) for p in _modules()}
    for package in packages:
        _layer_of(package)


def test_imports_run_down_the_layers() -> None:
    upward: list[str] = []
    for path in _modules():
        package = _package_of(path)
        own = _layer_of(package)
        for line, module in _imports(path):
            target = _top(module)
            if not target:
                upward.append(f"{path.relative_to(SRC)}:{line} imports the unigate package itself")
                continue
            if target == package:
                continue
            theirs = _layer_of(target)
            if theirs >= own:
                why = "a sibling of its layer" if theirs == own else "a higher layer"
                upward.append(f"{path.relative_to(SRC)}:{line} imports {module} ({why})")
    assert not upward, "imports that break the layer order:\n" + "\n".join(upward)


def test_the_checker_sees_an_upward_import(tmp_path: Path) -> None:
    """The walk finds imports in functions and under TYPE_CHECKING, not only at the top."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from unigate.api.context import STORE\n"
        "def f():\n    import unigate.console.render\n"
    )
    assert _imports(sample) == [(3, "unigate.api.context"), (5, "unigate.console.render")]


def test_modules_stay_small() -> None:
    long = []
    for path in _modules():
        rel = str(path.relative_to(SRC))
        lines = len(path.read_text().splitlines())
        if lines > MAX_LINES and rel not in LONGER:
            long.append(f"{rel}: {lines} lines")
    assert not long, f"modules over {MAX_LINES} lines (split them along their parts):\n" + "\n".join(long)
