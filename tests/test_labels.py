import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecgemotion.errors import ConfigError
from ecgemotion.labels import parse_label_rule


def _table():
    return pd.DataFrame({"subject": ["a", "a", "a", "b", "b", "b"],
                         "trial": ["1", "2", "3", "1", "2", "3"],
                         "arousal": [5.0, 7.0, 3.0, 2.0, 2.0, np.nan],
                         "valence": [4.5, 5.0, 9.0, 1.0, 6.0, 8.0]})


def test_threshold_inclusive_and_strict():
    t = _table()
    y = parse_label_rule("threshold:5").apply(t, ["arousal", "valence"])
    assert y["y_arousal"].tolist()[:5] == [1.0, 1.0, 0.0, 0.0, 0.0]
    assert math.isnan(y["y_arousal"].iloc[5])
    assert y["y_valence"].tolist() == [0.0, 1.0, 1.0, 0.0, 1.0, 1.0]
    y = parse_label_rule("threshold:>5").apply(t, ["valence"])
    assert y["y_valence"].tolist() == [0.0, 0.0, 1.0, 0.0, 1.0, 1.0]
    y = parse_label_rule("threshold:4.5").apply(t, ["valence"])
    assert y["y_valence"].iloc[0] == 1.0


def test_median_per_subject_uses_trials_not_windows():
    t = _table()
    # subject a's trial 3 appears in many windows: must not drag the median down
    windows = pd.concat([t, *[t.iloc[[2]]] * 10], ignore_index=True)
    y = parse_label_rule("median-per-subject").apply(windows, ["arousal"])
    # a: trials 5, 7, 3 -> median 5 ; b: 2, 2 (NaN ignored) -> median 2
    assert y["y_arousal"].tolist()[:5] == [1.0, 1.0, 0.0, 1.0, 1.0]
    assert math.isnan(y["y_arousal"].iloc[5])


def test_mean_per_subject():
    y = parse_label_rule("mean-per-subject").apply(_table(), ["valence"])
    # a: mean 6.1667 ; b: mean 5.0
    assert y["y_valence"].tolist() == [0.0, 0.0, 1.0, 0.0, 1.0, 1.0]


def test_median_and_mean_differ_on_skewed_ratings():
    t = pd.DataFrame({"subject": ["a"] * 3, "trial": ["1", "2", "3"], "arousal": [1.0, 3.0, 9.0]})
    # median 3 (trial 2 is high), mean 4.33 (trial 2 is low)
    assert parse_label_rule("median-per-subject").apply(t, ["arousal"])["y_arousal"].tolist() == \
        [0.0, 1.0, 1.0]
    assert parse_label_rule("mean-per-subject").apply(t, ["arousal"])["y_arousal"].tolist() == \
        [0.0, 0.0, 1.0]


def test_spec_roundtrip_and_errors():
    for spec in ["threshold:5", "threshold:>5", "threshold:4.5", "median-per-subject",
                 "mean-per-subject"]:
        assert parse_label_rule(spec).spec == spec
        assert parse_label_rule(parse_label_rule(spec).spec) == parse_label_rule(spec)
    assert parse_label_rule("threshold:>=5").spec == "threshold:5"
    with pytest.raises(ConfigError, match="median-per-subject"):
        parse_label_rule("quantile:0.3")
    with pytest.raises(ConfigError):
        parse_label_rule("threshold:")
    with pytest.raises(ConfigError, match="no column"):
        parse_label_rule("threshold:5").apply(_table(), ["dominance"])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.one_of(st.floats(1, 9), st.just(float("nan"))), min_size=1, max_size=12),
       st.sampled_from(["threshold:5", "threshold:>5", "median-per-subject", "mean-per-subject"]))
def test_nan_never_becomes_a_label(ratings, spec):
    t = pd.DataFrame({"subject": ["s"] * len(ratings), "trial": [str(i) for i in range(len(ratings))],
                      "v": ratings})
    y = parse_label_rule(spec).apply(t, ["v"])["y_v"]
    assert (y.isna() == t["v"].isna()).all()
    assert set(y.dropna().unique()) <= {0.0, 1.0}
