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
                        device: str = "cpu", modalities: list[str] | None = None
                        ) -> "EmotionRecognizer":
        """Load fine-tuned model folder(s), a folder of them, or exported ``.onnx`` file(s).

        ``engine="onnx"`` runs each folder's ``model.onnx`` (see ``ecgemotion export``)
        with onnxruntime; ``.onnx`` files always run with onnxruntime. ``step_s``
        overrides the window step (default: the training step); it changes which windows
        are cut, never how a window is processed. ``device``: where PyTorch models run
        (``cpu``, ``cuda``, ``cuda:N`` or ``auto``). A multimodal model (``finetune
        --modalities``) gives a :class:`MultimodalRecognizer`, reading ``modalities`` of
        the ones it takes (default: all of them).
        """
        loaded = [load(source, threads, device) for source in expand_sources(path_or_paths, engine)]
        specs = [s for s, _ in loaded]
        if any(s.multimodal for s in specs):
            if len(specs) > 1:
                raise ConfigError("a multimodal model predicts on its own: pass it as the one "
                                  f"--model (found {len(specs)}: {', '.join(s.source for s in specs)})")
            return MultimodalRecognizer(specs[0], loaded[0][1], step_s=step_s, modalities=modalities)
        if set(modalities or ["ecg"]) != {"ecg"}:
            raise ConfigError(f"{specs[0].source}: not a multimodal model (train one with finetune "
                              "--modalities), so --modalities does not apply")
        config = shared_preprocess(specs)
        if step_s is not None:
            config = replace(config, step_s=float(step_s))
        return cls(specs, [e for _, e in loaded], config)

    @property
    def tasks(self) -> list[str]:
        return [s.task for s in self.specs]

    @property
    def modalities(self) -> list[str]:
        """The modalities a multimodal model fuses, each reported as ``used_<modality>``
        ([] for an ECG model: its windows are the ECG's alone)."""
        return []

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

        ``signal`` is a 1-D array at ``fs`` (or ``sampling_rate``) Hz, a file path, a
        :class:`~ecgemotion.io.readers.SignalFile` (its rate and units are used) or a
        :class:`Recording`; any rate is resampled to the model's. ``p_<task>`` is the
        probability of the model's positive class (``classes[1]``, e.g. "high" arousal); NaN
        on low-quality windows. A multimodal model adds ``used_<modality>`` per window.
        """
        rec = as_recording(signal, rate_argument(fs, sampling_rate), units, mains_hz, where)
        win = process_recording(rec, self.preprocess, keep_gaps=True)
        cfg = self.preprocess
        n, good = len(win), win.good
        flags = {**win.flags, "gap": win.gap}
        probs = self.probabilities(self.inputs(win, good), win.start_s[good])
        table = pd.DataFrame({"start_s": win.start_s, "end_s": win.start_s + cfg.window_len / cfg.fs,
                              "good": good, **{f"flag_{f}": flags[f] for f in FLAGS},
                              "heart_rate_bpm": win.heart_rate,
                              **{f"used_{m}": v & good for m, v in self.present(win).items()}})
        for task, p in probs.items():
            col = np.full(n, np.nan)
            col[good] = p
            table[f"p_{task}"] = col
        table.attrs.update(fs=float(rec.fs), duration_s=len(rec.signal) / float(rec.fs), tasks=self.tasks,
                           preprocess=cfg.to_dict(), dropped=dict(win.dropped))
        return table

    def inputs(self, win: Windows, rows) -> np.ndarray:
        """What the models take for windows ``rows`` of ``win``: the ECG windows themselves
        (a multimodal model: its packed rows)."""
        return win.data[rows]

    def present(self, win: Windows) -> dict[str, np.ndarray]:
        """Per fused modality, the windows of ``win`` that have it ({} for an ECG model)."""
        return {}

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
                                            starts, past) if spec.physio_features else None)
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
               sampling_rate: float | None = None, channels=()):
        """An :class:`~ecgemotion.inference.stream.EmotionStream` for live samples at ``fs`` Hz
        (``channels``: the ``(modality, name)`` of each column pushed after the ECG's)."""
        from ecgemotion.inference.stream import EmotionStream

        return EmotionStream(self, rate_argument(fs, sampling_rate), hop_s=hop_s, left_s=left_s, delay_s=delay_s, units=units,
                             mains_hz=mains_hz, channels=channels)

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
        if self.modalities:
            out["modalities_used"] = {m: float(table[f"used_{m}"][good].mean()) if good.any() else 0.0
                                      for m in self.modalities}
        for spec in self.specs:
            p = table[f"p_{spec.task}"].to_numpy(dtype=float)[good]
            out[spec.task] = {
                "mean_p": float(np.mean(p)) if len(p) else None,
                "positive_class": spec.classes[1], "classes": spec.classes,
                "fraction_positive": float(np.mean(p >= 0.5)) if len(p) else None,
                "label_rule": spec.label_rule,
            }
        return out


class MultimodalRecognizer(EmotionRecognizer):
    """One multimodal model (``finetune --modalities``), either engine: the ECG and the other
    channels of a recording are windowed by the model's preprocessing (its modalities that
    were asked for) and packed into its one input (:func:`~ecgemotion.models.multimodal.pack`).
    A modality the recording lacks, or lacks in a window, is flagged absent there and left
    out of the fusion, never invented. EEG montages: PyTorch takes the recording's channels by
    name (the same weights, :func:`~ecgemotion.models.multimodal.for_channels`); an ONNX graph
    is fixed to the training channels, so it needs those (in any order)."""

    def __init__(self, spec: ModelSpec, engine: Any, step_s: float | None = None,
                 modalities: list[str] | None = None):
        self.layout = list(spec.model_config["layout"])
        config = PreprocessConfig.from_dict({**spec.preprocess, "modalities": [
            "ecg", *(m for m in self.modalities if m != "ecg" and (modalities is None or m in modalities))]})
        super().__init__([spec], [engine], config if step_s is None else replace(config, step_s=float(step_s)))
        self._net = getattr(engine, "model", None)   # PyTorch: the weights as trained
        self._bound: tuple[Any, list[dict[str, Any]]] | None = None

    @property
    def modalities(self) -> list[str]:
        return [m["modality"] for m in self.layout]

    def present(self, win: Windows) -> dict[str, np.ndarray]:
        n = len(win)
        return {m: np.ones(n, dtype=bool) if m == "ecg" else
                win.modalities[m].present if m in _found(win) else np.zeros(n, dtype=bool)
                for m in self.modalities}

    def inputs(self, win: Windows, rows) -> np.ndarray:
        from ecgemotion.models.multimodal import pack

        found = _found(win)
        layout = self._layout_for(found)
        present = {m: v[rows] for m, v in self.present(win).items()}
        windows = {}
        for entry in layout:
            m = entry["modality"]
            if m == "ecg":
                windows[m] = win.data[rows]
            elif m in found:     # the recording's channels in the order the model takes them
                order = [found[m].index(name) for name in entry["channels"]]
                windows[m] = win.modalities[m].data[rows][:, order]
            else:
                windows[m] = np.zeros((len(present[m]), len(entry["channels"]), entry["window_len"]),
                                      dtype=np.float32)
        return pack(layout, windows, present)

    def _layout_for(self, found: dict[str, list[str]]) -> list[dict[str, Any]]:
        """The input layout the engine runs for a recording's channel names ``found``."""
        key = sorted((m, tuple(v)) for m, v in found.items())
        if self._bound is not None and self._bound[0] == key:
            return self._bound[1]
        if self._net is not None:
            from ecgemotion.models.multimodal import for_channels

            engine = self.engines[0]
            engine.model = for_channels(self._net, found).to(engine.device)
            layout = engine.model.config.layout
        else:
            for entry in self.layout:
                names = found.get(entry["modality"])
                if names is not None and sorted(names) != sorted(entry["channels"]):
                    raise ConfigError(
                        f"{self.specs[0].source}: the ONNX graph takes the {entry['modality']} "
                        f"channels {', '.join(entry['channels'])}; the recording has "
                        f"{', '.join(names)}: use --engine torch, which takes channels by name")
            layout = self.layout
        self._bound = (key, layout)
        return layout


def _found(win: Windows) -> dict[str, list[str]]:
    """The channel names of each modality ``win`` was cut from (modalities with channels)."""
    return {m: list(mw.channels) for m, mw in win.modalities.items() if mw.channels}


def as_recording(signal: Any, fs: float | None = None, units: str = "",
                 mains_hz: float | None = None, where: str | None = None) -> Recording:
    """A :class:`Recording` from a 1-D array at ``fs`` Hz, a file path (read with
    :func:`~ecgemotion.io.readers.read_signal`) or a ``SignalFile``."""
    if isinstance(signal, Recording):
        return signal
    provenance: dict[str, Any] = {}
    channels = list(getattr(signal, "channels", None) or [])   # a SignalFile's other modalities
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
                     provenance=provenance, meta=meta, channels=channels)


def check_some_good(table: pd.DataFrame, where: str) -> None:
    """Raise :class:`DataError` when no window passed the quality checks."""
    if len(table) and not table["good"].any():
        counts = ", ".join(f"{f}: {int(table[f'flag_{f}'].sum())}" for f in FLAGS
                           if table[f"flag_{f}"].any())
        raise DataError(where, f"every one of the {len(table)} windows is low quality ({counts}); "
                               "nothing to predict (flat line, disconnected lead or wrong fs?)")
