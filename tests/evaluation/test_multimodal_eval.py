"""``evaluate --modalities``: each modality alone and both fusions on the same folds, with
the paired tests, through the leakage guard."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ecgemotion.cli import main
from ecgemotion.evaluation.runner import EvaluationOptions, run_evaluation
from ecgemotion.evaluation.splits import LeakageError
from ecgemotion.evaluation.systems import System, modality_systems
from ecgemotion.preprocess import PreprocessConfig
from ecgemotion.sources import get_source
from ecgemotion.store import build_store
from ecgemotion.training.loop import TrainConfig
from tests.fixtures.emotion_layouts import write_amigos


@pytest.fixture(scope="module")
def mm_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("mm-eval")
    write_amigos(root / "raw", subjects=range(1, 5), n_trials=3, seconds=20, couple_ratings=True,
                 empty_long=())
    store, _ = build_store([get_source("amigos", root / "raw")],
                           PreprocessConfig(modalities=("ecg", "eeg", "eda")), out_dir=root / "s",
                           label_rule="threshold:5", workers=1)
    return store


def test_evaluate_compares_modalities_and_fusions_on_the_same_folds(mm_store, tmp_path, capsys):
    out = tmp_path / "e"
    assert modality_systems(["ecg", "eeg"]) == ("mm-ecg", "mm-eeg", "fusion-late", "fusion-early",
                                                "hrv-logreg")        # what --modalities runs
    code = main(["evaluate", "--store", str(mm_store.path), "--modalities", "ecg,eda",
                 "--systems", "mm-eda,fusion-late", "--task", "arousal", "--protocol", "subject", "--k", "2", "--max-folds", "1",
                 "--epochs", "1", "--n-boot", "50", "--out", str(out), "--json", "--quiet"])
    assert code == 0
    r = json.loads((out / "results.json").read_text())
    systems = ["mm-eda", "fusion-late"]
    assert r["config"]["systems"] == systems and r["config"]["modalities"] == ["ecg", "eda"]
    folds = {f["system"]: f for f in r["folds"]}
    assert set(folds) == {"majority", *systems}
    assert len({(f["n_test"], str(f["test_subjects"])) for f in folds.values()}) == 1   # same fold
    assert folds["fusion-late"]["modalities_used"] == {"ecg": 1.0, "eda": 1.0}
    pairs = {(p["a"], p["b"]) for p in r["paired_tests"]}
    assert ("fusion-late", "mm-eda") in pairs
    assert r["leakage_check"]["passed"]


def test_a_modality_the_store_lacks_is_named(mm_store, tmp_path, capsys):
    code = main(["evaluate", "--store", str(mm_store.path), "--modalities", "ecg,bvp",
                 "--task", "arousal", "--protocol", "subject", "--out", str(tmp_path / "x"), "--quiet"])
    err = capsys.readouterr().err
    assert code != 0 and "no bvp windows" in err and "ecg, eeg, eda" in err


class PeekingModality(System):
    """Cheats through a modality's windows instead of the ECG's."""

    name = "peek-eeg"

    def fit_predict(self, ctx, fold, fit_store, test_store, run_dir, seed):
        fit_store.modality_windows("eeg", fold.test[:1])
        return np.full(len(fold.test), 0.5), {}


def test_the_leakage_guard_sees_modality_windows(mm_store, tmp_path):
    options = EvaluationOptions(train_cfg=TrainConfig(epochs=1), k=2, max_folds=1, n_boot=20)
    with pytest.raises(LeakageError, match="served to training"):
        run_evaluation(mm_store, "arousal", "subject", [PeekingModality()], tmp_path, options)
