"""ASCERTAIN source on generated clips in both Data_ECG layouts."""

import warnings

import numpy as np
import pytest

from ecgemotion.errors import DataError
from ecgemotion.sources import get_source
from ecgemotion.sources.ascertain import TimestampRateWarning, read_clip
from ecgemotion.sources.checks import ImplausibleHeartRateWarning, estimate_hr
from tests.fixtures import load_all
from tests.fixtures.emotion_layouts import write_ascertain



@pytest.fixture(scope="module")
def ascertain(tmp_path_factory):
    root = tmp_path_factory.mktemp("ascertain")
    return root, write_ascertain(root, subjects=(1, 2, 12), n_clips=3, seconds=8.0)


def test_happy_path_both_layouts(ascertain):
    root, truth = ascertain
    with warnings.catch_warnings():
        warnings.simplefilter("error", ImplausibleHeartRateWarning)
        warnings.simplefilter("error", TimestampRateWarning)
        recs, skips = load_all(get_source("ascertain", root=root))
    assert not skips and len(recs) == 9
    assert {r.subject for r in recs} == {"P01", "P02", "P12"}
    assert {r.trial for r in recs} == {"clip01", "clip02", "clip03"}
    assert all(r.fs == 256.0 and r.lead == "ECG Left" for r in recs)
    narrow = next(r for r in recs if r.subject == "P02" and r.trial == "clip02")
    wide = next(r for r in recs if r.subject == "P12" and r.trial == "clip02")
    assert narrow.provenance["column"] == 2 and narrow.meta["n_columns"] == 3
    assert wide.provenance["column"] == 5 and wide.meta["n_columns"] == 6
    for rec in (narrow, wide):
        facts = truth.trials[(rec.subject, rec.trial)]
        np.testing.assert_array_equal(rec.signal, facts["lead_left"])
        assert rec.labels == facts["labels"]
        assert abs(estimate_hr(rec.signal, rec.fs) - facts["hr"]) < 4
    assert set(narrow.labels) == {"arousal", "valence", "engagement", "liking", "familiarity"}


def test_both_leads(ascertain):
    root, _ = ascertain
    recs, _ = load_all(get_source("ascertain", root=root, lead="both"))
    assert len(recs) == 18
    wide = {r.lead: r.provenance["column"] for r in recs if r.subject == "P12" and r.trial == "clip01"}
    assert wide == {"ECG Left": 5, "ECG Right": 4}


def test_few_columns_and_nan_clips_are_skipped(tmp_path):
    write_ascertain(tmp_path, subjects=(3,), n_clips=3, seconds=6.0, defects=("few_columns", "all_nan"))
    clip1 = tmp_path / "ASCERTAIN_Raw" / "ECGData" / "Movie_P03" / "ECG_Clip1.mat"
    with pytest.raises(DataError) as err:
        read_clip(clip1)
    assert str(err.value) == (f"{clip1}: expected Data_ECG with at least 3 columns "
                              "(timestamp, 2 arm leads), found 2 columns")
    recs, skips = load_all(get_source("ascertain", root=tmp_path))
    assert [r.trial for r in recs] == ["clip03"]
    assert [s.reason for s in skips] == [err.value.reason, "all samples are NaN"]
    assert skips[0].where == str(clip1)


def test_ratings_missing_or_wrong_shape(tmp_path):
    with pytest.warns(UserWarning, match="Dt_SelfReports.mat not found"):
        write_ascertain(tmp_path / "a", subjects=(1,), n_clips=2, seconds=6.0, defects=("no_ratings",))
        recs, _ = load_all(get_source("ascertain", root=tmp_path / "a"))
    assert len(recs) == 2 and all(r.labels == {} for r in recs)
    write_ascertain(tmp_path / "b", subjects=(1,), n_clips=2, seconds=6.0, defects=("bad_ratings_shape",))
    src = get_source("ascertain", root=tmp_path / "b")
    with pytest.raises(DataError, match=r"expected Ratings of shape .*\(5, 58, 36\), found shape \(5, 58\)"):
        list(src.load(src.items()[0]))


def test_rate_from_timestamps_and_v73(tmp_path):
    write_ascertain(tmp_path, subjects=(4,), n_clips=2, seconds=6.0, timestamp_fs=250.0, mat_format="v7.3")
    with pytest.warns(TimestampRateWarning, match="timestamps imply 250.0 Hz"):
        recs, skips = load_all(get_source("ascertain", root=tmp_path))
    assert not skips and all(r.fs == pytest.approx(250.0) for r in recs)
    assert recs[0].labels["arousal"] == recs[0].labels["arousal"]  # ratings read from the v7.3 file


def test_wrong_channel_warns(tmp_path):
    write_ascertain(tmp_path, subjects=(5,), n_clips=3, seconds=6.0, defects=("swap_gsr",))
    src = get_source("ascertain", root=tmp_path)
    with pytest.warns(ImplausibleHeartRateWarning, match=r"Movie_P05.*channel or rate is wrong"):
        list(src.load(src.items()[0]))
