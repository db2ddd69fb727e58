import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecgemotion.errors import ConfigError, EcgEmotionError
from ecgemotion.evaluation.splits import (PROTOCOLS, LeakageError, assert_no_leakage, get_protocol,
                                          group_keys)


def make_index(n_subjects=6, n_trials=4, n_windows=5, datasets=("A",), seed=0, same_names=True):
    rng = np.random.default_rng(seed)
    rows = []
    for d in datasets:
        for s in range(n_subjects):
            for t in range(n_trials):
                y = float(rng.integers(0, 2))
                for w in range(n_windows):
                    rows.append({"dataset": d, "subject": f"S{s}" if same_names else f"{d}{s}",
                                 "trial": str(t), "lead": "ecg", "start_s": 10.0 * w, "good": True,
                                 "y_arousal": y})
    return pd.DataFrame(rows)


def keys(index, rows, by):
    return set(map(tuple, index.iloc[rows][["dataset", "subject"] + (["trial"] if by == "trial" else [])]
                   .astype(str).to_numpy()))


def check_protocol(index, rows, name, seed=0, repeats=2, k=None):
    proto = get_protocol(name)
    folds = list(proto.folds(index, rows, "arousal", seed=seed, repeats=repeats, k=k))
    rows_set = set(rows.tolist())
    by = {"subject": "subject", "loso": "subject", "trial": "trial"}.get(name)
    for r in range(repeats):
        tests = [f.test for f in folds if f.repeat == r]
        allt = np.concatenate(tests)
        assert sorted(allt.tolist()) == sorted(rows_set)        # every row tested exactly once
        assert len(tests) == proto.n_folds(index, rows, k)
    for f in folds:
        train, val, test = f
        assert set(train) | set(val) | set(test) == rows_set  # nothing lost, nothing invented
        assert not (set(train) & set(val)) and not (set(train) & set(test)) and not (set(val) & set(test))
        if by:
            assert not keys(index, test, by) & (keys(index, train, by) | keys(index, val, by))
            assert not keys(index, val, by) & keys(index, train, by)
    return folds


@pytest.mark.parametrize("name", list(PROTOCOLS))
def test_protocols_cover_and_do_not_leak(name):
    index = make_index(datasets=("A", "B"))
    rows = np.flatnonzero(index["y_arousal"].notna().to_numpy())
    folds = check_protocol(index, rows, name)
    assert all(len(f.val) > 0 for f in folds)


def test_groups_follow_the_subject_key_column():
    """A store's subject_key column is the one definition of a subject: where it says two
    datasets' ids are one person, the splitters and the guard treat them as one."""
    index = make_index(n_subjects=3, n_trials=2, n_windows=2, datasets=("A", "B"))
    rows = np.arange(len(index))
    assert len(np.unique(group_keys(index, rows, "subject"))) == 6     # derived: dataset/subject
    index["subject_key"] = index["subject"]                           # A/S0 and B/S0: one person
    assert len(np.unique(group_keys(index, rows, "subject"))) == 3
    a0, b0 = (np.flatnonzero((index["dataset"] == d) & (index["subject"] == "S0")) for d in "AB")
    with pytest.raises(LeakageError):
        assert_no_leakage(index, a0, rows[:0], b0, "subject")


def test_val_comes_from_training_side_and_is_grouped():
    index = make_index(n_subjects=10)
    rows = np.arange(len(index))
    for f in get_protocol("subject").folds(index, rows, "arousal", seed=3):
        # val subjects are whole subjects, disjoint from train and test subjects
        v, tr = keys(index, f.val, "subject"), keys(index, f.train, "subject")
        assert v and not v & tr
    paper = list(get_protocol("paper").folds(index, rows, "arousal", seed=1))
    share = np.mean([len(f.val) / (len(f.train) + len(f.val)) for f in paper])
    assert 0.07 < share < 0.13


def test_filtered_rows_only_and_seed_determinism():
    index = make_index()
    rows = np.arange(0, len(index), 2)
    a = [tuple(map(tuple, f)) for f in get_protocol("trial").folds(index, rows, "arousal", seed=5)]
    b = [tuple(map(tuple, f)) for f in get_protocol("trial").folds(index, rows, "arousal", seed=5)]
    c = [tuple(map(tuple, f)) for f in get_protocol("trial").folds(index, rows, "arousal", seed=6)]
    assert a == b and a != c
    for f in get_protocol("trial").folds(index, rows, "arousal"):
        assert set(np.concatenate(list(f))) <= set(rows)


def test_same_subject_name_in_two_datasets_is_two_subjects():
    index = make_index(n_subjects=3, datasets=("A", "B"))
    assert len(np.unique(group_keys(index, np.arange(len(index)), "subject"))) == 6
    folds = list(get_protocol("loso").folds(index, np.arange(len(index)), "arousal"))
    assert len(folds) == 6
    for f in folds:
        assert index.iloc[f.test]["dataset"].nunique() == 1


def test_k_capped_at_subjects_and_paper_stratified():
    index = make_index(n_subjects=4)
    rows = np.arange(len(index))
    assert len(list(get_protocol("subject").folds(index, rows, "arousal", k=10))) == 4
    y = index["y_arousal"].to_numpy()
    for f in get_protocol("paper").folds(index, rows, "arousal", k=5):
        assert abs(y[f.test].mean() - y.mean()) < 0.1


def test_guard_fires_on_handcrafted_leaks():
    index = make_index(n_subjects=3, n_trials=2, n_windows=2)
    s0 = np.flatnonzero(index["subject"] == "S0")
    s1 = np.flatnonzero(index["subject"] == "S1")
    s2 = np.flatnonzero(index["subject"] == "S2")
    assert_no_leakage(index, s0, s1, s2, "subject")  # clean
    with pytest.raises(LeakageError, match="S2"):    # a test subject's window in training
        assert_no_leakage(index, np.r_[s0, s2[:1]], s1, s2[1:], "subject")
    with pytest.raises(LeakageError):                # val subject in training
        assert_no_leakage(index, np.r_[s0, s1[:1]], s1[1:], s2, "loso")
    with pytest.raises(LeakageError, match="both train and test"):
        assert_no_leakage(index, s0, s1, np.r_[s2, s0[:1]], "paper")
    # trial protocol: same subject allowed, same trial not
    t0 = s0[index.iloc[s0]["trial"].to_numpy() == "0"]
    t1 = s0[index.iloc[s0]["trial"].to_numpy() == "1"]
    assert_no_leakage(index, t0, s1, t1, "trial")
    with pytest.raises(LeakageError):
        assert_no_leakage(index, np.r_[t0, t1[:1]], s1, t1[1:], "trial")
    assert issubclass(LeakageError, EcgEmotionError)


PAIRS = [("train", "val"), ("train", "test"), ("val", "test")]


@pytest.mark.parametrize("protocol", ["subject", "loso", "trial", "paper"])
@pytest.mark.parametrize("a,b", PAIRS)
def test_guard_refuses_a_row_in_two_parts(protocol, a, b):
    index = make_index(n_subjects=3, n_trials=2, n_windows=2)
    parts = {p: np.flatnonzero(index["subject"] == f"S{i}") for i, p in enumerate(("train", "val", "test"))}
    if protocol == "trial":  # one subject, three trials: the subject may be shared, a trial not
        index = make_index(n_subjects=1, n_trials=3, n_windows=2)
        parts = {p: np.flatnonzero(index["trial"] == str(i)) for i, p in enumerate(("train", "val", "test"))}
    assert_no_leakage(index, parts["train"], parts["val"], parts["test"], protocol)  # clean
    parts[a] = np.r_[parts[a], parts[b][:1]]                # one row of b also in a
    with pytest.raises(LeakageError, match=f"row.*in both {a} and {b}"):
        assert_no_leakage(index, parts["train"], parts["val"], parts["test"], protocol)


@pytest.mark.parametrize("protocol,by", [("subject", "subject"), ("loso", "subject"), ("trial", "trial")])
@pytest.mark.parametrize("a,b", PAIRS)
def test_guard_refuses_a_group_in_two_parts(protocol, by, a, b):
    """Different rows, same subject (or trial): a window of b's group moved into a."""
    index = make_index(n_subjects=3, n_trials=3, n_windows=2)
    groups = index["subject"] if by == "subject" else index["subject"] + "/" + index["trial"]
    names = ["S0", "S1", "S2"] if by == "subject" else ["S0/0", "S0/1", "S0/2"]
    parts = {p: np.flatnonzero(groups == g) for p, g in zip(("train", "val", "test"), names)}
    assert_no_leakage(index, parts["train"], parts["val"], parts["test"], protocol)  # clean
    moved, parts[b] = parts[b][:1], parts[b][1:]
    parts[a] = np.r_[parts[a], moved]
    first, second = sorted((a, b), key=["test", "val", "train"].index)
    with pytest.raises(LeakageError, match=f"{by}\\(s\\) appear in both {first} and {second}"):
        assert_no_leakage(index, parts["train"], parts["val"], parts["test"], protocol)


@pytest.mark.parametrize("name", ["subject", "loso", "trial"])
def test_validation_never_takes_every_training_group(name):
    index = make_index(n_subjects=3, n_trials=2, n_windows=2)
    for fold in get_protocol(name).folds(index, np.arange(len(index)), "arousal", k=3,
                                         val_fraction=0.9):
        assert len(fold.train) and len(fold.val), fold.name


def test_nan_labels_and_unknown_protocol_refused():
    index = make_index()
    index.loc[3, "y_arousal"] = np.nan
    with pytest.raises(ConfigError):
        list(get_protocol("subject").folds(index, np.arange(len(index)), "arousal"))
    with pytest.raises(ConfigError):
        get_protocol("random")


@st.composite
def random_index(draw):
    n = draw(st.integers(8, 80))
    n_datasets = draw(st.integers(1, 2))
    n_subjects = draw(st.integers(2, 6))
    n_trials = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "dataset": rng.integers(0, n_datasets, n).astype(str),
        "subject": np.char.add("S", rng.integers(0, n_subjects, n).astype(str)),
        "trial": rng.integers(0, n_trials, n).astype(str),
        "y_arousal": rng.integers(0, 2, n).astype(float),
    })
    # make sure there are at least two subjects and two trials
    df.loc[0, ["dataset", "subject", "trial"]] = ["0", "S0", "0"]
    df.loc[1, ["dataset", "subject", "trial"]] = ["0", "S1", "1"]
    return df, seed


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_index(), st.sampled_from(list(PROTOCOLS)), st.integers(0, 1000))
def test_property_no_group_on_both_sides(data, name, seed):
    index, _ = data
    rows = np.arange(len(index))
    k = min(5, len(index))
    check_protocol(index, rows, name, seed=seed, repeats=1, k=k)
