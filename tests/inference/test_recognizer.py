"""The Python API: EmotionRecognizer.from_pretrained(...).predict(signal, fs)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ecgemotion.errors import ConfigError, DataError
from ecgemotion.inference import EmotionRecognizer
from ecgemotion.preprocess import PreprocessConfig
from tests.inference.conftest import save_task, synthetic


def test_predict_rows_start_times_and_nan_for_bad_windows(models_dir):
    recognizer = EmotionRecognizer.from_pretrained(models_dir)
    assert recognizer.tasks == ["arousal", "valence"]
    fs = 360.0
    x = synthetic(125, fs)                       # 12 complete 10-s windows
    x[int(40 * fs):int(60 * fs)] = 0.0           # flat: windows 40-50 and 50-60
    x[int(81 * fs):int(83 * fs)] = np.nan        # 2-s gap: window 80-90 dropped
    table = recognizer.predict(x, fs)
    assert len(table) == 12
    np.testing.assert_allclose(table["start_s"], np.arange(12) * 10.0)
    np.testing.assert_allclose(table["end_s"], np.arange(12) * 10.0 + 10)
    bad = table["start_s"].isin([40.0, 50.0, 80.0]).to_numpy()
    assert not table["good"][bad].any() and table["good"][~bad].all()
    assert table.loc[table["start_s"] == 80.0, "flag_gap"].all()
    assert table.loc[table["start_s"] == 40.0, "flag_flat"].all()
    for task in ("arousal", "valence"):
        p = table[f"p_{task}"].to_numpy()
        assert np.isnan(p[bad]).all() and np.isfinite(p[~bad]).all()
        assert ((p[~bad] > 0) & (p[~bad] < 1)).all()
    hr = table["heart_rate_bpm"].to_numpy()[~bad]
    assert np.all(np.abs(hr - 72) < 8)
    summary = recognizer.summary(table)
    assert summary["windows_predicted"] == 9 and summary["windows_skipped"] == 3
    assert summary["arousal"]["mean_p"] == pytest.approx(np.nanmean(table["p_arousal"]))
    json.dumps(summary)


def test_single_folder_list_and_step_override(models_dir):
    one = EmotionRecognizer.from_pretrained(models_dir / "valence")
    two = EmotionRecognizer.from_pretrained([models_dir / "arousal", models_dir / "valence"],
                                            step_s=5.0)
    x = synthetic(40, 250.0)
    a = one.predict(x, 250.0)
    b = two.predict(x, 250.0)
    assert list(b["start_s"]) == [0, 5, 10, 15, 20, 25, 30]
    np.testing.assert_allclose(a["p_valence"], b["p_valence"][::2], atol=1e-5)


def test_predict_accepts_a_signal_file(models_dir):
    from ecgemotion.io.readers import SignalFile

    recognizer = EmotionRecognizer.from_pretrained(models_dir / "arousal")
    sf = SignalFile(synthetic(30, 500.0), 500.0, "ECG", "mV", {"file": "x.edf"})
    table = recognizer.predict(sf)
    assert len(table) == 3 and table["good"].all()


def test_models_with_different_preprocessing_are_refused(tmp_path, models_dir):
    save_task(tmp_path / "other", "stress", seed=3, preprocess=PreprocessConfig(band_hz=(1.0, 40.0)))
    with pytest.raises(ConfigError, match="different preprocessing.*band_hz"):
        EmotionRecognizer.from_pretrained([models_dir / "arousal", tmp_path / "other"])


def test_same_task_twice_and_not_finetuned(tmp_path, models_dir):
    with pytest.raises(ConfigError, match="same task"):
        EmotionRecognizer.from_pretrained([models_dir / "arousal", models_dir / "arousal"])
    from ecgemotion.models import create_model, save_pretrained

    save_pretrained(create_model("fast", d_model=32, n_layers=1, n_heads=2, d_ff=64), tmp_path / "pre")
    with pytest.raises(ConfigError, match="no preprocessing recorded"):
        EmotionRecognizer.from_pretrained(tmp_path / "pre")
    with pytest.raises(ConfigError, match="no such model folder"):
        EmotionRecognizer.from_pretrained(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="folder of model folders"):
        EmotionRecognizer.from_pretrained(tmp_path / "empty")


def test_bad_signals(models_dir):
    recognizer = EmotionRecognizer.from_pretrained(models_dir / "arousal")
    with pytest.raises(DataError, match="shorter than one"):
        recognizer.predict(synthetic(5, 250.0), 250.0)
    with pytest.raises(DataError, match="no finite samples"):
        recognizer.predict(np.full(5000, np.nan), 250.0)
    with pytest.raises(ConfigError, match="sampling rate"):
        recognizer.predict(synthetic(20, 250.0), None)


@pytest.mark.parametrize("engine", ["torch", "onnx"])
def test_predict_equals_an_independent_softmax_of_the_high_class(engine, onnx_models):
    """Row by row: the one preprocessing, then the saved weights run by hand (torch) or the
    exported graph's raw logits (onnxruntime), then a numpy softmax, column "high"."""
    import onnxruntime
    import torch

    from ecgemotion.models import from_pretrained
    from ecgemotion.preprocess import process_recording
    from ecgemotion.recording import Recording

    fs = 360.0
    x = synthetic(95, fs, seed=11)
    folder = onnx_models / "arousal"
    table = EmotionRecognizer.from_pretrained(folder, engine=engine).predict(x, fs)
    windows = process_recording(Recording(x, fs, "d", "s", "t"), PreprocessConfig())
    assert windows.good.all() and table["good"].all() and len(table) == len(windows) == 9
    if engine == "torch":
        with torch.no_grad():
            model = from_pretrained(folder).eval()
            logits = model(torch.from_numpy(windows.data)[:, None])["logits"].numpy()
    else:
        session = onnxruntime.InferenceSession(str(folder / "model.onnx"))
        logits = session.run(["logits"], {session.get_inputs()[0].name: windows.data[:, None]})[0]
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    p_high = e[:, 1] / e.sum(axis=1)
    assert json.loads((folder / "config.json").read_text())["extra"]["classes"][1] == "high"
    assert np.std(p_high) > 0.05, "a model answering ~0.5 everywhere cannot tell p from 1-p"
    np.testing.assert_allclose(table["p_arousal"], p_high, atol=1e-5)
