"""A parametric ECG model for fixtures and the demo's synthetic emotion data.

Each beat is a sum of Gaussian waves (P, Q, R, S, T) placed on an RR tachogram
with respiratory sinus arrhythmia and a low-frequency component, after the
dynamical model of McSharry et al. (IEEE TBME 2003), evaluated directly in time
rather than integrated. Everything a study might manipulate is a parameter: heart
rate, heart-rate variability, QRS width, T-wave amplitude, noise and baseline wander.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# (name, offset from R peak in s at 60 bpm, amplitude in mV, width in s)
_WAVES = (("P", -0.20, 0.15, 0.025), ("Q", -0.035, -0.12, 0.010), ("R", 0.0, 1.2, 0.012),
          ("S", 0.035, -0.25, 0.010), ("T", 0.28, 0.30, 0.045))


@dataclass(frozen=True)
class BeatShape:
    """Morphology knobs: ``qrs_scale`` widens Q/R/S, ``t_amp`` scales the T wave."""

    qrs_scale: float = 1.0
    t_amp: float = 1.0
    r_amp: float = 1.0


def rr_intervals(duration_s: float, hr_bpm: float, hrv_ms: float, rng: np.random.Generator,
                 resp_hz: float = 0.25) -> np.ndarray:
    """RR intervals (s) covering ``duration_s``: mean 60/hr, RSA + LF oscillation + noise.

    ``hrv_ms`` is the approximate SDNN in milliseconds.
    """
    mean_rr = 60.0 / hr_bpm
    n = int(duration_s / mean_rr * 1.3) + 4
    t = np.cumsum(np.full(n, mean_rr))
    sd = hrv_ms / 1000.0
    phase = rng.uniform(0, 2 * np.pi, 2)
    rr = (mean_rr + sd * 0.8 * np.sin(2 * np.pi * resp_hz * t + phase[0])
          + sd * 0.6 * np.sin(2 * np.pi * 0.1 * t + phase[1]) + sd * 0.4 * rng.standard_normal(n))
    rr = np.clip(rr, 0.27, 2.0)
    keep = np.searchsorted(np.cumsum(rr), duration_s + 2 * mean_rr) + 1
    return rr[:keep]


def ecg(duration_s: float, fs: float, hr_bpm: float = 70.0, hrv_ms: float = 40.0,
        shape: BeatShape = BeatShape(), noise_mv: float = 0.02, wander_mv: float = 0.1,
        seed: int | np.random.Generator | None = 0) -> np.ndarray:
    """Synthesize ``duration_s`` seconds of single-lead ECG in mV at ``fs`` Hz.

    >>> x = ecg(10, 128, hr_bpm=60)
    >>> x.shape
    (1280,)
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    n = int(round(duration_s * fs))
    t = np.arange(n) / fs
    rr = rr_intervals(duration_s, hr_bpm, hrv_ms, rng)
    peaks = np.cumsum(rr) - rr[0] * rng.uniform(0.2, 1.0)
    x = np.zeros(n)
    for peak, interval in zip(peaks, rr):
        scale = np.sqrt(interval)  # Bazett-like stretch of P and T timing with the RR interval
        lo, hi = np.searchsorted(t, [peak - 0.4 * scale, peak + 0.6 * scale])
        if hi <= lo:
            continue
        tt = t[lo:hi] - peak
        for name, offset, amp, width in _WAVES:
            if name in "QRS":
                width, offset = width * shape.qrs_scale, offset * shape.qrs_scale
                amp = amp * (shape.r_amp if name == "R" else 1.0)
            else:
                offset *= scale
                if name == "T":
                    amp *= shape.t_amp
            x[lo:hi] += amp * np.exp(-0.5 * ((tt - offset) / width) ** 2)
    x += wander_mv * np.sin(2 * np.pi * rng.uniform(0.15, 0.35) * t + rng.uniform(0, 2 * np.pi))
    x += noise_mv * rng.standard_normal(n)
    return x


NOT_ECG = ("gaussian noise", "5-15 Hz noise", "sine 1.2 Hz", "sine 3 Hz", "EMG bursts")


def not_ecg(kind: str, duration_s: float, fs: float, seed: int = 0) -> np.ndarray:
    """Signals that are not ECG but fool a heart-rate detector, for quality-flag checks.

    ``kind`` is one of :data:`NOT_ECG`; "EMG bursts" is muscle noise: 20-200 Hz
    bursts of 50-500 ms at random intervals on a quiet baseline.
    """
    from scipy import signal as sps

    rng = np.random.default_rng(seed)
    n = int(round(duration_s * fs))
    t = np.arange(n) / fs
    if kind.startswith("sine "):
        return np.sin(2 * np.pi * float(kind.split()[1]) * t)
    if kind == "gaussian noise":
        return rng.standard_normal(n)
    if kind == "5-15 Hz noise":
        return sps.sosfilt(sps.butter(2, [5, 15], btype="bandpass", fs=fs, output="sos"),
                           rng.standard_normal(n))
    if kind == "EMG bursts":
        envelope, pos = np.zeros(n), 0
        while pos < n:
            pos += int(rng.uniform(0.2, 1.5) * fs)
            envelope[pos:pos + int(rng.uniform(0.05, 0.5) * fs)] = rng.uniform(0.3, 1.0)
        band = sps.butter(2, [20, min(200.0, 0.45 * fs)], btype="bandpass", fs=fs, output="sos")
        return sps.sosfilt(band, rng.standard_normal(n)) * envelope + 0.02 * rng.standard_normal(n)
    raise ValueError(f"unknown kind {kind!r}; expected one of {NOT_ECG}")
