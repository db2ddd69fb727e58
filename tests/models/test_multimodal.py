"""Multimodal models: any channel count, fusion by name, graceful when a modality is missing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ecgemotion.models.multimodal import MultimodalConfig, MultimodalNet, name_bucket

EMOTIV = ["AF3", "F7", "F3", "FC5", "T7", "P7", "O1", "O2", "P8", "T8", "FC6", "F4", "F8", "AF4"]
TEN_TWENTY = ["Fp1", "Fp2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "F7", "F8", "T7", "T8",
              "P7", "P8", "Fz", "Cz", "Pz"]


def _layout(eeg_names):
    return [{"modality": "ecg", "channels": ["ECG"], "window_len": 1280, "fs": 128.0},
            {"modality": "eeg", "channels": eeg_names, "window_len": 1280, "fs": 128.0},
            {"modality": "eda", "channels": ["GSR"], "window_len": 160, "fs": 16.0}]


def _packed(cfg, batch, present, seed=0):
    g = torch.Generator().manual_seed(seed)
    signals = torch.randn(batch, cfg.input_len - len(cfg.layout), generator=g)
    return torch.cat([signals, torch.tensor(present, dtype=torch.float32).expand(batch, -1)], 1)[:, None]


@pytest.mark.parametrize("fusion", ["late", "early"])
def test_one_architecture_takes_any_eeg_montage(fusion):
    torch.manual_seed(0)
    emotiv = MultimodalNet(MultimodalConfig(layout=_layout(EMOTIV), fusion=fusion))
    ten_twenty = MultimodalNet(MultimodalConfig(layout=_layout(TEN_TWENTY), fusion=fusion))
    # same parameters whatever the channel count: channels are known by name, not position
    assert sum(p.numel() for p in emotiv.parameters()) == sum(p.numel() for p in ten_twenty.parameters())
    ten_twenty.load_state_dict(emotiv.state_dict())
    out = ten_twenty(_packed(ten_twenty.config, 3, [1, 1, 1]))
    assert out["logits"].shape == (3, 2) and torch.isfinite(out["logits"]).all()


@pytest.mark.parametrize("fusion", ["late", "early"])
def test_a_missing_modality_is_left_out_not_read(fusion):
    torch.manual_seed(0)
    net = MultimodalNet(MultimodalConfig(layout=_layout(EMOTIV), fusion=fusion)).eval()
    x = _packed(net.config, 2, [1, 0, 1])
    eeg = slice(1280, 1280 + 14 * 1280)
    y = x.clone()
    y[:, 0, eeg] = 1e3 * torch.randn(2, 14 * 1280)           # garbage where EEG is flagged absent
    with torch.no_grad():
        torch.testing.assert_close(net(x)["logits"], net(y)["logits"])
        x[:, 0, -2] = 1.0                                       # now flagged present: it counts
        y[:, 0, -2] = 1.0
        assert not torch.allclose(net(x)["logits"], net(y)["logits"])


def test_channel_names_are_case_and_space_blind():
    assert name_bucket("EEG Fp1".split()[1]) == name_bucket("fp1") == name_bucket(" FP1")
    assert len({name_bucket(n) for n in TEN_TWENTY + EMOTIV}) == len(set(n.lower() for n in TEN_TWENTY + EMOTIV))
    assert np.isfinite(name_bucket("x"))


def test_modality_dropout_never_hides_every_modality_of_a_window():
    torch.manual_seed(0)
    net = MultimodalNet(MultimodalConfig(layout=_layout(EMOTIV[:2]), modality_dropout=0.9))
    present = torch.tensor([[True, False, False], [True, True, True]]).repeat(200, 1)
    keep = net._keep_mask(present)
    assert ((keep & present).sum(1) >= 1).all()              # each window keeps one it has
    assert (keep & present)[1::2].sum(1).float().mean() < 2  # and whole modalities do go


def _featured_layout():
    return [{"modality": "ecg", "channels": ["ECG"], "window_len": 1280, "fs": 128.0,
             "features": ["mean_hr", "rmssd", "sdnn"]},
            {"modality": "eda", "channels": ["GSR"], "window_len": 160, "fs": 16.0}]


def test_the_ecg_branch_starts_at_a_logistic_regression_on_its_features():
    """The fusion's ECG branch is its HRV features: standardised on the training rows (NaN
    -> median) and scored from the first step as a logistic regression would."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    net = MultimodalNet(MultimodalConfig(layout=_featured_layout()))
    n = 400
    feats = np.c_[rng.normal(70, 10, n), rng.normal(40, 15, n), rng.normal(50, 10, n)]
    y = (feats[:, 0] - 70 + rng.normal(0, 3, n) > 0).astype(int)   # fast heart = high
    feats[::7, 1] = np.nan                                         # undefined in some windows
    packed = np.c_[feats, rng.standard_normal((n, 160)), np.ones((n, 2))].astype(np.float32)
    net.fit_training_side(packed, y)
    with torch.no_grad():
        logits = net.eval()(torch.from_numpy(packed)[:, None])["logits"]
    assert torch.isfinite(logits).all()
    assert (logits.argmax(1).numpy() == y).mean() > 0.85


def test_a_late_fusion_branch_trains_alone():
    """While one branch trains (``branch(i)``), only it has a say and only its weights learn;
    the fused model adds every branch's logits."""
    torch.manual_seed(0)
    net = MultimodalNet(MultimodalConfig(layout=_layout(EMOTIV[:2]))).train()
    x = _packed(net.config, 6, [1, 1, 1])
    eeg = slice(1280, 1280 + 2 * 1280)
    own = net.branch(1)
    y = x.clone()
    y[:, 0, :1280] += 1e3                                     # the ECG and EDA do not count
    y[:, 0, eeg.stop:-3] += 1e3
    torch.testing.assert_close(net.eval()(x)["logits"], net(y)["logits"])
    net.train()(x)["logits"].sum().backward()
    assert all(p.grad is not None for p in own) and len(own) < len(list(net.parameters()))
    assert all(p.grad is None for p in net.parameters() if not p.requires_grad)
    assert not net.encoders["eda"].training                  # its norm statistics stay put
    net.branch(None)
    with torch.no_grad():
        fused = net.eval()(x)["logits"]
        alone = []
        for i in range(3):
            net.solo = i
            alone.append(net(x)["logits"])
        net.solo = None
    torch.testing.assert_close(fused, sum(alone))
