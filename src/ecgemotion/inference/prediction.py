"""One window's prediction, as batch prediction, the stream and ``predict --follow`` report it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ecgemotion.preprocess import QUALITY_FLAGS

FLAGS = (*QUALITY_FLAGS, "gap")  # "gap": the window touches a NaN run longer than max_gap_s


@dataclass
class Prediction:
    """One window's result (what :meth:`EmotionStream.push` returns)."""

    start_s: float
    end_s: float
    good: bool
    flags: dict[str, bool]
    heart_rate: float
    probabilities: dict[str, float] = field(default_factory=dict)   # task -> P(positive class)
    used: dict[str, bool] = field(default_factory=dict)   # a multimodal model: modality -> in the fusion

    def as_row(self) -> dict[str, Any]:
        row: dict[str, Any] = {"start_s": self.start_s, "end_s": self.end_s, "good": self.good}
        row.update({f"flag_{k}": bool(v) for k, v in self.flags.items()})
        row["heart_rate_bpm"] = self.heart_rate
        row.update({f"used_{m}": bool(v) for m, v in self.used.items()})
        row.update({f"p_{k}": v for k, v in self.probabilities.items()})
        return row

    def line(self) -> str:
        """One human-readable line: ``12.0-22.0 s  hr 71  p_arousal 0.62 ...``."""
        text = f"{self.start_s:8.1f}-{self.end_s:.1f} s"
        if not self.good:
            bad = ",".join(k for k, v in self.flags.items() if v)
            return f"{text}  low quality ({bad}): not predicted"
        hr = f"{self.heart_rate:5.1f}" if np.isfinite(self.heart_rate) else "  nan"
        probs = "  ".join(f"p_{k} {v:.3f}" for k, v in self.probabilities.items())
        used = f"  from {','.join(m for m, v in self.used.items() if v)}" if self.used else ""
        return f"{text}  hr {hr}  {probs}{used}"


def predictions_frame(predictions: list[Prediction], tasks: list[str] | None = None,
                      modalities=()) -> pd.DataFrame:
    """A DataFrame (one row a window) from a list of :class:`Prediction` (``modalities``: a
    multimodal model's, one ``used_<modality>`` column each)."""
    columns = ["start_s", "end_s", "good", *(f"flag_{f}" for f in FLAGS), "heart_rate_bpm",
               *(f"used_{m}" for m in modalities), *(f"p_{t}" for t in (tasks or []))]
    return pd.DataFrame([p.as_row() for p in predictions], columns=columns if tasks is not None
                        else None)


def smooth(table: pd.DataFrame, tasks, seconds: float) -> pd.DataFrame:
    """``table`` with ``p_<task>_smooth``: the mean P over the good windows whose centres lie
    within ``seconds / 2`` of each window's centre. Emotion labels are per trial (minutes),
    so the timeline a reader wants is slower than one 10-s window; low-quality windows add
    nothing and stay NaN themselves."""
    if not seconds > 0:
        from ecgemotion.errors import ConfigError

        raise ConfigError(f"--smooth: expected a positive number of seconds, found {seconds!r}")
    centre = ((table["start_s"] + table["end_s"]) / 2).to_numpy(dtype=float)
    good = table["good"].to_numpy(dtype=bool)
    near = np.abs(centre[:, None] - centre[None, :]) <= seconds / 2 + 1e-9
    out = table.copy()
    for task in tasks:
        p = table[f"p_{task}"].to_numpy(dtype=float)
        use = near & (good & np.isfinite(p))[None, :]
        with np.errstate(invalid="ignore"):
            value = (use * np.nan_to_num(p)[None, :]).sum(1) / use.sum(1)
        out[f"p_{task}_smooth"] = np.where(good, value, np.nan)
    return out
