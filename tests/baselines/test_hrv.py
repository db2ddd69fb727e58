import numpy as np
import pandas as pd
import pytest

from ecgemotion.baselines.hrv import (FEATURES, HRVFeatureCache, fit_predict_features,
                                      fit_predict_hrv, hrv_features, window_hrv)
from ecgemotion.evaluation.metrics import fold_metrics
from ecgemotion.synthetic import ecg

FS = 128


@pytest.mark.parametrize("hr", [50, 70, 95, 130])
def test_mean_hr_and_rmssd_on_synthetic_ecg(hr):
    windows = np.stack([ecg(10, FS, hr_bpm=hr, hrv_ms=40, seed=s) for s in range(4)])
    table = hrv_features(windows, FS)
    assert list(table.columns) == list(FEATURES)
    assert np.all(np.abs(table["mean_hr"] - hr) < 3)
    assert table["rmssd"].between(5, 120).all()
    assert table["sdnn"].between(5, 120).all()
    assert table[["lf", "hf", "lf_hf"]].isna().all().all()   # 10-s windows: no frequency measures


def test_rmssd_tracks_variability_and_long_windows_get_frequency_measures():
    calm = hrv_features(np.stack([ecg(10, FS, hr_bpm=70, hrv_ms=10, seed=s) for s in range(6)]), FS)
    wild = hrv_features(np.stack([ecg(10, FS, hr_bpm=70, hrv_ms=60, seed=s) for s in range(6)]), FS)
    assert wild["rmssd"].median() > 2 * calm["rmssd"].median()
    long = window_hrv(ecg(150, FS, hr_bpm=70, seed=1), FS)
    assert np.isfinite(long[[FEATURES.index(c) for c in ("lf", "hf", "lf_hf")]]).all()


def test_failed_windows_give_nan_not_errors():
    bad = np.stack([np.zeros(1280), np.random.default_rng(0).normal(size=1280) * 1e-6,
                    np.full(1280, np.nan), ecg(10, FS, seed=0)])
    table = hrv_features(bad, FS)
    assert table.loc[0:2, "mean_hr"].isna().all()
    assert np.isfinite(table.loc[3, "mean_hr"])


def test_logreg_and_forest_beat_chance_when_class_changes_heart_rate():
    rng = np.random.default_rng(0)

    def make(n, seed0):
        y = rng.integers(0, 2, n)
        hr = np.where(y == 1, 85.0, 65.0) + rng.normal(0, 5, n)
        w = np.stack([ecg(10, FS, hr_bpm=h, seed=seed0 + i) for i, h in enumerate(hr)])
        return w, y

    xtr, ytr = make(120, 0)
    xte, yte = make(60, 1000)
    xtr[0] = 0.0  # a failed window in training: imputed, not fatal
    p = fit_predict_hrv(xtr, ytr, xte, FS, model="logreg", seed=0)
    assert p.shape == (60,) and fold_metrics(yte, p)["accuracy"] > 0.8
    ftr, fte = hrv_features(xtr, FS), hrv_features(xte, FS)
    pf = fit_predict_hrv(ftr, ytr, fte, FS, model="forest", seed=0)
    assert fold_metrics(yte, pf)["accuracy"] > 0.75
    # one-class training: constant prevalence, no crash
    assert np.allclose(fit_predict_features(ftr, np.ones(len(ftr)), fte), 1.0)


def test_feature_cache_computes_each_row_once(tmp_path):
    windows = np.stack([ecg(10, FS, hr_bpm=60 + s, seed=s) for s in range(8)])

    class FakeStore:
        fs = FS
        meta = {"identity": "abc"}
        reads = 0

        def windows(self, rows):
            FakeStore.reads += len(rows)
            return windows[np.asarray(rows)]

    cache = HRVFeatureCache(FakeStore(), cache_dir=tmp_path)
    a = cache.features([0, 1, 2, 3])
    b = cache.features([2, 3, 4, 5, 2])
    assert cache.computed == 6 and FakeStore.reads == 6
    assert list(b.index) == [2, 3, 4, 5, 2]
    pd.testing.assert_frame_equal(a.loc[[2, 3]], b.iloc[:2])
    again = HRVFeatureCache(FakeStore(), cache_dir=tmp_path)       # from disk
    again.features([0, 5])
    assert again.computed == 0
    other = HRVFeatureCache(lambda rows: windows[rows], fs=FS)
    assert np.allclose(other.features([1]).to_numpy(), a.loc[[1]].to_numpy(), equal_nan=True)
