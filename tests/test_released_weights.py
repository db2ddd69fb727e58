"""The released pre-trained weights ``ecgemotion-base`` (shipped as package data)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch

from ecgemotion.models import from_pretrained
from ecgemotion.models.hub import PRETRAINED_DIR, available_pretrained
from ecgemotion.preprocess import PreprocessConfig, process_recording
from ecgemotion.recording import Recording
from ecgemotion.synthetic import ecg

NAME = "ecgemotion-base"
FOLDER = PRETRAINED_DIR / NAME


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return from_pretrained(NAME).eval()


def test_shipped_files():
    assert NAME in available_pretrained()
    for name in ("model.safetensors", "config.json", "README.md", "splits.json"):
        assert (FOLDER / name).is_file(), name
    assert (FOLDER / "model.safetensors").stat().st_size < 10 * 2**20


def test_config(model):
    cfg = json.loads((FOLDER / "config.json").read_text())
    assert cfg["format"] == "ecgemotion-model"
    assert cfg["kind"] == "transformer" and cfg["name"] == "fast"
    assert cfg["window_len"] == 1280 and cfg["fs"] == 128.0
    assert model.config.window_len == 1280 and model.config.fs == 128.0
    assert sum(p.numel() for p in model.parameters()) > 100_000


def test_encoder_only_load_for_fine_tuning():
    net = from_pretrained(NAME, encoder_only=True, n_classes=2)
    out = net(torch.zeros(2, 1, 1280))["logits"]
    assert out.shape == (2, 2) and torch.isfinite(out).all()


def _real_looking_windows(n: int = 6) -> torch.Tensor:
    """Synthetic ECG at 500 Hz through the same preprocessing as the pre-training store."""
    config = PreprocessConfig()  # 128 Hz, 10-s windows, 0.5-40 Hz, z-scored per window
    out = []
    for i in range(n):
        x = ecg(12.0, 500.0, hr_bpm=55 + 10 * i, seed=i)
        rec = Recording(signal=x, fs=500.0, dataset="synthetic", subject=str(i), trial="0",
                        units="mV")
        out.append(process_recording(rec, config).data[:1])
    return torch.from_numpy(np.concatenate(out).astype(np.float32)).unsqueeze(1)


def test_reconstruct_beats_zeros(model):
    from ecgemotion.models import span_mask

    x = _real_looking_windows()
    assert x.shape[-1] == model.config.window_len
    mask = span_mask(x.shape[0], x.shape[-1], 0.15, 64, torch.Generator().manual_seed(1))
    with torch.no_grad():
        pred = model.reconstruct(x, mask)
    assert pred.shape == x.shape and torch.isfinite(pred).all()
    m = mask[:, None, :]
    mse = float(((pred - x) ** 2)[m].mean())
    zeros = float((x ** 2)[m].mean())
    assert mse < zeros, (mse, zeros)


def test_splits_consistent():
    s = json.loads((FOLDER / "splits.json").read_text())
    pre, down = s["pretrain"], s["downstream"]
    assert not set(pre) & set(down)
    assert len(set(pre)) == len(pre) and len(set(down)) == len(down)
    assert s["counts"] == {"pretrain": len(pre), "downstream": len(down)}
    assert len(pre) + len(down) == s["n_records"] == 8528
    for pool, names in (("pretrain", pre), ("downstream", down)):
        digest = hashlib.sha256("\n".join(sorted(names)).encode()).hexdigest()
        assert digest == s["sha256_sorted_newline_joined"][pool]
        assert sum(s["class_counts"][pool].values()) == len(names)
    # the recorded rule reproduces the lists
    for rec in pre[:50] + down[:50]:
        first = hashlib.sha256(f"{s['salt']}:{rec}".encode()).digest()[0]
        assert (first < 128) == (rec in set(pre))
    assert s["labels_used_in_pretraining"] is False
