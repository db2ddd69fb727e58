import numpy as np
import pytest
from tests.fixtures.other_layouts import write_csv, write_edf, write_npy

from ecgemotion.errors import ConfigError, DataError
from ecgemotion.sources import get_source


def _all(source):
    return [r for item in source.items() for r in source.load(item)]


def test_edf_folder_recursive(tmp_path):
    (tmp_path / "a").mkdir()
    write_edf(tmp_path / "p1.edf")
    write_edf(tmp_path / "a" / "p2.edf", seed=3)
    (tmp_path / "notes.txt").write_text("ignore me")
    recs = _all(get_source("edf", tmp_path))
    assert [(r.subject, r.trial) for r in recs] == [("p2", "p2"), ("p1", "p1")]
    assert all(r.lead == "ECG I" and r.fs == 256 and r.units == "mV" for r in recs)
    assert recs[0].provenance["channel"] == "ECG I"
    assert _all(get_source("edf", tmp_path, lead="EEG Fz"))[0].lead == "EEG Fz"


def test_single_csv_file_with_subject_option(tmp_path):
    p = write_csv(tmp_path / "rec.csv", fs=200.0)
    recs = _all(get_source("csv", p, subject="alice"))
    assert len(recs) == 1
    r = recs[0]
    assert (r.subject, r.trial, r.lead, r.fs) == ("alice", "rec", "ECG", 200.0)
    assert r.dataset == "csv" and r.provenance["column"] == "ECG"


def test_npy_needs_fs(tmp_path):
    write_npy(tmp_path / "x.npy")
    src = get_source("npy", tmp_path)
    with pytest.raises(ConfigError, match="--fs"):
        list(src.load(src.items()[0]))
    r = _all(get_source("npy", tmp_path, fs=250))[0]
    assert r.fs == 250.0 and r.signal.size == 1000


def test_bad_fs_option_and_empty_folder(tmp_path):
    with pytest.raises(ConfigError):
        get_source("npy", tmp_path, fs=-1)
    with pytest.raises(DataError, match="no .npy files"):
        get_source("npy", tmp_path, fs=100).items()


def test_same_stem_in_two_folders_stays_distinct(tmp_path):
    for d in ("s1", "s2"):
        (tmp_path / d).mkdir()
        np.save(tmp_path / d / "rest.npy", np.arange(100.0))
    recs = _all(get_source("npy", tmp_path, fs=100))
    assert sorted(r.subject for r in recs) == ["s1/rest", "s2/rest"]


def test_channels_option_names_the_modality_of_labels_the_recogniser_does_not_know(tmp_path, capsys):
    import json

    from ecgemotion.cli import main
    from ecgemotion.store import WindowStore

    write_edf(tmp_path / "a.edf", seconds=10.0, labels=("EEG Fz", "Frontal 1", "Skin", "ECG I"))
    write_csv(tmp_path / "b.csv", seconds=4.0, columns=("ECG", "Skin", "resp"))

    def channels(name, root, **options):
        source = get_source(name, root, lead={"edf": "ECG I", "csv": "ECG"}[name], **options)
        source.extra_modalities = ("eeg", "eda")
        return [(c.modality, c.name) for c in _all(source)[0].channels]

    assert channels("edf", tmp_path / "a.edf") == [("eeg", "EEG Fz")]          # only recognised labels
    assert channels("edf", tmp_path / "a.edf", channels="Frontal 1=eeg;skin=eda;EEG Fz=none") == \
        [("eeg", "Frontal 1"), ("eda", "Skin")]
    assert channels("csv", tmp_path / "b.csv") == [] and \
        channels("csv", tmp_path / "b.csv", channels="Skin=eda") == [("eda", "Skin")]
    for bad in ("Skin=ecg", "Skin", "Skin=brain"):
        with pytest.raises(ConfigError, match=f"expected LABEL=MODALITY .* chosen by lead\\), found '{bad}'"):
            get_source("edf", tmp_path / "a.edf", channels=bad)
    # the CLI's --set: entries split by ';' (commas would split the --set list)
    assert main(["prepare", "--json", "--quiet", "--workers", "1", "--dataset", "edf", "--root",
                 str(tmp_path / "a.edf"), "--modalities", "ecg,eeg,eda", "--set", "lead=ECG I",
                 "--set", "channels=Frontal 1=eeg;Skin=eda", "--out", str(tmp_path / "s")]) == 0
    store = WindowStore.open(json.loads(capsys.readouterr().out.strip().splitlines()[-1])["store"])
    assert store.channels("eeg") == ["EEG Fz", "Frontal 1"] and store.channels("eda") == ["Skin"]
