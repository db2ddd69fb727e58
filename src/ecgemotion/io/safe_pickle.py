"""A restricted unpickler: numpy arrays and builtin containers, nothing else.

A pickle names the callables it runs while loading; a malicious file names
``os.system`` or uses ``__reduce__`` to run arbitrary code. We allow only the
handful of globals needed to rebuild numpy arrays, scalars and dtypes, and refuse
everything else with a :class:`~ecgemotion.errors.SecurityError` that names the
file and the offending global.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

from ecgemotion.errors import DataError, SecurityError

_ALLOWED: set[tuple[str, str]] = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("builtins", "list"),
    ("builtins", "dict"),
    ("builtins", "tuple"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "bytes"),      # b"" in protocols 0-2 (an empty array's buffer)
    ("builtins", "bytearray"),
    ("builtins", "slice"),
    ("builtins", "complex"),
    ("collections", "OrderedDict"),
    ("_codecs", "encode"),  # latin1-encoded numpy buffers from Python 2 pickles
}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: Any, source: str, **kwargs: Any):
        super().__init__(file, **kwargs)
        self._source = source

    def find_class(self, module: str, name: str) -> Any:
        # Protocols 0-2 spell the builtins module '__builtin__' (Python 2's name).
        if ({"__builtin__": "builtins"}.get(module, module), name) in _ALLOWED:
            return super().find_class(module, name)
        raise SecurityError(
            f"{self._source}: refused to unpickle '{module}.{name}': only numpy arrays and "
            "builtin containers are allowed (the file may be corrupt or malicious)")


def safe_loads(data: bytes, source: str = "<bytes>", encoding: str = "latin1") -> Any:
    """Unpickle ``data`` allowing only numpy arrays and builtin containers."""
    try:
        return _RestrictedUnpickler(io.BytesIO(data), source, encoding=encoding).load()
    except SecurityError:
        raise
    except Exception as exc:  # truncated or not a pickle at all
        raise DataError(source, f"not a readable pickle ({type(exc).__name__}: {exc})") from None


def safe_load(path: str | Path, encoding: str = "latin1") -> Any:
    """Unpickle a file safely; ``encoding='latin1'`` reads Python 2 pickles (WESAD)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(path, f"cannot read file ({exc.strerror or exc})") from None
    return safe_loads(data, str(path), encoding=encoding)
