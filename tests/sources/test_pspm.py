"""PsPM source: every ECG channel of PsPM-format files, each with its own rate."""

import warnings

import numpy as np
import pytest

from ecgemotion.errors import DataError
from ecgemotion.sources import get_source
from ecgemotion.sources.checks import ImplausibleHeartRateWarning, estimate_hr
from ecgemotion.sources.pspm import subject_from_name
from tests.fixtures import load_all
from tests.fixtures.emotion_layouts import write_pspm



def test_happy_path_two_ecg_channels(tmp_path):
    truth = write_pspm(tmp_path, subjects=(1, 2), seconds=10.0, sr=500.0, defects=("two_ecg",))
    (tmp_path / "notes.mat").write_bytes(b"not read: tpspm_ files exist")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ImplausibleHeartRateWarning)
        recs, skips = load_all(get_source("pspm", root=tmp_path))
    assert not skips
    assert sorted((r.subject, r.trial, r.fs) for r in recs) == [
        ("s01", "tpspm_s01_ch2", 500.0), ("s01", "tpspm_s01_ch5", 250.0), ("s02", "tpspm_s02_ch2", 500.0)]
    for rec in recs:
        facts = truth.trials[(rec.subject, rec.trial)]
        np.testing.assert_array_equal(rec.signal, facts["signal"])
        assert rec.units == "mV" and rec.labels == {} and rec.dataset == "pspm"
        assert abs(estimate_hr(rec.signal, rec.fs) - facts["hr"]) < 4
    assert recs[0].provenance["variable"] == "data{2}.data"


def test_study_folder_prefix_and_v73(tmp_path):
    write_pspm(tmp_path, subjects=(3,), seconds=8.0, study="PsPM-HRM", mat_format="v7.3")
    recs, skips = load_all(get_source("pspm", root=tmp_path))
    assert not skips and [(r.subject, r.trial) for r in recs] == [("PsPM-HRM-s03", "tpspm_s03_ch2")]


def test_defects(tmp_path):
    write_pspm(tmp_path / "a", subjects=(1, 2), seconds=8.0, defects=("no_ecg",))
    recs, skips = load_all(get_source("pspm", root=tmp_path / "a"))
    assert [r.subject for r in recs] == ["s02"]
    assert skips[0].reason == "no ECG channel (chantypes: scr, resp, marker)"
    write_pspm(tmp_path / "b", subjects=(1,), seconds=8.0, defects=("matrix_data",))
    recs, skips = load_all(get_source("pspm", root=tmp_path / "b"))
    assert not recs and skips[0].reason == "expected data to be a column vector, found shape (4000, 2)"
    write_pspm(tmp_path / "c", subjects=(1,), seconds=8.0, defects=("no_infos",))
    src = get_source("pspm", root=tmp_path / "c")
    with pytest.raises(DataError, match="expected variable 'infos', found: data"):
        list(src.load(src.items()[0]))


def test_subject_from_name():
    assert subject_from_name("tpspm_s01") == "s01"
    assert subject_from_name("tpspm_REW2_acq_0005_sn02") == "s02"
    assert subject_from_name("tpspm_HRM_07") == "s07"
    assert subject_from_name("tpspm_Ortklp_ofl") == "tpspm_Ortklp_ofl"
