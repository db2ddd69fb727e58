import numpy as np
import pytest
from scipy import signal as sps

from ecgemotion import signal as sig
from ecgemotion.preprocess import PreprocessConfig, process_recording
from ecgemotion.recording import Recording
from ecgemotion.synthetic import NOT_ECG, ecg, not_ecg


def r_peaks_truth(x, fs):
    peaks, _ = sps.find_peaks(x, height=0.6, distance=int(0.25 * fs))
    return peaks


def test_bandpass_keeps_qrs_timing():
    fs = 500
    x = ecg(30, fs, hr_bpm=70, wander_mv=0.0, seed=1)
    t = np.arange(len(x)) / fs
    y = sig.bandpass(x + 0.5 * np.sin(2 * np.pi * 0.2 * t), fs, 0.5, 40)
    truth = r_peaks_truth(x, fs)
    assert len(truth) > 30
    for p in truth[2:-2]:
        lo, hi = p - int(0.05 * fs), p + int(0.05 * fs)
        assert abs(lo + np.argmax(y[lo:hi]) - p) <= 2  # within 4 ms: zero phase
    # wander removed: low-frequency power drops
    assert np.abs(np.mean(y[:fs])) < 0.1


def test_bandpass_high_edge_above_nyquist_is_dropped():
    x = np.random.default_rng(0).standard_normal(1000)
    y = sig.bandpass(x, 50, 0.5, 40)  # 40 Hz ≥ Nyquist 25 Hz: high-pass only
    assert np.isfinite(y).all()


def test_notch_removes_mains():
    fs = 1000
    t = np.arange(10 * fs) / fs
    x = ecg(10, fs, seed=2) + 0.5 * np.sin(2 * np.pi * 50 * t)
    y = sig.notch(x, fs, 50)
    f, p_in = sps.welch(x, fs, nperseg=2048)
    _, p_out = sps.welch(y, fs, nperseg=2048)
    k = np.argmin(np.abs(f - 50))
    assert p_out[k] < p_in[k] / 100


@pytest.mark.parametrize("fs", [100, 256, 360, 500, 700, 1000, 2048])
def test_resample_preserves_heart_rate(fs):
    x = ecg(60, fs, hr_bpm=84, hrv_ms=10, seed=3)
    y = sig.resample(x, fs, 128)
    assert abs(len(y) - 60 * 128) <= 1
    hr = sig.heart_rate_windows(sig.bandpass(y, 128)[None, :], 128)[0]
    assert abs(hr - 84) < 3


@pytest.mark.parametrize("fs,half_len", [(500, 10), (500, 3), (360, 3), (1000, 3), (250, 10),
                                         (100, 10), (128, 10)])
def test_resample_values_are_the_same_waveform_at_the_new_times(fs, half_len):
    """A 3 Hz + 11 Hz wave on a 1000-unit offset (ADC counts): away from the edges the 128 Hz
    samples are the same wave evaluated at the new times, offset included; and they equal
    scipy's polyphase resampler run directly on the whole signal."""
    wave = lambda t: 1000.0 + np.sin(2 * np.pi * 3 * t) + 0.3 * np.cos(2 * np.pi * 11 * t)  # noqa: E731
    x = wave(np.arange(int(20 * fs)) / fs)
    y = sig.resample(x, fs, 128, half_len=half_len)
    assert len(y) == 20 * 128
    inner = slice(256, -256)
    np.testing.assert_allclose(y[inner], wave(np.arange(len(y)) / 128)[inner], rtol=0, atol=2e-3)
    if half_len == 10:
        from fractions import Fraction

        ratio = Fraction(128, fs)
        # (on the zero-mean wave: polyphase branches differ in DC gain by ~3e-5, which
        # turns a 1000-unit offset into a 0.03 ripple; removing it first is resample's job)
        direct = sps.resample_poly(x - 1000.0, ratio.numerator, ratio.denominator,
                                   window=("kaiser", 5.0)) + 1000.0
        np.testing.assert_allclose(y[inner], direct[inner], rtol=0, atol=1e-6)


def test_repair_short_gap_interpolates_and_long_gap_is_marked():
    fs = 100
    x = np.sin(np.arange(2000) / 100.0)
    x[100:140] = np.nan   # 0.4 s: repaired
    x[500:600] = np.nan   # 1.0 s: marked
    x[900] = np.inf
    y, mask = sig.repair_gaps(x, fs, max_gap_s=0.5)
    assert np.isfinite(y).all()
    assert not mask[100:140].any() and mask[500:600].all() and mask.sum() == 100
    assert np.allclose(y[100:140], np.sin(np.arange(100, 140) / 100.0), atol=0.03)


def test_repair_all_nan_raises():
    with pytest.raises(ValueError):
        sig.repair_gaps(np.full(10, np.nan), 100)


def test_windows_and_counts():
    x = np.arange(10.0)
    w = sig.sliding_windows(x, 4, 3)
    assert w.tolist() == [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]]
    assert sig.window_starts(10, 4, 3).tolist() == [0, 3, 6]
    flags = np.zeros(10, bool)
    flags[[1, 4, 5]] = True
    assert sig.count_in_windows(flags, np.array([0, 3, 6]), 4).tolist() == [1, 2, 0]


def test_zscore_constant_window_is_zero_not_nan():
    w = np.vstack([np.ones(10), np.arange(10.0)])
    z = sig.zscore(w)
    assert np.isfinite(z).all() and (z[0] == 0).all()
    assert abs(z[1].mean()) < 1e-12 and abs(z[1].std() - 1) < 1e-12


def test_quality_flags_fire_on_flat_and_clipped():
    fs = 128
    good = np.vstack([sig.bandpass(ecg(10, fs, seed=s), fs) for s in range(4)])
    ref = float(np.median(good.std(axis=1)))
    series = np.concatenate([good[0], np.full(1280, 3.0), good[1]])
    stds = sig.std_in_windows(series, np.array([0, 1280, 2560]), 1280)
    assert np.allclose(stds[[0, 2]], good[:2].std(axis=1))
    assert sig.flat_windows(stds).tolist() == [False, True, False]
    x = ecg(10, 1000, seed=5)
    clipped = np.clip(x, -0.3, 0.6)
    assert sig.clipped_samples(clipped, -0.3, 0.6).sum() > 50
    assert sig.clipped_samples(x, x.min(), x.max()).sum() < 10
    amp = sig.amplitude_flags(np.vstack([good, good[:1] * 100]), "mV", ref)
    assert amp.tolist() == [False] * 4 + [True]


def test_heart_rate_detector():
    fs = 128
    windows = np.vstack([sig.bandpass(ecg(10, fs, hr_bpm=hr, seed=hr), fs) for hr in (45, 70, 150)])
    hr = sig.heart_rate_windows(windows, fs)
    assert np.allclose(hr, [45, 70, 150], atol=4)
    assert np.isnan(sig.heart_rate_windows(np.zeros((1, 1280)), fs)).all()  # a flat line: no beats


def _windows(x: np.ndarray, fs: float):
    return process_recording(Recording(x, fs, "t", "s", "t", units="mV"), PreprocessConfig())


@pytest.mark.parametrize("kind", NOT_ECG)
def test_signals_that_are_not_ecg_are_flagged_noise(kind):
    """Noise passes the heart-rate check (the detector finds 150-200 "bpm" in it), so a
    signal-quality index must catch it: every window of 2 minutes is flagged."""
    fs = 500.0
    w = _windows(not_ecg(kind, 120, fs, seed=7), fs)
    assert len(w) == 12 and w.flags["noise"].all() and not w.good.any()


@pytest.mark.parametrize("hr", [40, 72, 120, 180])
def test_clean_and_clipped_ecg_is_not_flagged_noise(hr):
    fs = 500.0
    x = ecg(60, fs, hr_bpm=hr, wander_mv=0.2, seed=hr)
    clipped = np.clip(x, None, 0.3 * x.max())           # saturated R peaks are still ECG
    for signal, min_kurtosis in ((x, 4.0), (clipped, 2.5)):
        w = _windows(signal, fs)
        assert not w.flags["noise"].any()
        data = w.data.astype(float)
        assert (sig.beat_correlation(data, 128.0) > 0.85).all()
        assert (sig.kurtosis(data) > min_kurtosis).all()


def test_signal_quality_indices_on_known_values():
    rng = np.random.default_rng(0)
    assert sig.kurtosis(rng.standard_normal((1, 200_000)))[0] == pytest.approx(3.0, abs=0.05)
    assert sig.kurtosis(np.sin(np.linspace(0, 200 * np.pi, 100_000))[None])[0] == pytest.approx(1.5, abs=1e-3)
    assert np.isnan(sig.kurtosis(np.ones((1, 50))))[0]
    beat = np.exp(-np.linspace(-8, 8, 32) ** 2)
    train = np.zeros((1, 1280))
    for start in range(40, 1200, 100):
        train[0, start:start + 32] = beat                   # identical beats
    assert sig.beat_correlation(train, 128.0)[0] > 0.95
    noise = rng.standard_normal((20, 1280))
    assert np.all(np.abs(sig.beat_correlation(noise, 128.0)) < 0.2)
    assert np.isnan(sig.beat_correlation(np.zeros((1, 1280)), 128.0)[0])


def test_r_peaks_one_detector_two_methods():
    """Both methods find the same beats of a clean ECG; envelope is beat_peaks for one row."""
    from ecgemotion.signal import beat_peaks, r_peaks
    from ecgemotion.synthetic import ecg

    x = ecg(10.0, 128.0, hr_bpm=72, seed=1)
    env, nk = r_peaks(x, 128.0), r_peaks(x, 128.0, method="neurokit")
    assert np.array_equal(env, beat_peaks(x[None, :], 128.0)[0])
    assert len(env) == len(nk) >= 10
    assert np.abs(env - nk).max() <= 3          # within 25 ms at 128 Hz
    with pytest.raises(ValueError, match="envelope"):
        r_peaks(x, 128.0, method="pan-tompkins")
