"""Tiny fine-tuned models (save_pretrained + extra) shared by the inference tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ecgemotion.models import create_model, save_pretrained
from ecgemotion.preprocess import PreprocessConfig

TINY = dict(d_model=32, n_layers=1, n_heads=2, d_ff=64)
SHARED = Path(__file__).resolve().parents[3] / "shared"


def tiny_model(seed: int, spread: float = 2.0):
    """A tiny ``fast`` model whose last classifier layer is re-aimed so that its logit
    varies across real-looking windows with a standard deviation of ``spread``: an
    untrained model answers ~0.50 for every window, which would make every agreement
    test vacuous. (Last layer: the top principal direction of its inputs, centred.)"""
    from ecgemotion.inference.export import realistic_windows

    torch.manual_seed(seed)
    model = create_model("fast", **TINY).eval()
    last = [m for m in model.classifier.modules() if isinstance(m, torch.nn.Linear)][-1]
    seen = []
    handle = last.register_forward_hook(lambda mod, inp, out: seen.append(inp[0].detach()))
    x = torch.from_numpy(realistic_windows(PreprocessConfig(), n_max=64, seed=seed))[:, None]
    with torch.no_grad():
        model(x)
    handle.remove()
    a = seen[0].double()
    centred = a - a.mean(0)
    direction = torch.linalg.svd(centred, full_matrices=False).Vh[0]
    scale = spread / float((centred @ direction).std())
    with torch.no_grad():
        last.weight.zero_()
        last.bias.zero_()
        last.weight[1] = (direction * scale).float()
        last.bias[1] = float(-(a.mean(0) @ direction) * scale)
    return model


def save_task(folder: Path, task: str, seed: int, preprocess: PreprocessConfig | None = None) -> Path:
    pp = (preprocess or PreprocessConfig()).to_dict()
    save_pretrained(tiny_model(seed), folder, extra={
        "task": task, "classes": ["low", "high"], "label_rule": "threshold:5", "preprocess": pp})
    return folder


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory) -> Path:
    """``models/arousal`` and ``models/valence``: one recogniser folder with two tasks."""
    root = tmp_path_factory.mktemp("models")
    save_task(root / "arousal", "arousal", seed=1)
    save_task(root / "valence", "valence", seed=2)
    return root


@pytest.fixture(scope="session")
def onnx_models(models_dir) -> Path:
    """The same two models exported (``model.onnx`` inside each folder)."""
    from ecgemotion.inference import export_onnx

    for task in ("arousal", "valence"):
        export_onnx(models_dir / task, models_dir / task / "model.onnx")
    return models_dir


def synthetic(duration_s: float = 120.0, fs: float = 360.0, seed: int = 3) -> np.ndarray:
    from ecgemotion.synthetic import ecg

    return ecg(duration_s, fs, hr_bpm=72, wander_mv=0.2, seed=seed)


def finetune_tiny_hybrid(store, out: Path, model: str = "hybrid") -> Path:
    """``ecgemotion finetune --model MODEL`` of a tiny scratch encoder, one epoch, into ``out``."""
    from ecgemotion.cli import main
    from tests.evaluation.test_runner import TINY as TINY_OVERRIDES

    assert main(["finetune", "--store", str(store.path), "--init", "scratch", "--model", model,
                 "--set", TINY_OVERRIDES, "--task", "arousal", "--epochs", "1", "--threads", "1",
                 "--out", str(out), "--quiet"]) == 0
    return out
