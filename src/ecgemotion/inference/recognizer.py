"""``EmotionRecognizer``: one or more fine-tuned models behind one preprocessing.

>>> rec = EmotionRecognizer.from_pretrained(["runs/arousal", "runs/valence"])  # doctest: +SKIP
>>> table = rec.predict(signal, fs=500)                                         # doctest: +SKIP
>>> table[["start_s", "good", "p_arousal", "p_valence"]]                        # doctest: +SKIP

Every window is made by :func:`ecgemotion.preprocess.process_recording` with the
:class:`PreprocessConfig` stored in the model (``extra.preprocess``): the code path
the training windows went through. Windows that fail a quality check (or touch a
long gap, ``flag_gap``: :attr:`Windows.gap`) keep their row, with ``good=False`` and NaN probabilities:
they are never shown to the model.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ecgemotion.baselines.context import hybrid_features
from ecgemotion.errors import ConfigError, DataError
from ecgemotion.inference.engines import ModelSpec, expand_sources, load, shared_preprocess
from ecgemotion.inference.prediction import FLAGS
from ecgemotion.io.readers import rate_argument, read_signal
from ecgemotion.preprocess import PreprocessConfig, Windows, process_recording
from ecgemotion.recording import Recording

class EmotionRecognizer:
    """Several per-task models (arousal, valence, ...) sharing one preprocessing."""

    def __init__(self, specs: list[ModelSpec], engines: list[Any],
                 preprocess: PreprocessConfig | None = None):
        if not specs:
            raise ConfigError("a recogniser needs at least one model")
        self.specs = specs
        self.engines = engines
        self.preprocess = preprocess or shared_preprocess(specs)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_pretrained(cls, path_or_paths: str | Path | list[str | Path], engine: str = "torch",
                        threads: int | None = None, step_s: float | None = None,
                        device: str = "cpu") -> "EmotionRecognizer":
        """Load fine-tuned model folder(s), a folder of them, or exported ``.onnx`` file(s).

        ``engine="onnx"`` runs each folder's ``model.onnx`` (see ``ecgemotion export``)
        with onnxruntime; ``.onnx`` files always run with onnxruntime. ``step_s``
        overrides the window step (default: the training step); it changes which windows
        are cut, never how a window is processed. ``device``: where PyTorch models run
        (``cpu``, ``cuda``, ``cuda:N`` or ``auto``).
        """
        loaded = [load(source, threads, device) for source in expand_sources(path_or_paths, engine)]
        specs = [s for s, _ in loaded]
        config = shared_preprocess(specs)
        if step_s is not None:
            config = replace(config, step_s=float(step_s))
        return cls(specs, [e for _, e in loaded], config)

    @property
    def tasks(self) -> list[str]:
        return [s.task for s in self.specs]

    @property
    def engine_names(self) -> list[str]:
        return [e.name for e in self.engines]

    @property
    def devices(self) -> list[str]:
        return sorted({str(getattr(e, "device", "cpu")) for e in self.engines})

    # ------------------------------------------------------------------ batch
    def windows(self, signal: Any, fs: float | None = None, units: str = "",
                mains_hz: float | None = None, where: str | None = None, *,
                sampling_rate: float | None = None) -> Windows:
        """The preprocessed windows of a recording (the training code path)."""
        rec = as_recording(signal, rate_argument(fs, sampling_rate), units, mains_hz, where)
        return process_recording(rec, self.preprocess)

    def predict(self, signal: Any, fs: float | None = None, *, units: str = "",
                mains_hz: float | None = None, where: str | None = None,
                sampling_rate: float | None = None) -> pd.DataFrame:
        """One row per window: ``start_s, end_s, good, flag_*, heart_rate_bpm, p_<task>``.

        ``signal`` is a 1-D array at ``fs`` (or ``sampling_rate``) Hz, a file path, or a
        :class:`~ecgemotion.io.readers.SignalFile` (its rate and units are used); any rate
        is resampled to the model's. ``p_<task>`` is the probability of the model's
        positive class (``classes[1]``, e.g. "high" arousal); NaN on low-quality windows.
        """
        rec = as_recording(signal, rate_argument(fs, sampling_rate), units, mains_hz, where)
        win = process_recording(rec, self.preprocess, keep_gaps=True)
        cfg = self.preprocess
        n, good = len(win), win.good
        flags = {**win.flags, "gap": win.gap}
        probs = self.probabilities(win.data[good], win.start_s[good])
        table = pd.DataFrame({"start_s": win.start_s, "end_s": win.start_s + cfg.window_len / cfg.fs,
                              "good": good, **{f"flag_{f}": flags[f] for f in FLAGS},
                              "heart_rate_bpm": win.heart_rate})
        for task, p in probs.items():
            col = np.full(n, np.nan)
            col[good] = p
            table[f"p_{task}"] = col
        table.attrs.update(fs=float(rec.fs), duration_s=len(rec.signal) / float(rec.fs), tasks=self.tasks,
                           preprocess=cfg.to_dict(), dropped=dict(win.dropped))
        return table

    def probabilities(self, windows: np.ndarray, starts: np.ndarray | None = None,
                      past: int = 0) -> dict[str, np.ndarray]:
        """P(positive class) per task for preprocessed windows (n, window_len) of one
        recording; what batch and streaming prediction both call. A hybrid model also gets
        each window's physiological features, computed here by the function its training
        rows went through (:func:`~ecgemotion.baselines.context.hybrid_features`); one with
        context features needs the windows' ``starts`` (s). The first ``past`` windows are
        earlier ones of the recording, there only as context: no probabilities for them."""
        out = {}
        for spec, engine in zip(self.specs, self.engines):
            if len(windows) > past:
                features = (hybrid_features(windows, self.preprocess.fs, spec.physio_features,
                                            starts)[past:] if spec.physio_features else None)
                out[spec.task] = engine(windows[past:], features)[:, 1].astype(np.float64)
            else:
                out[spec.task] = np.zeros(0)
        return out

    @property
    def uses_context(self) -> bool:
        """Whether a model reads the 60-s context features (``ctx_*``)."""
        return any(spec.context_features for spec in self.specs)

    # ------------------------------------------------------------------ streaming
    def stream(self, fs: float | None = None, hop_s: float = 2.0, *, left_s: float | None = None,
               delay_s: float = 4.0, units: str = "", mains_hz: float | None = None,
               sampling_rate: float | None = None):
        """An :class:`~ecgemotion.inference.stream.EmotionStream` for live samples at ``fs`` Hz."""
        from ecgemotion.inference.stream import EmotionStream

        return EmotionStream(self, rate_argument(fs, sampling_rate), hop_s=hop_s, left_s=left_s, delay_s=delay_s, units=units,
                             mains_hz=mains_hz)

    def save_pretrained(self, folder: str | Path) -> list[Path]:
        """Save each model (``folder`` itself for one model, ``folder/<task>`` for several):
        what ``from_pretrained`` and ``ecgemotion predict --model`` load."""
        from ecgemotion.models import save_pretrained

        folder = Path(folder)
        out = []
        for spec, engine in zip(self.specs, self.engines):
            if not hasattr(engine, "model"):
                raise ConfigError(f"{spec.source}: an ONNX model is saved by copying its file")
            target = folder if len(self.specs) == 1 else folder / spec.task
            out.append(save_pretrained(engine.model, target, extra=spec.extra))
        return out

    def summary(self, table: pd.DataFrame) -> dict[str, Any]:
        """Per-task mean probability over good windows, windows predicted/skipped and why."""
        good = table["good"].to_numpy(dtype=bool)
        out: dict[str, Any] = {
            "tasks": self.tasks, "engine": self.engine_names[0] if len(set(self.engine_names)) == 1
            else self.engine_names,
            "models": [s.source for s in self.specs],
            "windows": int(len(table)), "windows_predicted": int(good.sum()),
            "windows_skipped": int((~good).sum()),
            "skipped_by_flag": {f: int(table[f"flag_{f}"].sum()) for f in FLAGS
                                if f"flag_{f}" in table},
            "window_s": self.preprocess.window_s, "step_s": self.preprocess.step_s,
        }
        for spec in self.specs:
            p = table[f"p_{spec.task}"].to_numpy(dtype=float)[good]
            out[spec.task] = {
                "mean_p": float(np.mean(p)) if len(p) else None,
                "positive_class": spec.classes[1], "classes": spec.classes,
                "fraction_positive": float(np.mean(p >= 0.5)) if len(p) else None,
                "label_rule": spec.label_rule,
            }
        return out


def as_recording(signal: Any, fs: float | None = None, units: str = "",
                 mains_hz: float | None = None, where: str | None = None) -> Recording:
    """A :class:`Recording` from a 1-D array at ``fs`` Hz, a file path (read with
    :func:`~ecgemotion.io.readers.read_signal`) or a ``SignalFile``."""
    provenance: dict[str, Any] = {}
    if isinstance(signal, (str, Path)):
        where = where or str(signal)
        signal = read_signal(signal, fs=fs)
    if hasattr(signal, "signal") and hasattr(signal, "fs"):  # a SignalFile
        fs = signal.fs if fs is None else fs
        units = units or getattr(signal, "units", "") or ""
        provenance = dict(getattr(signal, "provenance", {}) or {})
        signal = signal.signal
    if where:
        provenance["file"] = str(where)
    if fs is None:
        raise ConfigError(f"{where or 'signal'}: no sampling rate given; pass fs (--fs), e.g. "
                          "fs=250 for a 250 Hz recording (it is resampled to the model's rate)")
    meta = {"mains_hz": float(mains_hz)} if mains_hz else {}
    return Recording(signal=np.asarray(signal), fs=float(fs), dataset="predict", subject="-",
                     trial=Path(str(where)).name if where else "signal", units=units,
                     provenance=provenance, meta=meta)


def check_some_good(table: pd.DataFrame, where: str) -> None:
    """Raise :class:`DataError` when no window passed the quality checks."""
    if len(table) and not table["good"].any():
        counts = ", ".join(f"{f}: {int(table[f'flag_{f}'].sum())}" for f in FLAGS
                           if table[f"flag_{f}"].any())
        raise DataError(where, f"every one of the {len(table)} windows is low quality ({counts}); "
                               "nothing to predict (flat line, disconnected lead or wrong fs?)")
