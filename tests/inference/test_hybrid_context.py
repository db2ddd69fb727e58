"""``finetune --model hybrid-ctx`` deployed: ``predict``, the live stream and the ONNX export
feed the model the context features training computed, from the same function."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ecgemotion.baselines.context import CONTEXT_FEATURES
from ecgemotion.baselines.hrv import PHYSIO_FEATURES, HRVFeatureCache
from ecgemotion.cli import main
from ecgemotion.errors import ConfigError
from ecgemotion.inference import EmotionRecognizer
from ecgemotion.models.hub import from_pretrained
from ecgemotion.models.hybrid import ContextFeatures, WithFeatures
from ecgemotion.synthetic import ecg
from ecgemotion.training.finetune import predict_proba
from tests.inference.conftest import finetune_tiny_hybrid

FS = 250.0


@pytest.fixture(scope="module")
def ctx_dir(amigos_store, tmp_path_factory):
    return finetune_tiny_hybrid(amigos_store, tmp_path_factory.mktemp("hybrid-ctx") / "arousal",
                                "hybrid-ctx")


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    """80 s whose rhythm changes every 20 s, so a window's 60-s context differs from it."""
    x = np.concatenate([ecg(20, FS, hr_bpm=hr, seed=i) for i, hr in enumerate((58, 95, 70, 120))])
    path = tmp_path_factory.mktemp("ctx-rec") / "rec.csv"
    path.write_text("ecg\n" + "".join(f"{v:.5f}\n" for v in x))
    return path, x


class _Recording:
    """Predict's windows of one file seen as a store: the training side's view of them."""

    meta = {"identity": "test-hybrid-context-recording"}

    def __init__(self, windows, starts, fs):
        self._windows, self.fs, self.window_len = windows, fs, windows.shape[1]
        self.index = pd.DataFrame({"dataset": "t", "subject": "s", "trial": "1", "start_s": starts})

    def windows(self, rows):
        return self._windows[np.asarray(rows)]


def test_finetune_trains_on_window_and_context_features(ctx_dir, capsys):
    config = json.loads((ctx_dir / "config.json").read_text())
    assert config["physio_features"] == list(PHYSIO_FEATURES + CONTEXT_FEATURES)
    assert main(["info", "--model", str(ctx_dir)]) == 0
    assert "ctx_dfa_a1" in capsys.readouterr().out


def test_predict_feeds_the_context_training_computes(ctx_dir, recording):
    path, _ = recording
    rec = EmotionRecognizer.from_pretrained(ctx_dir)
    table = rec.predict(path, FS)
    win = rec.windows(path, FS)
    assert win.good.all() and len(win) == len(table) == 8
    store = _Recording(win.data, win.start_s, rec.preprocess.fs)
    rows = np.arange(len(win))
    names = PHYSIO_FEATURES + CONTEXT_FEATURES
    view = WithFeatures(store, ContextFeatures(store, HRVFeatureCache(store), [rows]), names)
    trained = predict_proba(from_pretrained(ctx_dir), view.windows, rows)
    np.testing.assert_allclose(table["p_arousal"], trained, atol=1e-6)
    # the context matters: each window alone (its own 10 s as context) gives other answers
    alone = [rec.probabilities(w[None], [0.0])["arousal"][0] for w in win.data]
    assert np.abs(np.array(alone) - trained).max() > 1e-3
    with pytest.raises(ConfigError, match="start time"):
        rec.probabilities(win.data)


def test_stream_gives_batch_answers_once_a_minute_has_passed(ctx_dir, recording):
    _, x = recording
    rec = EmotionRecognizer.from_pretrained(ctx_dir)
    batch = rec.predict(x, FS).set_index("start_s")["p_arousal"]
    stream = rec.stream(FS, hop_s=rec.preprocess.step_s)
    live = {p.start_s: p.probabilities["arousal"] for p in stream.push(x) + stream.flush()}
    later = [t for t in batch.index if t + rec.preprocess.window_s >= 60]
    print("DIFF", np.abs(np.array([live[t] for t in batch.index]) - batch.to_numpy()))
    stream.past = []
    print("NOPAST", [abs(rec.probabilities(w[None], [t])["arousal"][0] - batch[t]) for t, w in []])
    assert len(later) >= 3
    np.testing.assert_allclose([live[t] for t in later], batch[later], atol=1e-4)


def test_onnx_export_of_a_context_model_matches_torch(ctx_dir, recording, capsys):
    _, x = recording
    assert main(["export", "--model", str(ctx_dir), "--json"]) == 0
    check = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert check["ok"] and check["realistic"]["max_abs_diff_probabilities"] <= 1e-4
    meta = json.loads((ctx_dir / "model.onnx.json").read_text())
    assert meta["features"]["context"]["names"] == list(CONTEXT_FEATURES)
    torch_p = EmotionRecognizer.from_pretrained(ctx_dir).predict(x, FS)["p_arousal"]
    onnx_p = EmotionRecognizer.from_pretrained(ctx_dir, engine="onnx").predict(x, FS)["p_arousal"]
    np.testing.assert_allclose(onnx_p, torch_p, atol=1e-4)
