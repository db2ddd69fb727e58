"""Label rules: how raw ratings become binary high/low targets.

Sources keep ratings raw (``Recording.labels``); a rule decides which are "high".
The literature does not agree, and the choice moves accuracy by several points,
so every result records ``rule.spec``:

- ``threshold:5`` — rating >= 5 is high. The middle of a 1–9 scale; the default
  for AMIGOS/DREAMER-style SAM ratings in much ECG work (and, most likely, in
  Vazquez-Rodriguez et al. 2022).
- ``threshold:>5`` — strictly greater than 5 (a rating of exactly 5 is low); used
  by several DEAP/AMIGOS papers.
- ``threshold:4.5`` (equivalently ``threshold:>4.5`` for integer ratings) — used
  e.g. by Sarkar & Etemad and the WildECG SWELL loader (``> 4.5``).
- ``median-per-subject`` — rating >= the subject's own median over that subject's
  trials; balances classes per subject and removes individual scale use.
- ``mean-per-subject`` — the same with the subject's mean.

Per-subject statistics are computed over **trials** (one value per
(subject, trial)), never over windows: a long trial must not weigh more. A NaN
rating never becomes a label: it stays NaN and the trial is dropped later.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ecgemotion.errors import ConfigError

VALID_SPECS = ("threshold:<value>", "threshold:><value>", "threshold:>=<value>",
               "median-per-subject", "mean-per-subject")

_THRESHOLD = re.compile(r"^threshold\s*:\s*(?P<op>>=|>)?\s*(?P<value>[-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?\d+)?)$")


@dataclass(frozen=True)
class LabelRule:
    """A binarisation rule. Build it with :func:`parse_label_rule`.

    ``kind`` is ``"threshold"``, ``"median-per-subject"`` or ``"mean-per-subject"``;
    for thresholds, ``value`` is the cut and ``strict`` says whether the rating
    must exceed it (``>``) or only reach it (``>=``).
    """

    kind: str
    value: float | None = None
    strict: bool = False

    @property
    def spec(self) -> str:
        """The canonical spec string, to store with every result."""
        if self.kind == "threshold":
            return f"threshold:{'>' if self.strict else ''}{_fmt(self.value)}"
        return self.kind

    def __str__(self) -> str:
        return self.spec

    def _cuts(self, table: pd.DataFrame, column: str) -> pd.Series:
        """The cut for every row of ``table``."""
        if self.kind == "threshold":
            return pd.Series(float(self.value), index=table.index)
        if "subject" not in table.columns:
            raise ConfigError(f"label rule '{self.spec}' needs a 'subject' column")
        # one value per trial, never per window; without a trial column every row is a trial
        trials = table.drop_duplicates(subset=["subject", "trial"]) if "trial" in table.columns \
            else table
        values = pd.to_numeric(trials[column], errors="coerce")
        stat = "median" if self.kind == "median-per-subject" else "mean"
        per_subject = values.groupby(trials["subject"]).agg(stat)  # NaN ratings are skipped
        return table["subject"].map(per_subject).astype(float)

    def apply(self, table: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
        """Binarise ``columns`` of a trial-level ``table`` (columns subject, trial, ratings).

        Returns a copy of ``table`` with one float column ``y_<name>`` per rating:
        1.0 (high), 0.0 (low) or NaN where the rating (or the subject's statistic)
        is NaN.
        """
        missing = [c for c in columns if c not in table.columns]
        if missing:
            raise ConfigError(f"label rule '{self.spec}': the table has no column(s) "
                              f"{', '.join(missing)}; it has {', '.join(map(str, table.columns))}")
        out = table.copy()
        for column in columns:
            rating = pd.to_numeric(table[column], errors="coerce").astype(float)
            cut = self._cuts(table, column)
            high = rating > cut if self.strict else rating >= cut
            y = high.astype(float)
            y[rating.isna() | cut.isna()] = np.nan
            out[f"y_{column}"] = y
        return out


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def parse_label_rule(spec: str | LabelRule) -> LabelRule:
    """Parse ``threshold:5``, ``threshold:>5``, ``threshold:>=4.5``,
    ``median-per-subject`` or ``mean-per-subject``."""
    if isinstance(spec, LabelRule):
        return spec
    if not isinstance(spec, str):
        raise ConfigError(f"label rule must be a string; valid: {', '.join(VALID_SPECS)}")
    text = spec.strip().lower().replace("_", "-")
    if text in ("median-per-subject", "mean-per-subject"):
        return LabelRule(kind=text)
    m = _THRESHOLD.match(text)
    if m:
        value = float(m.group("value"))
        if not math.isfinite(value):
            raise ConfigError(f"label rule '{spec}': the threshold must be a finite number")
        return LabelRule(kind="threshold", value=value, strict=m.group("op") == ">")
    raise ConfigError(f"unknown label rule '{spec}'; valid: {', '.join(VALID_SPECS)} "
                      "(e.g. threshold:5, threshold:>5, threshold:4.5, median-per-subject)")


__all__ = ["LabelRule", "VALID_SPECS", "parse_label_rule"]
