"""``ecgemotion probe`` end to end on a few real PhysioNet records, and its scoring helpers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ecgemotion import synthetic
from ecgemotion.cli import main
from ecgemotion.errors import ConfigError
from ecgemotion.probe import (find_data, group_bootstrap, is_test, mean_beat_templates,
                              nearest_neighbour_top1)

# downstream-pool records: (class, fixed test record?) -> 3 records of >= 30 s each
PROBE_CINC = {("N", False): ["A00003", "A00021", "A00025"],
              ("N", True): ["A00006", "A00010", "A00037"],
              ("A", False): ["A00027", "A00054", "A00101"],
              ("A", True): ["A00155", "A00264", "A00321"]}
PROBE_MITDB = ["100", "201", "202"]


def test_the_test_records_are_the_fixed_hash_rule():
    for (_, test), records in PROBE_CINC.items():
        assert all(is_test(r) == test for r in records)


def test_nearest_neighbour_counts_only_the_right_identity():
    gallery = np.array([[1.0, 0.0], [0.0, 1.0]])
    probes = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]])
    hits = nearest_neighbour_top1(gallery, np.array(["a", "b"]), probes, np.array(["a", "b", "b"]))
    assert hits.tolist() == [1.0, 1.0, 0.0]


def test_group_bootstrap_resamples_whole_groups():
    values = np.array([1.0, 1.0, 1.0, 0.0])
    groups = np.array(["x", "x", "x", "y"])
    ci = group_bootstrap(lambda i: values[i].mean(), groups, n_boot=200)
    assert ci["point"] == 0.75
    # resampling groups, not windows: only 0, 0.75 (x and y once each) and 1 are possible
    assert ci["low"] == 0.0 and ci["high"] == 1.0


def test_templates_find_the_beat_of_real_looking_ecg():
    fs = 128.0
    w = np.stack([synthetic.ecg(10, fs, hr_bpm=hr, seed=i) for i, hr in enumerate((60, 90))])
    t = mean_beat_templates(w.astype(np.float32), fs)
    assert t.shape == (2, 90)
    assert np.argmax(t[0]) == pytest.approx(32, abs=3)           # R peak 0.25 s in
    assert mean_beat_templates(np.zeros((1, 1280), np.float32), fs).tolist() == [[0.0] * 90]


def test_missing_data_says_what_to_download(tmp_path):
    with pytest.raises(ConfigError, match="PhysioNet"):
        find_data(tmp_path, cache=tmp_path / "cache")


def test_probe_command_scores_an_encoder_beside_the_references(real_data, tmp_path, capsys):
    # the probe reads every record of the folder: link only the probe's subset
    data = tmp_path / "data"
    for name, records in (("mitdb", PROBE_MITDB),
                          ("cinc2017", [r for rs in PROBE_CINC.values() for r in rs])):
        (data / name).mkdir(parents=True)
        for f in (real_data / name).iterdir():
            if f.stem in records or f.name == "REFERENCE.csv":
                (data / name / f.name).symlink_to(f)
    out = tmp_path / "probe"
    code = main(["probe", "--model", "random", "--probes", "rhythm,identity,physiology",
                 "--data", str(data), "--n-boot", "50", "--out", str(out), "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    res = json.loads((out / "probe.json").read_text())["results"]
    assert summary["results"] == res
    assert set(res) == {"random", "hrv", "templates"}
    for rep in res:
        for budget in ("0.01", "0.1", "1"):
            auroc = res[rep]["rhythm"][budget]["auroc"]
            assert 0.0 <= auroc["low"] <= auroc["point"] <= auroc["high"] <= 1.0
    # 3 MIT-BIH records, 2 persons (201 = 202): the beat template re-identifies them
    mit = res["templates"]["identity"]["mitdb"]
    assert mit["persons"] == 2 and mit["point"] > 0.9
    assert res["hrv"]["identity"]["cinc"]["gallery"] == 12          # one window per record enrols
    assert "physiology" not in res["hrv"] and np.isfinite(res["random"]["physiology"]["point"])
    table = (out / "probe.md").read_text()
    assert table.startswith("| encoder |") and "| templates |" in table
