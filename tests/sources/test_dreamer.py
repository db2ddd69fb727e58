"""DREAMER source on a generated DREAMER.mat with the real nesting."""

import warnings

import numpy as np
import pytest

from ecgemotion.errors import ConfigError, DataError
from ecgemotion.sources import get_source
from ecgemotion.sources.checks import ImplausibleHeartRateWarning, estimate_hr
from tests.fixtures import load_all
from tests.fixtures.emotion_layouts import write_dreamer



@pytest.fixture(scope="module")
def dreamer(tmp_path_factory):
    root = tmp_path_factory.mktemp("dreamer")
    return root, write_dreamer(root, subjects=3, n_videos=4, seconds=8.0, baseline_seconds=6.0)


def test_happy_path_stimuli_and_baselines(dreamer):
    root, truth = dreamer
    with warnings.catch_warnings():
        warnings.simplefilter("error", ImplausibleHeartRateWarning)
        recs, skips = load_all(get_source("dreamer", root=root))
    assert not skips
    assert len(recs) == 3 * 4 * 2
    assert {r.subject for r in recs} == {"S01", "S02", "S03"}
    assert {r.trial for r in recs} == {f"stim{v:02d}" for v in range(1, 5)} | {f"base{v:02d}" for v in range(1, 5)}
    assert all(r.fs == 256.0 and r.lead == "ECG 0" for r in recs)
    stim = next(r for r in recs if r.subject == "S02" and r.trial == "stim03")
    facts = truth.trials[("S02", "stim03")]
    assert stim.labels == facts["labels"] and stim.meta["part"] == "stimulus"
    np.testing.assert_array_equal(stim.signal, facts["lead0"])
    assert abs(estimate_hr(stim.signal, stim.fs) - facts["hr"]) < 4
    assert stim.provenance == {"file": str(truth.files["all"]), "variable": "DREAMER.Data{2}.ECG.stimuli{3}",
                               "column": 0, "licence": stim.provenance["licence"]}
    base = next(r for r in recs if r.subject == "S02" and r.trial == "base03")
    assert base.labels == {} and base.meta["part"] == "baseline"
    assert base.signal.shape == (int(6.0 * 256),)


def test_parts_and_lead_options(dreamer):
    root, _ = dreamer
    recs, _ = load_all(get_source("dreamer", root=root, parts="stimulus", lead=1))
    assert len(recs) == 12 and all(r.meta["part"] == "stimulus" and r.lead == "ECG 1" for r in recs)
    recs, _ = load_all(get_source("dreamer", root=root, parts=["baseline"], lead="both"))
    assert len(recs) == 24 and {r.lead for r in recs} == {"ECG 0", "ECG 1"}
    assert all(not r.labels for r in recs)
    with pytest.raises(ConfigError):
        get_source("dreamer", root=root, parts="films")
    with pytest.raises(ConfigError):
        get_source("dreamer", root=root, lead=2)


def test_defective_clips_are_skipped(tmp_path):
    write_dreamer(tmp_path, subjects=2, n_videos=3, seconds=6.0, baseline_seconds=5.0,
                  defects=("all_nan_stim", "empty_baseline", "one_lead"))
    recs, skips = load_all(get_source("dreamer", root=tmp_path))
    assert len(recs) == 2 * 3 * 2 - 3
    by_where = {s.where.split("DREAMER.mat ")[1]: s.reason for s in skips}
    assert by_where == {"Data{1}.ECG.stimuli{1} column 0": "all samples are NaN",
                        "Data{1}.ECG.baseline{2}": "empty recording",
                        "Data{1}.ECG.stimuli{3}": "expected a (samples × 2) matrix, found shape (1536,)"}


def test_v73_file(tmp_path):
    truth = write_dreamer(tmp_path, subjects=2, n_videos=2, seconds=6.0, baseline_seconds=5.0,
                          mat_format="v7.3", eeg=False)
    recs, skips = load_all(get_source("dreamer", root=tmp_path / "DREAMER.mat"))
    assert not skips and len(recs) == 8
    rec = next(r for r in recs if r.subject == "S02" and r.trial == "stim02")
    assert rec.labels == truth.trials[("S02", "stim02")]["labels"]
    np.testing.assert_array_equal(rec.signal, truth.trials[("S02", "stim02")]["lead0"])


def test_layout_errors(tmp_path):
    write_dreamer(tmp_path / "a", subjects=1, n_videos=2, seconds=5.0, defects=("no_rate",))
    src = get_source("dreamer", root=tmp_path / "a")
    with pytest.raises(DataError, match="expected field 'DREAMER.ECG_SamplingRate', found: Data, EEG_SamplingRate"):
        list(src.load(src.items()[0]))
    (tmp_path / "b").mkdir()
    with pytest.raises(DataError, match="expected DREAMER.mat"):
        get_source("dreamer", root=tmp_path / "b").items()
    import scipy.io
    scipy.io.savemat(str(tmp_path / "b" / "DREAMER.mat"), {"dreamer": 1.0})
    src = get_source("dreamer", root=tmp_path / "b")
    with pytest.raises(DataError, match="expected variable 'DREAMER', found: dreamer"):
        list(src.load(src.items()[0]))


def test_wrong_channel_warns(tmp_path):
    write_dreamer(tmp_path, subjects=1, n_videos=3, seconds=6.0, baseline_seconds=5.0, defects=("swap_gsr",))
    src = get_source("dreamer", root=tmp_path)
    with pytest.warns(ImplausibleHeartRateWarning, match=r"DREAMER\.mat.*ECG column 0.*256\.0 Hz"):
        list(src.load(src.items()[0]))
