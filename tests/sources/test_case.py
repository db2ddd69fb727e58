import math

import numpy as np
import pytest
from tests.fixtures.other_layouts import write_case

from ecgemotion.errors import DataError
from ecgemotion.labels import parse_label_rule
from ecgemotion.sources import Skip, get_source


def _all(source):
    return [r for item in source.items() for r in source.load(item)]


def test_one_recording_per_emotional_video(tmp_path):
    write_case(tmp_path, subjects=(1,))
    recs = _all(get_source("case", tmp_path))
    assert [r.trial for r in recs] == ["video3", "video5", "video1", "video7"]  # sequence order
    r = recs[0]
    assert r.fs == 1000.0 and r.units == "mV" and r.signal.size == 2000
    assert r.labels["valence"] == pytest.approx(3 * 0.5 + 1)
    assert r.labels["arousal"] == pytest.approx(9.5 - 1.5)
    assert r.provenance["column"] == "ecg" and r.meta["video"] == 3


def test_video_without_annotations_gets_nan_and_is_dropped_by_rule(tmp_path):
    import pandas as pd

    write_case(tmp_path, subjects=(1,), unannotated_video=7)
    recs = _all(get_source("case", tmp_path))
    v7 = [r for r in recs if r.trial == "video7"][0]
    assert math.isnan(v7.labels["valence"]) and math.isnan(v7.labels["arousal"])
    table = pd.DataFrame([{"subject": r.subject, "trial": r.trial, **r.labels} for r in recs])
    y = parse_label_rule("threshold:5").apply(table, ["valence"])
    assert y["y_valence"].isna().tolist() == [False, False, False, True]


def test_all_videos_option_and_case_root_variants(tmp_path):
    write_case(tmp_path, subjects=(2,))
    recs = _all(get_source("case", tmp_path / "data", videos="all"))
    assert [r.trial for r in recs][:3] == ["video10", "video11-1", "video3"]
    assert all(r.subject == "2" for r in recs)


def test_missing_column_and_wrong_layout(tmp_path):
    write_case(tmp_path, subjects=(1,))
    p = tmp_path / "data" / "interpolated" / "physiological" / "sub_1.csv"
    lines = p.read_text().splitlines()
    p.write_text("\n".join([lines[0].replace("ecg", "ekg")] + lines[1:5]) + "\n")
    src = get_source("case", tmp_path)
    with pytest.raises(DataError, match="missing column"):
        list(src.load(src.items()[0]))
    with pytest.raises(DataError, match="interpolated/physiological"):
        get_source("case", tmp_path / "data" / "interpolated" / "annotations").items()


def test_all_nan_ecg_video_is_skipped(tmp_path):
    import pandas as pd

    write_case(tmp_path, subjects=(1,))
    p = tmp_path / "data" / "interpolated" / "physiological" / "sub_1.csv"
    frame = pd.read_csv(p)
    frame.loc[frame["video"] == 5, "ecg"] = np.nan
    frame.to_csv(p, index=False)
    out = _all(get_source("case", tmp_path))
    skips = [r for r in out if isinstance(r, Skip)]
    assert len(skips) == 1 and "video 5" in skips[0].where
