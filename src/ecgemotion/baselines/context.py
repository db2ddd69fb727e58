"""HRV over a context long enough for it: the 60 s of RR intervals ending at each window.

A 10-s window holds about ten beats, enough for heart rate and RMSSD but not for the
frequency-domain and non-linear measures the HRV standards define over minutes (Task Force
1996): HF power, SD2 of the Poincaré plot, sample entropy, DFA α1. Each window's context is
the 60 s of its own recording ending at its end, built from the windows of that recording
*given in the same call* (so a caller that passes one side of a split never mixes sides);
a window less than 60 s into its recording takes the recording's first 60 s, or all of it
when shorter (the rule the synheart peer is fed by, so the two compare on equal context).
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from ecgemotion.baselines.hrv import (FEATURES, RR_MAX_MS, RR_MIN_MS, RR_REL_DEV, detected_beats,
                                      features_from_peaks, hrv_features, physio_matrix)
from ecgemotion.errors import ConfigError
from ecgemotion.subjects import recording_keys

CONTEXT_S = 60.0
MIN_BEAT_GAP_S = 0.3  # R peaks closer than this are one beat seen by two overlapping windows
MIN_NONLINEAR_RR = 20  # fewer clean intervals: sample entropy and DFA α1 stay NaN
CONTEXT_RULE = ("RR intervals over the 60 s of the recording ending at the window's end, from the "
                "windows of that recording given together; a window under 60 s into it takes its "
                "first 60 s (live: only the windows so far)")
CONTEXT_FEATURES = ("ctx_mean_hr", "ctx_sdnn", "ctx_rmssd", "ctx_pnn50", "ctx_irregular",
                    "ctx_sd2", "ctx_hf", "ctx_sampen", "ctx_dfa_a1")

_BEATS: dict[tuple, np.ndarray] = {}
"""R-peak times per (store identity, row): every system and fold detects a row once."""


def window_beats(windows: np.ndarray, fs: float) -> list[np.ndarray]:
    """R-peak times (s from each window's start) of preprocessed ``(n, T)`` windows, by
    NeuroKit2's detector (better than the envelope one on irregular rhythms) after the window
    features' own high-pass; a window with a non-finite or flat sample has none. The one
    detector of the context features, for store rows and raw windows alike."""
    windows = np.asarray(windows, dtype=np.float64)
    return [_beats(np.ascontiguousarray(x).tobytes(), float(fs)) for x in windows]


@functools.lru_cache(maxsize=256)
def _beats(raw: bytes, fs: float) -> np.ndarray:
    """One window's beats, remembered for the last 256 windows seen: a live stream gives
    each window again with every new one while it is in the 60-s context."""
    found = [peaks for _, _, peaks in detected_beats(np.frombuffer(raw, dtype=np.float64), fs)]
    beats = found[0] / fs if found else np.zeros(0)
    beats.setflags(write=False)
    return beats


def beat_times(store, rows: np.ndarray) -> list[np.ndarray]:
    """:func:`window_beats` of store rows (s, on the recording's clock), detected once per
    row; the windows are read from ``store`` every time, so an evaluation's traced store sees
    the reads."""
    rows = np.asarray(rows, dtype=np.int64)
    windows = store.windows(rows)
    starts = store.index["start_s"].to_numpy(dtype=float)[rows]
    identity = store.meta.get("identity") or str(store.path)
    todo = [i for i, row in enumerate(rows.tolist()) if (identity, row) not in _BEATS]
    for i, beats in zip(todo, window_beats(windows[todo], store.fs)):
        _BEATS[(identity, int(rows[i]))] = beats
    return [start + _BEATS[(identity, row)] for row, start in zip(rows.tolist(), starts)]


def context_spans(starts: np.ndarray, ends: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """(lo, hi) seconds of each window's context within its own recording (``keys``)."""
    spans = np.empty((len(starts), 2))
    first = {k: starts[keys == k].min() for k in np.unique(keys)}
    for i, (end, key) in enumerate(zip(ends, keys)):
        lo = end - CONTEXT_S
        spans[i] = (lo, end) if lo >= first[key] else (first[key], first[key] + CONTEXT_S)
    return spans


def context_rr(times: list[np.ndarray], starts, ends, keys) -> tuple[list[np.ndarray], np.ndarray]:
    """Each window's RR intervals (ms) over its context (:func:`context_spans`) from the
    windows of the same recording given here, and whether that context spans a full 60 s."""
    starts, ends, keys = (np.asarray(a) for a in (starts, ends, keys))
    spans = context_spans(starts, ends, keys)
    same = {k: np.flatnonzero(keys == k) for k in np.unique(keys)}   # rows per recording, once
    rr, full = [], np.zeros(len(starts), dtype=bool)
    for i, (lo, hi) in enumerate(spans):
        mine = same[keys[i]]
        inside = mine[(starts[mine] >= lo - 1e-6) & (ends[mine] <= hi + 1e-6)]
        beats = np.sort(np.concatenate([times[j] for j in inside]))
        if len(beats):
            beats = beats[np.concatenate([[True], np.diff(beats) >= MIN_BEAT_GAP_S])]
        rr.append(np.diff(beats) * 1000.0)
        full[i] = len(inside) and ends[inside].max() - starts[inside].min() >= CONTEXT_S - 1e-6
    return rr, full


def rr_features(rr: np.ndarray, span_s: float | None = None) -> np.ndarray:
    """:data:`CONTEXT_FEATURES` of one context's RR intervals (ms), NaN where undefined.
    The time-domain ones, the irregular share and HF power come from the window features'
    own code (:func:`~ecgemotion.baselines.hrv.features_from_peaks`, same ectopy filter) run
    over the context; SD2, sample entropy (m 2, r 0.2 SD) and DFA α1 (scales 4-16 beats) use
    the clean intervals, the last two with NeuroKit2. ``span_s``: the context's length (HF
    power needs 60 s); default the RR intervals' own sum. Infinite values (sample entropy
    with no matching template) are NaN: undefined, not data."""
    out = np.full(len(CONTEXT_FEATURES), np.nan)
    rr = np.asarray(rr, dtype=float)
    if len(rr) < 2:
        return out
    peaks = np.concatenate([[0.0], np.cumsum(rr)])            # beat times in ms: fs = 1000
    span = peaks[-1] / 1000.0 if span_s is None else span_s
    f = dict(zip(FEATURES, features_from_peaks(peaks, 1000.0, span)))
    out[:6] = [f["mean_hr"], f["sdnn"], f["rmssd"], f["pnn50"], f["rr_irregular"], np.nan]
    out[6] = f["hf"]
    med = np.median(rr)
    clean = rr[(rr >= RR_MIN_MS) & (rr <= RR_MAX_MS) & (np.abs(rr - med) <= RR_REL_DEV * med)]
    if len(clean) >= 3:
        sd1_sq = np.var(np.diff(clean), ddof=1) / 2.0
        out[5] = np.sqrt(max(2.0 * np.var(clean, ddof=1) - sd1_sq, 0.0))
    if len(clean) >= MIN_NONLINEAR_RR and np.std(clean) > 0:
        import neurokit2 as nk  # imported lazily: it is slow to import

        out[7] = nk.entropy_sample(clean, dimension=2, tolerance=0.2 * np.std(clean, ddof=1))[0]
        out[8] = nk.fractal_dfa(clean, scale=np.arange(4, 17), show=False)[0]
    return np.where(np.isfinite(out), out, np.nan)


def context_values(times: list[np.ndarray], starts, window_s: float, keys,
                   past: int = 0) -> np.ndarray:
    """``(n - past, len(CONTEXT_FEATURES))`` of windows with R-peak ``times`` (s, recording
    clock), ``starts`` and recordings ``keys``, each context from the windows given here; the
    first ``past`` windows are there as context only."""
    starts = np.asarray(starts, dtype=float)
    rr, full = context_rr(times, starts, starts + window_s, keys)
    with np.errstate(all="ignore"):
        values = np.array([rr_features(r, CONTEXT_S if f else None)
                           for r, f in zip(rr[past:], full[past:])])
    return values.reshape(len(starts) - past, len(CONTEXT_FEATURES))


def context_table(store, rows) -> pd.DataFrame:
    """:data:`CONTEXT_FEATURES` of each of ``rows``, its context taken from ``rows`` only."""
    rows = np.asarray(rows, dtype=np.int64)
    values = context_values(beat_times(store, rows),
                            store.index["start_s"].to_numpy(dtype=float)[rows],
                            store.window_len / store.fs, recording_keys(store.index, rows))
    return pd.DataFrame(values, columns=list(CONTEXT_FEATURES))


def hybrid_features(windows: np.ndarray, fs: float, names, starts=None,
                    past: int = 0) -> np.ndarray:
    """A hybrid model's raw inputs ``names`` (``(n - past, F)`` float32, NaN where undefined)
    for preprocessed ``windows`` of ONE recording starting at ``starts`` (s, its clock): window
    features by :func:`~ecgemotion.baselines.hrv.hrv_features`, ``ctx_`` ones from the
    contexts these windows make (:func:`context_values`); the first ``past`` windows are
    earlier ones, given as context only. What ``predict``, ``--follow`` and the ONNX check
    compute; the training rows went through the same functions."""
    names = list(names)
    windows = np.atleast_2d(np.asarray(windows))
    table = pd.DataFrame(index=range(len(windows) - past))
    if set(names) - set(CONTEXT_FEATURES):
        table = hrv_features(windows[past:], fs)
    if set(names) & set(CONTEXT_FEATURES):
        if starts is None:
            raise ConfigError("a model with context features (ctx_*) needs each window's start "
                              "time; none was given")
        starts = np.asarray(starts, dtype=float)
        if starts.shape != (len(windows),):
            raise ConfigError(f"expected one start time per window ({len(windows)}), "
                              f"found {starts.shape[0] if starts.ndim else 0}")
        times = [start + beats for start, beats in zip(starts, window_beats(windows, fs))]
        values = context_values(times, starts, windows.shape[1] / fs, np.zeros(len(windows)),
                                past)
        table = table.join(pd.DataFrame(values, columns=list(CONTEXT_FEATURES)))
    return physio_matrix(table, names)
