"""wfdb source on real PhysioNet files (a few records extracted from ../shared/data) and on
small records written here, for the error paths and lead choice."""

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from ecgemotion.errors import ConfigError, DataError
from ecgemotion.sources import get_source
from ecgemotion.sources import wfdb_source as ws
from tests.real_data import CINC_FIRST

def _records(src):
    return {r.trial: r for item in src.items() for r in src.load(item)}


# ------------------------------------------------------------------------ MIT-BIH


def test_mitdb_fs_duration_units_and_default_lead(real_data):
    src = get_source("wfdb", real_data / "mitdb")
    recs = _records(src)
    assert sorted(recs) == ["100", "102", "108", "114", "201", "202"]  # x_108 is derived
    r = recs["100"]
    assert r.fs == 360.0 and r.signal.size == 650000
    assert abs(r.duration_s - 1805.56) < 0.01 and r.units == "mV" and r.dataset == "wfdb"
    assert r.lead == "MLII" and r.provenance["channel_index"] == 0
    assert -5 < np.nanmin(r.signal) < 0 < np.nanmax(r.signal) < 5
    assert recs["114"].lead == "MLII" and recs["114"].provenance["channel_index"] == 1
    assert recs["102"].lead == "V5"  # no MLII: the first channel that looks like an ECG lead
    assert recs["100"].meta["comments"][0].startswith("69 M")


def test_noise_flag_spares_real_ecg(real_data):
    """Sinus rhythm, paced beats and atrial fibrillation are ECG: the noise flag stays off on
    MIT-BIH 100, 102, 114, 201, 202 (900 windows) and on 41 of the 42 CinC windows (A00002's
    third window holds a motion artefact); record 108, known for its noise, loses a few."""
    from ecgemotion.preprocess import PreprocessConfig, process_recording

    def noise(folder, **options):
        return {t: process_recording(r, PreprocessConfig()).flags["noise"]
                for t, r in _records(get_source("wfdb", real_data / folder, **options)).items()}

    mitdb = noise("mitdb")
    assert {t: int(f.sum()) for t, f in mitdb.items() if t != "108"} == dict.fromkeys(
        ["100", "102", "114", "201", "202"], 0)
    assert 0 < mitdb["108"].sum() <= 0.05 * len(mitdb["108"])
    cinc = noise("cinc2017", records=",".join(CINC_FIRST))
    assert sum(len(f) for f in cinc.values()) == 42
    assert {t: int(f.sum()) for t, f in cinc.items() if f.any()} == {"A00002": 1}


def test_mitdb_201_and_202_are_one_person(real_data):
    recs = _records(get_source("wfdb", real_data / "mitdb", records="201,202,100"))
    assert {t: r.subject for t, r in recs.items()} == {"100": "100", "201": "201", "202": "201"}
    assert recs["202"].key == "wfdb/201/202/MLII"


def test_mitdb_lead_by_name_and_index(real_data):
    by_name = _records(get_source("wfdb", real_data / "mitdb", lead="v1", records=["201"]))
    assert by_name["201"].lead == "V1"
    by_index = _records(get_source("wfdb", real_data / "mitdb", lead=1, records=["100", "114"]))
    assert by_index["100"].lead == "V5" and by_index["114"].lead == "MLII"
    by_text = _records(get_source("wfdb", real_data / "mitdb", lead="1", records=["100"]))
    assert by_text["100"].lead == "V5"
    src = get_source("wfdb", real_data / "mitdb", lead="MLII", records=["102"])
    [item] = src.items()
    with pytest.raises(DataError, match=r"102.hea: expected a channel named 'MLII', found \['V5', 'V2'\]"):
        list(src.load(item))


def test_mitdb_derived_excerpt(real_data):
    src = get_source("wfdb", real_data / "mitdb", keep_derived=True, records=["x_108", "108"])
    recs = _records(src)
    assert recs["x_108"].subject == "108" and recs["x_108"].signal.size == 216000
    item = next(i for i in src.items() if i.param("record") == "x_mitdb/x_108")
    assert [p.name for p in item.files] == ["x_108.hea", "x_108.dat"]


# ----------------------------------------------------------------------- CinC 2017


def test_cinc2017_fs_labels_and_subjects(real_data):
    root = real_data / "cinc2017"
    truth = {}
    with open(root / "REFERENCE.csv") as fh:
        for row in csv.reader(fh):
            truth[row[0]] = row[1]
    src = get_source("wfdb", root, labels=root / "REFERENCE.csv", records=",".join(CINC_FIRST))
    recs = _records(src)
    assert sorted(recs) == CINC_FIRST
    for name, r in recs.items():
        assert r.fs == 300.0 and r.subject == name and r.units == "mV" and r.lead == "ECG"
        assert 9 <= r.duration_s <= 61
        assert r.meta["rhythm"] == truth[name]
        expected = {"A": 1.0, "N": 0.0}.get(truth[name], math.nan)
        assert r.labels["af"] == expected or (math.isnan(expected) and math.isnan(r.labels["af"]))
    assert recs["A00001"].signal.size == 9000 and recs["A00004"].labels["af"] == 1.0
    assert any(i.name == "REFERENCE.csv" for i in src.items()[0].files)  # labels fingerprinted
    relative = get_source("wfdb", root, labels="REFERENCE.csv", records="A00004")
    assert _records(relative)["A00004"].meta["rhythm"] == "A"
    assert _records(get_source("wfdb", root, records="A00001"))["A00001"].labels == {}


# --------------------------------------------------------- written records, errors


def _write(folder: Path, name: str, names=("V1", "II"), fs=250, n=500) -> Path:
    import wfdb

    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(n) / fs
    sig = np.column_stack([np.sin(2 * np.pi * (k + 1) * t) for k in range(len(names))])
    wfdb.wrsamp(name, fs=fs, units=["mV"] * len(names), sig_name=list(names), p_signal=sig,
                fmt=["16"] * len(names), write_dir=str(folder))
    return folder / f"{name}.hea"


def test_written_record_default_lead_prefers_ii(tmp_path):
    _write(tmp_path / "db", "r1", names=("V1", "II"))
    _write(tmp_path / "db" / "sub", "r2", names=("RESP", "PLETH"))
    recs = _records(get_source("wfdb", tmp_path / "db"))
    assert recs["r1"].lead == "II" and recs["r1"].fs == 250.0 and recs["r1"].signal.size == 500
    np.testing.assert_allclose(recs["r1"].signal, np.sin(2 * np.pi * 2 * np.arange(500) / 250),
                               atol=1e-3)
    assert recs["r2"].lead == "RESP"  # nothing looks like ECG: channel 0
    single = get_source("wfdb", tmp_path / "db" / "r1.hea")
    assert [i.param("record") for i in single.items()] == ["r1"]


def test_a_records_other_signals_come_along_when_asked(tmp_path):
    _write(tmp_path, "psg", names=("II", "EEG Fpz-Cz", "Resp", "Frontal", "V1"))

    def channels(modalities=(), **options):
        source = get_source("wfdb", tmp_path, **options)
        source.extra_modalities = modalities
        (rec,) = _records(source).values()
        assert rec.lead == "II"
        return [(c.modality, c.name, c.fs) for c in rec.channels], rec.channels

    assert channels()[0] == []                                       # ECG-only: nothing else read
    layout, read = channels(("eeg", "resp"))
    assert layout == [("eeg", "EEG Fpz-Cz", 250.0), ("resp", "Resp", 250.0)]
    t = np.arange(500) / 250                                          # _write: signal k = sin(2π(k+1)t)
    for channel, k in zip(read, (1, 2)):
        np.testing.assert_allclose(channel.signal, np.sin(2 * np.pi * (k + 1) * t), atol=1e-3)
    assert channels(("eeg", "resp"), channels="Frontal=eeg;Resp=none")[0] == \
        [("eeg", "EEG Fpz-Cz", 250.0), ("eeg", "Frontal", 250.0)]


def test_bad_records_raise_data_error(tmp_path):
    db = tmp_path / "db"
    _write(db, "good")
    _write(db, "nodat")
    (db / "nodat.dat").unlink()
    _write(db, "short")
    (db / "short.dat").write_bytes(b"\x00")
    (db / "junk.hea").write_text("this is not\na header\n")
    src = get_source("wfdb", db)
    items = {i.param("record"): i for i in src.items()}
    assert sorted(items) == ["good", "junk", "nodat", "short"]
    assert len(list(src.load(items["good"]))) == 1
    with pytest.raises(DataError, match=r"nodat.hea: expected signal file nodat.dat beside"):
        list(src.load(items["nodat"]))
    for name in ("short", "junk"):
        with pytest.raises(DataError, match=rf"{name}.hea: expected"):
            list(src.load(items[name]))
    with pytest.raises(DataError, match="expected channel index 0..1, found 5"):
        list(get_source("wfdb", db, lead=5).load(items["good"]))


def test_layout_and_option_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="expected WFDB records"):
        get_source("wfdb", tmp_path / "empty").items()
    _write(tmp_path / "db", "a")
    with pytest.raises(DataError, match=r"expected records \['zzz'\], found none"):
        get_source("wfdb", tmp_path / "db", records="zzz").items()
    with pytest.raises(ConfigError, match="labels file"):
        get_source("wfdb", tmp_path / "db", labels="missing.csv")
    with pytest.raises(ConfigError, match="needs --root"):
        get_source("wfdb")


def test_labels_csv_parsing(tmp_path):
    path = tmp_path / "ref.csv"
    path.write_text("data_source,class\nA1,N\nA2,A\nA3,~\n\n")
    assert ws.read_labels(path) == {"A1": "N", "A2": "A", "A3": "~"}
    path.write_text("A1,N\nA2\n")
    with pytest.raises(DataError, match=r"ref.csv: expected 'record,class' rows, found \['A2'\]"):
        ws.read_labels(path)
    assert ws.af_label("A") == 1.0 and ws.af_label("N") == 0.0 and math.isnan(ws.af_label("O"))


def test_subject_rules():
    tape = ("The PVCs are uniform and late-cycle.  This record was taken from the same",
            "analog tape as record 201.")
    assert ws.subject_of("202", tape, {}) == "201"
    assert ws.subject_of("x_108", ("Produced by xform from record 108, beginning at 0:0",),
                         {}) == "108"
    assert ws.subject_of("7", (), {"7": "3"}) == "3" and ws.subject_of("7", (), {}) == "7"
    src = get_source("wfdb", Path(__file__).parent, same_subject="a=b, c=d")
    assert src.aliases == {"a": "b", "c": "d"}
