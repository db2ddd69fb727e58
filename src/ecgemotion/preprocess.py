"""From one :class:`Recording` to clean, labelled, quality-flagged windows.

This is the single code path shared by store building, prediction and streaming,
so a model always sees windows made exactly as during training.

Order of operations, and why:
1. gaps: NaN/Inf runs ≤ ``max_gap_s`` are interpolated; longer runs are filled only
   so that filters can run, and every window touching them is dropped;
2. quality flags that need raw units (clipping at the ADC/recording range) are
   computed on the raw samples;
3. resample to ``fs`` first, then filter: filtering 128 Hz instead of 1000 Hz is
   8× cheaper, and ``resample_poly`` is itself anti-aliased;
4. band-pass (and optional mains notch), window, flag (flat, amplitude, heart rate,
   noise), normalise;
5. other modalities (``config.modalities`` beyond ``ecg``) are cut at the ECG windows'
   start times, each at its own rate and band (:data:`MODALITY_FILTERS`), so windows stay
   aligned in time: EEG band-passed and (by default) re-referenced to the channels'
   average, EDA low-passed at a lower rate, BVP and respiration band-passed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from ecgemotion import signal as sig
from ecgemotion.errors import ConfigError, DataError
from ecgemotion.recording import MODALITIES, Recording

QUALITY_FLAGS = ("flat", "clipped", "amplitude", "heart_rate", "noise")

# Rate (Hz), band (Hz, None = open edge) and window normalisation of every modality but
# ECG, whose are the config's own. Rates are the lowest that keep the band: EDA's slow
# conductance changes (< 1 Hz) at 16 Hz, respiration (6-60 breaths/min) at 32 Hz, pulse
# waves at 64 Hz. With ``normalize="window"`` EDA and temperature windows are only centred:
# their amplitude (µS of a skin-conductance response) is the information.
MODALITY_FILTERS: dict[str, tuple[float, tuple[float | None, float | None], str]] = {
    "eeg": (128.0, (1.0, 45.0), "zscore"), "eda": (16.0, (None, 1.0), "center"),
    "bvp": (64.0, (0.5, 8.0), "zscore"), "resp": (32.0, (0.1, 1.0), "zscore"),
    "emg": (128.0, (20.0, None), "zscore"), "temp": (4.0, (None, 0.5), "center"),
    "acc": (32.0, (None, 10.0), "zscore"),
}


@dataclass(frozen=True)
class PreprocessConfig:
    """Every parameter that changes the stored windows (all of it goes into the store hash)."""

    fs: float = 128.0
    window_s: float = 10.0
    step_s: float = 10.0
    band_hz: tuple[float | None, float | None] = (0.5, 40.0)
    notch_hz: float | Literal["auto"] | None = "auto"
    max_gap_s: float = 0.5
    normalize: Literal["window", "recording", "none"] = "window"
    dtype: Literal["float32", "float16"] = "float32"
    hr_range_bpm: tuple[float, float] = (30.0, 220.0)
    # "noise": "beats" that do not repeat (noise, EMG) or no sharp peaks at all (a sine);
    # measured in docs/reliability.md (MIT-BIH and CinC 2017 normal ECG vs noise).
    min_beat_correlation: float = 0.35
    min_kurtosis: float = 2.0
    clip_fraction: float = 0.005
    min_label_purity: float = 0.9
    # Modalities stored beside the ECG (which anchors the windows) and the EEG reference;
    # with the default ("ecg",) both stay out of to_dict, so ECG-only stores are unchanged.
    modalities: tuple[str, ...] = ("ecg",)
    eeg_reference: Literal["average", "none"] = "average"

    def __post_init__(self) -> None:
        if not (self.fs > 0 and self.window_s > 0 and self.step_s > 0):
            raise ConfigError(f"fs, window and step must be positive (got fs={self.fs}, "
                              f"window={self.window_s}, step={self.step_s})")
        if self.normalize not in ("window", "recording", "none"):
            raise ConfigError(f"normalize must be window, recording or none, not {self.normalize!r}")
        if self.dtype not in ("float32", "float16"):
            raise ConfigError(f"dtype must be float32 or float16, not {self.dtype!r}")
        object.__setattr__(self, "band_hz", tuple(self.band_hz))
        low, high = self.band_hz
        nyq = self.fs / 2.0
        if low and low > 0 and (low >= 0.99 * nyq or (high and 0 < high < 0.99 * nyq and low >= high)):
            raise ConfigError(f"band-pass edges {low:g},{high} Hz are invalid at {self.fs:g} Hz: the low "
                              f"edge must lie below the high edge and below Nyquist ({nyq:g} Hz)")
        object.__setattr__(self, "hr_range_bpm", tuple(self.hr_range_bpm))
        mods = tuple(dict.fromkeys(m.strip().lower() for m in self.modalities if m.strip()))
        unknown = [m for m in mods if m not in MODALITIES]
        if unknown or "ecg" not in mods:
            raise ConfigError(f"modalities: expected ecg plus any of {', '.join(MODALITIES[1:])} "
                              f"(the ECG anchors the windows), found {','.join(mods) or 'none'}")
        object.__setattr__(self, "modalities", mods)
        if self.eeg_reference not in ("average", "none"):
            raise ConfigError(f"eeg_reference must be average or none, not {self.eeg_reference!r}")

    @property
    def extra_modalities(self) -> tuple[str, ...]:
        """The stored modalities besides the ECG."""
        return self.modalities[1:] if self.modalities[0] == "ecg" else \
            tuple(m for m in self.modalities if m != "ecg")

    @property
    def window_len(self) -> int:
        return int(round(self.window_s * self.fs))

    @property
    def step_len(self) -> int:
        return max(1, int(round(self.step_s * self.fs)))

    def to_dict(self) -> dict[str, Any]:
        out = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
        if not self.extra_modalities:
            del out["modalities"], out["eeg_reference"]
        else:
            out["modality_filters"] = {m: [fs, list(band), scaling] for m, (fs, band, scaling)
                                       in MODALITY_FILTERS.items() if m in self.extra_modalities}
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "PreprocessConfig":
        known = {k: tuple(v) if k == "modalities" else v for k, v in data.items()
                 if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class Windows:
    """The windows of one recording and one row of facts per window."""

    data: np.ndarray                      # (n, window_len), config dtype
    start_s: np.ndarray                   # (n,) start time in the recording, seconds
    flags: dict[str, np.ndarray]          # QUALITY_FLAGS -> bool (n,)
    heart_rate: np.ndarray                # (n,) bpm, NaN when undetectable
    sample_label: np.ndarray | None = None  # (n,) majority per-sample label
    dropped: Counter = field(default_factory=Counter)
    modalities: dict[str, "ModalityWindows"] = field(default_factory=dict)  # besides the ECG
    # (n,) True where no window could be made (a long gap, or filters that overflowed): only
    # with ``process_recording(keep_gaps=True)``; such rows hold zeros and raise no other flag.
    gap: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.gap is None:
            self.gap = np.zeros(len(self.data), dtype=bool)

    def __len__(self) -> int:
        return len(self.data)

    @property
    def good(self) -> np.ndarray:
        bad = self.gap.copy()
        for flag in self.flags.values():
            bad |= flag
        return ~bad


def validate(rec: Recording) -> np.ndarray:
    """Check what every later step assumes; return the signal as float64 1-D."""
    where = rec.provenance.get("file") or rec.key
    if rec.fs is None or not np.isfinite(rec.fs) or rec.fs <= 0:
        raise DataError(where, f"expected a positive sampling rate, found fs={rec.fs!r}")
    x = np.asarray(rec.signal)
    if x.ndim == 2 and 1 in x.shape:
        x = x.reshape(-1)
    if x.ndim != 1:
        raise DataError(where, f"expected a 1-D signal, found shape {x.shape}")
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise DataError(where, f"expected numeric real samples, found dtype {x.dtype}")
    if len(x) == 0:
        raise DataError(where, "signal is empty (zero samples)")
    x = x.astype(np.float64)
    if not np.isfinite(x).any():
        raise DataError(where, "signal has no finite samples (all NaN/Inf)")
    return x


def process_recording(rec: Recording, config: PreprocessConfig, *, keep_gaps: bool = False
                      ) -> Windows:
    """Turn one recording into windows. Raises :class:`DataError` when unusable.

    The window grid is the same for every caller. The store drops (and counts) the windows
    no window can be made of; prediction passes ``keep_gaps=True`` to keep them as rows
    flagged :attr:`Windows.gap`, so batch and streaming report every window of the grid.
    """
    raw = validate(rec)
    fs = float(rec.fs)
    x, long_gap = sig.repair_gaps(raw, fs, config.max_gap_s)
    starts_s = window_grid(len(x) / fs, config, rec.provenance.get("file") or rec.key)
    raw_starts = np.round(starts_s * fs).astype(np.int64)
    raw_len = int(round(config.window_s * fs))

    # Raw-domain checks, on every window of the grid.
    in_gap = sig.count_in_windows(long_gap, raw_starts, raw_len) > 0
    lo, hi = rec.meta.get("adc_range") or (np.nanmin(raw), np.nanmax(raw))
    clipped = sig.count_in_windows(sig.clipped_samples(x, lo, hi), raw_starts, raw_len) \
        > config.clip_fraction * raw_len
    flat = sig.flat_windows(sig.std_in_windows(x, raw_starts, raw_len))
    dropped: Counter = Counter({"long_gap": int(in_gap.sum())})
    rows = np.ones(len(starts_s), dtype=bool)  # the rows returned; windows are made of rows & ~in_gap
    sample_label = None
    if rec.sample_labels is not None:
        sample_label, purity = _majority_labels(np.asarray(rec.sample_labels), raw_starts, raw_len)
        impure = ~in_gap & (purity < config.min_label_purity)
        dropped["mixed_label"] += int(impure.sum())
        rows &= ~impure

    y = _filtered(x, fs, config, rec.meta.get("mains_hz"))
    made = np.flatnonzero(rows & ~in_gap)
    data, hr, flags = _clean_windows(y, starts_s[made], config, rec.units)
    flags = {"flat": flat[made], "clipped": clipped[made], **flags}
    if config.normalize == "recording":
        center, scale = sig.robust_scale(y, _resampled_mask(~long_gap, len(y)))
        data = (data - center) / scale
    data = data.astype(config.dtype)
    # Huge inputs (1e300, or 1e9 µV counts with --normalize none --dtype float16) can
    # overflow in the filters or in the cast: a non-finite window must never be stored.
    finite = np.isfinite(data).all(axis=1)
    dropped["non_finite"] += int((~finite).sum())
    made, data, hr = made[finite], data[finite], hr[finite]
    flags = {k: v[finite] for k, v in flags.items()}
    if not dropped["non_finite"]:
        del dropped["non_finite"]
    gap = None                                  # no gap rows: Windows makes them all False
    if keep_gaps:                               # every row of the grid, zeros where no window
        at = np.searchsorted(np.flatnonzero(rows), made)  # where each made window sits
        n = int(rows.sum())
        data, hr = _scatter(data, at, n, 0), _scatter(hr, at, n, np.nan)
        flags = {k: _scatter(v, at, n, False) for k, v in flags.items()}
        gap = np.ones(n, dtype=bool)
        gap[at] = False
    else:
        rows = made
    windows = Windows(data=data, start_s=starts_s[rows], flags=flags, heart_rate=hr,
                      sample_label=None if sample_label is None else sample_label[rows],
                      dropped=dropped, gap=gap)
    windows.modalities = {m: modality_windows(rec, m, config, windows.start_s)
                          for m in config.extra_modalities}
    return windows


def window_grid(duration_s: float, config: PreprocessConfig, where: str) -> np.ndarray:
    """Start times (s) of every window a recording of ``duration_s`` seconds has."""
    starts = sig.window_starts(int(np.floor(duration_s * config.fs + 1e-6)), config.window_len,
                               config.step_len) / config.fs
    if len(starts) == 0:
        raise DataError(where, f"recording lasts {duration_s:.1f} s, shorter than one "
                               f"{config.window_s:g}-s window")
    return starts


def _filtered(x: np.ndarray, fs: float, config: PreprocessConfig, mains_hz: float | None
              ) -> np.ndarray:
    """The whole recording resampled to ``config.fs``, notched and band-passed."""
    # A short anti-alias filter suffices when the band-pass then cuts well below Nyquist.
    high = config.band_hz[1]
    y = sig.resample(x, fs, config.fs, half_len=3 if high and high <= 0.35 * config.fs else 10)
    notch_hz = mains_hz if config.notch_hz == "auto" else config.notch_hz
    if notch_hz:
        y = sig.notch(y, config.fs, float(notch_hz))
    return sig.bandpass(y, config.fs, *config.band_hz)


def _clean_windows(y: np.ndarray, starts_s: np.ndarray, config: PreprocessConfig, units: str
                   ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Cut the filtered signal at ``starts_s``: windows (window-normalised if so configured),
    heart rate, and the quality flags judged on the filtered windows."""
    win_starts = np.round(starts_s * config.fs).astype(np.int64)
    windows = sig.sliding_windows(y, config.window_len, 1)[win_starts] if len(starts_s) else \
        np.zeros((0, config.window_len))
    ref_amp = float(np.median(np.ptp(windows, axis=1))) if len(windows) else 0.0
    peaks = sig.beat_peaks(windows, config.fs)
    hr = sig.heart_rate_windows(windows, config.fs, peaks)
    lo_bpm, hi_bpm = config.hr_range_bpm
    flags = {
        "amplitude": sig.amplitude_flags(windows, units, ref_amp),
        "heart_rate": ~((hr >= lo_bpm) & (hr <= hi_bpm)),
        "noise": (sig.beat_correlation(windows, config.fs, peaks) < config.min_beat_correlation)
        | (sig.kurtosis(windows) < config.min_kurtosis),
    }
    if config.normalize == "window":
        windows = sig.zscore(windows)
    return windows, hr, flags


def _scatter(values: np.ndarray, at: np.ndarray, n: int, fill) -> np.ndarray:
    """``values`` placed at rows ``at`` of ``n`` rows, ``fill`` elsewhere."""
    out = np.full((n, *values.shape[1:]), fill, dtype=values.dtype)
    out[at] = values
    return out


@dataclass
class ModalityWindows:
    """One modality's windows, aligned with the ECG's: ``data`` ``(n, channels, T)``;
    ``present`` False where the recording lacks the modality there (absent, too short,
    a long gap, or flat in every channel): such windows hold zeros."""

    data: np.ndarray
    channels: tuple[str, ...]
    present: np.ndarray


def modality_windows(rec: Recording, modality: str, config: PreprocessConfig,
                     starts_s: np.ndarray) -> ModalityWindows:
    """Cut ``modality``'s channels of ``rec`` at ``starts_s`` (the ECG windows' starts)."""
    fs, band, scaling = MODALITY_FILTERS[modality]
    length = int(round(config.window_s * fs))
    channels = rec.channels_of(modality)
    data = np.zeros((len(starts_s), len(channels), length), dtype=config.dtype)
    present = np.zeros(len(starts_s), dtype=bool)
    if not channels or not len(starts_s):
        return ModalityWindows(data, tuple(c.name for c in channels), present)
    filtered, usable = [], np.ones(len(starts_s), dtype=bool)
    for ch in channels:
        x = np.asarray(ch.signal, dtype=np.float64).reshape(-1)
        if not np.isfinite(x).any():
            usable[:] = False
            filtered.append(np.zeros(int(len(x) / ch.fs * fs)))
            continue
        x, long_gap = sig.repair_gaps(x, ch.fs, config.max_gap_s)
        raw_starts = np.round(starts_s * ch.fs).astype(np.int64)
        raw_len = int(round(config.window_s * ch.fs))
        usable &= (raw_starts + raw_len <= len(x)) & \
            (sig.count_in_windows(long_gap, raw_starts, raw_len) == 0)
        y = sig.resample(x, ch.fs, fs) if ch.fs != fs else x
        filtered.append(sig.bandpass(y, fs, *band))
    n = min(len(y) for y in filtered)
    stack = np.stack([y[:n] for y in filtered])                     # (channels, samples)
    if modality == "eeg" and config.eeg_reference == "average" and len(stack) > 1:
        stack = stack - stack.mean(axis=0, keepdims=True)
    starts = np.round(starts_s * fs).astype(np.int64)
    inside = starts + length <= n
    usable &= inside
    cut = np.stack([stack[:, s:s + length] for s in np.minimum(starts, max(n - length, 0))]) \
        if n >= length else np.zeros_like(data, dtype=np.float64)
    spread = cut.std(axis=2)
    usable &= (spread > 1e-9).any(axis=1) & np.isfinite(cut).all(axis=(1, 2))
    if config.normalize == "window":
        cut = cut - cut.mean(axis=2, keepdims=True)
        if scaling == "zscore":
            cut = cut / np.where(spread > 1e-9, spread, 1.0)[..., None]
    data[usable] = cut[usable]
    return ModalityWindows(data, tuple(c.name for c in channels), usable)


def _resampled_mask(mask: np.ndarray, n: int) -> np.ndarray:
    """Nearest-neighbour map of a raw-rate boolean mask onto ``n`` resampled samples."""
    if len(mask) == n:
        return mask
    pos = np.minimum((np.arange(n) * len(mask)) // max(n, 1), len(mask) - 1)
    return mask[pos]


def _majority_labels(labels: np.ndarray, starts: np.ndarray, length: int
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Majority per-sample label and its share in each window (NaN labels never win)."""
    labels = labels.reshape(-1)
    values = np.unique(labels[np.isfinite(labels)]) if labels.dtype.kind == "f" else np.unique(labels)
    best = np.full(len(starts), np.nan)
    share = np.zeros(len(starts))
    for value in values:
        count = sig.count_in_windows(labels == value, starts, length) / length
        better = count > share
        best[better], share[better] = value, count[better]
    return best, share
