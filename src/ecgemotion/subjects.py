"""The subject key, ``dataset/subject``: the unit of every subject-held-out split, grouped
bootstrap and leakage check. Subject ids are unique only within a dataset ("S1" of two
datasets are two people), so the key always carries the dataset.

A store's index gets the key as a column when it is opened (:func:`with_subject_key`);
it is derived, not written, so store files and their checksums stay as they were built.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SUBJECT_KEY = "subject_key"


def subject_keys(index: pd.DataFrame, rows=None) -> np.ndarray:
    """The key of each row of ``index`` (of ``rows`` when given), from the column when the
    index has it, else derived from ``dataset`` and ``subject``."""
    sub = index if rows is None else index.iloc[np.asarray(rows, dtype=np.int64)]
    if SUBJECT_KEY in sub.columns:
        return sub[SUBJECT_KEY].to_numpy()
    return (sub["dataset"].astype(str) + "/" + sub["subject"].astype(str)).to_numpy()


def with_subject_key(index: pd.DataFrame) -> pd.DataFrame:
    """``index`` with its ``subject_key`` column (added in place when missing)."""
    if SUBJECT_KEY not in index.columns and {"dataset", "subject"} <= set(index.columns):
        index[SUBJECT_KEY] = subject_keys(index)
    return index


def trial_keys(index: pd.DataFrame, rows) -> np.ndarray:
    """``dataset/subject/trial`` of each row: the unit a trial-context model pools over."""
    sub = index.iloc[np.asarray(rows, dtype=np.int64)]
    return subject_keys(index, rows) + "/" + sub["trial"].astype(str).to_numpy()


def recording_keys(index: pd.DataFrame, rows) -> np.ndarray:
    """``dataset/subject/trial/lead`` of each row: one continuous recording."""
    keys = trial_keys(index, rows)
    if "lead" in index.columns:
        keys = keys + "/" + index.iloc[np.asarray(rows, dtype=np.int64)]["lead"].astype(str).to_numpy()
    return keys
