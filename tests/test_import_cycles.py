"""No import cycle inside ecgemotion: a helper imported back from its own caller is in the wrong file.

Function-level imports count too: a lazy import hides a cycle from Python, not from the reader.
Imports under ``if TYPE_CHECKING:`` do not: they name a type for the checker and never run.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

from tests.source_trees import PACKAGE, package_trees


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str | None:
    if node.level == 0:
        return node.module
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _runtime_nodes(tree: ast.AST):
    """Every node of ``tree`` except the bodies of ``if TYPE_CHECKING:`` blocks."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield node.test
            for child in node.orelse:
                yield child
                yield from _runtime_nodes(child)
            continue
        yield node
        yield from _runtime_nodes(node)


@functools.lru_cache(maxsize=None)
def import_graph() -> dict[str, set[str]]:
    """Module -> the ecgemotion modules it imports, at any depth of its body.

    ``from ecgemotion.pkg import name`` points at ``pkg.name`` when that is a module, else at
    ``pkg`` (the package's ``__init__``).
    """
    paths = {_module_name(p): p for p, _ in package_trees()}
    graph: dict[str, set[str]] = {}
    for path, tree in package_trees():
        module = _module_name(path)
        edges = graph.setdefault(module, set())
        for node in _runtime_nodes(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(node, module, path.name == "__init__.py")
                if base is None:
                    continue
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in paths else base
                           for alias in node.names]
            else:
                continue
            for target in targets:
                while target and target not in paths:  # `import a.b.c` where c is a name
                    target = target.rpartition(".")[0]
                if target.startswith("ecgemotion") and target != module:
                    edges.add(target)
    return graph


def _is_package(module: str) -> bool:
    return (PACKAGE.parent / module.replace(".", "/") / "__init__.py").exists()


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle between modules, or None.

    Edges into a package's ``__init__`` are left out: re-exporting a subpackage's public names
    there is the usual shape (``ecgemotion.models`` imports ``models.registry``, which imports
    ``ecgemotion.models.blocks``), not a helper in the wrong file.
    """
    edges = {m: {t for t in ts if not _is_package(t)} for m, ts in graph.items()}
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_graph_sees_function_level_imports():
    graph = import_graph()
    assert "ecgemotion.signal" in graph["ecgemotion.preprocess"]
    assert len(graph) > 50


def test_finder_catches_a_two_module_cycle():
    graph = {"ecgemotion.a": {"ecgemotion.b"}, "ecgemotion.b": {"ecgemotion.a"}}
    assert find_cycle(graph) == ["ecgemotion.a", "ecgemotion.b", "ecgemotion.a"]


def test_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)
