import math

import numpy as np
import pytest
from tests.fixtures.other_layouts import write_csv, write_edf, write_manifest, write_npy, write_wfdb

from ecgemotion.errors import DataError, SecurityError
from ecgemotion.recording import Recording
from ecgemotion.sources import Skip, get_source


def _all(source):
    return [r for item in source.items() for r in source.load(item)]


def _setup(tmp_path):
    data = tmp_path / "study"
    (data / "raw").mkdir(parents=True)
    write_edf(data / "raw" / "a.edf")
    write_npy(data / "raw" / "b.npy", fs=200)
    write_csv(data / "raw" / "c.csv", fs=100.0)
    write_wfdb(data / "raw", "d")
    return data


def test_rows_become_recordings_with_labels(tmp_path):
    data = _setup(tmp_path)
    m = write_manifest(data, [
        {"path": "raw/a.edf", "subject": "s1", "trial": "t1", "arousal": 7, "valence": 3},
        {"path": "raw/b.npy", "fs": 200, "subject": "s1", "trial": "t2", "arousal": 2},
        {"path": "raw/c.csv", "subject": "s2", "trial": "", "lead": "resp", "arousal": 5, "valence": 5},
        {"path": "raw/d.hea", "subject": "s2", "trial": "t9", "lead": "V5"},
    ])
    recs = _all(get_source("manifest", m))
    assert all(isinstance(r, Recording) for r in recs)
    a, b, c, d = recs
    assert (a.fs, a.lead, a.labels) == (256.0, "ECG I", {"arousal": 7.0, "valence": 3.0})
    assert b.fs == 200.0 and b.labels["arousal"] == 2.0 and math.isnan(b.labels["valence"])
    assert (c.trial, c.lead, c.fs) == ("c", "resp", 100.0)
    assert (d.lead, d.fs) == ("V5", 360.0)
    assert a.provenance["manifest_line"] == 2 and a.dataset == "manifest"


def test_missing_file_is_a_skip_not_an_abort(tmp_path):
    data = _setup(tmp_path)
    m = write_manifest(data, [{"path": "raw/gone.edf", "subject": "s1", "trial": "x"},
                              {"path": "raw/a.edf", "subject": "s1", "trial": "y"}])
    out = _all(get_source("manifest", m))
    assert isinstance(out[0], Skip) and "not found" in out[0].reason
    assert isinstance(out[1], Recording)


def test_unreadable_row_is_a_skip(tmp_path):
    data = _setup(tmp_path)
    m = write_manifest(data, [{"path": "raw/b.npy", "subject": "s1", "trial": "x"}])  # no fs
    out = _all(get_source("manifest", m))
    assert isinstance(out[0], Skip) and "--fs" in out[0].reason


@pytest.mark.parametrize("bad", ["../outside.npy", "raw/../../outside.npy", "/etc/passwd"])
def test_escaping_paths_are_refused(tmp_path, bad):
    data = _setup(tmp_path)
    np.save(tmp_path / "outside.npy", np.zeros(10))
    m = write_manifest(data, [{"path": bad, "fs": 100, "subject": "s", "trial": "t"}])
    with pytest.raises(SecurityError, match="allow_absolute"):
        get_source("manifest", m).items()


def test_allow_absolute(tmp_path):
    data = _setup(tmp_path)
    np.save(tmp_path / "outside.npy", np.arange(10.0))
    m = write_manifest(data, [{"path": str(tmp_path / "outside.npy"), "fs": 100, "subject": "s",
                               "trial": "t"}])
    recs = _all(get_source("manifest", m, allow_absolute=True))
    assert recs[0].signal.size == 10


def test_missing_columns_listed(tmp_path):
    m = tmp_path / "m.csv"
    m.write_text("path,subject,arousal\nx.npy,s,1\n")
    with pytest.raises(DataError, match="fs, trial, lead"):
        get_source("manifest", m).items()


def test_non_numeric_label_and_bad_fs(tmp_path):
    data = _setup(tmp_path)
    m = write_manifest(data, [{"path": "raw/a.edf", "subject": "s", "trial": "t", "arousal": "high"}])
    with pytest.raises(DataError, match="line 2.*arousal"):
        get_source("manifest", m).items()
    m = write_manifest(data, [{"path": "raw/a.edf", "fs": "-3", "subject": "s", "trial": "t"}])
    with pytest.raises(DataError, match="line 2.*fs"):
        get_source("manifest", m).items()
