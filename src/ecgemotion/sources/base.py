"""What a source is: a list of cheap work items, and a loader for one item.

A source never processes signals. ``items()`` is called once in the main process
and must be fast (it lists files); ``load(item)`` runs in a worker process and may
be slow. Any exception from ``load`` skips that item with a one-line reason and is
counted; it never aborts a store build. To skip a single recording inside an item
while keeping the others, yield a :class:`Skip` instead of a :class:`Recording`.
"""

from __future__ import annotations

import hashlib
import os
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ecgemotion.errors import ConfigError
from ecgemotion.recording import Recording


@dataclass(frozen=True)
class SourceItem:
    """One unit of loading work, typically one file.

    ``files`` are fingerprinted into the store identity, so editing any of them
    produces a new store.
    """

    key: str
    files: tuple[Path, ...] = ()
    params: tuple[tuple[str, Any], ...] = ()

    def param(self, name: str, default: Any = None) -> Any:
        return dict(self.params).get(name, default)


@dataclass(frozen=True)
class Skip:
    """A recording that a source could not use, with the reason and where it was."""

    where: str
    reason: str


class Source(ABC):
    """Base class for dataset readers. Subclasses set ``name`` and register with
    :func:`ecgemotion.sources.register_source`.

    Options arrive as keyword arguments from the CLI (``--lead right``) or a TOML
    file; they must be plain picklable values because the source object is sent to
    worker processes.
    """

    name: ClassVar[str] = ""
    licence: ClassVar[str] = "see the dataset's own terms"
    needs_root: ClassVar[bool] = True
    # Every option the source reads. Any other is refused (a typo must not be ignored),
    # and tests/robustness/test_cache_integrity.py proves each one changes the store identity.
    accepts: ClassVar[tuple[str, ...]] = ()
    # The modalities besides ECG that the store asks for (set by build_store). A source
    # whose files mix modalities reads those channels only then, so ECG-only reads stay cheap.
    extra_modalities: tuple[str, ...] = ()

    def __init__(self, root: str | os.PathLike | None = None, **options: Any):
        if self.needs_root and root is None:
            raise ConfigError(f"source '{self.name}' needs --root PATH (the dataset folder or file)")
        self.root = Path(root).expanduser() if root is not None else None
        if self.root is not None and not self.root.exists():
            raise ConfigError(f"source '{self.name}': root {self.root} does not exist")
        unknown = sorted(k for k in options if k.replace("-", "_") not in self.accepts)
        if unknown:
            raise ConfigError(f"source '{self.name}': unknown option(s) {', '.join(unknown)}; it "
                              f"accepts {', '.join(self.accepts) or 'none'}")
        self.options = dict(options)

    @abstractmethod
    def items(self) -> list[SourceItem]:
        """List the work items (files). Raise DataError when the layout is wrong."""

    @abstractmethod
    def load(self, item: SourceItem) -> Iterator[Recording | Skip]:
        """Read one item, yielding its recordings (or skips)."""

    def describe(self) -> dict[str, Any]:
        """The identity of this source for the store hash: name, root and options."""
        return {"name": self.name, "root": str(self.root) if self.root else None,
                "options": {k: _jsonable(v) for k, v in sorted(self.options.items())}}


def _jsonable(value: Any) -> Any:
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


_SAMPLE_BYTES = 1 << 16


def file_fingerprint(path: Path) -> str:
    """A cheap content fingerprint: size, mtime and a hash of the first and last 64 KiB.

    Hashing whole files would make every ``prepare`` re-read the corpus; sampling
    the ends plus size and mtime catches replaced, truncated and edited files.
    """
    try:
        st = path.stat()
        h = hashlib.sha256(f"{st.st_size}:{st.st_mtime_ns}".encode())
        with open(path, "rb") as fh:
            h.update(fh.read(_SAMPLE_BYTES))
            if st.st_size > _SAMPLE_BYTES:
                fh.seek(max(_SAMPLE_BYTES, st.st_size - _SAMPLE_BYTES))
                h.update(fh.read(_SAMPLE_BYTES))
    except OSError as exc:
        # Unreadable (permissions, I/O error): fingerprint the failure, so that the
        # item is still listed and its load is skipped with a reason naming the file;
        # once the file becomes readable its fingerprint, hence the store, changes.
        return hashlib.sha256(f"unreadable:{exc.errno}:{exc.strerror}".encode()).hexdigest()[:16]
    return h.hexdigest()[:16]


def option_choice(source: str, options: dict[str, Any], name: str, default: str,
                  allowed: tuple[str, ...]) -> str:
    """A string option that must be one of ``allowed`` (case-insensitive)."""
    value = str(option(options, name, default)).strip().lower()
    if value not in allowed:
        raise ConfigError(f"source '{source}': option {name} must be {', '.join(allowed[:-1])} or "
                          f"{allowed[-1]}, found {value!r}")
    return value


def option(options: dict[str, Any], name: str, default: Any) -> Any:
    """Read an option, accepting CLI spellings (``--skip-subjects`` → ``skip_subjects``)."""
    return options.get(name, options.get(name.replace("_", "-"), default))


def as_list(value: Any) -> list[str]:
    """An option given as a list, a comma-separated string or nothing, as a list of strings."""
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v).strip() for v in value]
