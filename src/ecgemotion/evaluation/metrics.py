"""Metrics and statistics for binary emotion recognition, honest about imbalance and clustering.

Per fold (:func:`fold_metrics`): accuracy, balanced accuracy, macro-F1, F1 of the high
class, AUROC (NaN when the test fold has one class), the confusion matrix, and two
reference points that must be printed next to any accuracy: the **majority baseline**
(the majority class of the *training* labels predicted for every test window) and the
**test majority share** (the best a constant predictor could do had it peeked at the test
labels).

Across folds: :func:`aggregate` (mean ± std over folds and repeats).

Uncertainty: :func:`bootstrap_ci`, resampling test windows or, with ``groups``, whole
clusters (subjects) — windows of one subject are not independent, so for
subject-independent protocols resample subjects.

Comparisons: :func:`paired_test` on per-fold metrics of two systems (paired t-test,
optionally with the Nadeau–Bengio correction for overlapping training sets, and the
Wilcoxon signed-rank test); :func:`paired_permutation_test` on one split's test windows.

Trial level: :func:`pool_trials` averages window probabilities per (dataset, subject,
trial); report its metrics separately from window metrics.
"""

from __future__ import annotations

import math
import warnings
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["METRICS", "fold_metrics", "aggregate", "bootstrap_ci", "per_subject_table",
           "paired_test", "paired_permutation_test", "pool_trials", "trial_metrics",
           "confusion_counts", "auroc"]

METRICS = ("accuracy", "balanced_accuracy", "macro_f1", "f1_high", "auroc")
CONFUSION_METRICS = METRICS[:4]   # functions of the confusion counts (vectorised resampling)


# -- core computations (vectorised over a leading axis where useful) -----------------------
def _as_binary(y) -> np.ndarray:
    y = np.asarray(y, dtype=float).reshape(-1)
    if np.isnan(y).any():
        raise ValueError("labels contain NaN")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("labels must be 0/1")
    return y.astype(np.int64)


def _predictions(prob, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    prob = np.asarray(prob, dtype=float).reshape(-1)
    return prob, (prob >= threshold).astype(np.int64)


def confusion_counts(y_true, y_pred, weights=None) -> np.ndarray:
    """``[[tn, fp], [fn, tp]]`` (sklearn's layout: rows true, columns predicted). Ours, not
    ``sklearn.metrics.confusion_matrix`` (equal, tested): 13-700x faster per call
    (benchmarks/metrics.py), and the bootstraps call it thousands of times."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    w = np.ones(len(y_true)) if weights is None else np.asarray(weights, dtype=float)
    cm = np.zeros((2, 2))
    np.add.at(cm, (y_true, y_pred), w)
    return cm


def _from_counts(tn, fp, fn, tp) -> dict[str, np.ndarray]:
    """Confusion-based metrics from (broadcastable) counts; undefined ratios give 0 like
    sklearn's ``zero_division=0``, except balanced accuracy over the present classes."""
    tn, fp, fn, tp = (np.asarray(a, dtype=float) for a in (tn, fp, fn, tp))
    n = tn + fp + fn + tp
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.where(n > 0, (tp + tn) / n, np.nan)
        pos, neg = tp + fn, tn + fp
        tpr = np.where(pos > 0, tp / pos, np.nan)
        tnr = np.where(neg > 0, tn / neg, np.nan)
        with warnings.catch_warnings():  # all-NaN only for an empty set
            warnings.simplefilter("ignore", RuntimeWarning)
            bal = np.nanmean(np.stack([tpr, tnr]), axis=0)  # mean recall of present classes
        f1_hi = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0)
        f1_lo = np.where(2 * tn + fn + fp > 0, 2 * tn / (2 * tn + fn + fp), 0.0)
        # sklearn's macro-F1 averages over the labels present in y_true or y_pred
        present_hi = (tp + fn + fp) > 0
        present_lo = (tn + fn + fp) > 0
        n_present = present_hi.astype(float) + present_lo.astype(float)
        macro = np.where(n_present > 0, (f1_hi * present_hi + f1_lo * present_lo)
                         / np.maximum(n_present, 1), np.nan)
    return {"accuracy": acc, "balanced_accuracy": np.asarray(bal), "macro_f1": macro,
            "f1_high": f1_hi}


def _unit_counts(codes: np.ndarray, y: np.ndarray, pred: np.ndarray, n_units: int) -> np.ndarray:
    """Confusion counts per resampling unit, ``(n_units, 4)``: tn, fp, fn, tp."""
    out = np.zeros((n_units, 4))
    np.add.at(out, (codes, y * 2 + pred), 1.0)
    return out


def auroc(y_true, prob) -> float:
    """Area under the ROC curve (Mann–Whitney, ties count half); NaN with one class. Ours,
    not ``sklearn.metrics.roc_auc_score`` (equal, tested): 3-20x faster per call
    (benchmarks/metrics.py) inside the bootstrap and permutation loops."""
    y = np.asarray(y_true).reshape(-1)
    p = np.asarray(prob, dtype=float).reshape(-1)
    n1 = int((y == 1).sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = stats.rankdata(p)
    return float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _auroc_rows(y: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """:func:`auroc` of each row of ``probs`` against ``y`` at once (the permutation test's
    null distribution; one call per permutation was most of a small evaluation's time)."""
    n1 = int((y == 1).sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        return np.full(len(probs), np.nan)
    ranks = stats.rankdata(probs, axis=1)
    return (ranks[:, y == 1].sum(axis=1) - n1 * (n1 + 1) / 2) / (n1 * n0)


def fold_metrics(y_true, prob, y_train=None, threshold: float = 0.5) -> dict:
    """All per-fold metrics of one test set.

    ``prob`` is P(high); a window is predicted high when ``prob >= threshold``.
    ``y_train`` (the fold's training labels) gives the majority baseline; without it the
    baseline is NaN (never computed from the test labels).
    """
    y = _as_binary(y_true)
    prob, pred = _predictions(prob, threshold)
    if len(prob) != len(y):
        raise ValueError(f"{len(y)} labels but {len(prob)} probabilities")
    cm = confusion_counts(y, pred)
    (tn, fp), (fn, tp) = cm
    out = {k: float(v) for k, v in _from_counts(tn, fp, fn, tp).items()}
    out["auroc"] = auroc(y, prob)
    pos_share = float(y.mean()) if len(y) else float("nan")
    out["test_majority_share"] = max(pos_share, 1 - pos_share) if len(y) else float("nan")
    out["test_positive_share"] = pos_share
    out["predicted_high_share"] = float(pred.mean()) if len(pred) else float("nan")
    if y_train is not None and len(np.asarray(y_train)):
        yt = _as_binary(y_train)
        majority = int(yt.mean() >= 0.5)
        out["train_majority_class"] = majority
        out["majority_baseline"] = float((y == majority).mean()) if len(y) else float("nan")
    else:
        out["train_majority_class"] = -1
        out["majority_baseline"] = float("nan")
    out["n"] = int(len(y))
    out["confusion"] = cm.astype(np.int64).tolist()
    return out


def one_class(predicted_high_share: float | None) -> bool:
    """True when a model gave every window the same class: its accuracy is then just that
    class's share and it has learned nothing a majority vote does not know."""
    return predicted_high_share is not None and predicted_high_share in (0.0, 1.0)


# -- aggregation ------------------------------------------------------------------------------
def aggregate(results: Sequence[Mapping] | pd.DataFrame,
              metrics: Iterable[str] | None = None) -> pd.DataFrame:
    """Mean, std (ddof=1), min, max and count over folds (and repeats) of each numeric metric.

    NaN fold values (e.g. AUROC of a one-class fold) are skipped and ``n`` says how many
    folds counted. With a ``repeat`` column, ``std_of_repeat_means`` is the spread of the
    per-repeat means (the quantity repeated CV is meant to stabilise).
    """
    df = pd.DataFrame(list(results)) if not isinstance(results, pd.DataFrame) else results
    if metrics is None:
        metrics = [c for c in (*METRICS, "majority_baseline", "test_majority_share")
                   if c in df.columns]
    rows = {}
    for m in metrics:
        v = pd.to_numeric(df[m], errors="coerce")
        row = {"mean": v.mean(), "std": v.std(ddof=1) if v.notna().sum() > 1 else float("nan"),
               "min": v.min(), "max": v.max(), "n": int(v.notna().sum())}
        if "repeat" in df.columns and df["repeat"].nunique() > 1:
            per = v.groupby(df["repeat"]).mean()
            row["std_of_repeat_means"] = per.std(ddof=1)
        rows[m] = row
    return pd.DataFrame(rows).T


def format_mean_std(table: pd.DataFrame, digits: int = 3) -> dict[str, str]:
    """``{"accuracy": "0.712 ± 0.034", ...}`` from :func:`aggregate`'s table; the mean alone
    where the std is undefined (one fold)."""
    return {m: f"{r['mean']:.{digits}f}" + (f" ± {r['std']:.{digits}f}" if np.isfinite(r["std"])
                                             else "")
            for m, r in table.iterrows()}


# -- bootstrap ----------------------------------------------------------------------------
def bootstrap_ci(y_true, prob, metric: str = "accuracy", groups=None, n_boot: int = 2000,
                 alpha: float = 0.05, seed: int = 0, threshold: float = 0.5, folds=None) -> dict:
    """Percentile bootstrap confidence interval of ``metric`` on one set of predictions.

    Without ``groups`` the test windows are resampled; with ``groups`` (e.g. subject ids)
    whole clusters are resampled with replacement (cluster bootstrap), which is the
    honest choice when windows of a subject are correlated. With ``folds`` (the fold of
    each prediction) the statistic is the **mean over folds** of the metric computed within
    each fold, each fold weighted by its number of clusters (with one subject per fold, as
    in leave-one-subject-out, the mean over subjects): pooling the folds instead makes a
    predictor whose constant changes from fold to fold look worse (balanced accuracy) or
    better (AUROC) than chance. A resample draws clusters from all folds, and a fold weighs
    as many clusters as were drawn from it. Confusion-based metrics are computed for all
    resamples at once from per-cluster counts; AUROC loops.
    Returns ``{"point", "low", "high", "std", "n_boot", "unit"}``.
    """
    y = _as_binary(y_true)
    prob, pred = _predictions(prob, threshold)
    if len(y) == 0:
        raise ValueError("no predictions to bootstrap")
    codes = np.arange(len(y)) if groups is None else pd.factorize(np.asarray(groups))[0]
    fold = np.zeros(len(y), dtype=np.int64) if folds is None else pd.factorize(np.asarray(folds))[0]
    units = pd.factorize(fold * (int(codes.max()) + 1) + codes)[0]   # a cluster within a fold
    n_units = int(units.max()) + 1
    unit_fold = np.zeros(n_units, dtype=np.int64)
    unit_fold[units] = fold
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n_units, np.full(n_units, 1.0 / n_units), size=n_boot)
    point = _fold_weighted(y, prob, pred, units, unit_fold, np.ones((1, n_units)), metric)[0]
    values = _fold_weighted(y, prob, pred, units, unit_fold, counts, metric)
    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        low = high = std = float("nan")
    else:
        low, high = np.quantile(finite, [alpha / 2, 1 - alpha / 2])
        std = float(finite.std(ddof=1)) if len(finite) > 1 else 0.0
    return {"point": float(point), "low": float(low), "high": float(high), "std": std,
            "n_boot": int(n_boot), "unit": "window" if groups is None else "cluster",
            "n_units": n_units,
            **({"over": f"mean of {int(fold.max()) + 1} folds"} if folds is not None else {})}


def _fold_weighted(y, prob, pred, units, unit_fold, counts, metric: str) -> np.ndarray:
    """For each row of ``counts`` (how often each unit is drawn): the metric within each
    fold on the drawn units, averaged over folds weighted by the units drawn from each."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose from {', '.join(METRICS)}")
    total, weight = np.zeros(len(counts)), np.zeros(len(counts))
    per_unit = _unit_counts(units, y, pred, len(unit_fold))
    for f in np.unique(unit_fold):
        in_fold = np.flatnonzero(unit_fold == f)
        c = counts[:, in_fold]
        if metric in CONFUSION_METRICS:
            value = np.asarray(_from_counts(*(c @ per_unit[in_fold]).T)[metric], dtype=float)
        else:
            members = [np.flatnonzero(units == u) for u in in_fold]
            value = np.array([auroc(*_drawn(y, prob, members, row)) for row in c])
        w = np.where(np.isfinite(value), c.sum(axis=1), 0.0)
        total += np.where(w > 0, value, 0.0) * w
        weight += w
    with np.errstate(invalid="ignore"):
        return total / weight


def _drawn(y, prob, members, row):
    idx = np.concatenate([np.repeat(members[i], row[i]) for i in np.flatnonzero(row)] or [[]])
    idx = idx.astype(np.int64)
    return y[idx], prob[idx]


# -- per subject ----------------------------------------------------------------------------
def per_subject_table(index: pd.DataFrame, rows, y_true, prob, threshold: float = 0.5) -> pd.DataFrame:
    """One line per (dataset, subject): n windows, accuracy, positive share, mean P(high)."""
    rows = np.asarray(rows, dtype=np.int64)
    y = _as_binary(y_true)
    prob, pred = _predictions(prob, threshold)
    df = index.iloc[rows][["dataset", "subject"]].reset_index(drop=True).copy()
    df["correct"] = (pred == y).astype(float)
    df["y"] = y
    df["prob"] = prob
    out = df.groupby(["dataset", "subject"], sort=True).agg(
        n_windows=("y", "size"), accuracy=("correct", "mean"), positive_share=("y", "mean"),
        mean_prob=("prob", "mean")).reset_index()
    out["majority_share"] = np.maximum(out["positive_share"], 1 - out["positive_share"])
    return out


# -- paired comparisons ------------------------------------------------------------------------
def paired_test(metric_a, metric_b, test_train_ratio: float | None = None) -> dict:
    """Compare two systems evaluated on the **same** folds (same order).

    Returns the mean difference (a − b), the paired t-test p-value, the Wilcoxon
    signed-rank p-value (NaN when every difference is zero), and, when
    ``test_train_ratio`` (n_test / n_train of a fold) is given, the Nadeau–Bengio
    corrected resampled t-test p-value, which accounts for the overlap between the
    training sets of k-fold folds (the plain t-test is then anti-conservative).
    """
    a = np.asarray(metric_a, dtype=float)
    b = np.asarray(metric_b, dtype=float)
    if a.shape != b.shape:
        raise ValueError("both systems need a metric for every fold")
    keep = np.isfinite(a) & np.isfinite(b)
    d = a[keep] - b[keep]
    n = len(d)
    out = {"n": n, "mean_a": float(a[keep].mean()) if n else float("nan"),
           "mean_b": float(b[keep].mean()) if n else float("nan"),
           "mean_diff": float(d.mean()) if n else float("nan"),
           "p_ttest": float("nan"), "t": float("nan"), "p_wilcoxon": float("nan"),
           "p_ttest_corrected": float("nan")}
    if n < 2:
        return out
    sd = d.std(ddof=1)
    if sd > 0:
        t, p = stats.ttest_rel(a[keep], b[keep])
        out["t"], out["p_ttest"] = float(t), float(p)
        if test_train_ratio is not None:
            tc = d.mean() / math.sqrt((1.0 / n + test_train_ratio) * sd ** 2)
            out["p_ttest_corrected"] = float(2 * stats.t.sf(abs(tc), n - 1))
    elif d.mean() != 0:
        out["t"], out["p_ttest"] = math.copysign(math.inf, d.mean()), 0.0
        out["p_ttest_corrected"] = 0.0 if test_train_ratio is not None else float("nan")
    else:
        out["t"], out["p_ttest"] = 0.0, 1.0
        out["p_ttest_corrected"] = 1.0 if test_train_ratio is not None else float("nan")
    if np.any(d != 0):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out["p_wilcoxon"] = float(stats.wilcoxon(d, zero_method="wilcox").pvalue)
    return out


def paired_permutation_test(y_true, prob_a, prob_b, metric: str = "accuracy", groups=None,
                            n_perm: int = 5000, seed: int = 0, threshold: float = 0.5) -> dict:
    """Paired permutation test of two systems' predictions on one test set.

    Under the null the two systems are exchangeable, so each window's (or, with
    ``groups``, each cluster's) pair of predictions is swapped at random. Two-sided
    p-value with the +1 correction. Any of :data:`METRICS`: the confusion metrics
    (balanced accuracy too, the fair one for imbalanced labels) are vectorised from
    per-unit counts; AUROC loops.
    """
    y = _as_binary(y_true)
    pa, pred_a = _predictions(prob_a, threshold)
    pb, pred_b = _predictions(prob_b, threshold)
    rng = np.random.default_rng(seed)
    codes = np.arange(len(y)) if groups is None else pd.factorize(np.asarray(groups))[0]
    n_units = int(codes.max()) + 1
    observed = fold_metrics(y, pa, threshold=threshold)[metric] - \
        fold_metrics(y, pb, threshold=threshold)[metric]
    if metric in CONFUSION_METRICS:
        ca, cb = _unit_counts(codes, y, pred_a, n_units), _unit_counts(codes, y, pred_b, n_units)
        null = np.empty(n_perm)
        for i in range(0, n_perm, 256):   # chunks keep the swap matrix small
            swap = (rng.random((min(256, n_perm - i), n_units)) < 0.5).astype(float)
            ta, tb = (1 - swap) @ ca + swap @ cb, swap @ ca + (1 - swap) @ cb
            null[i:i + len(swap)] = _from_counts(*ta.T)[metric] - _from_counts(*tb.T)[metric]
    elif metric == "auroc":
        null = np.empty(n_perm)
        chunk = max(1, min(256, (1 << 21) // len(y)))   # <= 2M probabilities (16 MB) a batch
        for i in range(0, n_perm, chunk):   # the same draws as one permutation at a time
            s = (rng.random((min(chunk, n_perm - i), n_units)) < 0.5)[:, codes]
            null[i:i + len(s)] = _auroc_rows(y, np.where(s, pb, pa)) - _auroc_rows(y, np.where(s, pa, pb))
    else:
        raise ValueError(f"unknown metric {metric!r}; choose from {', '.join(METRICS)}")
    p = (1 + np.sum(np.abs(null) >= abs(observed) - 1e-12)) / (n_perm + 1)
    return {"diff": float(observed), "p": float(p), "n_perm": int(n_perm),
            "unit": "window" if groups is None else "cluster"}


# -- trial pooling ----------------------------------------------------------------------------
def pool_trials(index: pd.DataFrame, rows, y_true, prob) -> pd.DataFrame:
    """Mean P(high) per (dataset, subject, trial); one line per trial with its label.

    A trial's windows share one label by construction; if they do not (a rule applied
    per window), the majority is used and ``label_agreement`` < 1 says so.
    """
    rows = np.asarray(rows, dtype=np.int64)
    y = _as_binary(y_true)
    prob = np.asarray(prob, dtype=float).reshape(-1)
    df = index.iloc[rows][["dataset", "subject", "trial"]].reset_index(drop=True).copy()
    df["y"] = y
    df["prob"] = prob
    out = df.groupby(["dataset", "subject", "trial"], sort=True, dropna=False).agg(
        n_windows=("y", "size"), y_mean=("y", "mean"), prob=("prob", "mean")).reset_index()
    out["y"] = (out["y_mean"] >= 0.5).astype(np.int64)
    out["label_agreement"] = np.maximum(out["y_mean"], 1 - out["y_mean"])
    return out.drop(columns="y_mean")


def trial_metrics(index: pd.DataFrame, test_rows, y_test, prob, train_rows=None, y_train=None,
                  threshold: float = 0.5) -> dict:
    """:func:`fold_metrics` at trial level (mean window probability per trial).

    The majority baseline uses the training *trials'* labels when given.
    """
    pooled = pool_trials(index, test_rows, y_test, prob)
    yt = None
    if train_rows is not None and y_train is not None:
        yt = pool_trials(index, train_rows, y_train, np.zeros(len(np.asarray(y_train))))["y"]
    out = fold_metrics(pooled["y"].to_numpy(), pooled["prob"].to_numpy(), y_train=yt,
                       threshold=threshold)
    out["n_trials"] = out.pop("n")
    return out
