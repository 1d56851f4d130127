"""The package's shape, as ARCHITECTURE.md draws it: layers that import only downwards, no import cycle, small
modules and functions, and a top level that holds subpackages rather than loose modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "tenset_study"
#: Layer of every top-level name of the package, bottom (0) to top; a module may import its own layer or lower.
LAYERS = {"params": 0, "fastjson": 0, "lazy": 0, "data": 1, "programs": 2, "zoo": 3, "collect": 4, "importers": 5,
          "features": 6, "models": 7, "evaluation": 8, "pruning": 9, "transfer": 9, "tuning": 10, "exports": 10, "book": 11,
          "cli": 12}
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80
MAX_TOP_LEVEL_MODULES = 12


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path) -> set[str]:
    """The package's modules that ``name`` imports, at module level or inside functions."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("tenset_study"):
                continue
            for alias in node.names:
                child = f"{target}.{alias.name}"
                found.add(child if child in MODULES else target)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("tenset_study."))
    found.discard(name)
    return {m for m in found if m in MODULES}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _layer(name: str) -> int | None:
    parts = name.split(".")
    return LAYERS.get(parts[1]) if len(parts) > 1 else 0


def test_every_top_level_name_has_a_layer() -> None:
    top = {name.split(".")[1] for name in MODULES if "." in name}
    assert top <= set(LAYERS), f"place {sorted(top - set(LAYERS))} in a layer (here and in ARCHITECTURE.md)"


def test_top_level_holds_subpackages_not_loose_modules() -> None:
    loose = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(loose) <= MAX_TOP_LEVEL_MODULES, loose


def _upward_imports(graph: dict[str, set[str]]) -> list[str]:
    return [f"{a} -> {b}" for a, deps in graph.items() for b in deps
            if a.split(".")[1:2] != b.split(".")[1:2] and _layer(b) is not None and _layer(a) is not None
            and _layer(b) > _layer(a)]


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (its modules in order, the first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return path[path.index(dep):] + [dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        state[node] = 2
        path.pop()
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_imports_go_down_the_layers() -> None:
    upward = _upward_imports(GRAPH)
    assert not upward, "imports from a higher layer:\n" + "\n".join(upward)


def test_no_import_cycle() -> None:
    cycle = _find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_checks_see_a_cycle_and_an_upward_import() -> None:
    cycle = {"tenset_study.models.a": {"tenset_study.models.b"}, "tenset_study.models.b": {"tenset_study.models.a"}}
    assert _find_cycle(cycle) == ["tenset_study.models.a", "tenset_study.models.b", "tenset_study.models.a"]
    assert _upward_imports({"tenset_study.data.x": {"tenset_study.book.y"}}) == ["tenset_study.data.x -> tenset_study.book.y"]
    assert "tenset_study.data.dataset" in GRAPH["tenset_study.models.inputs"], "the real graph is read"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_and_function_sizes(name: str) -> None:
    text = MODULES[name].read_text()
    lines = text.count("\n")
    assert lines <= MAX_MODULE_LINES, f"{name}: {lines} lines (at most {MAX_MODULE_LINES}): split it"
    long = [f"{node.name} ({node.end_lineno - node.lineno + 1} lines)" for node in ast.walk(ast.parse(text))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert not long, f"{name}: functions over {MAX_FUNCTION_LINES} lines: {', '.join(long)}"
