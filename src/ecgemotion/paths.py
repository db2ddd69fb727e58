"""Where ecgemotion keeps downloads and stores (``$ECGEMOTION_CACHE`` or the platform cache),
and how a command claims its output folder."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import platformdirs


def cache_dir(*parts: str) -> Path:
    """The cache root (or a sub-folder of it), created on demand."""
    root = os.environ.get("ECGEMOTION_CACHE")
    base = Path(root).expanduser() if root else Path(platformdirs.user_cache_dir("ecgemotion"))
    path = base.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    """The hex sha256 of a file, read in chunks (stores, shards, downloaded wheels)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def claim_output(folder: str | Path, marker: str, what: str, overwrite: bool = False,
                 remove: Sequence[str] = ()) -> Path:
    """Refuse to write into ``folder`` when ``marker`` shows an earlier ``what`` there, so that
    no result is lost by a typo; with ``overwrite`` the earlier result (``marker`` and the
    ``remove`` parts, relative glob patterns) is deleted first."""
    from ecgemotion.errors import EcgEmotionError

    folder = Path(folder)
    if not (folder / marker).exists():
        return folder
    if not overwrite:
        raise EcgEmotionError(f"{folder}: already holds {what}; choose another --out, or pass "
                              "--overwrite to replace it")
    for pattern in (marker, *remove):
        for path in folder.glob(pattern):
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    return folder


def replace_as_created(tmp: Path, path: Path) -> None:
    """``os.replace(tmp, path)``, after giving ``tmp`` the mode a plain ``open()`` gives under
    the current umask: some writers (safetensors) create 0600 files, which left a saved model
    folder with private weights beside a world-readable config.json."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(tmp, 0o666 & ~mask)
    os.replace(tmp, path)
