"""Physiology targets for pre-training: what a reader of an ECG takes from a window (rhythm
statistics and the shape of the median beat), predicted from the window's pooled embedding.

Why: masked reconstruction of 10-s windows left the frozen embedding behind five HRV features
on atrial fibrillation and behind the median-beat template on re-identifying people
(docs/probes.md). Reconstruction rewards the local waveform; nothing asks the pooled
embedding to carry beat-to-beat irregularity or the beat's shape in a form a linear probe can
read. A linear head regressing both from the pooled embedding does. The targets are computed
from the unlabelled signal (handcrafted targets as in MaskFeat's HOG), so this stays
self-supervised: no label of any dataset is read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RHYTHM_TARGETS = ("mean_hr", "sdnn", "rmssd", "pnn50", "rr_irregular", "qrs_ms")
LOG_TARGETS = ("sdnn", "rmssd")        # heavy right tails: regressed on a log scale
BEAT_SPAN_S = (0.25, 0.45)             # median beat: 0.25 s before to 0.45 s after the R peak
BEAT_STEP = 2                          # every second sample of the beat (45 values at 128 Hz)
TARGET_VERSION = 1


def n_targets(fs: float) -> int:
    a, b = round(BEAT_SPAN_S[0] * fs), round(BEAT_SPAN_S[1] * fs)
    return len(RHYTHM_TARGETS) + len(range(0, a + b, BEAT_STEP))


def window_targets(windows: np.ndarray, fs: float) -> np.ndarray:
    """``(n, n_targets(fs))`` raw targets of ``(n, T)`` windows, NaN where undefined (too few
    beats, a flat or non-finite window): the rhythm features, then the median beat."""
    from ecgemotion.baselines.hrv import FEATURES, detected_beats, features_from_peaks
    from ecgemotion.signal import median_beat

    windows = np.atleast_2d(np.asarray(windows, dtype=np.float64))
    out = np.full((len(windows), n_targets(fs)), np.nan, dtype=np.float32)
    rhythm = [FEATURES.index(c) for c in RHYTHM_TARGETS]
    k = len(RHYTHM_TARGETS)
    for i, x, peaks in detected_beats(windows, fs):
        out[i, :k] = features_from_peaks(peaks, fs, windows.shape[1] / fs, x)[rhythm]
        beat = median_beat(x, peaks, fs, *BEAT_SPAN_S)
        if beat is not None:
            out[i, k:] = beat[::BEAT_STEP]
    for name in LOG_TARGETS:
        j = RHYTHM_TARGETS.index(name)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[:, j] = np.log1p(out[:, j])
    return out


@dataclass
class TargetScaler:
    """Robust standardisation fitted on the training windows (median, IQR / 1.349), clipped at
    ±5 so a mis-detected beat cannot dominate a batch; NaN stays NaN (no loss there)."""

    center: np.ndarray
    scale: np.ndarray
    clip: float = 5.0

    @classmethod
    def fit(cls, raw: np.ndarray) -> "TargetScaler":
        with np.errstate(all="ignore"):
            q25, center, q75 = np.nanpercentile(raw, [25, 50, 75], axis=0)
        scale = (q75 - q25) / 1.349
        scale = np.where(np.isfinite(scale) & (scale > 1e-6), scale, 1.0)
        return cls(np.nan_to_num(center).astype(np.float32), scale.astype(np.float32))

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        return np.clip((raw - self.center) / self.scale, -self.clip, self.clip).astype(np.float32)


def target_weights(n: int, beat_share: float = 0.5) -> np.ndarray:
    """Per-column loss weights: the beat block counts ``beat_share`` and the rhythm block the
    rest, however many values the beat has."""
    k = len(RHYTHM_TARGETS)
    return np.concatenate([np.full(k, (1 - beat_share) / k),
                           np.full(n - k, beat_share / (n - k))]).astype(np.float32)
