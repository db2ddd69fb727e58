"""The unit every source yields: one continuous ECG lead with its labels, and the
recording's other channels (EEG, EDA, BVP, ...) each tagged with its modality."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

MODALITIES = ("ecg", "eeg", "eda", "bvp", "resp", "emg", "temp", "acc")

# EDF+ labels are "Type Specification" ("ECG ECG", "EEG Fp1", "Resp chest"); bare names
# are matched as whole words. EEG electrodes by their 10-20/10-10 names (Fp1, AF3, Cz, O2...).
_TYPE_WORDS = {
    "ecg": ("ecg", "ekg"), "eeg": ("eeg",), "eda": ("eda", "gsr", "scl", "scr", "skin conductance"),
    "bvp": ("bvp", "ppg", "pleth", "pulse"), "resp": ("resp", "rsp", "respiration", "breathing"),
    "emg": ("emg",), "temp": ("temp", "temperature", "skt"), "acc": ("acc", "accelerometer"),
}
# The Emotiv EPOC's 14 electrodes in the order AMIGOS and DREAMER store them (both readmes).
EMOTIV_EEG = ("AF3", "F7", "F3", "FC5", "T7", "P7", "O1", "O2", "P8", "T8", "FC6", "F4", "F8", "AF4")
_TEN_TWENTY = re.compile(r"^(fp|af|f|ft|fc|t|tp|c|cp|p|po|o|a|i)(z|\d{1,2})$")


@dataclass
class Channel:
    """One channel of a recording: its ``modality`` (one of :data:`MODALITIES`), its name
    in the file, the samples (NaN = missing) at ``fs`` Hz, and its units when known."""

    modality: str
    name: str
    signal: np.ndarray
    fs: float
    units: str = ""


def parse_modalities(text: str) -> list[str]:
    """``"ecg,eeg,eda"`` -> ``["ecg", "eeg", "eda"]``; an unknown name is a one-line error."""
    from ecgemotion.errors import ConfigError

    names = list(dict.fromkeys(m.strip().lower() for m in str(text).split(",") if m.strip()))
    bad = [m for m in names if m not in MODALITIES]
    if bad or not names:
        raise ConfigError(f"--modalities: expected a comma-separated list of {', '.join(MODALITIES)}, "
                          f"got {text!r}")
    return names


def parse_channel_map(value: Any) -> dict[str, str | None]:
    """``"Frontal 1=eeg;Skin=eda;Marker=none"`` (``;`` or ``,`` between entries, or a TOML
    table) → ``{"frontal 1": "eeg", "skin": "eda", "marker": None}``: the modality of channels
    whose labels the recogniser does not know or gets wrong; ``none`` leaves one out."""
    from ecgemotion.errors import ConfigError

    entries = [f"{k}={v}" for k, v in value.items()] if isinstance(value, dict) else \
        [part for part in re.split(r"[;,]", str(value or "")) if part.strip()]
    out: dict[str, str | None] = {}
    for entry in entries:
        label, _, modality = (x.strip() for x in entry.rpartition("="))
        if not label or modality.lower() not in (*MODALITIES[1:], "none"):
            raise ConfigError(f"channels: expected LABEL=MODALITY entries (modality one of "
                              f"{', '.join(MODALITIES[1:])} or none; the ECG is chosen by lead), "
                              f"found {entry.strip()!r}")
        out[label.lower()] = None if modality.lower() == "none" else modality.lower()
    return out


def modality_of(name: str, given: dict[str, str | None] | None = None) -> str | None:
    """The modality a channel name announces (``"EEG Fp1"`` → eeg, ``"GSR"`` → eda,
    ``"AF3"`` → eeg), or ``None`` when the name says nothing we recognise; ``given``
    (:func:`parse_channel_map`) names the modality of labels first."""
    text = str(name).strip().lower()
    if given and text in given:
        return given[text]
    words = re.split(r"[\s_\-.:/()]+", text)
    for modality, keys in _TYPE_WORDS.items():
        if any(k in words or text.startswith(k + " ") or text == k for k in keys):
            return modality
    bare = re.sub(r"[\s_\-]+(ref|le|ar|avg|m\d)$", "", text)
    return "eeg" if _TEN_TWENTY.match(bare) or _TEN_TWENTY.match(bare.split("-")[0]) else None


@dataclass
class Recording:
    """One (subject, trial) ECG recording as read from disk, before any processing.

    Attributes:
        signal: 1-D float array in the file's own units (NaN marks missing samples).
        fs: sampling rate in Hz.
        dataset: name of the source that produced it (``"amigos"``, ``"open-ecg"``...).
        subject: subject identifier, unique within the dataset.
        trial: trial, session or segment identifier, unique within the subject.
        lead: lead or channel name.
        labels: raw ratings (e.g. ``{"arousal": 6.0, "valence": 3.0}``), never binarised here.
        sample_labels: optional per-sample integer labels (e.g. WESAD conditions), same
            length as ``signal``; windows take the majority label only when pure enough.
        units: physical units when known (``"mV"``, ``"uV"``, ``"V"``), else ``""``.
        provenance: where it came from: ``file``, ``variable``, ``column``, ``licence``...
        meta: other facts a later stage may use (``part``: ``"baseline"``/``"stimulus"``,
            ``mains_hz``: 50 or 60 for the notch, ``adc_range``: (lo, hi) for clipping).
        channels: the recording's non-ECG channels (and further ECG leads), for
            multimodal stores; ECG-only code never looks at them.
    """

    signal: np.ndarray
    fs: float
    dataset: str
    subject: str
    trial: str
    lead: str = "ECG"
    labels: dict[str, float] = field(default_factory=dict)
    sample_labels: np.ndarray | None = None
    units: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    channels: list[Channel] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.subject = str(self.subject)
        self.trial = str(self.trial)

    @property
    def duration_s(self) -> float:
        return len(self.signal) / self.fs if self.fs and self.fs > 0 else 0.0

    @property
    def key(self) -> str:
        """A stable identifier: ``dataset/subject/trial/lead``."""
        return f"{self.dataset}/{self.subject}/{self.trial}/{self.lead}"

    def channels_of(self, modality: str) -> list[Channel]:
        """This recording's channels of ``modality``; for ``ecg`` the primary lead."""
        if modality == "ecg":
            return [Channel("ecg", self.lead, self.signal, self.fs, self.units)]
        return [c for c in self.channels if c.modality == modality]
