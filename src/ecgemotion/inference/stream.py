"""Live prediction: push samples in chunks of any size, get one prediction every hop.

Design (measured, see ``tests/inference/test_stream.py`` and the inference report):
the preprocessing filters are zero-phase (``sosfiltfilt``, ``resample_poly``), i.e.
non-causal, so a window cut at the very end of the samples seen so far differs from
the same window cut out of the whole recording: on MIT-BIH record 100 and synthetic
ECG the z-scored samples differ by up to 4-7 units in the last second (median 0.2-0.6).
Each window is therefore processed, by the same ``process_recording`` as batch
prediction, on a segment holding ``left_s`` seconds before it (default: one window)
and ``delay_s`` seconds after it (default 4 s). The prediction for the window ending at
time t is emitted when sample t + ``delay_s`` arrives. Measured max |difference| of
the z-scored window samples against batch mode, over 28 windows each:

=========  ==========  =========  =========  ==========
delay_s    0           2          3          4
=========  ==========  =========  =========  ==========
MIT 100    6.7         2.2e-2     7.7e-3     5.9e-4
synthetic  1.2-5.3     3.3e-3 ~   6.0e-3     6.7e-4
=========  ==========  =========  =========  ==========

(left context of 2 s or more makes no further difference; 10 s is the default so that
relative quality references see more than one window). ``delay_s=0`` gives the lowest
latency at the cost of that edge error; ``flush()`` at the end of a recording emits the
pending windows with whatever right context exists, as batch mode has at the end.

A model with context features (``ctx_*``, HRV over the 60 s ending at a window) gets the
stream's good windows of the last 60 s beside each new one, so from 60 s into the stream its
context is batch prediction's; in the first minute it is the windows so far, where batch
prediction takes the recording's first 60 s (a look-ahead a live stream cannot have).

Memory is constant: a ring buffer of ``left_s + window_s + delay_s`` seconds, whatever
the size of the pushed chunks (a large chunk is consumed piece by piece).

Quality flags that are *relative* in :func:`process_recording` (flat: spread vs the
recording's median window; amplitude when the units are unknown; clipping at the
recording's range) are judged within the buffered segment in streaming mode and within
the whole recording in batch mode, so they can differ on recordings whose quality
changes; absolute checks (heart rate, amplitude in mV, long gaps) are the same.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from ecgemotion.errors import ConfigError, DataError
from ecgemotion.inference.prediction import Prediction
from ecgemotion.preprocess import QUALITY_FLAGS, process_recording
from ecgemotion.recording import Channel, Recording

if TYPE_CHECKING:
    from ecgemotion.inference.recognizer import EmotionRecognizer


class RingBuffer:
    """The last ``capacity`` samples of an unbounded stream, in a fixed numpy array."""

    def __init__(self, capacity: int, width: int | None = None):
        """``width``: columns per sample (None: one value per sample, a 1-D buffer)."""
        self.data = np.zeros((int(capacity),) + (() if width is None else (int(width),)), dtype=np.float64)
        self.total = 0  # samples ever written

    def write(self, x: np.ndarray) -> None:
        cap = len(self.data)
        if len(x) > cap:  # only the newest ``cap`` samples can ever be read back
            self.total += len(x) - cap
            x = x[-cap:]
        n = len(x)
        pos = self.total % cap
        first = min(n, cap - pos)
        self.data[pos:pos + first] = x[:first]
        self.data[:n - first] = x[first:]
        self.total += n

    def last(self, n: int) -> np.ndarray:
        """A copy of the last ``n`` samples written (n <= capacity)."""
        cap = len(self.data)
        if n > min(cap, self.total):
            raise ValueError(f"asked for {n} samples, buffer holds {min(cap, self.total)}")
        end = self.total % cap
        start = (end - n) % cap
        if start < end or n == 0:
            return self.data[start:end].copy()
        return np.concatenate((self.data[start:], self.data[:end]))


class EmotionStream:
    """Created by :meth:`EmotionRecognizer.stream`; feed it with :meth:`push`."""

    def __init__(self, recognizer: "EmotionRecognizer", fs: float, hop_s: float = 2.0, *,
                 left_s: float | None = None, delay_s: float = 4.0, units: str = "",
                 mains_hz: float | None = None, channels=()):
        if fs is None or not np.isfinite(fs) or fs <= 0:
            raise ConfigError(f"stream: expected a positive sampling rate, got fs={fs!r}")
        if not (hop_s and hop_s > 0):
            raise ConfigError(f"stream: hop must be positive, got {hop_s!r}")
        if delay_s < 0 or (left_s is not None and left_s < 0):
            raise ConfigError("stream: left_s and delay_s must be >= 0")
        self.recognizer = recognizer
        self.config = recognizer.preprocess
        self.fs = float(fs)
        cfg = self.config
        self.win_n = int(round(cfg.window_s * self.fs))
        self.hop_n = max(1, int(round(hop_s * self.fs)))
        self.left_n = int(round((cfg.window_s if left_s is None else left_s) * self.fs))
        self.right_n = int(round(delay_s * self.fs))
        self.units = units
        self.meta = {"mains_hz": float(mains_hz)} if mains_hz else {}
        # (modality, name) of each column pushed after the ECG's: a multimodal model's other
        # channels, buffered with the ECG so that every window is cut from one time grid
        self.channels = [tuple(c) for c in channels]
        self.buffer = RingBuffer(self.left_n + self.win_n + self.right_n,
                                 1 + len(self.channels) if self.channels else None)
        self.next_k = 0  # index of the next window to emit (starts at next_k * hop_n)
        self.closed = False
        self.past: list[tuple[float, np.ndarray]] = []  # (start s, window): a ctx model's context

    @property
    def hop_s(self) -> float:
        return self.hop_n / self.fs

    @property
    def latency_s(self) -> float:
        """How far behind the newest sample the emitted window ends."""
        return self.right_n / self.fs

    @property
    def samples_seen(self) -> int:
        return self.buffer.total

    def push(self, chunk) -> list[Prediction]:
        """Append samples (any length, NaN for missing; with ``channels``, rows of the ECG and
        then each channel); return the predictions now due."""
        if self.closed:
            raise ConfigError("stream: push() after flush(); start a new stream")
        x = np.asarray(chunk, dtype=np.float64)
        x = x.reshape(-1, 1 + len(self.channels)) if self.channels else x.reshape(-1)
        segments = []
        i = 0
        while i < len(x):
            due = self.next_k * self.hop_n + self.win_n + self.right_n  # total needed for next
            take = max(1, min(len(x) - i, due - self.buffer.total)) if due > self.buffer.total \
                else 0
            if take:
                self.buffer.write(x[i:i + take])
                i += take
            if self.buffer.total >= due:
                segments.append(self._segment(self.next_k))
                self.next_k += 1
        return self._predict(segments)

    def flush(self) -> list[Prediction]:
        """End of the recording: emit every complete window still waiting for its delay."""
        segments = []
        while self.next_k * self.hop_n + self.win_n <= self.buffer.total:
            segments.append(self._segment(self.next_k))
            self.next_k += 1
        self.closed = True
        return self._predict(segments)

    # ------------------------------------------------------------------ internals
    def _segment(self, k: int) -> tuple[int, np.ndarray, int]:
        start = k * self.hop_n
        seg_start = max(0, start - self.left_n)
        seg_end = min(self.buffer.total, start + self.win_n + self.right_n)
        held = self.buffer.total - seg_start
        data = self.buffer.last(held)[: seg_end - seg_start]
        return start, data, start - seg_start

    def _window(self, start: int, data: np.ndarray, left: int):
        """Process one segment; return (flags, heart rate, the model's input or None, the
        modalities the window has)."""
        cfg = self.config
        step_s = left / self.fs if left > 0 else cfg.step_s
        config = replace(cfg, step_s=step_s)
        ecg = data[:, 0] if self.channels else data
        rec = Recording(signal=ecg, fs=self.fs, dataset="stream", subject="-",
                        trial=f"{start / self.fs:.3f}", units=self.units, meta=self.meta,
                        channels=[Channel(m, name, data[:, 1 + i], self.fs)
                                  for i, (m, name) in enumerate(self.channels)])
        try:
            win = process_recording(rec, config, keep_gaps=True)
        except DataError:  # e.g. a segment with no finite sample
            return ({**{f: False for f in QUALITY_FLAGS}, "gap": True}, float("nan"), None,
                    dict.fromkeys(self.recognizer.modalities, False))
        j = int(np.argmin(np.abs(win.start_s - left / self.fs)))  # the grid window at ``start``
        flags = {**{f: bool(v[j]) for f, v in win.flags.items()}, "gap": bool(win.gap[j])}
        has = {m: bool(v[j]) for m, v in self.recognizer.present(win).items()}
        return flags, float(win.heart_rate[j]), None if win.gap[j] else self.recognizer.inputs(win, [j])[0], has

    def _predict(self, segments) -> list[Prediction]:
        results, windows, where = [], [], []
        for start, data, left in segments:
            flags, hr, window, has = self._window(start, data, left)
            good = window is not None and not any(flags.values())
            results.append(Prediction(start_s=start / self.fs, end_s=(start + self.win_n) / self.fs,
                                      good=good, flags=flags, heart_rate=hr,
                                      probabilities={t: float("nan")
                                                     for t in self.recognizer.tasks},
                                      used={m: v and good for m, v in has.items()}))
            if good:
                windows.append(window)
                where.append(len(results) - 1)
        if windows and self.recognizer.uses_context:
            self._predict_in_context(windows, [results[i] for i in where])
        elif windows:
            probs = self.recognizer.probabilities(np.stack(windows))
            for task, p in probs.items():
                for idx, value in zip(where, p):
                    results[idx].probabilities[task] = float(value)
        return results

    def _predict_in_context(self, windows: list[np.ndarray], results: list[Prediction]) -> None:
        """One window at a time, after the good windows of the last 60 s: its context
        features see the past only (batch prediction's rule from 60 s on; before, the
        windows so far, where batch looks ahead to the recording's first 60 s)."""
        from ecgemotion.baselines.context import CONTEXT_S

        for window, result in zip(windows, results):
            self.past = [(t, w) for t, w in self.past if t >= result.end_s - CONTEXT_S - 1e-6]
            probs = self.recognizer.probabilities(
                np.stack([w for _, w in self.past] + [window]),
                np.array([t for t, _ in self.past] + [result.start_s]), past=len(self.past))
            for task, p in probs.items():
                result.probabilities[task] = float(p[0])
            self.past.append((result.start_s, window))
