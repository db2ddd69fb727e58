"""Pure signal-processing functions for single-lead ECG. No I/O, ``fs`` always explicit.

Every function takes and returns numpy arrays; windowed functions take a 2-D
array ``(n_windows, window_len)`` so that a whole recording is processed with a
few vectorised calls instead of a Python loop per window.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

import numpy as np
from scipy import signal as sps


def bandpass(x: np.ndarray, fs: float, low_hz: float | None = 0.5, high_hz: float | None = 40.0,
             order: int = 2) -> np.ndarray:
    """Zero-phase Butterworth band-pass (``sosfiltfilt``), so QRS timing is not shifted.

    Either edge may be ``None`` (high-pass only / low-pass only). A high edge at or
    above Nyquist is dropped rather than raising, because a 100 Hz recording cannot
    carry a 60 Hz component anyway. ``order`` is per pass; filtfilt doubles it.
    """
    nyq = fs / 2.0
    low = low_hz if low_hz and low_hz > 0 else None
    high = high_hz if high_hz and high_hz < nyq * 0.99 else None
    if low is None and high is None:
        return np.asarray(x, dtype=np.float64)
    sos = _butter(order, low, high, float(fs)).copy()
    padlen = min(len(x) - 1, 3 * (2 * len(sos) + 1) * 10)
    return sps.sosfiltfilt(sos, x, padlen=max(padlen, 0))


@lru_cache(maxsize=64)
def _butter(order: int, low: float | None, high: float | None, fs: float) -> np.ndarray:
    """The Butterworth sections of :func:`bandpass`, designed once per (order, band, rate):
    a stream filters every EEG channel of every window with the same few filters, and each
    design takes scipy milliseconds (callers filter with a copy: the cached one never changes)."""
    if low is not None and high is not None:
        sos = sps.butter(order, [low, high], btype="bandpass", fs=fs, output="sos")
    else:
        sos = sps.butter(order, low if low is not None else high,
                         btype="highpass" if low is not None else "lowpass", fs=fs, output="sos")
    return sos


def notch(x: np.ndarray, fs: float, freq_hz: float = 50.0, quality: float = 30.0) -> np.ndarray:
    """Zero-phase IIR notch at the mains frequency (and nothing if it is above Nyquist)."""
    if freq_hz >= fs / 2.0:
        return np.asarray(x, dtype=np.float64)
    b, a = sps.iirnotch(freq_hz, quality, fs=fs)
    return sps.filtfilt(b, a, x, padlen=min(len(x) - 1, 3 * max(len(a), len(b))))


def resample(x: np.ndarray, fs: float, target_fs: float, half_len: int = 10) -> np.ndarray:
    """Polyphase resampling to ``target_fs`` (anti-aliased, zero-phase FIR).

    The rate ratio is approximated by a fraction with a denominator ≤ 1000, which is
    exact for every rate in use (100, 128, 250, 256, 300, 360, 500, 700, 1000, 2048 Hz).
    ``half_len`` sets the anti-alias filter's length in units of the larger of the two
    factors (scipy's default is 10); 3 is ~3× faster and is enough when a low-pass
    well below the new Nyquist follows (−0.4 dB at 0.31·fs, −26 dB at 0.69·fs).
    The median is removed first so that a large DC offset (ADC counts) does not ring
    at the edges where ``resample_poly`` pads with zeros.
    """
    if fs == target_fs:
        return np.asarray(x, dtype=np.float64)
    ratio = Fraction(target_fs / fs).limit_denominator(1000)
    up, down = ratio.numerator, ratio.denominator
    offset = float(np.median(x[:: max(1, len(x) // 4096)])) if len(x) else 0.0  # subsampled: cheap
    window: object = ("kaiser", 5.0)
    if half_len != 10:
        m = max(up, down)
        window = sps.firwin(2 * half_len * m + 1, 1.0 / m, window=("kaiser", 5.0))
    return sps.resample_poly(x - offset, up, down, window=window) + offset


def nan_runs(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start indices and lengths of the runs of NaN in ``x``."""
    isnan = np.isnan(x)
    if not isnan.any():
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    edges = np.diff(np.concatenate(([0], isnan.view(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    return starts, ends - starts


def repair_gaps(x: np.ndarray, fs: float, max_gap_s: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Linearly interpolate NaN gaps; report which samples lay in gaps longer than ``max_gap_s``.

    Returns ``(filled, long_gap_mask)``. Every NaN is filled (so filters can run
    over the whole recording), but samples in long gaps are marked: a window that
    touches them must be rejected, because the fill is invented data. Inf counts as
    missing. Raises ``ValueError`` when nothing is finite.
    """
    x = np.asarray(x, dtype=np.float64)
    mask = np.zeros(len(x), dtype=bool)
    finite = np.isfinite(x)
    if finite.all():
        return x, mask
    x = np.where(finite, x, np.nan)
    starts, lengths = nan_runs(x)
    good = ~np.isnan(x)
    if not good.any():
        raise ValueError("signal has no finite samples")
    idx = np.arange(len(x))
    x[~good] = np.interp(idx[~good], idx[good], x[good])
    for start, length in zip(starts, lengths):
        if length > max_gap_s * fs:
            mask[start:start + length] = True
    return x, mask


def window_starts(n_samples: int, window_len: int, step: int) -> np.ndarray:
    """Start indices of all complete windows of ``window_len`` samples every ``step``."""
    if n_samples < window_len:
        return np.zeros(0, dtype=np.int64)
    return np.arange(0, n_samples - window_len + 1, step, dtype=np.int64)


def sliding_windows(x: np.ndarray, window_len: int, step: int) -> np.ndarray:
    """A zero-copy ``(n_windows, window_len)`` view of ``x`` (complete windows only)."""
    if len(x) < window_len:
        return np.zeros((0, window_len), dtype=x.dtype)
    return np.lib.stride_tricks.sliding_window_view(x, window_len)[::step]


def window_sums(values: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """Sum of ``values[start:start+length]`` for each start (windows clipped at the end).

    Back-to-back windows are summed through a reshape (one pass, no temporaries);
    other layouts through a cumulative sum, O(n) however many windows there are.
    """
    n = len(starts)
    if n and starts[0] >= 0 and starts[-1] + length <= len(values) and \
            (n == 1 or np.all(np.diff(starts) == length)):
        return values[starts[0]:starts[0] + n * length].reshape(n, length).sum(axis=1)
    csum = np.concatenate(([0], np.cumsum(values)))
    ends = np.minimum(starts + length, len(values))
    return csum[ends] - csum[np.minimum(starts, len(values))]


def count_in_windows(flags: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """How many ``True`` samples of ``flags`` fall in ``[start, start+length)`` for each start."""
    if not flags.any():
        return np.zeros(len(starts), dtype=np.int64)
    return window_sums(flags.astype(np.int64), starts, length)


def zscore(windows: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """Per-window z-score. A constant window becomes zeros, never NaN."""
    if len(windows) and np.max(np.abs(windows)) > 1e150:  # mean/std would overflow: rescale first
        peak = np.max(np.abs(windows), axis=1, keepdims=True)
        windows = windows / np.where(peak > 0, peak, 1.0)
    mean = windows.mean(axis=1, keepdims=True)
    std = windows.std(axis=1, keepdims=True)
    return np.where(std > eps, (windows - mean) / np.maximum(std, eps), 0.0)


def robust_scale(x: np.ndarray, valid: np.ndarray | None = None) -> tuple[float, float]:
    """Median and a robust standard deviation (IQR / 1.349) of the valid samples."""
    values = x if valid is None else x[valid]
    if len(values) == 0:
        return 0.0, 1.0
    q25, med, q75 = np.percentile(values, [25, 50, 75])
    std = (q75 - q25) / 1.349
    return float(med), float(std) if std > 0 else float(np.std(values)) or 1.0


def qrs_envelope(windows: np.ndarray, fs: float) -> np.ndarray:
    """Energy envelope that peaks once per QRS: squared slope, smoothed over ~80 ms."""
    slope = np.diff(windows, axis=-1, prepend=windows[..., :1])
    energy = slope * slope
    width = max(1, int(round(0.08 * fs)))
    kernel = np.ones(width) / width
    if windows.ndim == 1:
        return np.convolve(energy, kernel, mode="same")
    return sps.fftconvolve(energy, kernel[None, :], mode="same", axes=-1)


def beat_peaks(windows: np.ndarray, fs: float) -> list[np.ndarray]:
    """QRS-envelope peaks of each window (above 0.3 × its 99th percentile, ≥ 0.25 s apart)."""
    if len(windows) == 0:
        return []
    env = qrs_envelope(windows, fs)
    tops = np.percentile(env, 99, axis=1)
    distance = max(1, int(0.25 * fs))
    return [sps.find_peaks(row, height=0.3 * top, distance=distance)[0] if top > 0
            else np.zeros(0, dtype=np.int64) for row, top in zip(env, tops)]


R_PEAK_METHODS = ("envelope", "neurokit")


def r_peaks(x: np.ndarray, fs: float, method: str = "envelope") -> np.ndarray:
    """R-peak sample indices of one preprocessed signal (the one R-peak detector of the package).

    ``envelope``: :func:`beat_peaks`'s QRS-envelope peaks, fast, what the quality flags and
    heart-rate checks use. ``neurokit``: NeuroKit2's detector (``ecg_peaks``, method
    "neurokit", no artefact correction), slower and better on irregular rhythms, what the HRV
    features use; a detector failure means no peaks."""
    if method == "envelope":
        return beat_peaks(np.asarray(x)[None, :], fs)[0]
    if method != "neurokit":
        raise ValueError(f"r_peaks: method must be one of {R_PEAK_METHODS}, found {method!r}")
    import warnings

    import neurokit2 as nk  # imported lazily: it is slow to import

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            _, info = nk.ecg_peaks(x, sampling_rate=int(round(fs)), method="neurokit",
                                   correct_artifacts=False)
        except Exception:  # noqa: BLE001 - any failure of the detector means "no peaks"
            return np.zeros(0, dtype=np.int64)
    return np.asarray(info["ECG_R_Peaks"], dtype=np.int64)


def median_beat(x: np.ndarray, peaks: np.ndarray, fs: float, before_s: float = 0.25,
                after_s: float = 0.45) -> np.ndarray | None:
    """The z-scored median beat of ``x`` from ``before_s`` before to ``after_s`` after each R
    peak (peaks too near an edge left out); None when no beat fits the window."""
    a, b = round(before_s * fs), round(after_s * fs)
    peaks = np.asarray(peaks)
    peaks = peaks[(peaks >= a) & (peaks + b <= len(x))]
    if not len(peaks):
        return None
    t = np.median(np.stack([x[p - a: p + b] for p in peaks]), axis=0)
    return (t - t.mean()) / (t.std() + 1e-6)


def heart_rate_windows(windows: np.ndarray, fs: float,
                       peaks: list[np.ndarray] | None = None) -> np.ndarray:
    """Heart rate (bpm) per window from the median RR interval; NaN when < 3 beats found."""
    peaks = beat_peaks(windows, fs) if peaks is None else peaks
    return np.array([60.0 * fs / float(np.median(np.diff(p))) if len(p) >= 3 else np.nan
                     for p in peaks], dtype=np.float64)


def beat_correlation(windows: np.ndarray, fs: float, peaks: list[np.ndarray] | None = None,
                     before_s: float = 0.2, after_s: float = 0.3) -> np.ndarray:
    """Template-matching signal-quality index: mean correlation of each beat with the others.

    Beats of ECG repeat, so each beat correlates with the average of the other beats
    (~0.9 on clean ECG); noise and EMG also trigger the detector, but the "beats" it
    finds do not repeat (~0). Leave-one-out, because with the beat itself in the
    template a window of 4 random bursts would still score ~1/√4. After Orphanidou et
    al. (2015), who average beats the same way. NaN when fewer than 3 whole beats.
    """
    peaks = beat_peaks(windows, fs) if peaks is None else peaks
    before, after = int(round(before_s * fs)), int(round(after_s * fs))
    offsets = np.arange(-before, after)
    out = np.full(len(windows), np.nan)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for i, (row, p) in enumerate(zip(windows, peaks)):
            p = p[(p >= before) & (p + after <= len(row))]
            if len(p) < 3:
                continue
            beats = row[p[:, None] + offsets] / np.max(np.abs(row))   # scale-free: no overflow
            beats = beats - beats.mean(axis=1, keepdims=True)
            others = beats.sum(axis=0) - beats          # leave-one-out templates (centred, too)
            norms = np.linalg.norm(beats, axis=1) * np.linalg.norm(others, axis=1)
            out[i] = float(np.mean(np.einsum("ij,ij->i", beats, others) / np.maximum(norms, 1e-300)))
    return out


def kurtosis(windows: np.ndarray) -> np.ndarray:
    """Pearson kurtosis per window (3 for Gaussian noise, 1.5 for a sine, > 5 for ECG); NaN if constant."""
    with np.errstate(over="ignore", invalid="ignore"):
        centred = windows - windows.mean(axis=1, keepdims=True)
        peak = np.max(np.abs(centred), axis=1, keepdims=True)
        centred = centred / np.where(peak > 0, peak, 1.0)   # scale-free: no overflow at 1e300
        squared = centred * centred
        m2 = squared.mean(axis=1)
        m4 = (squared * squared).mean(axis=1)
        return np.where(m2 > 0, m4 / np.where(m2 > 0, m2, 1.0) ** 2, np.nan)


def std_in_windows(x: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """Standard deviation of ``x[start:start+length]`` for each start, in O(n) total."""
    centred = x - np.mean(x)
    n = np.maximum(np.minimum(starts + length, len(x)) - np.minimum(starts, len(x)), 1)
    s1 = window_sums(centred, starts, length)
    s2 = window_sums(centred * centred, starts, length)
    return np.sqrt(np.maximum(s2 / n - (s1 / n) ** 2, 0.0))


def flat_windows(window_std: np.ndarray, rel: float = 0.05, eps: float = 1e-9) -> np.ndarray:
    """Windows whose spread is below ``rel`` × the recording's median window spread.

    Judged on raw samples (a filter would smear neighbouring beats into a flat
    stretch) and relative, because units differ between devices (mV, µV, counts).
    """
    reference = float(np.median(window_std)) if len(window_std) else 0.0
    return (window_std < eps) | (window_std < rel * reference)


def clipped_samples(x: np.ndarray, lo: float, hi: float, tolerance: float = 1e-3) -> np.ndarray:
    """Samples sitting at the ADC's (or the recording's) range limits."""
    span = hi - lo
    if not np.isfinite(span) or span <= 0:
        return np.zeros(len(x), dtype=bool)
    tol = tolerance * span
    return (x <= lo + tol) | (x >= hi - tol)


def amplitude_flags(windows: np.ndarray, units: str, reference_amp: float,
                    rel_factor: float = 6.0) -> np.ndarray:
    """Windows with implausible amplitude.

    With physical units, the 1st–99th percentile range must lie within
    0.05–15 mV. Without units, it must lie within a factor of ``rel_factor`` of the
    recording's typical window amplitude ``reference_amp``.
    """
    lo, hi = np.percentile(windows, [1, 99], axis=1) if len(windows) else (np.zeros(0), np.zeros(0))
    amp = hi - lo
    scale = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "v": 1e3}.get(units.lower().strip())
    if scale is not None:
        amp_mv = amp * scale
        return (amp_mv < 0.05) | (amp_mv > 15.0)
    if reference_amp <= 0:
        return np.ones(len(windows), dtype=bool)
    return (amp < reference_amp / rel_factor) | (amp > reference_amp * rel_factor)


def ecg_likeness(x: np.ndarray, fs: float, max_s: float = 60.0) -> float:
    """How much ``x`` looks like ECG, 0..1 (NaN when under 3 s of finite samples).

    Picks the ECG among unnamed columns and warns when a chosen channel is something
    else. Per 10-s window of the first ``max_s`` seconds (the median is returned), the
    product of: beats that repeat (:func:`beat_correlation`, full marks from 0.5), a
    peaky amplitude distribution (:func:`kurtosis`, 0 at 3 as for Gaussian noise, full
    marks from 4.5), and a steady rate (from 0.5 to 1 with the share of RR intervals
    within 40 % of their median; an irregular rhythm halves the score at most).
    Measured per 10-s window: good windows of CinC 2017 and MIT-BIH (800): 1 % below
    0.5; sines, noise, random walks, square waves, EEG-like noise, electrode drift and
    respiration: at most 0.16; EMG bursts at most 0.43. Clicks at random times score
    like ECG.
    """
    x = np.asarray(x, dtype=np.float64)[: int(max_s * fs)]
    x = x[np.isfinite(x)]
    if len(x) < 3 * fs:
        return float("nan")
    n = int(min(10.0 * fs, len(x)))
    windows = sliding_windows(bandpass(x - np.median(x), fs), n, n)
    peaks = beat_peaks(windows, fs)
    with np.errstate(invalid="ignore"):
        repeat = np.clip(np.nan_to_num(beat_correlation(windows, fs, peaks)) / 0.5, 0, 1)
        peaky = np.clip((np.nan_to_num(kurtosis(windows), nan=0.0) - 3.0) / 1.5, 0, 1)
    steady = 0.5 + 0.5 * np.array([_steady(p, fs) for p in peaks])
    return float(np.median(repeat * peaky * steady))


def _steady(peaks: np.ndarray, fs: float) -> float:
    """Share of RR intervals within 40 % of their median, 0 off a 30-220 bpm median."""
    if len(peaks) < 3:
        return 0.0
    rr = np.diff(peaks) / fs
    median = float(np.median(rr))
    return float(np.mean(np.abs(rr - median) < 0.4 * median)) if 30 <= 60 / median <= 220 else 0.0
