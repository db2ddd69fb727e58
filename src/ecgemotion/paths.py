"""Where ecgemotion keeps downloads and stores: ``$ECGEMOTION_CACHE`` or the platform cache."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def cache_dir(*parts: str) -> Path:
    """The cache root (or a sub-folder of it), created on demand."""
    root = os.environ.get("ECGEMOTION_CACHE")
    base = Path(root).expanduser() if root else Path(platformdirs.user_cache_dir("ecgemotion"))
    path = base.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
