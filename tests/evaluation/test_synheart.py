"""The synheart peer systems: the shipped model zero-shot and its features refitted, in one
evaluate with the HRV baseline, reading only their own side of each split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecgemotion.baselines.context import context_rr, context_spans
from ecgemotion.evaluation.runner import EvaluationOptions, evaluate
from ecgemotion.evaluation.systems import SystemSpec
from ecgemotion.training.loop import TrainConfig
from tests.evaluation.test_runner import RecordingStore


def test_context_is_the_preceding_minute_of_the_same_recording():
    starts = np.array([0.0, 10, 20, 30, 40, 50, 60, 70, 0, 10])
    keys = np.array(["a"] * 8 + ["b"] * 2)
    spans = context_spans(starts, starts + 10, keys)
    assert spans[7].tolist() == [20, 80] and spans[5].tolist() == [0, 60]
    assert spans[0].tolist() == [0, 60] and spans[9].tolist() == [0, 60]   # early: first minute
    beats = [s + np.arange(0.1, 10, 0.8) for s in starts]     # 750 bpm-free regular 800 ms
    beats[9] = beats[9] + 0.4                                 # recording b is shifted
    rr, full = context_rr(beats, starts, starts + 10, keys)
    assert full[:8].all() and not full[8:].any()
    assert len(rr[7]) == len(np.concatenate(beats[2:8])) - 1  # six windows, nothing from b
    assert np.allclose(rr[9][rr[9] < 2000], 800) and len(rr[9]) == 2 * 13 - 1


def test_synheart_peers_evaluate_beside_hrv_without_leakage(amigos_store, tmp_path):
    pytest.importorskip("synheart_emotion")
    spy = RecordingStore(amigos_store)
    folds = {}

    def tracer(event, fold, system):
        folds[fold.name] = fold
        spy.tracer(event, fold, system)

    res = evaluate(spy, "arousal", "subject", SystemSpec("synheart,synheart-refit,hrv-logreg"),
                   tmp_path / "e", EvaluationOptions(train_cfg=TrainConfig(epochs=1), k=3,
                                                     max_folds=1, n_boot=20, tracer=tracer))
    for (fold_name, system, phase), parts in spy.log.items():
        rows, fold = np.concatenate(parts), folds[fold_name]
        if phase == "fit":
            assert not np.intersect1d(rows, fold.test).size, (system, fold_name)
        else:
            assert np.isin(rows, fold.test).all(), (system, fold_name)
    assert res["leakage_check"]["passed"]
    pred = pd.read_csv(tmp_path / "e" / "predictions.csv")
    for name in ("synheart", "synheart-refit"):
        p = pred.loc[pred["system"] == name, "prob"].to_numpy()
        assert len(p) and np.isfinite(p).all() and p.min() >= 0 and p.max() <= 1
        assert np.unique(p).size > 1                             # the model reads the features
        fits = [(n, s, ph) for (n, s, ph) in spy.log if s == name and ph == "fit"]
        assert bool(fits) == (name == "synheart-refit")          # zero-shot reads no training row
    assert "P(Stress)" in res["systems"]["synheart"]["description"]
    counts = {f["system"]: f["counts"] for f in res["folds"] if "counts" in f}
    assert counts["synheart"]["short_context"] == len(folds["r0f0"].test)   # 20-s trials
    assert counts["synheart-refit"]["train_rows_without_rr"] == 0


def test_without_the_package_the_peers_name_the_pip_command(monkeypatch):
    import sys

    from ecgemotion.errors import ConfigError
    from ecgemotion.evaluation.systems import build_systems

    monkeypatch.setitem(sys.modules, "synheart_emotion", None)     # import now fails
    with pytest.raises(ConfigError, match=r"pip install 'ecgemotion\[peers\]'"):
        build_systems(SystemSpec("hrv-logreg,synheart"))
