"""ONNX export: parity with PyTorch, self-describing file, onnxruntime engine without torch."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnx

from ecgemotion.cli import main
from ecgemotion.inference import EmotionRecognizer
from tests.inference.conftest import synthetic


def test_export_parity_random_and_realistic(models_dir, tmp_path, capsys):
    out = tmp_path / "arousal.onnx"
    rc = main(["export", "--model", str(models_dir / "arousal"), "--onnx", str(out), "--json"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    summary = json.loads(captured.out.strip().splitlines()[-1])
    assert "max |ONNX Runtime - PyTorch|" in captured.err    # the measured difference is printed
    assert summary["random"]["max_abs_diff_probabilities"] <= 1e-4
    assert summary["realistic"]["max_abs_diff_probabilities"] <= 1e-4
    assert summary["realistic"]["windows"] >= 8
    proto = onnx.load(str(out))
    assert proto.opset_import[0].version >= 17
    meta = json.loads({p.key: p.value for p in proto.metadata_props}["ecgemotion"])
    assert meta["task"] == "arousal" and meta["classes"] == ["low", "high"]
    assert meta["preprocess"]["fs"] == 128.0 and meta["positive_class_index"] == 1
    assert json.loads((tmp_path / "arousal.onnx.json").read_text())["task"] == "arousal"
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and dims[2].dim_value == 1280


def test_onnx_engine_equals_torch(onnx_models):
    fs = 360.0
    x = synthetic(90, fs, seed=8)
    x[int(30 * fs):int(40 * fs)] = 0.0
    torch_table = EmotionRecognizer.from_pretrained(onnx_models, engine="torch").predict(x, fs)
    onnx_rec = EmotionRecognizer.from_pretrained(onnx_models, engine="onnx")
    assert onnx_rec.engine_names == ["onnx", "onnx"]
    onnx_table = onnx_rec.predict(x, fs)
    for task in ("arousal", "valence"):
        a, b = torch_table[f"p_{task}"].to_numpy(), onnx_table[f"p_{task}"].to_numpy()
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
        assert np.nanmax(np.abs(a - b)) <= 1e-4
    # an .onnx file alone is enough (its metadata carries task and preprocessing)
    single = EmotionRecognizer.from_pretrained(onnx_models / "valence" / "model.onnx")
    np.testing.assert_allclose(single.predict(x, fs)["p_valence"], onnx_table["p_valence"],
                               atol=1e-6)


def test_onnx_path_never_imports_torch(onnx_models):
    code = (
        "import sys, numpy as np\n"
        "from ecgemotion.inference import EmotionRecognizer\n"
        "from ecgemotion.synthetic import ecg\n"
        f"r = EmotionRecognizer.from_pretrained({str(onnx_models)!r}, engine='onnx')\n"
        "t = r.predict(ecg(30, 250), 250)\n"
        "assert t['p_arousal'].notna().all()\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_engine_onnx_without_export_says_what_to_do(models_dir, tmp_path):
    from tests.inference.conftest import save_task

    folder = save_task(tmp_path / "m", "arousal", seed=1)
    rc = main(["predict", str(tmp_path / "x.csv"), "--model", str(folder), "--engine", "onnx"])
    assert rc == 2
