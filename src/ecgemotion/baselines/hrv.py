"""The classical baseline: heart-rate-variability features per window + a linear or forest model.

Features (per window; RR intervals in ms from NeuroKit2's R peaks):

==========  ==============================================================  =====================
``mean_hr``  60000 / mean RR (bpm)                                           always
``mean_rr``  mean RR (ms)                                                    always
``sdnn``     standard deviation of the RR intervals (ms)                     >= 3 clean intervals
``rmssd``    root mean square of successive RR differences (ms)              >= 2 clean differences
``pnn50``    % of successive differences above 50 ms                         >= 2 clean differences
``hf``       power 0.15–0.40 Hz of the 4 Hz-resampled RR series (ms²)        window >= 60 s
``lf``       power 0.04–0.15 Hz (ms²)                                        window >= 120 s
``lf_hf``    ``lf / hf``                                                     window >= 120 s
``rr_min``   shortest, longest, median RR among plausible (300–2000 ms)      >= 2 intervals
``rr_max``   intervals *before* the 30 % ectopy filter, so they keep the
``rr_med..`` irregularity that filter removes (atrial fibrillation)
``rr_irr..`` share of plausible intervals > 30 % from their median           >= 2 intervals
``qrs_ms``   median R-wave width at half height (ms): a QRS width proxy      >= 1 beat
==========  ==============================================================  =====================

:data:`PHYSIO_FEATURES` (the time-domain set plus the beat set) is what the ``hybrid``
models join to the learned embedding: all of it is defined on a 10-s window.

Frequency measures need several cycles of their slowest component: HF (down to 0.15 Hz)
is taken from 60-s windows, LF (down to 0.04 Hz, a 25-s period) from 120-s windows, the
shortest lengths commonly accepted (Task Force of the ESC/NASPE 1996 recommends 1 min
for HF and 2 min for LF; 5 min as the standard). On the usual 10-s emotion windows they
would be noise, so they are NaN there and the model drops all-NaN columns.

Robustness: peak detection runs on each window after a batched 0.5 Hz high-pass (as
``nk.ecg_clean``'s ``neurokit`` method, without its 2-sample powerline average). RR
intervals outside 300–2000 ms or more than 30 % from the window's median RR are dropped
(missed or extra beats), and a successive difference counts only when both of its
intervals are clean. A window where detection fails, or fewer than two clean intervals
remain, gets NaN features; inside the model NaNs are replaced by the **training** median
(``SimpleImputer`` inside the pipeline, so test statistics never leak in).

Speed: ~2 ms per 10-s, 128 Hz window on one core (measure with
``python -m ecgemotion.baselines.hrv``); ``n_jobs`` spreads large batches over
processes, and :class:`HRVFeatureCache` computes each store row once for all folds.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import signal as sps
from ecgemotion.row_cache import RowCache
from ecgemotion.signal import r_peaks

__all__ = ["FEATURES", "TIME_FEATURES", "FREQ_FEATURES", "BEAT_FEATURES", "PHYSIO_FEATURES",
           "HF_MIN_S", "LF_MIN_S", "FEATURE_VERSION",
           "window_hrv", "hrv_features", "physio_matrix", "HRVFeatureCache", "make_model", "fit_predict_features",
           "fit_predict_hrv"]

FEATURE_VERSION = 2
TIME_FEATURES = ("mean_hr", "mean_rr", "sdnn", "rmssd", "pnn50")
FREQ_FEATURES = ("lf", "hf", "lf_hf")
BEAT_FEATURES = ("rr_min", "rr_max", "rr_median", "rr_irregular", "qrs_ms")
FEATURES = TIME_FEATURES + FREQ_FEATURES + ("n_beats",) + BEAT_FEATURES
MODEL_FEATURES = TIME_FEATURES + FREQ_FEATURES
PHYSIO_FEATURES = TIME_FEATURES + BEAT_FEATURES
HF_MIN_S = 60.0
LF_MIN_S = 120.0
RR_MIN_MS, RR_MAX_MS, RR_REL_DEV = 300.0, 2000.0, 0.30
_INTERP_FS = 4.0


# -- features of one window ----------------------------------------------------------------
def _band_power(freqs: np.ndarray, psd: np.ndarray, lo: float, hi: float) -> float:
    sel = (freqs >= lo) & (freqs < hi)
    if sel.sum() < 2:
        return float("nan")
    return float(np.trapezoid(psd[sel], freqs[sel]))


def qrs_width_ms(x: np.ndarray, peaks: np.ndarray, fs: float) -> float:
    """Median width (ms) of the R wave at half its height above the local median, crossings
    linearly interpolated: a QRS width proxy that needs no delineation."""
    half = int(0.1 * fs)
    widths = []
    for p in np.asarray(peaks, dtype=np.int64):
        lo, hi = max(0, p - half), min(len(x), p + half + 1)
        seg = x[lo:hi] - np.median(x[lo:hi])
        i = p - lo
        level = seg[i] / 2.0
        if level <= 0:
            continue
        below = np.flatnonzero(seg[:i] <= level)
        above = np.flatnonzero(seg[i:] <= level)
        if not len(below) or not len(above):
            continue
        a, b = below[-1], i + above[0]
        left = a + (seg[a] - level) / (seg[a] - seg[a + 1])
        right = b - 1 + (seg[b - 1] - level) / (seg[b - 1] - seg[b])
        widths.append((right - left) / fs * 1000.0)
    return float(np.median(widths)) if widths else float("nan")


def features_from_peaks(peaks: np.ndarray, fs: float, window_s: float,
                        x: np.ndarray | None = None) -> np.ndarray:
    """The :data:`FEATURES` vector from R-peak sample positions of one window; ``x`` (the
    high-passed window) adds ``qrs_ms``."""
    out = np.full(len(FEATURES), np.nan)
    peaks = np.asarray(peaks)
    out[FEATURES.index("n_beats")] = len(peaks)
    if x is not None and len(peaks):
        out[FEATURES.index("qrs_ms")] = qrs_width_ms(x, peaks, fs)
    if len(peaks) < 3:
        return out
    rr = np.diff(peaks) / fs * 1000.0
    med = np.median(rr)
    plausible = rr[(rr >= RR_MIN_MS) & (rr <= RR_MAX_MS)]
    if len(plausible) >= 2:
        pmed = np.median(plausible)
        out[[FEATURES.index(c) for c in BEAT_FEATURES[:4]]] = (
            plausible.min(), plausible.max(), pmed,
            np.mean(np.abs(plausible - pmed) > RR_REL_DEV * pmed))
    clean = (rr >= RR_MIN_MS) & (rr <= RR_MAX_MS) & (np.abs(rr - med) <= RR_REL_DEV * med)
    if clean.sum() < 2:
        return out
    good = rr[clean]
    mean_rr = good.mean()
    out[0], out[1] = 60000.0 / mean_rr, mean_rr
    if len(good) >= 3:
        out[2] = good.std(ddof=1)
    pair = clean[1:] & clean[:-1]
    if pair.sum() >= 2:
        d = np.diff(rr)[pair]
        out[3] = np.sqrt(np.mean(d * d))
        out[4] = 100.0 * np.mean(np.abs(d) > 50.0)
    if window_s >= HF_MIN_S and clean.sum() >= 8:
        t = peaks[1:][clean] / fs
        grid = np.arange(t[0], t[-1], 1.0 / _INTERP_FS)
        if len(grid) >= 16:
            series = np.interp(grid, t, good)
            series = sps.detrend(series)
            nper = min(len(series), int(_INTERP_FS * min(window_s, 256.0)))
            freqs, psd = sps.welch(series, fs=_INTERP_FS, nperseg=nper, detrend=False)
            hf = _band_power(freqs, psd, 0.15, 0.40)
            out[FEATURES.index("hf")] = hf
            if window_s >= LF_MIN_S:
                lf = _band_power(freqs, psd, 0.04, 0.15)
                out[FEATURES.index("lf")] = lf
                out[FEATURES.index("lf_hf")] = lf / hf if hf and hf > 0 else np.nan
    return out


def _highpass(windows: np.ndarray, fs: float) -> np.ndarray:
    sos = sps.butter(5, 0.5, btype="highpass", fs=fs, output="sos")
    return sps.sosfiltfilt(sos, windows, axis=-1)


def detected_beats(windows: np.ndarray, fs: float):
    """``(row, high-passed window, R peaks)`` for each finite, non-flat row of ``(n, T)``
    windows: the HRV features' detector (0.5-Hz high-pass, then NeuroKit2), the one every
    reader of beats that must agree with the HRV baseline goes through."""
    windows = np.atleast_2d(np.asarray(windows, dtype=np.float64))
    ok = np.isfinite(windows).all(axis=1) & (np.ptp(windows, axis=1) > 0)
    if ok.any():
        for i, row in zip(np.flatnonzero(ok), _highpass(windows[ok], fs)):
            yield int(i), row, r_peaks(row, fs, method="neurokit")


def window_hrv(x: np.ndarray, fs: float) -> np.ndarray:
    """The :data:`FEATURES` vector of one window (1-D array)."""
    return _chunk_features((np.asarray(x, dtype=np.float64)[None, :], fs))[0]


def _chunk_features(args) -> np.ndarray:
    windows, fs = args
    windows = np.asarray(windows, dtype=np.float64)
    out = np.full((len(windows), len(FEATURES)), np.nan)
    if len(windows) == 0:
        return out
    out[:, FEATURES.index("n_beats")] = 0          # what a window the detector skips keeps
    for i, row, peaks in detected_beats(windows, fs):
        out[i] = features_from_peaks(peaks, fs, windows.shape[1] / fs, row)
    return out


def hrv_features(windows: np.ndarray, fs: float, n_jobs: int = 1, chunk: int = 512) -> pd.DataFrame:
    """HRV features of ``(n, T)`` windows as a DataFrame with columns :data:`FEATURES`.

    ``n_jobs`` > 1 (or -1 for all cores) uses worker processes for batches of more than
    ``2 * chunk`` windows; the high-pass filter is batched, peak detection is per window.
    """
    windows = np.atleast_2d(np.asarray(windows))
    n = len(windows)
    jobs = (os.cpu_count() or 1) if n_jobs in (-1, 0, None) else int(n_jobs)
    if jobs > 1 and n > 2 * chunk:
        pieces = [(windows[i:i + chunk], fs) for i in range(0, n, chunk)]
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            values = np.concatenate(list(pool.map(_chunk_features, pieces)))
    else:
        values = np.concatenate([_chunk_features((windows[i:i + chunk], fs))
                                 for i in range(0, n, chunk)]) if n else \
            np.zeros((0, len(FEATURES)))
    return pd.DataFrame(values, columns=list(FEATURES))


def physio_matrix(table: pd.DataFrame, names=PHYSIO_FEATURES) -> np.ndarray:
    """The hybrid models' physiological inputs ``names`` as ``(n, F)`` float32, NaN where
    undefined, from a feature table (:func:`hrv_features`, :class:`HRVFeatureCache`)."""
    return table[list(names)].to_numpy(dtype=np.float32, copy=True)


# -- per-row cache ---------------------------------------------------------------------------
class HRVFeatureCache:
    """HRV features per store row, computed once and reused by every fold (a
    :class:`~ecgemotion.row_cache.RowCache` keyed by the feature definition).

    ``source`` is a ``WindowStore`` (anything with ``windows(rows)``, ``fs`` and, for the
    disk cache, ``meta["identity"]``) or a callable ``rows -> (n, T) array`` with ``fs``
    given.
    """

    def __init__(self, source, fs: float | None = None, n_jobs: int = 1,
                 cache_dir: str | Path | None = None):
        if fs is None and not hasattr(source, "windows"):
            raise ValueError("fs is required when source is a callable")
        self.fs = float(source.fs if fs is None else fs)
        self._cache = RowCache(source, lambda w: hrv_features(w, self.fs, n_jobs=n_jobs).to_numpy(),
                               "hrv-features", [self.fs, FEATURE_VERSION, RR_REL_DEV, HF_MIN_S,
                                                LF_MIN_S], cache_dir, columns=list(FEATURES))

    @property
    def file(self) -> Path | None:
        return self._cache.file

    @property
    def computed(self) -> int:
        return self._cache.computed

    @property
    def seconds(self) -> float:
        return self._cache.seconds

    def __call__(self, rows) -> pd.DataFrame:
        return self.features(rows)

    def features(self, rows) -> pd.DataFrame:
        """Feature table for ``rows`` (index = row), computing only rows not seen before."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        return pd.DataFrame(self._cache(rows), columns=list(FEATURES),
                            index=pd.Index(rows, name="row"))


# -- models -----------------------------------------------------------------------------------
def make_model(model: str = "logreg", seed: int = 0, n_jobs: int = 1, class_weight=None,
               C: float = 1.0, max_iter: int = 2000):
    """``logreg``: median imputation → standardisation → L2 logistic regression (``C``);
    ``forest``: median imputation → 300-tree random forest (min 3 samples per leaf);
    ``gbm``: histogram gradient boosting (NaN handled natively)."""
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if model == "logreg":
        return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                             LogisticRegression(max_iter=max_iter, class_weight=class_weight, C=C,
                                                random_state=seed))
    if model == "forest":
        return make_pipeline(SimpleImputer(strategy="median"),
                             RandomForestClassifier(n_estimators=300, min_samples_leaf=3,
                                                    class_weight=class_weight, random_state=seed,
                                                    n_jobs=n_jobs))
    if model == "gbm":
        return HistGradientBoostingClassifier(class_weight=class_weight, random_state=seed)
    from ecgemotion.errors import ConfigError
    raise ConfigError(f"unknown HRV model {model!r}; choose logreg, forest or gbm")


def fit_predict_features(train_x, train_y, test_x, model: str = "logreg", seed: int = 0,
                         features=MODEL_FEATURES, n_jobs: int = 1, class_weight=None,
                         C: float = 1.0) -> np.ndarray:
    """Fit on a training feature table, return P(high) for the test table.

    Columns that are entirely NaN in training (e.g. LF/HF on 10-s windows) are dropped;
    remaining NaNs are imputed with the training median inside the pipeline. A training
    set with one class predicts that class's share (no model can be fitted).
    """
    train_x = pd.DataFrame(train_x, columns=list(FEATURES)) if not isinstance(train_x, pd.DataFrame) \
        else train_x
    test_x = pd.DataFrame(test_x, columns=list(FEATURES)) if not isinstance(test_x, pd.DataFrame) \
        else test_x
    y = np.asarray(train_y, dtype=float).reshape(-1)
    if np.isnan(y).any():
        raise ValueError("training labels contain NaN")
    cols = [c for c in features if c in train_x.columns and train_x[c].notna().any()]
    if len(np.unique(y)) < 2 or not cols:
        return np.full(len(test_x), float(y.mean()) if len(y) else 0.5)
    clf = make_model(model, seed=seed, n_jobs=n_jobs, class_weight=class_weight, C=C)
    clf.fit(train_x[cols].to_numpy(dtype=float), y.astype(np.int64))
    proba = clf.predict_proba(test_x[cols].to_numpy(dtype=float))
    return proba[:, list(clf.classes_).index(1)]


def fit_predict_hrv(train_windows, train_y, test_windows, fs: float, model: str = "logreg",
                    seed: int = 0, n_jobs: int = 1, class_weight=None) -> np.ndarray:
    """HRV baseline end to end: features of both window sets, fit, P(high) for the test set.

    Either argument may also be a precomputed feature table (from :func:`hrv_features` or
    :class:`HRVFeatureCache`), which is what an evaluation over many folds should pass.
    """
    def table(w):
        return w if isinstance(w, pd.DataFrame) else hrv_features(w, fs, n_jobs=n_jobs)

    return fit_predict_features(table(train_windows), train_y, table(test_windows), model=model,
                                seed=seed, n_jobs=n_jobs, class_weight=class_weight)


def _benchmark(n: int = 2000, fs: float = 128.0, window_s: float = 10.0, n_jobs: int = 1) -> dict:
    """Windows per second of :func:`hrv_features` on synthetic ECG."""
    from ecgemotion.synthetic import ecg

    rng = np.random.default_rng(0)
    base = np.stack([ecg(window_s, fs, hr_bpm=float(rng.uniform(55, 100)), seed=i)
                     for i in range(min(n, 200))])
    windows = base[np.arange(n) % len(base)]
    hrv_features(windows[:10], fs)  # warm-up (imports)
    t0 = time.perf_counter()
    table = hrv_features(windows, fs, n_jobs=n_jobs)
    dt = time.perf_counter() - t0
    return {"windows": n, "seconds": round(dt, 3), "windows_per_s": round(n / dt, 1),
            "n_jobs": n_jobs, "nan_share": float(table["mean_hr"].isna().mean())}


if __name__ == "__main__":  # python -m ecgemotion.baselines.hrv [n] [n_jobs]
    import sys

    print(_benchmark(int(sys.argv[1]) if len(sys.argv) > 1 else 2000,
                     n_jobs=int(sys.argv[2]) if len(sys.argv) > 2 else 1))
