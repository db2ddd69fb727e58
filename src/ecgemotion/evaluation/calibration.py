"""Calibration to a new person: two named protocol options, run **beside** the strict
subject-independent evaluation (``evaluate --calibrate``), never instead of it.

Subject-independent emotion recognition is near chance in the literature; what a
deployment can have is a short calibration of the new person. Each option says exactly
which of the test subject's data it uses:

``unlabelled``
    Each subject's physiological features and frozen embeddings are standardised with the
    mean and standard deviation of that subject's own windows on its side of the split:
    training subjects with their training-side windows, a test subject with its test
    windows, **whose labels are never served** (the test store has no label columns).
    Raw windows are already z-scored per window, so networks that read only windows are
    unchanged; systems that read ``hrv``/``embed`` (the HRV and hybrid systems) adapt.
``k-shot:K``
    K labelled windows per test subject join the training side; each comes from a different
    trial (classes alternating where the subject has both), and **every window of those
    trials** leaves the test set, so no test window overlaps or shares a trial with a shot.

The leakage guard of the runner checks the calibrated folds as it checks the strict
ones: rows served to training never include a test row, and prediction reads test rows
only.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ecgemotion.errors import ConfigError
from ecgemotion.subjects import subject_keys


@dataclass(frozen=True)
class Calibration:
    kind: str          # "unlabelled" or "k-shot"
    k: int = 0

    @classmethod
    def parse(cls, text: str) -> "Calibration":
        """``unlabelled`` or ``k-shot:K`` (K >= 1)."""
        text = str(text).strip()
        if text == "unlabelled":
            return cls("unlabelled")
        kind, _, k = text.partition(":")
        if kind == "k-shot" and k.isdigit() and int(k) >= 1:
            return cls("k-shot", int(k))
        raise ConfigError(f"--calibrate: expected 'unlabelled' or 'k-shot:K' with K >= 1, "
                          f"found {text!r}")

    @property
    def label(self) -> str:
        return self.kind if self.kind == "unlabelled" else f"k-shot:{self.k}"

    def uses(self) -> str:
        """What the calibration reads of a test subject, for results.json and the reports."""
        if self.kind == "unlabelled":
            return ("per-subject standardisation of features/embeddings with each subject's own "
                    "windows on its side of the split; the test subject's test windows, "
                    "unlabelled (labels never served)")
        return (f"{self.k} labelled window(s) per test subject, each from a different trial, "
                "added to training; every window of those trials removed from the test set")

    def fold(self, fold, index: pd.DataFrame, y: np.ndarray, seed: int):
        """The fold this calibration evaluates (k-shot: shots moved to training)."""
        if self.kind != "k-shot":
            return fold
        shots, spent = take_shots(index, fold.test, y, self.k, seed)
        return replace(fold, train=np.concatenate([fold.train, shots]),
                       test=fold.test[~np.isin(fold.test, spent)])

    def stores(self, fold, fit_store, test_store):
        """The stores the systems see (unlabelled: per-subject standardised features)."""
        if self.kind != "unlabelled":
            return fit_store, test_store
        return (SubjectStandardised(fit_store, np.concatenate([fold.train, fold.val])),
                SubjectStandardised(test_store, fold.test))


def take_shots(index: pd.DataFrame, test_rows, y: np.ndarray, k: int,
               seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(shot rows, every test row of the shots' trials): per test subject, ``k`` windows from
    ``k`` different trials (fewer if it has fewer), classes alternating, seeded."""
    rng = np.random.default_rng(seed)
    test_rows = np.asarray(test_rows, dtype=np.int64)
    subject = subject_keys(index, test_rows)
    trial = subject + "/" + index.iloc[test_rows]["trial"].astype(str).to_numpy()
    shots, spent = [], []
    for s in np.unique(subject):
        mine = subject == s
        trials = np.unique(trial[mine])
        label = {t: int(round(np.mean(y[test_rows[trial == t]]))) for t in trials}
        by_class = [list(rng.permutation([t for t in trials if label[t] == c])) for c in (0, 1)]
        first = int(rng.integers(2))
        chosen = []
        while len(chosen) < k and (by_class[0] or by_class[1]):
            c = first if by_class[first] else 1 - first
            chosen.append(by_class[c].pop())
            first = 1 - c
        for t in chosen:
            in_trial = test_rows[trial == t]
            shots.append(int(rng.choice(in_trial)))
            spent.extend(in_trial.tolist())
    return np.asarray(shots, dtype=np.int64), np.asarray(spent, dtype=np.int64)


class SubjectStandardised:
    """A store view whose ``hrv(rows)`` and ``embed(rows, encoder)`` are standardised per
    subject with the statistics of that subject's rows in ``scope`` (read once through the
    wrapped store, so the leakage guard sees them); everything else passes through."""

    def __init__(self, store, scope):
        self._store = store
        self._scope = np.asarray(scope, dtype=np.int64)
        self._stats: dict[str, tuple[dict[str, np.ndarray], dict[str, np.ndarray]]] = {}

    def _subjects(self, rows) -> np.ndarray:
        return subject_keys(self._store.index, rows)

    def _standardise(self, key: str, rows, values: np.ndarray, values_of) -> np.ndarray:
        """``values`` of ``rows`` minus their subject's mean over the scope, over its std."""
        if key not in self._stats:
            scope_values = np.asarray(values_of(self._scope), dtype=np.float64)
            scope_subjects = self._subjects(self._scope)
            mean, std = {}, {}
            for s in np.unique(scope_subjects):
                v = scope_values[scope_subjects == s]
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)   # a subject's all-NaN column
                    mean[s], sd = np.nanmean(v, axis=0), np.nanstd(v, axis=0)
                std[s] = np.where(np.isfinite(sd) & (sd > 1e-9), sd, 1.0)
            self._stats[key] = (mean, std)
        mean, std = self._stats[key]
        subjects = self._subjects(rows)
        missing = sorted(set(subjects) - set(mean))
        if missing:
            raise ConfigError(f"calibration: subject(s) {missing[:3]} have no windows in the "
                              "calibration scope")
        values = np.asarray(values, dtype=np.float64)
        out = np.empty_like(values)
        for s in np.unique(subjects):
            at = subjects == s
            out[at] = (values[at] - mean[s]) / std[s]
        return out

    def hrv(self, rows) -> pd.DataFrame:
        table = self._store.hrv(rows)
        values = self._standardise("hrv", rows, table.to_numpy(),
                                   lambda r: self._store.hrv(r).to_numpy())
        return pd.DataFrame(values, columns=table.columns, index=table.index)

    def embed(self, rows, encoder: str) -> np.ndarray:
        return self._standardise(f"embed:{encoder}", rows, self._store.embed(rows, encoder),
                                 lambda r: self._store.embed(r, encoder)).astype(np.float32)

    def __getattr__(self, name: str):
        return getattr(self._store, name)
