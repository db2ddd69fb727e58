"""``finetune --model hybrid`` end to end: the saved folder loads through the normal loader
with its feature normalisation, and ``predict``, ``predict --follow`` and the ONNX export
compute the physiological features the way training did, so all of them agree."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from ecgemotion.baselines.hrv import PHYSIO_FEATURES, HRVFeatureCache
from ecgemotion.cli import main
from ecgemotion.inference import EmotionRecognizer
from ecgemotion.models.hub import from_pretrained
from ecgemotion.models.hybrid import HybridClassifier, WithFeatures
from ecgemotion.synthetic import ecg
from ecgemotion.training.finetune import build_model, predict_proba
from tests.inference.conftest import finetune_tiny_hybrid

FS = 250.0


@pytest.fixture(scope="module")
def hybrid_dir(amigos_store, tmp_path_factory):
    return finetune_tiny_hybrid(amigos_store, tmp_path_factory.mktemp("hybrid") / "arousal",
                                "hybrid")


def _recording(path):
    """Calm then fast heart rate: the features (and so the probabilities) change mid-file."""
    x = np.concatenate([ecg(16, FS, hr_bpm=58, seed=1), ecg(16, FS, hr_bpm=115, seed=2)])
    path.write_text("ecg\n" + "".join(f"{v:.5f}\n" for v in x))
    return path


def test_saved_hybrid_keeps_its_training_normalisation(hybrid_dir, amigos_store):
    config = json.loads((hybrid_dir / "config.json").read_text())
    assert config["physio_features"] == list(PHYSIO_FEATURES)
    model = from_pretrained(hybrid_dir).eval()
    assert isinstance(model, HybridClassifier)
    # the buffers are the training rows' statistics (NaN -> their median, then the mean)
    index = amigos_store.index
    rows = amigos_store.select(labelled="arousal")
    keys = (index["dataset"] + "/" + index["subject"].astype(str)).to_numpy()[rows]
    train = rows[np.isin(keys, config["extra"]["train_subjects"])]
    assert len(train) == config["extra"]["train_windows"]
    f = HRVFeatureCache(amigos_store)(train)[list(PHYSIO_FEATURES)].to_numpy(dtype=np.float64)
    filled = np.where(np.isnan(f), np.nan_to_num(np.nanmedian(f, axis=0)), f)
    np.testing.assert_allclose(model.center.numpy(), filled.mean(axis=0), rtol=1e-5)
    # predict's feature path (the recogniser) gives what training's store view fed the model
    rec = EmotionRecognizer.from_pretrained(hybrid_dir)
    some = rows[:24]
    trained_view = predict_proba(model, WithFeatures(amigos_store, HRVFeatureCache(amigos_store))
                                 .windows, some)
    np.testing.assert_allclose(rec.probabilities(amigos_store.windows(some))["arousal"],
                               trained_view, atol=1e-6)
    # a saved hybrid as --init: its encoder, with a fresh head
    encoder = build_model(str(hybrid_dir), amigos_store)
    assert not isinstance(encoder, HybridClassifier)
    inner = model.encoder.state_dict()
    assert all(torch.equal(v, inner[k]) for k, v in encoder.state_dict().items()
               if not k.startswith("classifier."))


def test_predict_follow_and_onnx_agree(hybrid_dir, tmp_path, capsys):
    path = _recording(tmp_path / "rec.csv")
    batch = tmp_path / "batch.csv"
    assert main(["predict", str(path), "--model", str(hybrid_dir), "--fs", str(FS),
                 "--step", "2", "--smooth", "12", "--out", str(batch), "--quiet"]) == 0
    table = pd.read_csv(batch)
    p = table["p_arousal"].to_numpy()
    assert np.isfinite(p).all() and np.ptp(p) > 0.01        # not a constant answer
    # the smoothed timeline: windows 2 s apart, centres within ±6 s -> 7 windows
    expected = pd.Series(p).rolling(7, center=True).mean().to_numpy()
    np.testing.assert_allclose(table["p_arousal_smooth"][3:-3], expected[3:-3], rtol=1e-5)
    follow = tmp_path / "follow.csv"
    assert main(["predict", str(path), "--model", str(hybrid_dir), "--fs", str(FS), "--follow",
                 "--hop", "2", "--idle-timeout", "0.5", "--out", str(follow), "--quiet"]) == 0
    live = pd.read_csv(follow)
    both = pd.merge(table, live, on="start_s", suffixes=("", "_live"))
    assert len(both) >= len(live) - 1 >= 5
    np.testing.assert_allclose(both["p_arousal_live"], both["p_arousal"], atol=1e-3)
    # ONNX: the network with the features as a second input, checked against torch
    assert main(["export", "--model", str(hybrid_dir), "--json"]) == 0
    check = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert check["ok"] and check["realistic"]["max_abs_diff_probabilities"] <= 1e-4
    x = pd.read_csv(path)["ecg"].to_numpy()
    onnx_p = EmotionRecognizer.from_pretrained(hybrid_dir, engine="onnx", step_s=2).predict(x, FS)
    np.testing.assert_allclose(onnx_p["p_arousal"], p, atol=1e-4)


def test_a_hybrid_without_its_features_is_refused():
    torch.manual_seed(0)
    from ecgemotion.models import create_model

    net = create_model("fast", window_len=256, fs=128.0, physio_features=["mean_hr", "rmssd"],
                       d_model=16, n_heads=2, n_layers=1, d_ff=32, conv_strides=[4, 4, 4])
    assert isinstance(net, HybridClassifier) and net.config.physio_features == ["mean_hr", "rmssd"]
    with pytest.raises(Exception):
        net(torch.zeros(1, 1, 256))
