import math

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from ecgemotion.evaluation.metrics import (aggregate, auroc, bootstrap_ci, fold_metrics,
                                           format_mean_std, paired_permutation_test, paired_test,
                                           per_subject_table, pool_trials, trial_metrics)
from ecgemotion.evaluation.metrics import _auroc_rows


def sample(n=300, seed=0, skill=1.0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    prob = 1 / (1 + np.exp(-(skill * (2 * y - 1) + rng.normal(0, 1, n))))
    return y, prob


@pytest.mark.parametrize("seed", range(5))
def test_fold_metrics_match_sklearn(seed):
    y, prob = sample(seed=seed, skill=0.5 + seed * 0.3)
    if seed == 4:
        y = np.r_[y, np.ones(200, dtype=int)]
        prob = np.r_[prob, np.full(200, 0.4)]  # imbalanced, many errors on the majority class
    pred = (prob >= 0.5).astype(int)
    m = fold_metrics(y, prob, y_train=np.ones(10))
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert m["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert m["macro_f1"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert m["f1_high"] == pytest.approx(skm.f1_score(y, pred))
    assert m["auroc"] == pytest.approx(skm.roc_auc_score(y, prob))
    assert m["confusion"] == skm.confusion_matrix(y, pred, labels=[0, 1]).tolist()
    assert m["majority_baseline"] == pytest.approx(np.mean(y == 1))
    assert m["test_majority_share"] == pytest.approx(max(y.mean(), 1 - y.mean()))


def test_one_class_fold_and_majority_from_training():
    y = np.zeros(10, dtype=int)
    prob = np.r_[np.full(7, 0.2), np.full(3, 0.8)]
    m = fold_metrics(y, prob, y_train=[1, 1, 1, 0])
    assert math.isnan(m["auroc"])
    assert m["accuracy"] == pytest.approx(0.7)
    assert m["majority_baseline"] == 0.0          # training majority (1) is wrong on every test window
    assert m["test_majority_share"] == 1.0
    pred = (prob >= 0.5).astype(int)
    with pytest.warns(UserWarning):
        ref = skm.balanced_accuracy_score(y, pred)
    assert m["balanced_accuracy"] == pytest.approx(ref)
    assert m["macro_f1"] == pytest.approx(skm.f1_score(y, pred, average="macro", zero_division=0))
    assert math.isnan(fold_metrics(y, prob)["majority_baseline"])
    assert auroc([0, 1, 1], [0.5, 0.5, 0.9]) == pytest.approx(skm.roc_auc_score([0, 1, 1], [0.5, 0.5, 0.9]))


def test_aggregate_mean_std():
    res = [{"accuracy": a, "auroc": u, "repeat": r} for a, u, r in
           [(0.6, 0.7, 0), (0.8, float("nan"), 0), (0.7, 0.9, 1), (0.9, 0.8, 1)]]
    table = aggregate(res)
    assert table.loc["accuracy", "mean"] == pytest.approx(0.75)
    assert table.loc["accuracy", "std"] == pytest.approx(np.std([0.6, 0.8, 0.7, 0.9], ddof=1))
    assert table.loc["auroc", "n"] == 3
    assert table.loc["accuracy", "std_of_repeat_means"] == pytest.approx(np.std([0.7, 0.8], ddof=1))
    assert format_mean_std(table)["accuracy"].startswith("0.750 ±")


def test_bootstrap_covers_point_and_narrows():
    widths = []
    for n in (100, 2000):
        y, prob = sample(n=n, seed=1)
        for metric in ("accuracy", "balanced_accuracy", "macro_f1", "f1_high"):
            ci = bootstrap_ci(y, prob, metric=metric, n_boot=500, seed=0)
            assert ci["low"] <= ci["point"] <= ci["high"]
        ci = bootstrap_ci(y, prob, metric="accuracy", n_boot=500)
        widths.append(ci["high"] - ci["low"])
    assert widths[1] < widths[0] / 2
    y, prob = sample(n=200, seed=2)
    ci = bootstrap_ci(y, prob, metric="auroc", n_boot=200)
    assert ci["low"] <= ci["point"] <= ci["high"]


def test_cluster_bootstrap_is_wider_with_correlated_clusters():
    rng = np.random.default_rng(0)
    n_sub, per = 20, 50
    groups = np.repeat(np.arange(n_sub), per)
    subject_skill = rng.uniform(0.3, 1.0, n_sub)          # accuracy varies by subject
    y = rng.integers(0, 2, n_sub * per)
    correct = rng.random(n_sub * per) < subject_skill[groups]
    prob = np.where(correct, y, 1 - y).astype(float)
    window = bootstrap_ci(y, prob, n_boot=1000)
    cluster = bootstrap_ci(y, prob, groups=groups, n_boot=1000)
    assert cluster["unit"] == "cluster" and cluster["n_units"] == n_sub
    assert cluster["low"] <= cluster["point"] <= cluster["high"]
    assert cluster["high"] - cluster["low"] > 1.5 * (window["high"] - window["low"])


def test_paired_tests_detect_real_difference_not_null():
    rng = np.random.default_rng(0)
    base = rng.uniform(0.6, 0.7, 10)
    better = base + 0.05 + rng.normal(0, 0.01, 10)
    res = paired_test(better, base, test_train_ratio=1 / 9)
    assert res["p_ttest"] < 0.01 and res["p_wilcoxon"] < 0.01 and res["p_ttest_corrected"] < 0.05
    assert res["mean_diff"] == pytest.approx(0.05, abs=0.01)
    assert res["p_ttest_corrected"] > res["p_ttest"]
    null = paired_test(base + rng.normal(0, 0.01, 10), base + rng.normal(0, 0.01, 10))
    assert null["p_ttest"] > 0.05 and null["p_wilcoxon"] > 0.05
    same = paired_test(base, base)
    assert same["p_ttest"] == 1.0 and math.isnan(same["p_wilcoxon"])


def test_paired_permutation_single_split():
    y, good = sample(n=600, seed=3, skill=2.0)
    _, weak = sample(n=600, seed=4, skill=0.0)
    res = paired_permutation_test(y, good, weak, n_perm=2000)
    assert res["diff"] > 0.2 and res["p"] < 0.01
    rng = np.random.default_rng(5)
    a = np.where(rng.random(600) < 0.5, good, 1 - good)
    b = np.where(rng.random(600) < 0.5, good, 1 - good)
    assert paired_permutation_test(y, a, b, n_perm=2000)["p"] > 0.01
    res_g = paired_permutation_test(y, good, weak, metric="balanced_accuracy",
                                    groups=np.arange(600) // 30, n_perm=300)
    assert res_g["unit"] == "cluster" and res_g["p"] < 0.05


@pytest.mark.parametrize("groups", [None, np.arange(90) // 9])
def test_auroc_permutations_batched_equal_one_at_a_time(groups):
    """The batched AUROC null replays the same draws as a loop over :func:`auroc` (ties too)."""
    y, a = sample(n=90, seed=6, skill=1.0)
    b = np.round(sample(n=90, seed=7, skill=0.3)[1], 1)            # many ties
    codes = np.arange(90) if groups is None else groups
    rng, null = np.random.default_rng(11), []
    for _ in range(300):
        s = (rng.random(codes.max() + 1) < 0.5)[codes]
        null.append(auroc(y, np.where(s, b, a)) - auroc(y, np.where(s, a, b)))
    observed = auroc(y, a) - auroc(y, b)
    expected = (1 + np.sum(np.abs(null) >= abs(observed) - 1e-12)) / 301
    res = paired_permutation_test(y, a, b, "auroc", groups=groups, n_perm=300, seed=11)
    assert res["diff"] == pytest.approx(observed) and res["p"] == pytest.approx(expected)
    rows = np.stack([a, b, np.full(90, 0.5)])
    np.testing.assert_allclose(_auroc_rows(y, rows), [auroc(y, r) for r in rows], rtol=1e-12)


def test_trial_pooling_and_per_subject():
    index = pd.DataFrame({"dataset": "A", "subject": ["1"] * 6 + ["2"] * 4,
                          "trial": ["a", "a", "a", "b", "b", "b", "a", "a", "c", "c"]})
    rows = np.arange(10)
    y = np.array([1, 1, 1, 0, 0, 0, 1, 1, 0, 0])
    prob = np.array([0.9, 0.4, 0.8, 0.6, 0.2, 0.1, 0.3, 0.4, 0.45, 0.2])
    pooled = pool_trials(index, rows, y, prob)
    assert len(pooled) == 4  # ('1','a'), ('1','b'), ('2','a'), ('2','c'): same trial name, other subject
    row = pooled[(pooled.subject == "1") & (pooled.trial == "a")].iloc[0]
    assert row["prob"] == pytest.approx(0.7) and row["y"] == 1 and row["n_windows"] == 3
    tm = trial_metrics(index, rows, y, prob)
    assert tm["n_trials"] == 4
    assert tm["accuracy"] == pytest.approx(0.75)  # ('2','a') pooled 0.35 < 0.5 is wrong
    table = per_subject_table(index, rows, y, prob)
    assert table.set_index("subject").loc["1", "accuracy"] == pytest.approx(4 / 6)
    assert table.set_index("subject").loc["2", "n_windows"] == 4


def test_fold_mean_ci_does_not_reward_a_constant_that_changes_with_the_fold():
    """A predictor that says one thing per fold (high in a mostly-high fold, low in a
    mostly-low one) is at chance within every fold; pooling the folds makes it look skilful."""
    y = np.array([1] * 8 + [0] * 2 + [0] * 8 + [1] * 2)
    prob = np.array([0.9] * 10 + [0.1] * 10)
    folds = np.repeat([0, 1], 10)
    groups = np.repeat(np.arange(10), 2)                     # two windows per subject
    for metric in ("auroc", "balanced_accuracy"):
        pooled = bootstrap_ci(y, prob, metric, groups=groups, n_boot=200)
        by_fold = bootstrap_ci(y, prob, metric, groups=groups, folds=folds, n_boot=200)
        assert pooled["point"] > 0.75
        assert by_fold["point"] == 0.5 and by_fold["low"] <= 0.5 <= by_fold["high"]
