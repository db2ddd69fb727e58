"""Heart-rate plausibility: a cheap guard against the wrong channel or sampling rate.

A loader that reads the GSR column instead of the ECG, or assumes 256 Hz for a
128 Hz recording (PAPER_NOTES §3.5), still produces arrays of the right shape.
What gives it away is the heart rate: we band-pass a copy of each recording,
detect R peaks with a simple energy detector and check that the median RR interval
corresponds to 40–180 bpm and is regular enough to be a heartbeat. When most
recordings of one file fail, the source warns, naming the file, the channel and
the sampling rate it assumed. The check never changes or drops data.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import numpy as np

from ecgemotion.signal import repair_gaps

HR_MIN_BPM = 40.0
HR_MAX_BPM = 180.0
_ANALYSIS_S = 60.0  # analyse at most this much of each recording (from its middle)
# QRS energy at the peaks over the 20th percentile of the energy: synthetic ECG with
# 0.3 mV noise gives > 11, white noise and random walks (GSR-like) give 4-8.
_MIN_CONTRAST = 10.0


class ImplausibleHeartRateWarning(UserWarning):
    """Most recordings of a file have no plausible heart rate: channel or rate is wrong."""


def estimate_hr(signal: np.ndarray, fs: float, max_seconds: float = _ANALYSIS_S) -> float:
    """Heart rate in bpm from the median RR interval, or NaN when no regular beat is found.

    The detector: band-pass 5–15 Hz (the QRS band; the upper edge is lowered below
    Nyquist for low rates), square, integrate over 120 ms, then peaks at least
    250 ms apart above 30 % of a robust maximum. NaN when fewer than 4 peaks are
    found, when the peaks do not stand out of the background (peak energy under
    10 times the 20th percentile), or when the RR intervals vary too much to be a
    heart rhythm (median absolute deviation above 25 % of the median): what noise,
    EEG or GSR give.
    """
    from scipy.signal import butter, find_peaks, sosfiltfilt

    x = np.asarray(signal, dtype=np.float64).ravel()
    if fs is None or not np.isfinite(fs) or fs <= 0 or x.size < fs * 4:
        return float("nan")
    n_max = int(max_seconds * fs)
    if x.size > n_max:
        start = (x.size - n_max) // 2
        x = x[start:start + n_max]
    if np.isfinite(x).mean() < 0.5:
        return float("nan")
    x, _ = repair_gaps(x, fs)  # linear fill; at least half the samples are finite here
    x = x - np.mean(x)
    nyq = fs / 2.0
    lo, hi = 5.0, min(15.0, 0.8 * nyq)
    if hi <= lo:
        return float("nan")
    sos = butter(2, [lo / nyq, hi / nyq], btype="band", output="sos")
    try:
        y = sosfiltfilt(sos, x)
    except ValueError:  # too short for the filter's padding
        return float("nan")
    energy = y * y
    win = max(1, int(round(0.12 * fs)))
    energy = np.convolve(energy, np.ones(win) / win, mode="same")
    ref = np.percentile(energy, 99.5)
    if not np.isfinite(ref) or ref <= 0:
        return float("nan")
    peaks, _ = find_peaks(energy, height=0.3 * ref, distance=max(1, int(0.25 * fs)))
    if len(peaks) < 4:
        return float("nan")
    floor = np.percentile(energy, 20)
    if floor > 0 and np.median(energy[peaks]) < _MIN_CONTRAST * floor:
        return float("nan")  # no QRS-like bursts standing out of the background
    rr = np.diff(peaks) / fs
    med = float(np.median(rr))
    if med <= 0:
        return float("nan")
    if np.median(np.abs(rr - med)) > 0.25 * med:
        return float("nan")
    return 60.0 / med


def plausible_fraction(signals: Iterable[np.ndarray], fs: float | Iterable[float],
                       lo: float = HR_MIN_BPM, hi: float = HR_MAX_BPM) -> float:
    """Fraction of ``signals`` whose estimated heart rate lies in [lo, hi] bpm.

    ``fs`` is one rate for all signals or one per signal. NaN when no signal is given.
    """
    sigs = list(signals)
    if not sigs:
        return float("nan")
    rates = [float(fs)] * len(sigs) if np.isscalar(fs) else [float(r) for r in fs]  # type: ignore[arg-type]
    ok = 0
    for sig, rate in zip(sigs, rates):
        hr = estimate_hr(sig, rate)
        ok += int(np.isfinite(hr) and lo <= hr <= hi)
    return ok / len(sigs)


def check_heart_rate(signals: Iterable[np.ndarray], fs: float | Iterable[float], file: object,
                     channel: str, min_fraction: float = 0.5) -> float:
    """Warn (:class:`ImplausibleHeartRateWarning`) when fewer than ``min_fraction`` of
    ``signals`` have a plausible heart rate; return the plausible fraction.

    The message names ``file``, ``channel`` and the assumed ``fs``.
    """
    sigs = list(signals)
    frac = plausible_fraction(sigs, fs)
    if sigs and frac < min_fraction:
        rate = fs if np.isscalar(fs) else sorted({float(r) for r in fs})  # type: ignore[arg-type]
        warnings.warn(
            f"{file}: only {frac:.0%} of {len(sigs)} recordings have a plausible heart rate "
            f"({HR_MIN_BPM:.0f}-{HR_MAX_BPM:.0f} bpm) on channel '{channel}' at an assumed "
            f"fs of {rate} Hz: the channel or rate is wrong",
            ImplausibleHeartRateWarning, stacklevel=2)
    return frac
