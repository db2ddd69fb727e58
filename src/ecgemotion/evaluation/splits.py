"""Leakage-aware cross-validation protocols over a window store's index.

Every protocol yields :class:`Fold` objects that unpack as ``(train, val, test)``:
numpy arrays of **store row positions** (the same positions ``WindowStore.windows``
takes), drawn only from the ``rows`` given (already filtered to good, labelled windows).

Protocols (see :data:`PROTOCOLS`):

- ``paper``   repeated stratified k-fold over *windows* (default 10 × 1). This is what
  the literature does (Sarkar & Etemad; most likely Vazquez-Rodriguez et al.): windows of
  the same subject and the same video land on both sides, so it measures
  *subject-dependent, window-mixed* performance. Comparable with papers, not with the world.
- ``subject`` k-fold grouped by subject (default 10, capped at the number of subjects).
- ``loso``    leave one subject out.
- ``trial``   k-fold grouped by (subject, trial): a subject's other trials may be in
  training, a test trial's windows never are (subject-dependent, trial-independent).

Validation rows (for early stopping / model selection) always come from the training
side of the fold, held out with the protocol's own grouping: whole subjects for
``subject``/``loso``, whole trials for ``trial``, random (stratified) windows for
``paper``. Group keys always include ``dataset``, so two datasets' "S1" stay apart.

The fold arithmetic is scikit-learn's (``StratifiedKFold``, ``GroupKFold`` with shuffled
groups, ``LeaveOneGroupOut``; validation by ``GroupShuffleSplit`` / ``StratifiedShuffleSplit``),
seeded from (seed, repeat[, fold]); the guard is ours. Every fold passes
:func:`assert_no_leakage` before it is yielded; a leak raises :class:`LeakageError` instead
of producing an optimistic number. (Since 0.x the folds a seed draws are scikit-learn's, not
those of the earlier hand-written splitters: same rules, different draws.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np
import pandas as pd

from ecgemotion.errors import ConfigError, EcgEmotionError
from ecgemotion.subjects import subject_keys

__all__ = ["LeakageError", "Fold", "Protocol", "PROTOCOLS", "get_protocol", "assert_no_leakage",
           "group_keys", "label_values", "paper_folds", "subject_folds", "loso_folds", "trial_folds"]


class LeakageError(EcgEmotionError):
    """A fold would let test (or validation) data leak into training."""


# -- fold ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Fold:
    """One split. Unpacks as ``train, val, test = fold``; ``repeat``/``fold`` number it."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    repeat: int = 0
    fold: int = 0
    protocol: str = ""

    def __iter__(self):
        return iter((self.train, self.val, self.test))

    @property
    def name(self) -> str:
        return f"r{self.repeat}f{self.fold}"


# -- keys -----------------------------------------------------------------------------------
_GROUP_COLUMNS = {"subject": ("dataset", "subject"), "loso": ("dataset", "subject"),
                  "trial": ("dataset", "subject", "trial"), "paper": None}


def group_keys(index: pd.DataFrame, rows: np.ndarray, by: str) -> np.ndarray:
    """Integer group id per row: ``by`` is ``"subject"`` (dataset, subject) or ``"trial"``
    (dataset, subject, trial). Missing columns or values are an error, not a merged group."""
    cols = {"subject": ["dataset", "subject"], "trial": ["dataset", "subject", "trial"]}[by]
    missing = [c for c in cols if c not in index.columns]
    if missing:
        raise ConfigError(f"the index has no column(s) {', '.join(missing)} needed to group by {by}")
    sub = index.iloc[np.asarray(rows, dtype=np.int64)]
    if len(sub) == 0:
        return np.zeros(0, dtype=np.int64)
    frame = pd.DataFrame({"subject": subject_keys(sub)})
    if by == "trial":
        frame["trial"] = sub["trial"].astype(str).to_numpy()
    # one id per distinct subject key [and trial]; a 'nan' string is a value of its own
    return frame.groupby(list(frame.columns), sort=True, dropna=False).ngroup().to_numpy(dtype=np.int64)


def label_values(index: pd.DataFrame, rows: np.ndarray, label_column: str | None) -> np.ndarray | None:
    """The binary labels (0/1 int) of ``rows``; ``label_column`` may be ``"arousal"`` or
    ``"y_arousal"``. ``None`` gives ``None``. NaN labels are refused."""
    if label_column is None:
        return None
    col = label_column if label_column in index.columns else f"y_{label_column}"
    if col not in index.columns:
        raise ConfigError(f"the index has no label column {label_column!r} "
                          f"(available: {', '.join(c for c in index.columns if c.startswith('y_'))})")
    y = index[col].to_numpy(dtype=float)[np.asarray(rows, dtype=np.int64)]
    if np.isnan(y).any():
        raise ConfigError(f"{int(np.isnan(y).sum())} of the selected rows have no {col} label; "
                          "select labelled rows first (WindowStore.select(labelled=...))")
    return y.astype(np.int64)


# -- the guard ------------------------------------------------------------------------------
def assert_no_leakage(index: pd.DataFrame, train: np.ndarray, val: np.ndarray, test: np.ndarray,
                      protocol: str) -> None:
    """Raise :class:`LeakageError` if the split leaks.

    Always: no row may be in two parts (nor twice in one part). For ``subject``/``loso``
    no (dataset, subject) may appear in test and in train or val, nor in val and train;
    for ``trial`` the same for (dataset, subject, trial). ``paper`` mixes by design.
    """
    train, val, test = (np.asarray(a, dtype=np.int64).reshape(-1) for a in (train, val, test))
    parts = {"train": train, "val": val, "test": test}
    for name, arr in parts.items():
        if len(np.unique(arr)) != len(arr):
            raise LeakageError(f"{protocol}: {name} contains duplicated rows")
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        both = np.intersect1d(parts[a], parts[b])
        if len(both):
            raise LeakageError(f"{protocol}: {len(both)} row(s) are in both {a} and {b} "
                               f"(e.g. row {int(both[0])})")
    if protocol not in _GROUP_COLUMNS:
        raise ConfigError(f"unknown protocol {protocol!r}")
    by = {"subject": "subject", "loso": "subject", "trial": "trial"}.get(protocol)
    if by is None:
        return
    allrows = np.concatenate([train, val, test])
    keys = group_keys(index, allrows, by)
    k_train, k_val, k_test = np.split(keys, [len(train), len(train) + len(val)])
    for a, ka, b, kb in (("test", k_test, "train", k_train), ("test", k_test, "val", k_val),
                         ("val", k_val, "train", k_train)):
        shared = np.intersect1d(ka, kb)
        if len(shared):
            # name one offending group in words
            pos = allrows[np.flatnonzero(keys == shared[0])[0]]
            cols = list(_GROUP_COLUMNS[protocol])
            label = "/".join(str(index.iloc[pos][c]) for c in cols)
            raise LeakageError(f"{protocol}: {len(shared)} {by}(s) appear in both {a} and {b} "
                               f"(e.g. {label})")


# -- helpers --------------------------------------------------------------------------------
def _check_rows(index: pd.DataFrame, rows) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.int64).reshape(-1)
    if len(rows) == 0:
        raise ConfigError("no rows to split (no good, labelled windows?)")
    if rows.min() < 0 or rows.max() >= len(index):
        raise ConfigError(f"rows must lie in [0, {len(index)})")
    if len(np.unique(rows)) != len(rows):
        raise ConfigError("rows contain duplicates")
    return rows


def _n_val(n: int, fraction: float) -> int:
    """How many of ``n`` items to hold out: round(fraction*n), at least 1 when n >= 2, never all."""
    if n < 2 or fraction <= 0:
        return 0
    return int(min(max(1, round(fraction * n)), n - 1))


def _sklearn():
    """scikit-learn's splitters, imported when folds are drawn (not when the CLI starts)."""
    from sklearn import model_selection

    return model_selection


def _seed(*parts: int) -> int:
    """A scikit-learn random_state from (seed, repeat, fold, ...)."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0])


def _group_val(train_pos: np.ndarray, groups: np.ndarray, fraction: float,
               seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split training positions into (train, val) by whole groups."""
    n = _n_val(len(np.unique(groups[train_pos])), fraction)
    if n == 0:
        return train_pos, train_pos[:0]
    keep, val = next(_sklearn().GroupShuffleSplit(n_splits=1, test_size=n, random_state=seed)
                     .split(train_pos, groups=groups[train_pos]))
    return train_pos[keep], train_pos[val]


def _window_val(train_pos: np.ndarray, y: np.ndarray, fraction: float,
                seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split training positions into (train, val) by random windows, stratified by label
    when every class has two windows or more (else plainly random)."""
    n = _n_val(len(train_pos), fraction)
    if n == 0:
        return train_pos, train_pos[:0]
    counts = np.unique(y[train_pos], return_counts=True)[1]
    stratify = counts.min() >= 2 and len(counts) <= min(n, len(train_pos) - n)
    split = (_sklearn().StratifiedShuffleSplit if stratify else _sklearn().ShuffleSplit)(
        n_splits=1, test_size=n, random_state=seed)
    keep, val = next(split.split(train_pos, y[train_pos]))
    return train_pos[keep], train_pos[val]


def _emit(index, rows, train_pos, val_pos, test_pos, repeat, fold, protocol) -> Fold:
    f = Fold(np.sort(rows[train_pos]), np.sort(rows[val_pos]), np.sort(rows[test_pos]),
             repeat, fold, protocol)
    assert_no_leakage(index, f.train, f.val, f.test, protocol)
    return f


# -- splitters --------------------------------------------------------------------------------
def paper_folds(index: pd.DataFrame, rows, label_column: str | None = None, seed: int = 0,
                repeats: int = 1, k: int = 10, val_fraction: float = 0.1) -> Iterator[Fold]:
    """Repeated stratified k-fold over windows (window-mixed, subject-dependent)."""
    rows = _check_rows(index, rows)
    y = label_values(index, rows, label_column)
    if y is None:
        y = np.zeros(len(rows), dtype=np.int64)
    k = int(k)
    if k < 2 or k > len(rows):
        raise ConfigError(f"paper protocol needs 2 <= k <= number of windows ({len(rows)}), got {k}")
    # stratified while some class can fill every fold; below that, plain shuffled k-fold
    kfold = _sklearn().StratifiedKFold if np.bincount(y).max() >= k else _sklearn().KFold
    for r in range(repeats):
        folds = kfold(k, shuffle=True, random_state=_seed(seed, r, 1))
        for f, (train_pos, test_pos) in enumerate(folds.split(rows, y)):
            train_pos, val_pos = _window_val(train_pos, y, val_fraction, _seed(seed, r, f, 1))
            yield _emit(index, rows, train_pos, val_pos, test_pos, r, f, "paper")


def _grouped_folds(index, rows, groups, k, seed, repeats, val_fraction, protocol):
    """k folds of whole groups (scikit-learn's GroupKFold: shuffled groups, equal counts);
    ``k=None`` leaves one group out. Validation: whole groups of the training side."""
    if len(np.unique(groups)) < 2:
        raise ConfigError(f"{protocol} protocol needs at least 2 groups, found "
                          f"{len(np.unique(groups))}")
    for r in range(repeats):
        folds = (_sklearn().LeaveOneGroupOut() if k is None
                 else _sklearn().GroupKFold(k, shuffle=True, random_state=_seed(seed, r, 2)))
        for f, (train_pos, test_pos) in enumerate(folds.split(rows, groups=groups)):
            train_pos, val_pos = _group_val(train_pos, groups, val_fraction, _seed(seed, r, f, 2))
            yield _emit(index, rows, train_pos, val_pos, test_pos, r, f, protocol)


def subject_folds(index: pd.DataFrame, rows, label_column: str | None = None, seed: int = 0,
                  repeats: int = 1, k: int = 10, val_fraction: float = 0.15) -> Iterator[Fold]:
    """k-fold grouped by (dataset, subject); ``k`` is capped at the number of subjects."""
    rows = _check_rows(index, rows)
    label_values(index, rows, label_column)  # validates the labels
    groups = group_keys(index, rows, "subject")
    k = min(int(k), len(np.unique(groups)))
    if k < 2:
        raise ConfigError("subject protocol needs at least 2 subjects")
    yield from _grouped_folds(index, rows, groups, k, seed, repeats, val_fraction, "subject")


def loso_folds(index: pd.DataFrame, rows, label_column: str | None = None, seed: int = 0,
               repeats: int = 1, k: int | None = None, val_fraction: float = 0.15) -> Iterator[Fold]:
    """Leave one (dataset, subject) out. ``k`` is ignored; repeats only redraw validation
    subjects (the test partition is deterministic), so one repeat is the sensible default."""
    rows = _check_rows(index, rows)
    label_values(index, rows, label_column)
    groups = group_keys(index, rows, "subject")
    if len(np.unique(groups)) < 2:
        raise ConfigError("loso protocol needs at least 2 subjects")
    yield from _grouped_folds(index, rows, groups, None, seed, repeats, val_fraction, "loso")


def trial_folds(index: pd.DataFrame, rows, label_column: str | None = None, seed: int = 0,
                repeats: int = 1, k: int = 10, val_fraction: float = 0.15) -> Iterator[Fold]:
    """k-fold grouped by (dataset, subject, trial); ``k`` capped at the number of trials."""
    rows = _check_rows(index, rows)
    label_values(index, rows, label_column)
    groups = group_keys(index, rows, "trial")
    k = min(int(k), len(np.unique(groups)))
    if k < 2:
        raise ConfigError("trial protocol needs at least 2 trials")
    yield from _grouped_folds(index, rows, groups, k, seed, repeats, val_fraction, "trial")


# -- registry -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Protocol:
    """A named evaluation protocol; ``folds(...)`` yields leak-checked :class:`Fold` objects."""

    name: str
    description: str
    splitter: Callable[..., Iterator[Fold]] = field(repr=False)
    grouping: str                 # "window", "subject" or "trial"
    subject_dependent: bool       # can a test subject's other data be in training?
    window_mixed: bool            # can windows of the same trial be on both sides?
    default_k: int | None = 10
    default_repeats: int = 1
    default_val_fraction: float = 0.15

    def folds(self, index: pd.DataFrame, rows, label_column: str | None = None, seed: int = 0,
              repeats: int | None = None, k: int | None = None,
              val_fraction: float | None = None) -> Iterator[Fold]:
        return self.splitter(index, rows, label_column=label_column, seed=seed,
                             repeats=self.default_repeats if repeats is None else int(repeats),
                             k=self.default_k if k is None else int(k),
                             val_fraction=self.default_val_fraction if val_fraction is None
                             else float(val_fraction))

    def n_folds(self, index: pd.DataFrame, rows, k: int | None = None) -> int:
        """Folds per repeat this protocol will produce on ``rows``."""
        rows = np.asarray(rows, dtype=np.int64)
        if self.grouping == "window":
            return int(self.default_k if k is None else k)
        n_groups = len(np.unique(group_keys(index, rows, self.grouping)))
        if self.name == "loso":
            return n_groups
        return min(int(self.default_k if k is None else k), n_groups)

    def describe(self) -> dict:
        return {"protocol": self.name, "description": self.description, "grouping": self.grouping,
                "subject_dependent": self.subject_dependent, "window_mixed": self.window_mixed}


PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (
    Protocol("paper", "repeated stratified k-fold over windows, as in the literature; windows of "
             "the same subject and trial are on both sides (optimistic, paper-comparable)",
             paper_folds, "window", subject_dependent=True, window_mixed=True,
             default_k=10, default_repeats=1, default_val_fraction=0.1),
    Protocol("subject", "k-fold grouped by subject: test subjects are never seen in training "
             "(subject-independent)", subject_folds, "subject", subject_dependent=False,
             window_mixed=False, default_k=10),
    Protocol("loso", "leave one subject out (subject-independent)", loso_folds, "subject",
             subject_dependent=False, window_mixed=False, default_k=None),
    Protocol("trial", "k-fold grouped by (subject, trial): no trial on both sides, but a test "
             "subject's other trials are in training (subject-dependent, trial-independent)",
             trial_folds, "trial", subject_dependent=True, window_mixed=False, default_k=10),
)}


def get_protocol(name: str) -> Protocol:
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise ConfigError(f"unknown protocol {name!r}; choose from {', '.join(PROTOCOLS)}") from None
