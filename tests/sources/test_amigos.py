"""AMIGOS source on generated files with the real nesting."""

import warnings

import numpy as np
import pytest

from ecgemotion.errors import ConfigError, DataError
from ecgemotion.sources import get_source
from ecgemotion.sources.checks import ImplausibleHeartRateWarning, estimate_hr
from tests.fixtures import load_all
from tests.fixtures.emotion_layouts import AMIGOS_VIDEO_IDS, write_amigos



@pytest.fixture(scope="module")
def amigos(tmp_path_factory):
    root = tmp_path_factory.mktemp("amigos")
    truth = write_amigos(root, subjects=(1, 2, 8, 9), n_trials=20, seconds=10.0,
                         defects=("nan_stretch", "all_nan", "nan_labels", "wrong_columns"))
    return root, truth


def test_happy_path(amigos):
    root, truth = amigos
    with warnings.catch_warnings():
        warnings.simplefilter("error", ImplausibleHeartRateWarning)
        recs, skips = load_all(get_source("amigos", root=root))
    # P01: 20 trials - all-NaN - wrong columns; P02: 20; P08: 16 (long videos empty); P09 skip-listed
    assert len(recs) == 18 + 20 + 16
    assert {r.subject for r in recs} == {"P01", "P02", "P08"}
    assert {r.trial for r in recs if r.subject == "P02"} == set(AMIGOS_VIDEO_IDS)
    assert all(r.fs == 128.0 and r.lead == "ECG Left" and r.dataset == "amigos" for r in recs)
    rec = next(r for r in recs if r.subject == "P02" and r.trial == "10")
    facts = truth.trials[("P02", "10")]
    assert rec.labels == facts["labels"]
    np.testing.assert_array_equal(rec.signal, facts["left"])
    assert rec.provenance["column"] == 15 and rec.provenance["variable"] == "joined_data{4}"
    assert rec.provenance["file"].endswith("Data_Preprocessed_P02.mat")
    assert abs(estimate_hr(rec.signal, rec.fs) - facts["hr"]) < 4
    assert len({r.key for r in recs}) == len(recs)


def test_defects_become_skips_or_stay_nan(amigos):
    root, truth = amigos
    recs, skips = load_all(get_source("amigos", root=root))
    reasons = [s.reason for s in skips]
    assert "participant 9 in skip list" in reasons
    assert sum("empty trial (long video" in r for r in reasons) == 4
    assert any(s.reason == "all samples are NaN" and "video 5" in s.where for s in skips)
    assert "expected a (samples × 17) matrix, found shape (1280, 16) dtype float64" in reasons
    gap = next(r for r in recs if r.subject == "P01" and r.trial == "4")
    assert np.isnan(gap.signal).sum() == truth.trials[("P01", "4")]["nan_samples"]  # not filled
    nan_lab = next(r for r in recs if r.subject == "P01" and r.trial == "9")
    assert all(np.isnan(v) for v in nan_lab.labels.values())


def test_skip_list_option_and_both_leads(amigos):
    root, _ = amigos
    recs, skips = load_all(get_source("amigos", root=root, skip_subjects="none", lead="both"))
    assert {r.subject for r in recs} == {"P01", "P02", "P08", "P09"}
    assert not any("skip list" in s.reason for s in skips)
    p2 = [r for r in recs if r.subject == "P02" and r.trial == "10"]
    assert sorted(r.lead for r in p2) == ["ECG Left", "ECG Right"]
    assert {r.provenance["column"] for r in p2} == {14, 15}
    recs, skips = load_all(get_source("amigos", root=root, **{"skip-subjects": "1,2", "lead": "right"}))
    assert {r.subject for r in recs} == {"P08", "P09"}
    assert {r.lead for r in recs} == {"ECG Right"}
    with pytest.raises(ConfigError):
        get_source("amigos", root=root, lead="middle")


def test_flat_layout_and_v73(tmp_path):
    write_amigos(tmp_path, subjects=(3,), n_trials=4, seconds=8.0, folders=False, mat_format="v7.3")
    recs, skips = load_all(get_source("amigos", root=tmp_path))
    assert [r.trial for r in recs] == list(AMIGOS_VIDEO_IDS[:4]) and not skips
    assert recs[0].signal.shape == (1024,)


def test_missing_variable_and_truncated_file(tmp_path):
    write_amigos(tmp_path / "a", subjects=(1,), n_trials=3, seconds=6.0, defects=("no_labels",))
    src = get_source("amigos", root=tmp_path / "a")
    with pytest.raises(DataError, match="expected variable 'labels_selfassessment', found: "
                                        "joined_data, labels_ext_annotation, VideoIDs"):
        list(src.load(src.items()[0]))
    write_amigos(tmp_path / "b", subjects=(1,), n_trials=3, seconds=6.0, defects=("truncated",))
    src = get_source("amigos", root=tmp_path / "b")
    with pytest.raises(DataError, match="not a readable MATLAB file"):
        list(src.load(src.items()[0]))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="Data_Preprocessed_P01.mat ... Data_Preprocessed_P40.mat"):
        get_source("amigos", root=tmp_path / "empty").items()


def test_no_video_ids_names_trials_by_position(tmp_path):
    write_amigos(tmp_path, subjects=(2,), n_trials=3, seconds=6.0, defects=("no_video_ids",))
    recs, _ = load_all(get_source("amigos", root=tmp_path))
    assert [r.trial for r in recs] == ["trial01", "trial02", "trial03"]


def test_wrong_channel_warns(tmp_path):
    write_amigos(tmp_path, subjects=(1,), n_trials=4, seconds=10.0, defects=("swap_gsr",))
    src = get_source("amigos", root=tmp_path)
    with pytest.warns(ImplausibleHeartRateWarning, match=r"Data_Preprocessed_P01\.mat.*ECG Left \(column 15\)"
                                                         r".*fs of 128\.0 Hz.*channel or rate is wrong"):
        recs = [r for r in src.load(src.items()[0])]
    assert len(recs) == 4  # the check warns, it never drops data


def test_couple_ratings_makes_hr_follow_arousal(tmp_path):
    truth = write_amigos(tmp_path, subjects=(2,), n_trials=16, seconds=6.0, couple_ratings=True)
    facts = [f for f in truth.trials.values()]
    corr = np.corrcoef([f["labels"]["arousal"] for f in facts], [f["hr"] for f in facts])[0, 1]
    assert corr > 0.8
