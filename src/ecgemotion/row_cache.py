"""Values per store row, computed once: the one feature cache (HRV features, beat templates,
frozen-encoder embeddings).

Cross-validation asks for the same rows fold after fold, system after system, and the probe
asks for the same windows model after model; each row is computed the first time it is asked
for. With ``cache_dir`` the values are also kept on disk, in one file per store identity and
``key`` (what defines the values: a feature version and its constants, an encoder's weights
hash), so a rebuilt store or a changed definition never reuses stale values.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np


class RowCache:
    """``cache(rows)``: ``compute(windows of the rows not seen yet)`` merged with those seen,
    in the order asked (repeats allowed).

    ``source`` is a store (``windows(rows)`` and, for the disk file, ``meta["identity"]``) or a
    callable ``rows -> windows``. ``columns`` names the values' columns when they are a table;
    a disk file whose columns differ is ignored.
    """

    def __init__(self, source, compute: Callable[[np.ndarray], np.ndarray], name: str,
                 key: Any = None, cache_dir: str | Path | None = None,
                 columns: list[str] | None = None):
        self._read = source.windows if hasattr(source, "windows") else source
        self._compute = compute
        self.columns = columns
        self._values: dict[int, np.ndarray] = {}
        self.computed = 0        # rows computed by this object (not read from disk)
        self.seconds = 0.0
        identity = getattr(source, "meta", {}).get("identity")
        self.file: Path | None = None
        if cache_dir is not None and identity:
            digest = hashlib.sha256(json.dumps([identity, *key]).encode()).hexdigest()[:16]
            self.file = Path(cache_dir).expanduser() / f"{name}-{digest}.npz"
            self._load()

    def missing(self, rows) -> np.ndarray:
        """The distinct rows of ``rows`` not computed yet (sorted)."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        return np.unique([r for r in rows.tolist() if r not in self._values]).astype(np.int64)

    def __call__(self, rows) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        todo = self.missing(rows)
        if len(todo):
            t0 = time.perf_counter()
            values = self._compute(self._read(todo))
            self.seconds += time.perf_counter() - t0
            self.computed += len(todo)
            self._values.update(zip(todo.tolist(), values))
            self._save()
        if not len(rows):
            return np.zeros((0, len(self.columns or ())))
        return np.stack([self._values[r] for r in rows.tolist()])

    def _load(self) -> None:
        if not self.file.is_file():
            return
        data = np.load(self.file)
        if self.columns is None or list(data["columns"]) == list(self.columns):
            self._values.update(zip(data["rows"].tolist(), data["values"]))

    def _save(self) -> None:
        if self.file is None:
            return
        self.file.parent.mkdir(parents=True, exist_ok=True)
        rows = np.fromiter(self._values.keys(), dtype=np.int64, count=len(self._values))
        tmp = self.file.with_suffix(".tmp.npz")
        np.savez(tmp, rows=rows, values=np.stack(list(self._values.values())),
                 columns=np.array(self.columns if self.columns is not None else []))
        os.replace(tmp, self.file)
