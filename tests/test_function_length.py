"""No function in src/ over ~80 lines unless its docstring says why it is clearer as one.

A reader holds a function in their head; past ~80 lines it wants named steps. Where one long
function reads better (a table of cases, a linear recipe), a docstring line starting
``Long on purpose:`` gives the reason, and the check lets it be.
"""

from __future__ import annotations

import ast

from tests.source_trees import PACKAGE, package_trees

MAX_LINES = 80
REASON = "Long on purpose:"


def long_functions(source: str | ast.AST, filename: str = "<source>") -> list[str]:
    """``file:line name (N lines)`` for every function over MAX_LINES without a REASON."""
    out = []
    tree = ast.parse(source, filename=filename) if isinstance(source, str) else source
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            if length > MAX_LINES and REASON not in (ast.get_docstring(node) or ""):
                out.append(f"{filename}:{node.lineno} {node.name} ({length} lines)")
    return out


def _function(name: str, body_lines: int, docstring: str = "") -> str:
    doc = f'    """{docstring}"""\n' if docstring else ""
    return f"def {name}(x):\n{doc}" + "    x += 1\n" * body_lines + "    return x\n"


def test_the_check_flags_a_long_function_without_a_reason():
    source = (_function("short", 70) + _function("long", 90) + _function(
        "explained", 90, f"A table of cases.\n\n    {REASON} one case a line reads as the spec."))
    assert [hit.split()[1] for hit in long_functions(source)] == ["long"]


def test_no_long_function_in_src_without_a_reason():
    hits = [hit for path, tree in package_trees()
            for hit in long_functions(tree, str(path.relative_to(PACKAGE.parent)))]
    assert not hits, "split into named steps, or say why in the docstring:\n" + "\n".join(hits)
