import numpy as np
import pytest
from tests.fixtures.other_layouts import wesad_labels, write_malicious_wesad, write_wesad

from ecgemotion.errors import ConfigError, DataError, SecurityError
from ecgemotion.sources import Skip, get_source


def _all(source):
    return [r for item in source.items() for r in source.load(item)]


def test_one_recording_per_subject_with_sample_labels(tmp_path):
    write_wesad(tmp_path, subjects=("S2", "S10"))
    src = get_source("wesad", tmp_path)
    assert [i.key for i in src.items()] == ["S2", "S10"]  # numeric order
    recs = _all(src)
    assert [r.subject for r in recs] == ["S2", "S10"]
    r = recs[0]
    assert r.fs == 700.0 and r.signal.ndim == 1 and r.signal.dtype == np.float64
    assert r.labels == {}
    np.testing.assert_array_equal(r.sample_labels, wesad_labels())
    assert r.provenance["variable"] == "signal/chest/ECG" and r.provenance["file"].endswith("S2.pkl")


def test_conditions_option_yields_contiguous_labelled_runs(tmp_path):
    write_wesad(tmp_path, subjects=("S2",))
    recs = _all(get_source("wesad", tmp_path, conditions="labelled"))
    assert [r.trial for r in recs] == ["baseline", "stress", "meditation-1", "amusement",
                                       "meditation-2"]
    for r in recs:
        assert len(set(r.sample_labels.tolist())) == 1
        assert r.labels["condition"] == float(r.sample_labels[0])
        assert r.sample_labels.size == r.signal.size
    assert recs[0].signal.size == 6 * 700
    only_stress = _all(get_source("wesad", tmp_path, conditions=[2]))
    assert [r.trial for r in only_stress] == ["stress"]


def test_bad_conditions_option(tmp_path):
    write_wesad(tmp_path, subjects=("S2",))
    with pytest.raises(ConfigError, match="unknown condition"):
        get_source("wesad", tmp_path, conditions="9")


def test_wrong_layout_says_what_is_expected(tmp_path):
    (tmp_path / "S2").mkdir()
    with pytest.raises(DataError, match="SX/SX.pkl"):
        get_source("wesad", tmp_path).items()


def test_missing_keys_is_data_error(tmp_path):
    import pickle

    (tmp_path / "S2").mkdir()
    with open(tmp_path / "S2" / "S2.pkl", "wb") as fh:
        pickle.dump({"subject": "S2", "signal": {"wrist": {}}, "label": np.zeros(3)}, fh)
    src = get_source("wesad", tmp_path)
    with pytest.raises(DataError, match="chest"):
        list(src.load(src.items()[0]))


def test_length_mismatch_is_a_skip(tmp_path):
    import pickle

    (tmp_path / "S3").mkdir()
    with open(tmp_path / "S3" / "S3.pkl", "wb") as fh:
        pickle.dump({"subject": "S3", "signal": {"chest": {"ECG": np.zeros((10, 1))}},
                     "label": np.zeros(7, dtype=int)}, fh)
    out = _all(get_source("wesad", tmp_path))
    assert len(out) == 1 and isinstance(out[0], Skip) and "700 Hz" in out[0].reason


def test_malicious_pickle_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"
    write_malicious_wesad(tmp_path / "WESAD", marker)
    src = get_source("wesad", tmp_path)  # finds the nested WESAD folder
    with pytest.raises(SecurityError, match="system"):
        list(src.load(src.items()[0]))
    assert not marker.exists()


def test_truncated_pickle_is_data_error(tmp_path):
    write_wesad(tmp_path, subjects=("S2",))
    p = tmp_path / "S2" / "S2.pkl"
    p.write_bytes(p.read_bytes()[:100])
    src = get_source("wesad", tmp_path)
    with pytest.raises(DataError, match=r"S2\.pkl: not a readable pickle"):
        list(src.load(src.items()[0]))
