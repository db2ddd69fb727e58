"""The unit every source yields: one continuous single-lead ECG with its labels."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


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
