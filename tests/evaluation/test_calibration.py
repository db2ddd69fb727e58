"""``evaluate --calibrate``: the calibrated run sits beside the strict one, and the leakage
guard proves what each calibration saw of the test subject."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ecgemotion.cli import main
from ecgemotion.errors import ConfigError
from ecgemotion.evaluation.calibration import Calibration, take_shots
from ecgemotion.evaluation.runner import EvaluationOptions, run_evaluation
from ecgemotion.evaluation.splits import LeakageError
from ecgemotion.evaluation.systems import HRVSystem
from ecgemotion.subjects import subject_keys

OPTIONS = dict(k=3, max_folds=1, n_boot=50)


class Spy(HRVSystem):
    """hrv-logreg that keeps the folds and the test features it was given."""

    def __init__(self):
        super().__init__("logreg")
        self.folds, self.test_features = [], []

    def fit_predict(self, ctx, fold, fit_store, test_store, run_dir, seed):
        self.folds.append(fold)
        out = super().fit_predict(ctx, fold, fit_store, test_store, run_dir, seed)
        self.test_features.append(test_store.hrv(fold.test))    # predict phase: test rows only
        return out


def _trials(index, rows):
    sub = index.iloc[rows]
    return set(subject_keys(index, rows) + "/" + sub["trial"].astype(str).to_numpy())


def test_k_shot_moves_whole_trials_out_of_the_test_set(amigos_store, tmp_path):
    index = amigos_store.index
    y = index["y_arousal"].to_numpy(dtype=float)
    spy = Spy()
    res = run_evaluation(amigos_store, "arousal", "subject", [spy], tmp_path,
                         EvaluationOptions(calibrate="k-shot:2", **OPTIONS))
    fold = spy.folds[0]
    test_subjects = list(set(subject_keys(index, fold.test)))
    shots = fold.train[np.isin(subject_keys(index, fold.train), test_subjects)]
    assert len(shots) == 2 * len(test_subjects)                  # K per test subject
    assert len(_trials(index, shots)) == len(shots)              # each from its own trial
    assert not _trials(index, shots) & _trials(index, fold.test)  # no test window shares one
    assert set(np.unique(y[shots])) == {0.0, 1.0}                # both classes where possible
    assert res["calibration"]["option"] == "k-shot:2"
    assert res["leakage_check"]["folds"][0]["fit_rows_read"] >= len(shots)


def test_shots_left_in_the_test_set_are_refused(amigos_store, tmp_path, monkeypatch):
    def leaky(self, fold, index, y, seed):          # shots to training, but not out of test
        shots, _ = take_shots(index, fold.test, y, self.k, seed)
        return type(fold)(np.concatenate([fold.train, shots]), fold.val, fold.test,
                          fold.repeat, fold.fold, fold.protocol)

    monkeypatch.setattr(Calibration, "fold", leaky)
    with pytest.raises(LeakageError, match="served to training"):
        run_evaluation(amigos_store, "arousal", "subject", [HRVSystem("logreg")], tmp_path,
                       EvaluationOptions(calibrate="k-shot:1", **OPTIONS))


class LabelReader(HRVSystem):
    def fit_predict(self, ctx, fold, fit_store, test_store, run_dir, seed):
        test_store.index[f"y_{ctx.target}"]
        return super().fit_predict(ctx, fold, fit_store, test_store, run_dir, seed)


def test_unlabelled_standardises_per_subject_and_never_serves_test_labels(amigos_store, tmp_path):
    spy = Spy()
    run_evaluation(amigos_store, "arousal", "subject", [spy], tmp_path,
                   EvaluationOptions(calibrate="unlabelled", **OPTIONS))
    fold, seen = spy.folds[0], spy.test_features[0]
    subjects = subject_keys(amigos_store.index, fold.test)
    for s in set(subjects):     # the test subject's own (unlabelled) windows set its scale
        mean_hr = seen["mean_hr"].to_numpy()[subjects == s]
        assert abs(np.nanmean(mean_hr)) < 1e-9 and np.nanstd(mean_hr) == pytest.approx(1.0)
    with pytest.raises(KeyError, match="y_arousal"):
        run_evaluation(amigos_store, "arousal", "subject", [LabelReader("logreg")], tmp_path,
                       EvaluationOptions(calibrate="unlabelled", **OPTIONS))


def test_evaluate_reports_the_calibrated_run_beside_the_strict_one(amigos_store, tmp_path, capsys):
    out = tmp_path / "e"
    assert main(["evaluate", "--store", str(amigos_store.path), "--init", "scratch", "--task",
                 "arousal", "--protocol", "subject", "--k", "3", "--max-folds", "1", "--systems",
                 "hrv-logreg", "--n-boot", "50", "--calibrate", "k-shot:1", "--out", str(out),
                 "--quiet"]) == 0
    r = json.loads((out / "results.json").read_text())
    assert r["calibration"] is None and r["calibrated"]["calibration"]["option"] == "k-shot:1"
    assert r["calibrated"]["n_windows"] < r["n_windows"]          # strict figure untouched
    assert "balanced_accuracy" in r["calibrated"]["bootstrap_ci"]["hrv-logreg"]
    report = (out / "report.md").read_text()
    assert "## Results (window level)" in report and "`k-shot:1` (beside the strict" in report
    with pytest.raises(ConfigError, match="k-shot:K"):
        Calibration.parse("k-shot:0")
