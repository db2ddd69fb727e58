import math

import numpy as np
import pytest
from tests.fixtures.other_layouts import write_swell

from ecgemotion.errors import ConfigError, DataError
from ecgemotion.sources import Skip, get_source


def _all(source):
    return [r for item in source.items() for r in source.load(item)]


def test_blocks_with_conditions_from_the_sheet(tmp_path):
    write_swell(tmp_path)
    recs = _all(get_source("swell", tmp_path))
    assert [(r.subject, r.trial) for r in recs] == [
        ("PP1", "c1"), ("PP1", "c2"), ("PP1", "c3"), ("PP2", "c1"), ("PP2", "c2"), ("PP2", "c3")]
    by = {(r.subject, r.trial): r for r in recs}
    assert by["PP1", "c2"].meta["condition"] == "T" and by["PP2", "c2"].meta["condition"] == "I"
    assert by["PP1", "c1"].labels["stressor"] == 0.0 and by["PP2", "c3"].labels["stressor"] == 1.0
    assert by["PP1", "c3"].labels["valence"] == 8.0 and by["PP2", "c1"].labels["arousal"] == 5.0
    assert math.isnan(by["PP2", "c3"].labels["stress"])  # 999 means missing
    r = recs[0]
    assert r.fs == 2048.0 and r.signal.size == 3 * 2048 and r.provenance["file"].endswith("pp1_c1.txt")


def test_xlsx_without_openpyxl_gives_clear_message(tmp_path, monkeypatch):
    import builtins

    write_swell(tmp_path, labels="xlsx")
    real_import = builtins.__import__

    def fake(name, *a, **k):
        if name == "openpyxl":
            raise ImportError("no openpyxl")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(ConfigError, match="pip install openpyxl"):
        get_source("swell", tmp_path).items()


def test_unlabelled_mode_and_missing_sheet(tmp_path):
    write_swell(tmp_path, participants=(1,), labels="none")
    with pytest.raises(DataError, match="labels=none"):
        get_source("swell", tmp_path).items()
    recs = _all(get_source("swell", tmp_path, labels="none"))
    assert len(recs) == 3 and all(r.labels == {} for r in recs)


def test_block_missing_from_sheet_is_skipped(tmp_path):
    write_swell(tmp_path, participants=(1,))
    txt = next(tmp_path.rglob("pp1_c1.txt"))
    (txt.parent / "pp9_c1.txt").write_text(txt.read_text())
    out = _all(get_source("swell", tmp_path))
    skips = [r for r in out if isinstance(r, Skip)]
    assert len(skips) == 1 and "PP9" in skips[0].reason


def test_single_line_csv_export_and_no_files(tmp_path):
    write_swell(tmp_path, participants=(1,))
    txt = next(tmp_path.rglob("pp1_c2.txt"))
    x = np.loadtxt(txt)
    txt.write_text(",".join(f"{v:.5f}" for v in x))
    recs = _all(get_source("swell", tmp_path))
    assert recs[1].signal.size == x.size
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="pp<N>_c<k>"):
        get_source("swell", empty, labels="none").items()
