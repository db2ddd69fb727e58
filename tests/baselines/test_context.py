"""HRV over the 60-s context: the standard measures on RR series whose answer is known, and
contexts that never reach across the sides of a split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecgemotion.baselines.context import CONTEXT_FEATURES, rr_features


def _feature(rr, name, span_s=60.0):
    return dict(zip(CONTEXT_FEATURES, rr_features(np.asarray(rr, dtype=float), span_s)))[name]


def _modulated(freq_hz, n=75, mean_ms=800.0, depth_ms=40.0):
    """RR intervals whose length swings at ``freq_hz`` (0.25 Hz: breathing, an HF rhythm)."""
    t = np.cumsum(np.full(n, mean_ms / 1000.0))
    return mean_ms + depth_ms * np.sin(2 * np.pi * freq_hz * t)


def test_hf_power_sees_a_breathing_rhythm_and_not_a_slow_one():
    assert _feature(_modulated(0.25), "ctx_hf") > 20 * _feature(_modulated(0.08), "ctx_hf")
    assert np.isnan(_feature(_modulated(0.25), "ctx_hf", span_s=30.0))   # under 60 s: undefined


def test_a_steady_rhythm_has_the_numbers_the_definitions_give():
    f = dict(zip(CONTEXT_FEATURES, rr_features(np.full(70, 1000.0), 60.0)))
    assert f["ctx_mean_hr"] == pytest.approx(60.0) and f["ctx_sdnn"] == 0 and f["ctx_rmssd"] == 0
    assert f["ctx_irregular"] == 0 and f["ctx_sd2"] == 0
    assert np.isnan(f["ctx_sampen"]) and np.isnan(f["ctx_dfa_a1"])   # no variation: undefined


def test_dfa_alpha1_tells_white_noise_from_a_random_walk():
    rng = np.random.default_rng(0)
    white = 800 + 30 * rng.normal(size=300)
    walk = 800 + np.cumsum(3 * rng.normal(size=300))
    a_white, a_walk = _feature(white, "ctx_dfa_a1"), _feature(walk, "ctx_dfa_a1")
    assert 0.3 < a_white < 0.8 and a_walk > 1.2


def test_irregular_rhythm_raises_irregularity_and_entropy_is_never_infinite():
    rng = np.random.default_rng(1)
    af = rng.uniform(450, 1050, 70)
    assert _feature(af, "ctx_irregular") > 0.2
    values = rr_features(800 + 40 * rng.normal(size=25), 60.0)   # short: entropy may be inf
    assert not np.isinf(values).any()


class _OneRecording:
    """Eight 10-s windows of one synthetic recording: heart rate 60 bpm, then 100 bpm."""

    fs, window_len, meta = 128.0, 1280, {"identity": "test-context-one-recording"}

    def __init__(self):
        from ecgemotion.synthetic import ecg

        x = np.concatenate([ecg(40.0, self.fs, hr_bpm=60.0, seed=0), ecg(40.0, self.fs, hr_bpm=100.0, seed=1)])
        self._windows = x[: 8 * self.window_len].reshape(8, self.window_len).astype(np.float32)
        self.index = pd.DataFrame({"dataset": "t", "subject": "s1", "trial": "1",
                                   "start_s": np.arange(8) * 10.0})

    def windows(self, rows):
        return self._windows[np.asarray(rows)]


def test_each_side_builds_its_contexts_from_its_own_windows():
    """A recording cut between train and test: a test window's context must hold only test
    windows, so its features equal those computed from the test side alone."""
    from ecgemotion.baselines.context import context_table
    from ecgemotion.models.hybrid import ContextFeatures

    store, rows = _OneRecording(), np.arange(8)
    train, test = rows[:4], rows[4:]
    no_window_features = lambda r: pd.DataFrame(index=range(len(r)))  # noqa: E731
    table = ContextFeatures(store, no_window_features, [train, test])(test)
    alone = context_table(store, test).to_numpy()
    together = context_table(store, rows).to_numpy()
    assert np.allclose(table[list(CONTEXT_FEATURES)].to_numpy(), alone, equal_nan=True)
    hr = CONTEXT_FEATURES.index("ctx_mean_hr")
    assert alone[0, hr] == pytest.approx(100, abs=5)          # the test side alone: 100 bpm
    assert together[4, hr] < 90                               # across the cut: slower beats too


def test_prediction_computes_the_inputs_training_computed():
    """``hybrid_features`` on a recording's windows and start times (what predict has) gives
    exactly the matrix the training-side store view feeds a hybrid-ctx model."""
    from ecgemotion.baselines.context import hybrid_features
    from ecgemotion.baselines.hrv import PHYSIO_FEATURES, HRVFeatureCache, physio_matrix
    from ecgemotion.errors import ConfigError
    from ecgemotion.models.hybrid import ContextFeatures

    store, rows = _OneRecording(), np.arange(8)
    names = PHYSIO_FEATURES + CONTEXT_FEATURES
    trained = physio_matrix(ContextFeatures(store, HRVFeatureCache(store), [rows])(rows), names)
    starts = store.index["start_s"].to_numpy()
    predicted = hybrid_features(store.windows(rows), store.fs, names, starts)
    np.testing.assert_array_equal(predicted, trained)
    ctx = predicted[:, len(PHYSIO_FEATURES):]
    assert np.isfinite(ctx[:, CONTEXT_FEATURES.index("ctx_mean_hr")]).all()
    assert np.isfinite(ctx[5:, CONTEXT_FEATURES.index("ctx_hf")]).all()    # full 60-s contexts
    with pytest.raises(ConfigError, match="start time"):
        hybrid_features(store.windows(rows), store.fs, names)
