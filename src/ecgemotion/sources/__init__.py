"""Dataset sources and their registry.

``get_source("amigos", root=PATH, lead="left")`` builds a source by name; the CLI's
``--dataset NAME --root PATH`` goes through the same call. Modules that define
sources are imported lazily on first lookup so that ``import ecgemotion`` stays fast.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from ecgemotion.errors import ConfigError
from ecgemotion.sources.base import Skip, Source, SourceItem, file_fingerprint

_REGISTRY: dict[str, type[Source]] = {}

# name -> module that registers it; imported on first use.
_BUILTIN_MODULES = {
    "open-ecg": "ecgemotion.sources.open_ecg",
    "wfdb": "ecgemotion.sources.wfdb_source",
    "amigos": "ecgemotion.sources.amigos",
    "dreamer": "ecgemotion.sources.dreamer",
    "wesad": "ecgemotion.sources.wesad",
    "ascertain": "ecgemotion.sources.ascertain",
    "pspm": "ecgemotion.sources.pspm",
    "swell": "ecgemotion.sources.swell",
    "case": "ecgemotion.sources.case",
    "edf": "ecgemotion.sources.generic",
    "csv": "ecgemotion.sources.generic",
    "npy": "ecgemotion.sources.generic",
    "manifest": "ecgemotion.sources.manifest",
}


def register_source(cls: type[Source]) -> type[Source]:
    """Class decorator: make ``cls`` available as ``get_source(cls.name)``."""
    if not cls.name:
        raise ValueError(f"{cls.__qualname__} has no name")
    _REGISTRY[cls.name] = cls
    return cls


def source_class(name: str) -> type[Source]:
    if name not in _REGISTRY and name in _BUILTIN_MODULES:
        try:
            importlib.import_module(_BUILTIN_MODULES[name])
        except ModuleNotFoundError as exc:
            if exc.name != _BUILTIN_MODULES[name]:
                raise
    if name not in _REGISTRY:
        raise ConfigError(f"unknown dataset '{name}'; available: {', '.join(available_sources())}")
    return _REGISTRY[name]


def get_source(name: str, root: Any = None, **options: Any) -> Source:
    """Instantiate the source registered as ``name``."""
    return source_class(name)(root, **options)


def available_sources() -> list[str]:
    names = set(_REGISTRY)
    for name, module in _BUILTIN_MODULES.items():
        if importlib.util.find_spec(module) is not None:
            names.add(name)
    return sorted(names)


__all__ = ["Skip", "Source", "SourceItem", "available_sources", "file_fingerprint",
           "get_source", "register_source", "source_class"]
