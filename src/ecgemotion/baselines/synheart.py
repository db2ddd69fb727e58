"""The synheart peer: PyPI ``synheart-emotion`` 0.1.0, a ready-made stress model.

It ships ExtraTrees classifiers (WESAD chest ECG, baseline vs stress) as ONNX with JSON
metadata, fed 14 HRV features over 60-120 s of RR intervals; below 10 valid intervals its
feature function returns zeros. Our windows are 10 s, so each window's features come from the
RR intervals of the preceding 60 s of its own recording (:func:`context_features`).
The package is optional (``pip install 'ecgemotion[peers]'``); :func:`require` says so.
"""

from __future__ import annotations

import numpy as np

from ecgemotion.baselines.hrv import _highpass
from ecgemotion.errors import ConfigError
from ecgemotion.signal import r_peaks

PACKAGE = "synheart-emotion==0.1.0"
MODEL = "ExtraTrees_60_5_nozipmap"
"""The shipped model read zero-shot: the one trained on 60-s windows, the shortest context."""
CONTEXT_S = 60.0
MIN_RR = 10          # fewer valid RR intervals and synheart's features are all zero
MIN_BEAT_GAP_S = 0.3  # R peaks closer than this are one beat seen by two overlapping windows


def require():
    """The installed package, or a ConfigError saying how to install it."""
    try:
        import synheart_emotion
    except ImportError:
        raise ConfigError("the synheart and synheart-refit systems need the synheart-emotion "
                          f"package, which is not installed: pip install 'ecgemotion[peers]' "
                          f"(or pip install {PACKAGE})") from None
    return synheart_emotion


_BEATS: dict[tuple, np.ndarray] = {}
"""R-peak times per (store identity, row): both peer systems and every fold detect a row once."""


def beat_times(store, rows: np.ndarray) -> list[np.ndarray]:
    """R-peak times (s, on the recording's clock) of each row's window, with the HRV features'
    detector; the windows are read from ``store`` every time, so its reads are traced."""
    windows = np.asarray(store.windows(rows), dtype=np.float64)
    starts = store.index["start_s"].to_numpy(dtype=float)[rows]
    identity = store.meta.get("identity") or str(store.path)
    out = []
    for x, row, start in zip(windows, rows.tolist(), starts):
        key = (identity, row)
        if key not in _BEATS:
            finite = np.isfinite(x).all() and np.ptp(x) > 0
            _BEATS[key] = (r_peaks(_highpass(x[None, :], store.fs)[0], store.fs, method="neurokit")
                           / store.fs if finite else np.zeros(0))
        out.append(start + _BEATS[key])
    return out


def context_spans(starts: np.ndarray, ends: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """(lo, hi) seconds of each window's context: the 60 s ending at its end, within its own
    recording (``keys``); a window less than 60 s into its recording takes the recording's
    first 60 s (its whole length when shorter)."""
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


def peer_features(rr: list[np.ndarray]) -> np.ndarray:
    """synheart's 14 features per RR list, in its model's input order; NaN rows where it has
    fewer than :data:`MIN_RR` valid intervals (its zeros would be read as data)."""
    from synheart_emotion.synheart_emotion import _clean_rr_intervals, extract_14_features

    out = np.full((len(rr), 14), np.nan)
    for i, r in enumerate(rr):
        if len(_clean_rr_intervals(list(r))) >= MIN_RR:
            out[i] = extract_14_features(list(r))
    return out


def shipped_stress_probability(features: np.ndarray) -> np.ndarray:
    """P(Stress) of the shipped model (:data:`MODEL`) for finite feature rows."""
    from synheart_emotion.synheart_emotion import _load_model_from_package

    session, _, classes, _ = _load_model_from_package(MODEL)
    _, probabilities = session.run(None, {session.get_inputs()[0].name:
                                          np.asarray(features, dtype=np.float32)})
    return np.asarray(probabilities, dtype=float)[:, classes.index("Stress")]


def high_probability(p_stress: np.ndarray, target: str) -> np.ndarray:
    """The peer's P(Stress) read as our P(high): stress is high arousal and low valence, so
    valence takes 1 - P(Stress); every other target takes P(Stress) as it is."""
    return 1.0 - p_stress if target == "valence" else p_stress
