"""The package's modules parsed once per test run: the static checks (import cycles,
function length, training defaults) walk the same trees instead of parsing src/ each."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import ecgemotion

PACKAGE = Path(ecgemotion.__file__).parent


@functools.lru_cache(maxsize=None)
def package_trees() -> tuple[tuple[Path, ast.Module], ...]:
    """(path, parsed module) of every ``.py`` file of the package, sorted by path."""
    return tuple((p, ast.parse(p.read_text(encoding="utf-8"), filename=str(p)))
                 for p in sorted(PACKAGE.rglob("*.py")))
