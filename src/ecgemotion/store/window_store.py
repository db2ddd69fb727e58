"""Reading a finished window store: zero-copy memmaps, an index table, verified checksums.

Layout of a store folder::

    meta.json           every parameter, the identity hash, shard checksums, the build summary
    index.csv           one row per window (dataset, subject, trial, lead, start_s, flags, labels)
    windows-00000.bin   raw little-endian float32/float16, shape (n, window_len), C order
    ...
    eeg-00000.bin       multimodal stores only: each further modality's windows, shape
    ...                 (n, channels, its window_len), aligned row by row with the ECG's

A store is complete only when ``meta.json`` says so; it is written last, after the
shards, and the folder is renamed into place atomically, so a crashed build can
never be opened as complete.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ecgemotion.errors import DataError
from ecgemotion.paths import sha256_file
from ecgemotion.subjects import subject_keys, with_subject_key

META_FILE = "meta.json"
INDEX_FILE = "index.csv"
FORMAT_VERSION = 1


class WindowStore:
    """A read-only view of a store folder.

    ``windows(rows)`` gathers rows from the memory-mapped shards; nothing is read
    until asked for, so opening a 100-hour store costs only the index.
    """

    def __init__(self, path: str | Path, meta: dict[str, Any] | None = None,
                 index: pd.DataFrame | None = None, verify: bool = True):
        """``WindowStore(path)`` opens a complete store, exactly as :meth:`open` does."""
        path = Path(path).expanduser()
        if meta is None or index is None:
            meta, index = _read(path, verify)
        self.path = path
        self.meta = meta
        self.index = index
        self.fs = float(meta["fs"])
        self.window_len = int(meta["window_len"])
        self.dtype = np.dtype(meta["dtype"])
        counts = [s["n"] for s in meta["shards"]]
        self._shard_starts = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        self._maps = _memmaps(path, meta["shards"], self.dtype, (self.window_len,))
        self._modality_maps = {
            m: _memmaps(path, info["shards"], self.dtype, (len(info["channels"]), info["window_len"]))
            for m, info in meta.get("modalities", {}).items()}

    # -- opening ---------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path, verify: bool = True) -> "WindowStore":
        """Open a complete store; ``verify`` re-hashes every shard against ``meta.json``."""
        return cls(path, verify=verify)

    # -- reading ---------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self._shard_starts[-1])

    def windows(self, rows: np.ndarray | list[int]) -> np.ndarray:
        """Windows at global ``rows`` as a float32 ``(n, window_len)`` array (a copy)."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        out = np.empty((len(rows), self.window_len), dtype=np.float32)
        if len(rows) == 0:
            return out
        if rows.min() < 0 or rows.max() >= len(self):
            raise IndexError(f"window rows must lie in [0, {len(self)}), got {rows.min()}..{rows.max()}")
        _gather(self._maps, self._shard_starts, rows, out)
        return out

    @property
    def modalities(self) -> list[str]:
        """The modalities this store holds: ``ecg`` first, then the others it was built with."""
        return ["ecg", *self.meta.get("modalities", {})]

    def channels(self, modality: str) -> list[str]:
        """Channel names of ``modality``'s windows (for ``ecg`` the single stored lead)."""
        return self.modality_info(modality)["channels"]

    def modality_windows(self, modality: str, rows) -> np.ndarray:
        """``modality``'s windows at ``rows`` as float32 ``(n, channels, T)`` (zeros where the
        index's ``m_<modality>`` is False); ``ecg`` gives ``(n, 1, window_len)``."""
        if modality == "ecg":
            return self.windows(rows)[:, None, :]
        info = self.modality_info(modality)
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        out = np.zeros((len(rows), len(info["channels"]), info["window_len"]), dtype=np.float32)
        if len(rows) and info["channels"]:
            if rows.min() < 0 or rows.max() >= len(self):
                raise IndexError(f"window rows must lie in [0, {len(self)}), got {rows.min()}..{rows.max()}")
            maps = self._modality_maps[modality]
            _gather(maps, np.cumsum([0] + [len(m) for m in maps]), rows, out)
        return out

    def present(self, modality: str, rows) -> np.ndarray:
        """Whether each of ``rows`` has ``modality`` (always True for the ECG anchor)."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        if modality == "ecg":
            return np.ones(len(rows), dtype=bool)
        self.modality_info(modality)
        return self.index[f"m_{modality}"].to_numpy(dtype=bool)[rows]

    def modality_info(self, modality: str) -> dict[str, Any]:
        """``channels`` (names), ``window_len`` and ``fs`` of ``modality``'s windows."""
        if modality == "ecg":
            return {"channels": ["ECG"], "window_len": self.window_len, "fs": self.fs}
        info = self.meta.get("modalities", {}).get(modality)
        if info is None:
            raise DataError(self.path, f"store has no {modality} windows; it holds "
                            f"{', '.join(self.modalities)} (prepare with --modalities "
                            f"{','.join([*self.modalities, modality])})")
        return {"channels": list(info["channels"]), "window_len": int(info["window_len"]),
                "fs": float(info["fs"])}

    def select(self, datasets: list[str] | None = None, subjects: list[str] | None = None,
               quality: str = "good", labelled: str | None = None) -> np.ndarray:
        """Row indices passing the filters.

        ``quality="good"`` keeps windows with no quality flag; ``"usable"`` also keeps
        clipped ones (R peaks saturating a 10-bit ADC still teach a model ECG, and
        make up most of the BITalino recordings) but never noise, which is not ECG at
        all (stores built before the noise flag have no ``q_noise``); ``"all"`` keeps every window;
        ``labelled="arousal"`` keeps windows whose binary label ``y_arousal`` is set.
        """
        keep = np.ones(len(self.index), dtype=bool)
        if datasets:
            keep &= self.index["dataset"].isin(list(datasets)).to_numpy()
        if subjects is not None:
            keep &= self.index["subject"].isin([str(s) for s in subjects]).to_numpy()
        if quality == "good":
            keep &= self.index["good"].to_numpy(dtype=bool)
        elif quality == "usable":
            for flag in ("q_flat", "q_amplitude", "q_heart_rate", "q_noise"):
                if flag in self.index:
                    keep &= ~self.index[flag].to_numpy(dtype=bool)
        elif quality != "all":
            raise ValueError(f"quality must be 'good', 'usable' or 'all', not {quality!r}")
        if labelled:
            column = f"y_{labelled}"
            if column not in self.index:
                raise DataError(self.path, f"store has no label '{labelled}' (column {column}); "
                                f"available: {', '.join(self.label_names) or 'none'}")
            keep &= self.index[column].notna().to_numpy()
        return np.flatnonzero(keep)

    @property
    def label_names(self) -> list[str]:
        return [c[2:] for c in self.index.columns if c.startswith("y_")]

    def describe(self) -> dict[str, Any]:
        idx = self.index
        summary = {
            "path": str(self.path),
            "windows": len(self),
            "good_windows": int(idx["good"].sum()) if len(idx) else 0,
            "hours": round(len(self) * self.window_len / self.fs / 3600, 3),
            "fs": self.fs,
            "window_s": self.window_len / self.fs,
            "datasets": {k: int(v) for k, v in idx["dataset"].value_counts().items()},
            "subjects": int(len(set(subject_keys(idx)))),
            "recordings": int(idx[["dataset", "subject", "trial", "lead"]].drop_duplicates().shape[0]),
            "labels": self.label_names,
            "label_rule": self.meta.get("label_rule"),
            "synthetic": self.meta.get("synthetic", []),
            "flags": {c[2:]: int(idx[c].sum()) for c in idx.columns if c.startswith("q_")},
            "identity": self.meta.get("identity"),
        }
        if "modalities" in self.meta:
            summary["modalities"] = {
                m: {"channels": len(self.channels(m)), "fs": info["fs"],
                    "windows_with_it": int(idx[f"m_{m}"].sum()) if f"m_{m}" in idx else 0}
                for m, info in self.meta["modalities"].items()}
        return summary


def _gather(maps: list[np.ndarray], starts: np.ndarray, rows: np.ndarray, out: np.ndarray) -> None:
    """Rows (global numbers) of sharded arrays into ``out``."""
    shard = np.searchsorted(starts, rows, side="right") - 1
    for s in np.unique(shard):
        sel = shard == s
        out[sel] = maps[s][rows[sel] - starts[s]]


def _memmaps(path: Path, shards: list[dict[str, Any]], dtype, row_shape: tuple[int, ...]
             ) -> list[np.ndarray]:
    return [np.memmap(path / s["file"], dtype=dtype, mode="r", shape=(s["n"], *row_shape))
            if s["n"] else np.zeros((0, *row_shape), dtype) for s in shards]


def _read(path: Path, verify: bool) -> tuple[dict[str, Any], pd.DataFrame]:
    problem = check_store(path, full=verify)
    if problem:
        raise DataError(path, problem)
    meta = json.loads((path / META_FILE).read_text())
    index = pd.read_csv(path / INDEX_FILE, dtype={"subject": str, "trial": str, "lead": str,
                                                   "dataset": str})
    return meta, with_subject_key(index)


def check_store(path: Path, full: bool = True) -> str | None:
    """Why ``path`` is not a complete, intact store, or ``None`` when it is."""
    meta_path = path / META_FILE
    if not path.is_dir():
        return "not a store folder (no such directory)"
    if not meta_path.is_file():
        return "incomplete store: meta.json is missing (a build was interrupted?)"
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError) as exc:
        return f"meta.json is unreadable ({exc})"
    if not meta.get("complete"):
        return "incomplete store: meta.json does not mark it complete"
    if meta.get("format") != FORMAT_VERSION:
        return f"store format {meta.get('format')} is not the supported format {FORMAT_VERSION}"
    if not (path / INDEX_FILE).is_file():
        return "index.csv is missing"
    if sha256_file(path / INDEX_FILE) != meta.get("index_sha256"):
        return "index.csv does not match the checksum in meta.json (altered?)"
    itemsize = np.dtype(meta["dtype"]).itemsize
    shards = [(s, meta["window_len"]) for s in meta["shards"]] + [
        (s, len(info["channels"]) * info["window_len"])
        for info in meta.get("modalities", {}).values() for s in info["shards"]]
    for shard, row_len in shards:
        file = path / shard["file"]
        expected = shard["n"] * row_len * itemsize
        if not file.is_file():
            return f"shard {shard['file']} is missing"
        size = file.stat().st_size
        if size != expected:
            return f"shard {shard['file']} has {size} bytes, expected {expected} (truncated?)"
        if full and sha256_file(file) != shard["sha256"]:
            return f"shard {shard['file']} does not match its checksum in meta.json (altered?)"
    return None
