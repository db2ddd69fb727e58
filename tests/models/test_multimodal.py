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
