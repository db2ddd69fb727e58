"""Building a window store: stream recordings through a process pool into shards.

Memory stays flat whatever the corpus size: workers hold one source item each, at
most ``2 × workers`` results are in flight, and the writer appends each result to
the current shard file and forgets it. Only the index rows (a few hundred bytes a
window) accumulate.

The store's folder name ends in a hash of everything that determines its content
(preprocessing parameters, sources and their options, the files' fingerprints,
the label rule, the package version), so a stale store is never reused.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ecgemotion import __version__
from ecgemotion.errors import DataError, EcgEmotionError
from ecgemotion.paths import sha256_file
from ecgemotion.preprocess import (MODALITY_FILTERS, QUALITY_FLAGS, PreprocessConfig,
                                   process_recording)
from ecgemotion.sources.base import Skip, Source, SourceItem, file_fingerprint
from ecgemotion.store.window_store import (FORMAT_VERSION, INDEX_FILE, META_FILE, WindowStore,
                                           check_store)

SHARD_BYTES = 256 << 20


@dataclass
class BuildReport:
    """What happened during a build, for the CLI summary and ``meta.json``."""

    recordings: int = 0
    seconds: float = 0.0
    windows: int = 0
    dropped: Counter = field(default_factory=Counter)
    flagged: Counter = field(default_factory=Counter)
    skipped: list[dict[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    synthetic: set[str] = field(default_factory=set)  # notes of sources whose data is invented

    def to_dict(self) -> dict[str, Any]:
        return {"recordings": self.recordings, "hours": round(self.seconds / 3600, 3),
                "windows": self.windows, "dropped": dict(self.dropped),
                "flagged": dict(self.flagged), "skipped_count": len(self.skipped),
                "skipped": self.skipped, "warnings": self.warnings}


# -- identity --------------------------------------------------------------------------

def store_identity(sources: list[Source], items: list[list[SourceItem]], config: PreprocessConfig,
                   label_rule: str | None) -> str:
    """A hash of everything the store's content depends on."""
    h = hashlib.sha256()
    h.update(json.dumps({"version": __version__, "format": FORMAT_VERSION,
                         "config": config.to_dict(), "label_rule": label_rule,
                         "sources": [s.describe() for s in sources]},
                        sort_keys=True, default=str).encode())
    for source_items in items:
        for item in source_items:
            h.update(item.key.encode())
            h.update(repr(item.params).encode())
            for f in item.files:
                h.update(file_fingerprint(Path(f)).encode())
    return h.hexdigest()


# -- worker side -----------------------------------------------------------------------

def _process_item(source: Source, item: SourceItem, config: PreprocessConfig) -> dict[str, Any]:
    """Load one item and process its recordings (runs in a worker process).

    Never raises: every problem becomes a skip with a one-line reason.
    """
    out: dict[str, Any] = {"results": [], "skipped": [], "warnings": []}
    import warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            for rec in source.load(item):
                if isinstance(rec, Skip):
                    out["skipped"].append({"where": rec.where, "reason": rec.reason})
                    continue
                try:
                    windows = process_recording(rec, config)
                except (DataError, ValueError) as exc:
                    out["skipped"].append({"where": rec.key, "reason": str(exc)})
                    continue
                out["results"].append((_recording_facts(rec), windows))
        except EcgEmotionError as exc:
            out["skipped"].append({"where": item.key, "reason": str(exc)})
        except Exception as exc:  # a reader bug or an unforeseen file defect: skip, count, go on
            out["skipped"].append({"where": item.key, "reason": f"{type(exc).__name__}: {exc}"})
    out["warnings"] = [str(w.message) for w in caught]
    return out


def _recording_facts(rec) -> dict[str, Any]:
    return {"dataset": rec.dataset, "subject": rec.subject, "trial": rec.trial, "lead": rec.lead,
            "labels": dict(rec.labels), "seconds": rec.duration_s,
            "part": rec.meta.get("part", ""), "file": str(rec.provenance.get("file", "")),
            "synthetic": rec.provenance.get("synthetic")}


# -- writer side -----------------------------------------------------------------------

class _ShardWriter:
    """Appends windows to numbered shard files (``PREFIX-00000.bin``), hashing as it writes."""

    def __init__(self, folder: Path, window_len: int, dtype: str, prefix: str = "windows"):
        self.folder = folder
        self.prefix = prefix
        self.per_shard = max(1, SHARD_BYTES // (window_len * np.dtype(dtype).itemsize))
        self.shards: list[dict[str, Any]] = []
        self._fh = None
        self._hash = None

    def _open_next(self) -> None:
        self._close()
        name = f"{self.prefix}-{len(self.shards):05d}.bin"
        self._fh = open(self.folder / name, "wb")
        self._hash = hashlib.sha256()
        self.shards.append({"file": name, "n": 0})

    def write(self, data: np.ndarray) -> None:
        while len(data):
            if self._fh is None or self.shards[-1]["n"] >= self.per_shard:
                self._open_next()
            room = self.per_shard - self.shards[-1]["n"]
            chunk = np.ascontiguousarray(data[:room])
            buf = chunk.astype(chunk.dtype.newbyteorder("<"), copy=False).tobytes()
            self._fh.write(buf)
            self._hash.update(buf)
            self.shards[-1]["n"] += len(chunk)
            data = data[room:]

    def _close(self) -> None:
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            self.shards[-1]["sha256"] = self._hash.hexdigest()
            self._fh = None

    def finish(self) -> list[dict[str, Any]]:
        self._close()
        return self.shards


def _ordered_results(tasks: list[tuple[Source, SourceItem]], config: PreprocessConfig,
                     workers: int) -> Iterator[dict[str, Any]]:
    """Process items in a pool, yielding results in task order with bounded look-ahead."""
    if workers <= 1:
        for source, item in tasks:
            yield _process_item(source, item, config)
        return
    import multiprocessing as mp
    pool: Executor = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"))
    try:
        pending: deque = deque()
        todo = iter(tasks)
        for source, item in todo:
            pending.append(pool.submit(_process_item, source, item, config))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(cancel_futures=True)


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def build_store(sources: list[Source], config: PreprocessConfig = PreprocessConfig(),
                out_dir: str | Path | None = None, label_rule: str | None = None,
                workers: int | None = None, force: bool = False,
                progress: Callable[..., Any] | None = None) -> tuple[WindowStore, dict[str, Any]]:
    """Build (or reuse) the store for ``sources`` and return it with the build summary.

    An intact store with the same identity is reused; a partial or damaged one is
    removed and rebuilt. ``progress`` is a tqdm-like factory (``ui.progress``).
    """
    from ecgemotion.paths import cache_dir

    for source in sources:
        source.extra_modalities = config.extra_modalities
    items = [source.items() for source in sources]
    identity = store_identity(sources, items, config, label_rule)
    parent = Path(out_dir).expanduser() if out_dir else cache_dir("stores")
    parent.mkdir(parents=True, exist_ok=True)
    name = "+".join(s.name for s in sources)
    final = parent / f"{name}-{identity[:12]}"

    if final.exists() and not force:
        problem = check_store(final, full=True)
        if problem is None:
            store = WindowStore.open(final, verify=False)
            return store, {**store.meta["summary"], "store": str(final), "reused": True}
        shutil.rmtree(final)  # damaged or partial: never read, rebuild
        stale_reason = problem
    else:
        stale_reason = None
        if final.exists():
            shutil.rmtree(final)

    tmp = parent / f".{final.name}.partial"
    if tmp.exists():
        shutil.rmtree(tmp)  # left over from a crashed build
        stale_reason = stale_reason or (f"an interrupted build left {tmp.name} behind; "
                                        "discarded it and rebuilt from scratch")
    tmp.mkdir(parents=True)

    started = time.time()
    tasks = [(s, it) for s, its in zip(sources, items) for it in its]
    report, index, shards, modalities = _write_windows(tmp, tasks, config, workers, progress)
    index = _apply_label_rule(index, label_rule)
    index.to_csv(tmp / INDEX_FILE, index=False)
    summary = {**report.to_dict(), "build_seconds": round(time.time() - started, 2),
               "good_windows": int(index["good"].sum()) if len(index) else 0}
    if stale_reason:
        summary["rebuilt_because"] = stale_reason
    meta = {
        "format": FORMAT_VERSION, "complete": True, "identity": identity,
        "version": __version__, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "fs": config.fs, "window_len": config.window_len, "dtype": config.dtype,
        "preprocess": config.to_dict(), "label_rule": label_rule,
        "sources": [s.describe() for s in sources],
        "licences": sorted({s.licence for s in sources}),
        # Every model trained on this store carries this on (SYNTHETIC in predict's output).
        "synthetic": sorted(report.synthetic),
        "shards": shards, "n_windows": report.windows,
        **({"modalities": modalities} if config.extra_modalities else {}),
        "index_sha256": sha256_file(tmp / INDEX_FILE), "summary": summary,
    }
    meta_tmp = tmp / (META_FILE + ".tmp")
    meta_tmp.write_text(json.dumps(meta, indent=2, default=str))
    os.replace(meta_tmp, tmp / META_FILE)
    os.replace(tmp, final)
    return WindowStore.open(final, verify=False), {**summary, "store": str(final), "reused": False}


def _write_windows(tmp: Path, tasks: list, config: PreprocessConfig, workers: int | None,
                   progress: Callable[..., Any] | None):
    """Process every (source, item) and write its windows into ``tmp`` as they come, in order;
    return the build report, the index (before the label rule), the shards and the other
    modalities' shards."""
    report = BuildReport()
    writer = _ShardWriter(tmp, config.window_len, config.dtype)
    others = _ModalityWriters(tmp, config)
    rows: list[pd.DataFrame] = []
    bar = progress(total=len(tasks), desc="preparing", unit="file") if progress else None
    for result in _ordered_results(tasks, config, workers or default_workers()):
        report.skipped.extend(result["skipped"])
        report.warnings.extend(result["warnings"])
        for facts, windows in result["results"]:
            report.recordings += 1
            report.seconds += facts["seconds"]
            if facts["synthetic"]:
                report.synthetic.add(str(facts["synthetic"]))
            report.dropped.update(windows.dropped)
            if len(windows) == 0:
                continue
            rows.append(_index_rows(facts, windows, first_row=report.windows))
            writer.write(windows.data)
            report.windows += len(windows)
            for flag, values in windows.flags.items():
                report.flagged[flag] += int(values.sum())
            others.write(windows, rows[-1], report.warnings)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(windows=report.windows, skipped=len(report.skipped))
    if bar is not None:
        bar.close()
    shards = writer.finish()
    index = pd.concat(rows, ignore_index=True) if rows else _empty_index()
    return report, index, shards, others.finish() if config.extra_modalities else None


class _ModalityWriters:
    """The shards of every modality besides the ECG, one ``(n, channels, T)`` array each.

    A store holds one channel list per modality, fixed by the first recording that has
    it; later recordings' channels are matched by name (absent ones stay zero, extra ones
    are left out with a warning), so EEG montages that differ between files still share
    one layout. ``m_<modality>`` in the index says whether a window has the modality.
    """

    def __init__(self, folder: Path, config: PreprocessConfig):
        self.folder, self.config = folder, config
        self.channels: dict[str, list[str]] = {}
        self.writers: dict[str, _ShardWriter] = {}
        self.pending: dict[str, list] = {m: [] for m in config.extra_modalities}

    def write(self, windows, rows: pd.DataFrame, warnings: list[str]) -> None:
        for modality, mw in windows.modalities.items():
            rows[f"m_{modality}"] = mw.present
            if modality not in self.channels and mw.channels:
                self.channels[modality] = list(mw.channels)
            if modality not in self.channels:       # no channel seen yet: keep until one is
                self.pending[modality].append(len(windows))
                continue
            self._flush_pending(modality)
            self.writer(modality).write(self._aligned(modality, mw, rows, warnings))

    def writer(self, modality: str) -> _ShardWriter:
        if modality not in self.writers:
            fs = MODALITY_FILTERS[modality][0]
            length = len(self.channels[modality]) * int(round(self.config.window_s * fs))
            self.writers[modality] = _ShardWriter(self.folder, length, self.config.dtype, modality)
        return self.writers[modality]

    def _aligned(self, modality: str, mw, rows: pd.DataFrame, warnings: list[str]) -> np.ndarray:
        names = [c.lower() for c in self.channels[modality]]
        out = np.zeros((len(mw.data), len(names), mw.data.shape[2]), dtype=mw.data.dtype)
        for j, name in enumerate(mw.channels):
            if name.lower() in names:
                out[:, names.index(name.lower())] = mw.data[:, j]
            else:
                warnings.append(f"{rows['dataset'].iat[0]}/{rows['subject'].iat[0]}/"
                                f"{rows['trial'].iat[0]}: {modality} channel {name!r} is not in "
                                f"the store's channel list {self.channels[modality]}; left out")
        return out.reshape(len(out), -1)

    def _flush_pending(self, modality: str) -> None:
        fs = MODALITY_FILTERS[modality][0]
        length = len(self.channels[modality]) * int(round(self.config.window_s * fs))
        for n in self.pending[modality]:
            self.writer(modality).write(np.zeros((n, length), dtype=self.config.dtype))
        self.pending[modality] = []

    def finish(self) -> dict[str, Any]:
        out = {}
        for modality in self.config.extra_modalities:
            fs = MODALITY_FILTERS[modality][0]
            self.channels.setdefault(modality, [])
            if not self.channels[modality]:
                self.pending[modality] = []   # no recording had it: nothing to store
            self._flush_pending(modality)
            out[modality] = {"channels": self.channels[modality], "fs": fs,
                             "window_len": int(round(self.config.window_s * fs)),
                             "shards": self.writers[modality].finish()
                             if modality in self.writers else []}
        return out


def _index_rows(facts: dict[str, Any], windows, first_row: int) -> pd.DataFrame:
    n = len(windows)
    table: dict[str, Any] = {
        "row": np.arange(first_row, first_row + n),
        "dataset": facts["dataset"], "subject": facts["subject"], "trial": facts["trial"],
        "lead": facts["lead"], "part": facts["part"], "start_s": np.round(windows.start_s, 4),
        "hr_bpm": np.round(windows.heart_rate, 2), "good": windows.good,
    }
    for flag in QUALITY_FLAGS:
        table[f"q_{flag}"] = windows.flags[flag]
    for name, value in sorted(facts["labels"].items()):
        table[f"label_{name}"] = float(value) if value is not None else np.nan
    if windows.sample_label is not None:
        table["label_condition"] = windows.sample_label
    return pd.DataFrame(table)


def _empty_index() -> pd.DataFrame:
    columns = ["row", "dataset", "subject", "trial", "lead", "part", "start_s", "hr_bpm", "good"]
    return pd.DataFrame({c: [] for c in columns + [f"q_{f}" for f in QUALITY_FLAGS]})


def _apply_label_rule(index: pd.DataFrame, label_rule: str | None) -> pd.DataFrame:
    """Binarise trial-level ratings into ``y_<name>`` columns (NaN stays unlabelled)."""
    if not label_rule or index.empty:
        return index
    from ecgemotion.labels import parse_label_rule

    rule = parse_label_rule(label_rule)
    rating_cols = [c for c in index.columns if c.startswith("label_") and c != "label_condition"]
    if not rating_cols:
        return index
    keys = ["dataset", "subject", "trial", "lead"]
    trials = index[keys + rating_cols].drop_duplicates(keys).rename(
        columns={c: c[len("label_"):] for c in rating_cols})
    names = [c[len("label_"):] for c in rating_cols]
    # Per-subject rules must see each subject within its own dataset.
    scoped = trials.assign(subject=trials["dataset"] + "/" + trials["subject"])
    binary = rule.apply(scoped.reset_index(drop=True), names)
    ycols = [f"y_{n}" for n in names]
    for column in ycols:
        trials[column] = binary[column].to_numpy()
    merged = index.merge(trials[keys + ycols], on=keys, how="left")
    merged.attrs["label_rule"] = rule.spec
    return merged
