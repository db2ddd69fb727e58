"""Property tests (Hypothesis) for the signal functions, the preprocessing and the readers."""

from __future__ import annotations

import csv
import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ecgemotion import signal as sig
from ecgemotion.errors import ConfigError, DataError
from ecgemotion.io.readers import read_signal
from ecgemotion.preprocess import PreprocessConfig, process_recording
from ecgemotion.recording import Recording

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
FAST = settings(SETTINGS, max_examples=60)

rates = st.integers(50, 2048)
finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@st.composite
def signals_with_gaps(draw, min_len=1, max_len=3000):
    """A finite signal with NaN/Inf runs of random positions and lengths."""
    n = draw(st.integers(min_len, max_len))
    x = draw(hnp.arrays(np.float64, n, elements=finite))
    for _ in range(draw(st.integers(0, 6))):
        start = draw(st.integers(0, n - 1))
        length = draw(st.integers(1, max(1, n // 3)))
        x[start:start + length] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    return x


def naive_runs(bad: np.ndarray) -> list[tuple[int, int]]:
    runs, i = [], 0
    while i < len(bad):
        if bad[i]:
            j = i
            while j < len(bad) and bad[j]:
                j += 1
            runs.append((i, j - i))
            i = j
        else:
            i += 1
    return runs


# ------------------------------------------------------------------ gaps
@FAST
@given(x=signals_with_gaps(), fs=rates, max_gap=st.floats(0.0, 2.0))
def test_repair_gaps_fills_everything_and_marks_exactly_long_runs(x, fs, max_gap):
    bad = ~np.isfinite(x)
    if bad.all():
        with pytest.raises(ValueError):
            sig.repair_gaps(x, fs, max_gap)
        return
    filled, mask = sig.repair_gaps(x, fs, max_gap)
    assert len(filled) == len(x) and np.isfinite(filled).all()
    assert np.array_equal(filled[~bad], x[~bad])
    expected = np.zeros(len(x), dtype=bool)
    for start, length in naive_runs(bad):
        if length > max_gap * fs:
            expected[start:start + length] = True
    assert np.array_equal(mask, expected)


# ------------------------------------------------------------------ filters and rate
@SETTINGS
@given(n=st.integers(100, 20000), fs=rates, target=st.sampled_from([64, 100, 128, 250, 256, 500]))
def test_resample_length(n, fs, target):
    x = np.sin(np.arange(n) / 7.0)
    y = sig.resample(x, float(fs), float(target))
    expected = n * target / fs
    assert abs(len(y) - expected) <= 1 + 1e-3 * expected
    assert np.isfinite(y).all()


@FAST
@given(x=hnp.arrays(np.float64, st.integers(2, 4000), elements=finite), fs=rates,
       low=st.one_of(st.none(), st.floats(0.05, 4.9)), high=st.one_of(st.none(), st.floats(5.0, 1500.0)),
       mains=st.sampled_from([50.0, 60.0]))
def test_bandpass_and_notch_keep_length_and_finiteness(x, fs, low, high, mains):
    y = sig.bandpass(x, float(fs), low, high)
    assert len(y) == len(x) and np.isfinite(y).all()
    z = sig.notch(x, float(fs), mains)
    assert len(z) == len(x) and np.isfinite(z).all()


# ------------------------------------------------------------------ windows
@FAST
@given(n=st.integers(0, 500), length=st.integers(1, 80), step=st.integers(1, 80))
def test_window_starts_and_sliding_windows_match_naive(n, length, step):
    x = np.arange(n, dtype=np.float64) * 1.5
    starts = sig.window_starts(n, length, step)
    assert list(starts) == list(range(0, n - length + 1, step)) if n >= length else len(starts) == 0
    w = sig.sliding_windows(x, length, step)
    assert w.shape == (len(starts), length)
    for row, s in zip(w, starts):
        assert np.array_equal(row, x[s:s + length])


@FAST
@given(values=hnp.arrays(np.float64, st.integers(1, 400), elements=st.floats(-1e3, 1e3)),
       length=st.integers(1, 60), data=st.data())
def test_window_sums_counts_and_std_match_naive(values, length, data):
    n = len(values)
    kind = data.draw(st.sampled_from(["regular", "back-to-back", "arbitrary"]))
    if kind == "regular":
        starts = sig.window_starts(n, length, data.draw(st.integers(1, 60)))
    elif kind == "back-to-back":
        starts = np.arange(0, max(0, n - length + 1), length, dtype=np.int64)
    else:
        starts = np.array(sorted(data.draw(st.lists(st.integers(0, n - 1), max_size=20))), dtype=np.int64)
    flags = values > 0
    sums = sig.window_sums(values, starts, length)
    counts = sig.count_in_windows(flags, starts, length)
    stds = sig.std_in_windows(values, starts, length)
    for i, s in enumerate(starts):
        chunk = values[s:s + length]
        assert sums[i] == pytest.approx(chunk.sum(), rel=1e-9, abs=1e-6)
        assert counts[i] == int(flags[s:s + length].sum())
        # O(n) sums of squares: the error is ~sqrt(eps) of the data's scale, not of the window's
        assert stds[i] == pytest.approx(chunk.std(), rel=1e-6, abs=1e-6 * (1 + np.abs(values).max()))


@FAST
@given(w=hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=50),
                    elements=st.floats(allow_nan=False, allow_infinity=False)),
       constant_rows=st.booleans())
def test_zscore_never_nan(w, constant_rows):
    if constant_rows:
        w[::2] = w[::2, :1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        z = sig.zscore(w)
    assert z.shape == w.shape and np.isfinite(z).all()


# ------------------------------------------------------------------ preprocessing
@st.composite
def nasty_signals(draw):
    fs = draw(rates)
    seconds = draw(st.floats(0.5, 12.0))
    n = max(1, int(seconds * fs))
    kind = draw(st.sampled_from(["sine", "noise", "constant", "zeros", "steps", "random"]))
    t = np.arange(n) / fs
    if kind == "sine":
        x = np.sin(2 * np.pi * 1.2 * t) ** 15
    elif kind == "noise":
        x = np.random.default_rng(draw(st.integers(0, 1000))).standard_normal(n)
    elif kind == "constant":
        x = np.full(n, draw(finite))
    elif kind == "zeros":
        x = np.zeros(n)
    elif kind == "steps":
        x = np.where((np.arange(n) // max(1, fs // 3)) % 2, 1.0, -1.0)
    else:
        x = draw(hnp.arrays(np.float64, n, elements=st.floats(allow_nan=True, allow_infinity=True)))
    x = x * draw(st.sampled_from([1e-300, 1e-6, 1.0, 1e9, 1e300]))
    for _ in range(draw(st.integers(0, 4))):
        start = draw(st.integers(0, n - 1))
        x[start:start + draw(st.integers(1, max(1, n // 2)))] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    return x, float(fs)


CONFIGS = [PreprocessConfig(fs=64, window_s=2, step_s=2),
           PreprocessConfig(fs=64, window_s=2, step_s=1, normalize="recording", notch_hz=50),
           PreprocessConfig(fs=128, window_s=2, step_s=2, normalize="none", dtype="float16"),
           PreprocessConfig(fs=64, window_s=2, step_s=2, normalize="none")]


@SETTINGS
@given(pair=nasty_signals(), config=st.sampled_from(CONFIGS), units=st.sampled_from(["", "mV", "uV"]))
def test_process_recording_windows_or_data_error(pair, config, units):
    x, fs = pair
    rec = Recording(signal=x, fs=fs, dataset="prop", subject="s", trial="t", units=units)
    unusable = not np.isfinite(x).any() or len(x) / fs < config.window_s
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            w = process_recording(rec, config)
        except DataError as exc:  # only for what no window can be made of
            assert unusable, f"DataError for a usable recording: {exc}"
            return
    assert not unusable, "windows from a recording that has none"
    data = w.data.astype(np.float64)
    assert data.shape[1:] == (config.window_len,) and len(w.start_s) == len(data)
    assert np.isfinite(data).all(), "a NaN/Inf window escaped process_recording"
    for flag in w.flags.values():
        assert len(flag) == len(data)


# ------------------------------------------------------------------ readers
_NAME_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-. "
column_names = st.text(_NAME_ALPHABET, min_size=1, max_size=12).map(str.strip).filter(
    lambda s: s and not s.startswith("#") and not _looks_numeric(s) and not _looks_time(s))
TIME_HEADERS = [("time", None), ("time_s", "s"), ("Time [s]", "s"), ("time (ms)", "ms"), ("t", None),
                ("timestamp", None), ("ms", "ms"), ("seconds", "s"), ("daqtime", "ms")]


def _looks_numeric(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return s.lower() in ("nan", "na", "n/a", "null", "none", "inf", "infinity")
    return True


def _looks_time(s: str) -> bool:
    from ecgemotion.io.readers import _time_unit

    return _time_unit(s) is not None


@SETTINGS
@given(x=hnp.arrays(np.float64, st.integers(10, 400), elements=st.floats(-1e4, 1e4)),
       fs=rates, names=st.lists(column_names, min_size=1, max_size=3, unique_by=str.lower),
       time=st.sampled_from(TIME_HEADERS), delimiter=st.sampled_from([",", "\t", ";"]))
def test_csv_round_trip(tmp_path_factory, x, fs, names, time, delimiter):
    header, unit = time
    if unit is None:
        unit = "s"  # unlabelled units: seconds are inferred for any rate >= 20 Hz
    path = tmp_path_factory.mktemp("csv") / "rec.csv"
    scale = 1000.0 if unit == "ms" else 1.0
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh, delimiter=delimiter)
        w.writerow([header, *names])
        for i, v in enumerate(x):
            w.writerow([f"{i / fs * scale:.9f}"] + [repr(float(v * (k + 1))) for k in range(len(names))])
    target = len(names) - 1
    s = read_signal(path, lead=names[target])
    assert s.fs == pytest.approx(fs, rel=1e-6)
    assert np.allclose(s.signal, x * (target + 1), rtol=1e-12, atol=0)
    assert s.provenance["column"] == names[target]


edf_labels = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 _-", min_size=1,
                     max_size=16).map(str.strip).filter(bool)


@settings(SETTINGS, max_examples=25)
@given(fs=st.integers(50, 1024), seconds=st.integers(1, 3),
       labels=st.lists(edf_labels, min_size=1, max_size=3, unique_by=str.lower), data=st.data())
def test_edf_round_trip(tmp_path_factory, fs, seconds, labels, data):
    import pyedflib

    n = fs * seconds
    signals = [data.draw(hnp.arrays(np.float64, n, elements=st.floats(-4.9, 4.9))) for _ in labels]
    headers = [pyedflib.highlevel.make_signal_header(lab, dimension="mV", sample_frequency=fs,
                                                     physical_min=-5, physical_max=5) for lab in labels]
    path = tmp_path_factory.mktemp("edf") / "rec.edf"
    pyedflib.highlevel.write_edf(str(path), signals, headers)
    k = data.draw(st.integers(0, len(labels) - 1))
    s = read_signal(path, lead=labels[k])
    assert s.fs == fs and s.units == "mV"
    step = 10.0 / 65535  # 16-bit digital range over 10 mV
    assert np.allclose(s.signal, signals[k], atol=step)


garbage = st.one_of(
    st.binary(max_size=2000),
    st.text(max_size=2000),
    st.lists(st.lists(st.one_of(finite.map(repr), st.text("abc ,;\t\"'#", max_size=5)), max_size=6),
             max_size=60).map(lambda rows: "\n".join(",".join(r) for r in rows)),
)


@FAST
@given(content=garbage)
def test_garbage_csv_gives_data_error_or_a_finite_signal(tmp_path_factory, content):
    path = tmp_path_factory.mktemp("garbage") / "g.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass"))
    try:
        s = read_signal(path, fs=250)
    except DataError as exc:
        assert "g.csv" in str(exc)
        return
    assert len(s.signal) > 0 and np.isfinite(s.signal).any() and s.fs > 0


@FAST
@given(rows=st.integers(3, 50), cols=st.integers(1, 5), bad_row=st.data(), extra=st.integers(1, 3))
def test_ragged_csv_is_a_data_error_naming_the_line(tmp_path_factory, rows, cols, bad_row, extra):
    lines = [",".join(f"c{j}" for j in range(cols))]
    lines += [",".join(str(i + j) for j in range(cols)) for i in range(rows)]
    k = bad_row.draw(st.integers(1, rows))
    lines[k] += ",9" * extra
    path = tmp_path_factory.mktemp("ragged") / "r.csv"
    path.write_text("\n".join(lines) + "\n")
    message = rf"r\.csv: line {k + 1}: " + (f"expected {cols} fields" if cols > 1 else "")
    with pytest.raises(DataError, match=message):
        read_signal(path, fs=250)


@pytest.mark.parametrize("band", [(5.0, 5.0), (30.0, 10.0), (70.0, None), (64.0, 200.0)])
def test_config_rejects_band_edges_no_filter_can_have(band):
    with pytest.raises(ConfigError, match="band-pass"):
        PreprocessConfig(fs=128, band_hz=band)


def test_fs_validation_rejects_nonsense():
    for bad in (-5, 0, float("nan"), float("inf"), "abc", True):
        with pytest.raises(ConfigError):
            read_signal("x.npy", fs=bad)
    assert math.isfinite(PreprocessConfig().fs)
