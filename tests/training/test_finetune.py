"""Fine-tuning: the deployable folder, the frozen probe, and learning beats the majority
baseline on subjects it never saw."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ecgemotion.cli import main
from ecgemotion.evaluation.runner import EvaluationOptions, evaluate
from ecgemotion.evaluation.systems import SystemSpec
from ecgemotion.models import from_pretrained
from ecgemotion.models.hub import CONFIG_NAME, HEAD_PREFIXES
from ecgemotion.preprocess import PreprocessConfig
from ecgemotion.sources import get_source
from ecgemotion.store import build_store
from ecgemotion.cli.pairs import parse_overrides
from ecgemotion.subjects import subject_keys
from ecgemotion.training.finetune import balanced_weights, build_model, fit_classifier
from ecgemotion.training.loop import TrainConfig
from tests.fixtures.emotion_layouts import write_amigos

TINY = dict(d_model=32, n_heads=4, n_layers=1, d_ff=64, conv_channels=[8, 16, 32],
            conv_kernels=[15, 9, 5], conv_strides=[4, 4, 4], classifier_hidden=32, dropout=0.0,
            conv_norm="batch")
TINY_TEXT = ("d_model=32,n_heads=4,n_layers=1,d_ff=64,conv_channels=[8,16,32],"
             "conv_kernels=[15,9,5],conv_strides=[4,4,4],classifier_hidden=32,dropout=0,"
             "conv_norm=batch")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("amigos-ft")
    write_amigos(root / "amigos", subjects=range(1, 7), seconds=30, couple_ratings=True,
                 empty_long=(), seed=1)
    st, _ = build_store([get_source("amigos", root / "amigos", skip_subjects="none")],
                        PreprocessConfig(), out_dir=root / "stores", label_rule="threshold:5",
                        workers=1)
    return st


def test_parse_overrides():
    assert parse_overrides("d_model=32,conv_strides=[4,4,4],conv_norm=batch") == \
        {"d_model": 32, "conv_strides": [4, 4, 4], "conv_norm": "batch"}
    assert balanced_weights(np.array([0, 0, 0, 1])) == (4 / 6, 2.0)


def test_finetune_cli_saves_a_deployable_model(store, tmp_path, capsys):
    out = tmp_path / "arousal"
    code = main(["finetune", "--store", str(store.path), "--init", "scratch", "--model", "network",
                 "--task", "arousal", "--epochs", "2", "--lr", "1e-3", "--model-overrides", TINY_TEXT, "--seed", "5",
                 "--out", str(out), "--json", "--quiet"])
    s = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and s["ok"] and s["val_subjects"]
    extra = json.loads((out / CONFIG_NAME).read_text())["extra"]
    assert extra["task"] == "arousal" and extra["classes"] == ["low", "high"]
    assert extra["label_rule"] == "threshold:5" and extra["preprocess"]["fs"] == 128.0
    assert extra["store"]["identity"] == store.meta["identity"]
    assert extra["init"] == "scratch" and extra["seed"] == 5
    assert set(extra["val_metrics"]) >= {"loss", "accuracy", "balanced_accuracy"}
    assert not set(extra["val_subjects"]) & set(extra["train_subjects"])
    # its model card: what `info` prints, read back from config.json
    assert main(["info", "--model", str(out), "--json", "--quiet"]) == 0
    card = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["card"]
    assert card["task"] == "arousal" and card["label_rule"] == "threshold:5"
    assert card["val_metrics"] == extra["val_metrics"] and card["training_data"]["windows"] > 0
    assert card["details"]["val_subjects"] == extra["val_subjects"]
    # the saved weights are the selected epoch's: on the held-out subjects they reproduce the
    # recorded validation accuracy, with class 1 = "high" = label y_arousal 1
    model = from_pretrained(out).eval()
    rows = store.select(labelled="arousal")
    rows = rows[np.isin(subject_keys(store.index.iloc[rows]), extra["val_subjects"])]
    assert len(rows) == extra["val_windows"] > 0
    with torch.no_grad():
        logits = model(torch.from_numpy(store.windows(rows)).unsqueeze(1))["logits"].numpy()
    predicted = logits.argmax(axis=1)
    y = store.index["y_arousal"].to_numpy()[rows]
    assert np.mean(predicted == y) == pytest.approx(extra["val_metrics"]["accuracy"], abs=1e-9)
    assert np.mean(predicted == 1) == pytest.approx(extra["val_metrics"]["predicted_high_share"],
                                                   abs=1e-9)
    # an existing model folder is never overwritten
    assert main(["finetune", "--store", str(store.path), "--task", "arousal", "--epochs", "1",
                 "--model-overrides", TINY_TEXT, "--out", str(out), "--quiet"]) == 2
    # from a pre-trained folder: the encoder is loaded, a probe trains the head only
    probe = tmp_path / "probe"
    assert main(["finetune", "--store", str(store.path), "--init", str(out), "--task", "valence",
                 "--model", "network", "--freeze", "--epochs", "1", "--out", str(probe), "--quiet"]) == 0
    a, b = from_pretrained(out).state_dict(), from_pretrained(probe).state_dict()
    encoder = [k for k in a if not k.startswith(HEAD_PREFIXES)]   # heads start fresh
    assert encoder and all(torch.equal(a[k], b[k]) for k in encoder)
    assert any(not torch.equal(a[k], b[k]) for k in a if k.startswith("classifier."))


def test_frozen_encoder_keeps_batchnorm_statistics(store, tmp_path):
    rows = store.select(labelled="arousal")
    net = build_model("scratch", store, "fast", TINY)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    net, _ = fit_classifier(net, store, rows[:100], rows[100:140], "arousal", tmp_path / "r",
                            TrainConfig(epochs=1, batch_size=32), freeze=True,
                            keep_checkpoints=False)
    after = net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if not k.startswith("classifier."))


def test_finetuning_beats_majority_on_unseen_subjects(store, tmp_path):
    """Subject protocol: the arousal signal (heart rate within subject) is learnt well enough to
    beat the training-majority baseline on held-out subjects."""
    res = evaluate(store, "arousal", "subject",
                   SystemSpec("transformer", init="scratch", overrides=TINY), tmp_path / "e",
                   EvaluationOptions(train_cfg=TrainConfig(epochs=15, lr=1e-3, batch_size=32,
                                                           warmup_fraction=0.1, weight_decay=0.01),
                                     k=3, n_boot=200, seed=0))
    acc = res["aggregate"]["transformer"]["accuracy"]["mean"]
    bal = res["aggregate"]["transformer"]["balanced_accuracy"]["mean"]
    majority = res["aggregate"]["majority"]["accuracy"]["mean"]
    assert acc > majority + 0.1, (acc, majority)
    assert bal > 0.65
    assert res["protocol"]["subject_dependent"] is False
