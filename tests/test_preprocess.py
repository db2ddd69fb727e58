import numpy as np
import pytest

from ecgemotion.errors import DataError
from ecgemotion.preprocess import PreprocessConfig, process_recording
from ecgemotion.recording import Recording
from ecgemotion.synthetic import ecg


def rec(x, fs=500, **kw):
    return Recording(np.asarray(x, dtype=float), fs, "test", "s1", "t1", **kw)


def test_windows_shape_rate_and_normalisation():
    w = process_recording(rec(ecg(95, 500, hr_bpm=66)), PreprocessConfig())
    assert w.data.shape == (9, 1280) and w.data.dtype == np.float32
    assert np.allclose(w.start_s, np.arange(9) * 10.0)
    assert np.allclose(w.data.mean(axis=1), 0, atol=1e-5) and np.allclose(w.data.std(axis=1), 1, atol=1e-3)
    assert np.allclose(w.heart_rate, 66, atol=3) and w.good.all()


def test_heart_rate_outside_the_configured_range_is_flagged():
    cfg = PreprocessConfig(hr_range_bpm=(40.0, 100.0))
    slow, fast = (process_recording(rec(ecg(30, 500, hr_bpm=hr, seed=hr)), cfg) for hr in (70, 130))
    assert not slow.flags["heart_rate"].any() and fast.flags["heart_rate"].all()
    assert np.allclose(fast.heart_rate, 130, atol=6)


def test_step_overlap_and_float16():
    cfg = PreprocessConfig(window_s=10, step_s=2, dtype="float16")
    w = process_recording(rec(ecg(30, 256), fs=256), cfg)
    assert len(w) == 11 and w.data.dtype == np.float16


def test_long_gap_drops_only_touching_windows_short_gap_repaired():
    x = ecg(60, 500, seed=1)
    x[1000:1200] = np.nan          # 0.4 s in window 0: repaired
    x[12000:13000] = np.nan        # 2 s in window 2: dropped
    w = process_recording(rec(x), PreprocessConfig())
    assert w.dropped["long_gap"] == 1
    assert w.start_s.tolist() == [0, 10, 30, 40, 50]
    assert np.isfinite(w.data).all()


def test_flat_and_clipped_windows_flagged():
    x = ecg(40, 1000, seed=2, wander_mv=0)
    x[:30000] *= 0.4                               # peaks well inside the range
    x[10000:20000] = 0.0
    x[30000:] = np.clip(x[30000:], None, 0.8)      # the recording's range tops out at 0.8
    r = rec(x, fs=1000)
    w = process_recording(r, PreprocessConfig())
    assert w.flags["flat"].tolist() == [False, True, False, False]
    assert w.flags["clipped"].tolist() == [False, False, False, True]


def test_sample_labels_purity_rule():
    fs = 100
    x = ecg(40, fs, seed=3)
    labels = np.ones(len(x))
    labels[2000:2500] = 2          # window 2: 50 % mixed -> dropped
    labels[3000:3050] = 3          # window 3: 95 % pure -> label 1
    w = process_recording(rec(x, fs=fs, sample_labels=labels), PreprocessConfig())
    assert w.dropped["mixed_label"] == 1
    assert w.sample_label.tolist() == [1, 1, 1]
    assert w.start_s.tolist() == [0, 10, 30]


@pytest.mark.parametrize("signal,fs,match", [
    (np.full(5000, np.nan), 500, "no finite samples"),
    (np.zeros(0), 500, "empty"),
    (np.zeros(5000), 0, "sampling rate"),
    (np.zeros(5000), -1, "sampling rate"),
    (np.zeros(5000), float("nan"), "sampling rate"),
    (np.zeros(100), 500, "shorter than one"),
    (np.zeros((3, 100)), 500, "1-D"),
])
def test_unusable_recordings_raise_clear_errors(signal, fs, match):
    with pytest.raises(DataError, match=match):
        process_recording(rec(signal, fs=fs), PreprocessConfig())


def test_recording_normalisation():
    w = process_recording(rec(ecg(60, 500) * 1000), PreprocessConfig(normalize="recording"))
    assert 0.3 < np.median(w.data.std(axis=1)) < 3


def test_mains_notch_from_source_hint():
    fs = 1000
    t = np.arange(30 * fs) / fs
    x = ecg(30, fs, seed=4) + 2.0 * np.sin(2 * np.pi * 50 * t)
    plain = process_recording(rec(x, fs=fs), PreprocessConfig(band_hz=(0.5, None)))
    notched = process_recording(rec(x, fs=fs, meta={"mains_hz": 50}), PreprocessConfig(band_hz=(0.5, None)))
    assert np.median(notched.heart_rate) == pytest.approx(70, abs=4)
    assert notched.good.sum() >= plain.good.sum()
