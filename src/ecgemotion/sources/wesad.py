"""WESAD (Schmidt et al., ICMI 2018): chest ECG at 700 Hz with per-sample conditions.

Layout (WESAD readme, quoted in several public loaders, e.g.
github.com/njfritter/Characteristic-Based-Time-Series-Clustering
``rCode2012/src/python/WESADAnalysis.py``)::

    WESAD/S2/S2.pkl ... S11, S13 ... S17   (no S1, no S12)

``SX.pkl`` is a Python-2 pickle (read with ``encoding='latin1'``) of a dict
``{'subject': 'SX', 'signal': {'chest': {'ACC','ECG','EMG','EDA','Temp','Resp'},
'wrist': {'ACC','BVP','EDA','TEMP'}}, 'label': (N,)}``; every chest channel and
the label are sampled at 700 Hz, ``ECG`` is (N, 1). Label ids (readme): 0 = not
defined / transient, 1 = baseline, 2 = stress, 3 = amusement, 4 = meditation,
5/6/7 = "should be ignored in this dataset".

Units: the chest values in the pickle lie around +-1.5, consistent with the
readme's ADC-to-mV conversion ((raw / 2**16 - 0.5) * 3 V); recorded as ``mV``
(likely, not confirmed by the readme itself).

The pickle is loaded ONLY through :func:`ecgemotion.io.safe_pickle.safe_load`:
anything but numpy arrays and builtin containers is refused.

The wrist device's signals are synchronised with the chest's and start at the same instant,
at their own rates (readme): ``ACC`` 32 Hz (N, 3), ``BVP`` 64 Hz, ``EDA`` and ``TEMP`` 4 Hz.
Every recording carries every chest and wrist signal but the chest ECG as channels
(``chest EDA``, ``chest ACC x``…, ``wrist BVP``…), for multimodal stores.

Output: one Recording per subject (trial ``"all"``) carrying ``sample_labels``
(the per-sample condition) and no rating labels; windows get their condition
in preprocessing (the purity rule lives there). Option ``conditions`` (e.g.
``[1, 2, 3]`` or ``"1,2,3,4"``) instead yields one Recording per contiguous run
of a kept condition (trial ``baseline``, ``stress``, ``meditation-2``...) with
``labels={'condition': c}``: only labelled stretches, never glued together.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ecgemotion.errors import ConfigError, DataError
from ecgemotion.io.safe_pickle import safe_load
from ecgemotion.recording import Channel, Recording, modality_of
from ecgemotion.sources import register_source
from ecgemotion.sources.base import Skip, Source, SourceItem, option

FS = 700.0
CONDITIONS = {0: "transient", 1: "baseline", 2: "stress", 3: "amusement", 4: "meditation",
              5: "ignore5", 6: "ignore6", 7: "ignore7"}
LABELLED = (1, 2, 3, 4)
WRIST_FS = {"ACC": 32.0, "BVP": 64.0, "EDA": 4.0, "TEMP": 4.0}
_SUBJECT_DIR = re.compile(r"^S(\d+)$")


def _parse_conditions(value) -> tuple[int, ...] | None:
    if value is None or value == "" or value is False:
        return None
    if value is True or (isinstance(value, str) and value.strip().lower() in ("labelled", "labeled")):
        return LABELLED
    items = value.split(",") if isinstance(value, str) else list(value)
    try:
        out = tuple(sorted({int(str(v).strip()) for v in items if str(v).strip()}))
    except ValueError:
        raise ConfigError(f"wesad: conditions must be integers from {sorted(CONDITIONS)}, "
                          f"got {value!r}") from None
    bad = [c for c in out if c not in CONDITIONS]
    if bad or not out:
        raise ConfigError(f"wesad: unknown condition id(s) {bad or value!r}; valid: "
                          + ", ".join(f"{k}={v}" for k, v in CONDITIONS.items()))
    return out


def _runs(labels: np.ndarray) -> list[tuple[int, int, int]]:
    """(value, start, stop) for each run of equal labels."""
    if labels.size == 0:
        return []
    edges = np.flatnonzero(np.diff(labels)) + 1
    starts = np.concatenate(([0], edges))
    stops = np.concatenate((edges, [labels.size]))
    return [(int(labels[a]), int(a), int(b)) for a, b in zip(starts, stops)]


@register_source
class WesadSource(Source):
    name = "wesad"
    accepts = ("conditions",)
    licence = "WESAD: academic, non-commercial use (see the dataset readme)"

    def __init__(self, root=None, **options):
        super().__init__(root, **options)
        self.conditions = _parse_conditions(option(self.options, "conditions", None))

    def items(self) -> list[SourceItem]:
        assert self.root is not None
        root = self.root
        if root.is_file():
            if root.suffix.lower() != ".pkl":
                raise DataError(root, "expected a WESAD SX.pkl file or the WESAD folder")
            return [SourceItem(key=root.stem, files=(root,))]
        found: list[Path] = []
        dirs = [root] if _SUBJECT_DIR.match(root.name) else sorted(
            (d for d in root.iterdir() if d.is_dir() and _SUBJECT_DIR.match(d.name)),
            key=lambda d: int(_SUBJECT_DIR.match(d.name).group(1)))  # type: ignore[union-attr]
        for d in dirs:
            pkl = d / f"{d.name}.pkl"
            if pkl.is_file():
                found.append(pkl)
        if not found:
            nested = root / "WESAD"
            if nested.is_dir():
                return type(self)(nested, **self.options).items()
            raise DataError(root, "no WESAD subject files found; expected SX/SX.pkl folders "
                                  "(S2/S2.pkl ... S17/S17.pkl) directly under the root")
        return [SourceItem(key=p.stem, files=(p,)) for p in found]

    def load(self, item: SourceItem) -> Iterator[Recording | Skip]:
        path = item.files[0]
        data = safe_load(path)  # SecurityError on anything but arrays and containers
        if not isinstance(data, dict):
            raise DataError(path, f"expected a dict with 'signal' and 'label', found {type(data).__name__}")
        try:
            chest = data["signal"]["chest"]
            ecg = chest["ECG"]
            labels = data["label"]
        except (KeyError, TypeError) as exc:
            raise DataError(path, f"not the WESAD layout: missing {exc} (expected "
                                  "data['signal']['chest']['ECG'] and data['label'])") from None
        subject = str(data.get("subject") or path.stem)
        if isinstance(data.get("subject"), bytes):
            subject = data["subject"].decode("latin1")
        ecg = np.asarray(ecg)
        labels = np.asarray(labels)
        where = f"{path}"
        if ecg.dtype.kind not in "biuf" or labels.dtype.kind not in "biuf":
            yield Skip(where, "ECG or label is not numeric")
            return
        if ecg.ndim == 2 and ecg.shape[1] != 1:
            yield Skip(where, f"chest ECG has shape {ecg.shape}; expected (N, 1)")
            return
        signal = ecg.reshape(-1).astype(np.float64)
        labels = labels.reshape(-1)
        if signal.size == 0:
            yield Skip(where, "chest ECG is empty")
            return
        if labels.size != signal.size:
            yield Skip(where, f"label has {labels.size} samples but chest ECG has {signal.size}; "
                              "both should be at 700 Hz")
            return
        if not np.isfinite(signal).any():
            yield Skip(where, "chest ECG has no finite samples")
            return
        labels = labels.astype(np.int64)
        channels = _channels(data["signal"])
        prov = {"file": str(path), "variable": "signal/chest/ECG", "licence": self.licence}
        meta = {"condition_names": {k: v for k, v in CONDITIONS.items()}}
        if self.conditions is None:
            yield Recording(signal=signal, fs=FS, dataset=self.name, subject=subject, trial="all",
                            lead="chest", units="mV", labels={}, sample_labels=labels,
                            provenance=prov, meta=meta, channels=channels)
            return
        runs = [r for r in _runs(labels) if r[0] in self.conditions]
        if not runs:
            yield Skip(where, f"no samples with condition(s) {list(self.conditions)}")
            return
        counts: dict[int, int] = {}
        totals = {c: sum(1 for r in runs if r[0] == c) for c in self.conditions}
        for value, start, stop in runs:
            counts[value] = counts.get(value, 0) + 1
            name = CONDITIONS[value]
            trial = name if totals[value] == 1 else f"{name}-{counts[value]}"
            yield Recording(signal=signal[start:stop].copy(), fs=FS, dataset=self.name,
                            subject=subject, trial=trial, lead="chest", units="mV",
                            labels={"condition": float(value)},
                            sample_labels=labels[start:stop].copy(),
                            channels=[_cut(c, start / FS, stop / FS) for c in channels],
                            provenance={**prov, "samples": [start, stop]},
                            meta={**meta, "condition": name})


def _channels(signals: dict) -> list[Channel]:
    """Every chest and wrist signal but the chest ECG, one channel per column at its rate."""
    out = []
    for device in ("chest", "wrist"):
        for key, value in (signals.get(device) or {}).items():
            modality = modality_of(key)
            fs = FS if device == "chest" else WRIST_FS.get(str(key).upper())
            x = np.asarray(value)
            if (device, key) == ("chest", "ECG") or modality is None or fs is None \
                    or x.dtype.kind not in "biuf" or x.ndim not in (1, 2):
                continue
            x = x.reshape(len(x), -1).astype(np.float64, copy=False)
            out += [Channel(modality, f"{device} {key}{axis}", x[:, j], fs)
                    for j, axis in enumerate(_axes(x.shape[1]))]
    return out


def _axes(columns: int) -> list[str]:
    """Name suffixes of a signal's columns: none for one, `` x``/`` y``/`` z`` for an ACC."""
    if columns == 1:
        return [""]
    return [" x", " y", " z"] if columns == 3 else [f" {j}" for j in range(columns)]


def _cut(channel: Channel, start_s: float, stop_s: float) -> Channel:
    """The stretch ``start_s``..``stop_s`` of ``channel``, at its own rate."""
    a, b = round(start_s * channel.fs), round(stop_s * channel.fs)
    return Channel(channel.modality, channel.name, channel.signal[a:b].copy(), channel.fs, channel.units)


__all__ = ["CONDITIONS", "LABELLED", "WesadSource"]
