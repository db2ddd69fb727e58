import numpy as np
import pytest
from tests.fixtures.other_layouts import write_csv, write_edf, write_npy, write_wfdb

from ecgemotion.errors import ConfigError, DataError
from ecgemotion.io.readers import read_signal


def test_csv_time_in_seconds_and_default_ecg_column(tmp_path):
    s = read_signal(write_csv(tmp_path / "a.csv", fs=250.0))
    assert s.fs == 250.0 and s.lead == "ECG" and s.signal.dtype == np.float64
    assert s.provenance["time_unit"] == "s" and s.provenance["column"] == "ECG"


@pytest.mark.parametrize("name,unit", [("daqtime", "ms"), ("time_ms", "ms"), ("timestamp", "ms"),
                                       ("Time (s)", "s"), ("t", "s")])
def test_csv_time_units(tmp_path, name, unit):
    s = read_signal(write_csv(tmp_path / "a.csv", fs=500.0, time=name, time_unit=unit))
    assert s.fs == pytest.approx(500.0)
    assert s.provenance["time_unit"] == unit


def test_csv_lead_by_name_and_index(tmp_path):
    p = write_csv(tmp_path / "a.csv")
    assert read_signal(p, lead="RESP").lead == "resp"
    assert read_signal(p, lead=1).lead == "resp"
    assert read_signal(p, lead="2").lead == "ECG"
    with pytest.raises(ConfigError, match="time"):
        read_signal(p, lead=0)
    with pytest.raises(ConfigError, match="available"):
        read_signal(p, lead="V1")


def test_csv_without_time_needs_fs(tmp_path):
    p = write_csv(tmp_path / "a.csv", time=None, columns=("x", "y"))
    with pytest.raises(ConfigError, match="has no time column; pass --fs"):
        read_signal(p)
    s = read_signal(p, fs=128)
    assert s.fs == 128 and s.lead == "x"


def test_headerless_whitespace_text(tmp_path):
    p = tmp_path / "a.txt"
    np.savetxt(p, np.c_[np.arange(50.0), np.arange(50.0) * 2])
    s = read_signal(p, fs=10, lead=1)
    np.testing.assert_array_equal(s.signal, np.arange(50.0) * 2)


def test_ragged_and_non_utf8_and_non_numeric(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("time,ecg\n0,1\n0.01,2\n0.02,3,4\n")
    with pytest.raises(DataError, match="line 4.*ragged"):
        read_signal(p)
    p.write_bytes(b"time,ecg\n0,1\n0.01,\xff\xfe\n")
    with pytest.raises(DataError, match="line 3.*UTF-8"):
        read_signal(p)
    p.write_text("time,ecg\n0,1\n0.01,abc\n")
    with pytest.raises(DataError, match="line 3.*non-numeric"):
        read_signal(p)


def test_edf_by_label_index_and_default(tmp_path):
    p = write_edf(tmp_path / "a.edf", labels=("EEG Fz", "ECG I"), fs=128)
    assert read_signal(p).lead == "ECG I"
    assert read_signal(p, lead=0).lead == "EEG Fz"
    assert read_signal(p, lead="ecg i").fs == 128
    assert read_signal(p).units == "mV"
    with pytest.raises(ConfigError, match="out of range"):
        read_signal(p, lead=5)


def test_npy_1d_2d_and_refuses_objects(tmp_path):
    p = write_npy(tmp_path / "a.npy", leads=3)
    s = read_signal(p, fs=250, lead=2)
    assert s.signal.size == 1000 and s.provenance["column"] == 2
    with pytest.raises(ConfigError, match="pass --fs"):
        read_signal(p)
    obj = tmp_path / "o.npy"
    np.save(obj, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="refused"):
        read_signal(obj, fs=100)


def test_mat_v5_variable_and_fs(tmp_path):
    import scipy.io

    x = np.random.default_rng(0).standard_normal((500, 2))
    scipy.io.savemat(tmp_path / "m.mat", {"data": x, "Fs": 250.0, "note": "x"})
    s = read_signal(tmp_path / "m.mat", lead=1)
    assert s.fs == 250.0 and s.provenance["variable"] == "data"
    np.testing.assert_allclose(s.signal, x[:, 1])
    scipy.io.savemat(tmp_path / "n.mat", {"ecg": x[:, 0]})
    with pytest.raises(ConfigError, match="pass --fs"):
        read_signal(tmp_path / "n.mat")
    assert read_signal(tmp_path / "n.mat", fs=100).lead == "ecg"


def test_mat_v73_via_h5py(tmp_path):
    import h5py

    with h5py.File(tmp_path / "v73.mat", "w") as fh:  # scipy refuses HDF5 .mat files
        fh["ecg"] = np.arange(300.0).reshape(1, 300)
        fh["fs"] = np.array([[100.0]])
    s = read_signal(tmp_path / "v73.mat")
    assert s.fs == 100.0 and s.signal.size == 300


def test_wfdb_header_or_record_path(tmp_path):
    hea = write_wfdb(tmp_path, "r1", fs=360)
    assert read_signal(hea).lead == "MLII"
    s = read_signal(tmp_path / "r1", lead="V5")
    assert s.fs == 360 and s.lead == "V5" and s.units == "mV"


@pytest.mark.parametrize("fs", [0, -5, float("nan"), float("inf"), "abc", True])
def test_bad_fs_is_config_error(tmp_path, fs):
    p = write_npy(tmp_path / "a.npy")
    with pytest.raises(ConfigError):
        read_signal(p, fs=fs)


def test_unknown_extension_and_missing_file(tmp_path):
    p = tmp_path / "a.xyz"
    p.write_text("1\n")
    with pytest.raises(DataError, match="supported"):
        read_signal(p)
    with pytest.raises(DataError, match="no such file"):
        read_signal(tmp_path / "none.csv")


def _known(n: int = 1000) -> np.ndarray:
    return np.round(np.sin(np.arange(n) / 7.0) + 1e-3 * np.arange(n) - 0.4, 6)


def _write_csv_known(path, x, fs):
    t = np.arange(len(x)) / fs
    np.savetxt(path, np.c_[t, -x, x], delimiter=",", fmt="%.6f", header="time,resp,ECG", comments="")


def _write_edf_known(path, x, fs):
    import pyedflib

    headers = [pyedflib.highlevel.make_signal_header(name, dimension="mV", sample_frequency=fs,
                                                     physical_min=-5, physical_max=5)
               for name in ("EEG Fz", "ECG I")]
    pyedflib.highlevel.write_edf(str(path), [-x, x], headers)


def _write_wfdb_known(path, x, fs):
    import wfdb

    wfdb.wrsamp(path.stem, fs=fs, units=["mV", "mV"], sig_name=["Resp", "ECG"],
                p_signal=np.c_[-x, x], fmt=["16", "16"], adc_gain=[2000.0, 2000.0],
                baseline=[0, 0], write_dir=str(path.parent))


@pytest.mark.parametrize("fmt,write,name,fs,atol", [
    ("csv", _write_csv_known, "k.csv", 250.0, 1e-9),
    ("npy", lambda p, x, fs: np.save(p, np.c_[-x, x]), "k.npy", 250.0, 0.0),
    ("edf", _write_edf_known, "k.edf", 256, 10 / 65535),        # 16-bit over ±5 mV
    ("wfdb", _write_wfdb_known, "k.hea", 360, 0.5 / 2000),      # 2000 ADC units per mV
])
def test_readers_return_the_written_values(tmp_path, fmt, write, name, fs, atol):
    """The ECG channel's samples, not the other channel's, none lost or shifted at the start."""
    x = _known(int(fs) * 4)
    path = tmp_path / name
    write(path, x, fs)
    s = read_signal(path, fs=fs if fmt == "npy" else None, lead=1 if fmt == "npy" else None)
    assert s.fs == pytest.approx(fs) and s.signal.shape == x.shape
    np.testing.assert_allclose(s.signal, x, rtol=0, atol=atol + 1e-12)


def test_sniff_layout_is_the_rule_read_table_and_follow_share():
    from ecgemotion.io.readers import sniff_layout

    assert sniff_layout(["# made by a logger", "", "time;ECG", "0;1"]) == (2, ";", ["time", "ECG"],
                                                                           True)
    assert sniff_layout(["1\t2", "3\t4"]) == (0, "\t", ["1", "2"], False)
    assert sniff_layout(['"0.5", NaN', "1,2"]) == (0, ",", ["0.5", "NaN"], False)  # quoted, NaN
    assert sniff_layout(["0.1 0.2 ECG"])[3] is True
    assert sniff_layout(["# nothing but comments", ""]) == (2, None, [], False)
