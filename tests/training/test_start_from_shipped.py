"""Fine-tuning starts from the shipped encoder by default and says so; a model carries what
it was trained on (SYNTHETIC labels included) to ``predict``; a model that predicts one
class is flagged when it is trained."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ecgemotion.cli import main
from ecgemotion.demo.synthetic_amigos import write_synthetic_amigos
from ecgemotion.preprocess import PreprocessConfig
from ecgemotion.sources import get_source
from ecgemotion.store import build_store
from ecgemotion.synthetic import ecg
from tests.training.test_finetune import TINY_TEXT


def _store(root, label_rule):
    write_synthetic_amigos(root / "raw", subjects=3, trials=2, seconds=30, seed=0)
    store, _ = build_store([get_source("amigos", root / "raw")], PreprocessConfig(),
                           out_dir=root / "stores", label_rule=label_rule, workers=1)
    return store


@pytest.fixture(scope="module")
def synthetic_store(tmp_path_factory):
    return _store(tmp_path_factory.mktemp("synthetic"), "threshold:5")


def test_the_demo_store_knows_its_labels_are_synthetic(synthetic_store):
    assert synthetic_store.meta["synthetic"] == ["SYNTHETIC data made by ecgemotion.demo"]
    assert synthetic_store.describe()["synthetic"]


def test_finetune_starts_from_ecgemotion_base_and_predict_shouts_synthetic(synthetic_store, tmp_path,
                                                                          capsys):
    out = tmp_path / "arousal"
    assert main(["finetune", "--store", str(synthetic_store.path), "--task", "arousal",
                 "--epochs", "1", "--out", str(out)]) == 0
    assert "initialising from the shipped encoder ecgemotion-base" in capsys.readouterr().out
    extra = json.loads((out / "config.json").read_text())["extra"]
    assert extra["init"] == "ecgemotion-base"
    data = extra["training_data"]
    assert data["datasets"] == ["amigos"] and data["subjects"] == 2 and data["synthetic"]
    csv = tmp_path / "rec.csv"
    x = ecg(30, 250, hr_bpm=70, seed=3)
    pd.DataFrame({"time": np.arange(len(x)) / 250, "ecg": x}).to_csv(csv, index=False)
    assert main(["predict", str(csv), "--model", str(out), "--out", str(tmp_path / "p.csv")]) == 0
    captured = capsys.readouterr()
    assert "SYNTHETIC labels" in captured.out and "from ecgemotion-base" in captured.out
    assert "trained on SYNTHETIC labels" in captured.err


def test_architecture_flags_without_init_scratch_are_refused(synthetic_store, tmp_path, capsys):
    for flags in (["--model", "paper"], ["--model-overrides", "d_model=32"]):
        assert main(["finetune", "--store", str(synthetic_store.path), "--task", "arousal",
                     "--out", str(tmp_path / "m"), *flags]) == 2
        assert "add --init scratch" in capsys.readouterr().err


def test_a_one_class_model_is_flagged_when_trained(tmp_path, capsys):
    """Every rating is >= 1, so threshold:1 makes every label high: the model can only learn
    to say 'high', and finetune says so instead of saving it without a word."""
    store = _store(tmp_path, "threshold:1")
    out = tmp_path / "m"
    assert main(["finetune", "--store", str(store.path), "--init", "scratch", "--task", "arousal",
                 "--epochs", "2", "--lr", "1e-2", "--model-overrides", TINY_TEXT,
                 "--out", str(out)]) == 0
    assert "predicts one class for every validation window" in capsys.readouterr().err
    vm = json.loads((out / "config.json").read_text())["extra"]["val_metrics"]
    assert vm["predicted_high_share"] == 1.0


def test_an_existing_model_is_replaced_only_with_overwrite(synthetic_store, tmp_path, capsys):
    argv = ["finetune", "--store", str(synthetic_store.path), "--init", "scratch", "--task",
            "arousal", "--epochs", "1", "--model-overrides", TINY_TEXT, "--out", str(tmp_path / "m")]
    assert main(argv) == 0
    assert main(argv) == 2
    assert "already holds a model; choose another --out, or pass --overwrite" in capsys.readouterr().err
    assert main([*argv, "--seed", "1", "--overwrite"]) == 0
    assert json.loads((tmp_path / "m" / "config.json").read_text())["extra"]["seed"] == 1


def test_evaluate_names_the_encoder_only_when_a_system_uses_it(synthetic_store, tmp_path, capsys):
    """An HRV-only evaluation reads no encoder, so it must not claim to start from one."""
    assert main(["evaluate", "--store", str(synthetic_store.path), "--task", "arousal",
                 "--protocol", "subject", "--k", "2", "--systems", "hrv-logreg",
                 "--n-boot", "20", "--out", str(tmp_path / "e")]) == 0
    assert "shipped encoder" not in capsys.readouterr().out
