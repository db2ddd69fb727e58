"""The v2 objectives: MAE encoder on visible tokens, paired windows, InfoNCE, pooling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from ecgemotion import synthetic
from ecgemotion.models import create_model, from_pretrained, save_pretrained
from ecgemotion.training.objectives import (OBJECTIVES, PairedWindows, SelfSupervised, info_nce,
                                            random_keep)

TINY = dict(window_len=256, d_model=32, n_heads=4, n_layers=1, d_ff=64,
            conv_channels=[8, 16, 32], classifier_hidden=16)


def tiny(objective: str = "mae+contrastive", **kw):
    torch.manual_seed(0)
    return create_model("fast", **{**TINY, **OBJECTIVES[objective][1], **kw})


def test_visible_encoder_with_every_token_equals_the_full_encoder():
    model = tiny().eval()
    x = torch.randn(3, 1, 256)
    keep = torch.arange(8).expand(3, -1)                      # 256 / stride 32 = 8 tokens
    torch.testing.assert_close(model.encode_visible(x, keep), model.encode(x))


def test_hidden_samples_never_reach_the_visible_tokens():
    model = tiny().eval()
    x = torch.randn(2, 1, 256)
    keep = torch.tensor([[0, 3, 5], [1, 2, 7]])
    y = x.clone()
    for b, kept in enumerate(keep.tolist()):                  # change every hidden sample
        for t in set(range(8)) - set(kept):
            y[b, 0, t * 32:(t + 1) * 32] = torch.randn(32) * 5
    torch.testing.assert_close(model.encode_visible(x, keep), model.encode_visible(y, keep))
    pred, _ = model.mae(x, keep)
    assert pred.shape == x.shape


def test_mean_pooling_is_the_token_mean_and_what_forward_returns():
    model = tiny().eval()
    x = torch.randn(2, 1, 256)
    h = model.encode(x)
    torch.testing.assert_close(model(x)["features"], h[:, 1:].mean(dim=1))
    cls_model = tiny(pooling="cls").eval()
    torch.testing.assert_close(cls_model(x)["features"], cls_model.encode(x)[:, 0])


def test_random_keep_is_sorted_unique_and_seeded():
    a = random_keep(4, 40, 10, torch.Generator().manual_seed(1))
    b = random_keep(4, 40, 10, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a.shape == (4, 10)
    assert all(len(set(r)) == 10 and r == sorted(r) for r in a.tolist())


def test_info_nce_rewards_matching_pairs_and_ignores_same_person_negatives():
    torch.manual_seed(0)
    z = torch.randn(6, 16)
    groups = torch.arange(6)
    good, top1 = info_nce(z, z + 0.01 * torch.randn(6, 16), groups, 0.1)
    bad, _ = info_nce(z, torch.randn(6, 16), groups, 0.1)
    assert good < bad and top1.mean() == 1.0
    # the pair's twin from the same person is not a negative: a near copy of it costs nothing
    z2 = z.clone()
    z2[1] = z[0] * 1.001
    same = torch.tensor([0, 0, 1, 2, 3, 4])
    loss_same, _ = info_nce(z[:2], z2[:2], same[:2], 0.1)
    assert loss_same < 1e-3


class _Store:
    """The slice of WindowStore that PairedWindows reads."""

    fs = 1.0

    def __init__(self, index: pd.DataFrame, windows: np.ndarray):
        self.index, self._w = index, windows

    def windows(self, rows):
        return self._w[np.asarray(rows)]


def _store(t: int = 16):
    # recording A: 3 contiguous windows; B: 1 window; C (A's person, another trial): 2
    # windows with a gap between them. Window k holds the samples k*100 + 0..t-1, so a
    # crop's first sample says where it starts.
    index = pd.DataFrame({"dataset": "d", "subject": ["a"] * 3 + ["b"] + ["a"] * 2,
                          "trial": ["1"] * 3 + ["1"] + ["2"] * 2, "lead": "ECG",
                          "start_s": [0, 16, 32, 0, 0, 48]})
    w = np.arange(6)[:, None] * 100 + np.arange(t)[None, :]
    return _Store(index, w.astype(np.float32))


def test_views_are_crops_of_contiguous_windows_of_one_recording(monkeypatch):
    store = _store()
    raw = {}
    monkeypatch.setattr(np, "stack", _spy(np.stack, raw))
    ds = PairedWindows(store, np.arange(6), max_shift_s=4)
    torch.manual_seed(0)
    for _ in range(30):
        x, y = ds.batch(np.arange(6))
        v = raw["views"]
        for i in range(6):
            a, c = v[i, 0, 0], v[i, 1, 0]
            if i == 3 or i >= 4:                              # single window / not contiguous
                assert a == c == store.windows([i])[0, 0]
            else:
                pair = {0: (0, 1), 1: (1, 2), 2: (1, 2)}[i]   # window 2 joins its previous one
                for start in (a, c):
                    assert start // 100 in pair
                assert abs(_offset(a, pair) - _offset(c, pair)) <= 4
        assert torch.allclose(x.mean(-1), torch.zeros(6, 2), atol=1e-5)   # z-scored again
    assert y[0] == y[4] != y[3]                               # one id per person
    val = PairedWindows(store, np.arange(6), random=False)
    assert torch.equal(val.batch(np.arange(6))[0], val.batch(np.arange(6))[0])


def _offset(first_sample: float, pair: tuple[int, int], t: int = 16) -> int:
    """Crop start within the joined 2t samples of ``pair`` from the crop's first sample."""
    k, j = divmod(int(first_sample), 100)
    return j + (t if k == pair[1] else 0)


def _spy(stack, out):
    """np.stack that remembers the raw crops (before z-scoring) PairedWindows builds."""
    def wrapped(arrays, axis=0, **kw):
        result = stack(arrays, axis=axis, **kw)
        if axis == 1 and result.ndim == 3:
            out["views"] = result.copy()
        return result
    return wrapped


@pytest.mark.parametrize("objective", ["mae", "contrastive", "mae+contrastive"])
def test_a_few_steps_lower_the_objective_on_ecg(objective):
    fs, n = 128.0, 24
    sig = [synthetic.ecg(5, fs, hr_bpm=50 + 3 * i, seed=i) for i in range(n // 2)]
    w = np.stack([s[o:o + 256] for s in sig for o in (0, 128)]).astype(np.float32)
    w = (w - w.mean(1, keepdims=True)) / w.std(1, keepdims=True)
    x = torch.from_numpy(w).view(n // 2, 2, 256)
    groups = torch.arange(n // 2)
    before, after = _train(tiny(objective), objective, x, groups, steps=80, lr=3e-3, key="loss")
    assert after < 0.9 * before


def _train(model, objective: str, x, y, steps: int, lr: float, key: str) -> tuple[float, float]:
    """The objective's loss term ``key`` on fixed masks before and after ``steps`` AdamW steps."""
    task = SelfSupervised(**OBJECTIVES[objective][0])
    opt = torch.optim.AdamW(model.parameters(), lr=lr)

    def term() -> float:
        with torch.no_grad():
            return float(task._losses(model.eval(), x, y, torch.Generator().manual_seed(0), False)[key])
    before = term()
    model.train()
    for step in range(steps):
        loss = task.train_loss(model, x, y, torch.Generator().manual_seed(step))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return before, term()


def test_pretraining_heads_are_dropped_when_loading_an_encoder(tmp_path):
    model = tiny()
    save_pretrained(model, tmp_path / "m")
    enc = from_pretrained(tmp_path / "m", encoder_only=True, n_classes=2)
    for name in ("mae_decoder", "contrastive_head"):
        assert hasattr(enc, name)                             # built, freshly initialised
    torch.testing.assert_close(enc.encoder.net[0].weight, model.encoder.net[0].weight)


def test_physiology_targets_read_the_rhythm_and_a_few_steps_teach_the_head():
    """The targets are what the window shows (mean heart rate within 3 bpm; NaN for a flat
    window, never a number), and the physio objective lowers its target loss."""
    from ecgemotion.training.targets import RHYTHM_TARGETS, TargetScaler, n_targets, window_targets

    fs, n = 128.0, 12
    hr = 55 + 5 * np.arange(n)
    w = np.stack([synthetic.ecg(10, fs, hr_bpm=float(h), seed=i)[:1280] for i, h in enumerate(hr)])
    raw = window_targets(np.concatenate([w, np.zeros((1, 1280))]), fs)
    assert raw.shape == (n + 1, n_targets(fs))
    assert np.abs(raw[:n, RHYTHM_TARGETS.index("mean_hr")] - hr).max() < 3
    assert np.isnan(raw[n]).all()
    scaled = TargetScaler.fit(raw[:n])(raw[:n])
    # two crops of each window, every crop z-scored; a pair is one person
    x = torch.from_numpy(np.stack([w[:, :1024], w[:, 256:]], 1).astype(np.float32)).view(n, 2, 1024)
    x = (x - x.mean(-1, keepdim=True)) / x.std(-1, keepdim=True)
    y = torch.cat([torch.arange(n, dtype=torch.float32)[:, None], torch.from_numpy(scaled)], 1)
    objective = "paper+contrastive+physio"
    model = create_model("fast", **{**TINY, "window_len": 1024, **OBJECTIVES[objective][1],
                                    "target_dim": n_targets(fs)})
    before, after = _train(model, objective, x, y, steps=30, lr=1e-2, key="physio")
    assert after < 0.75 * before
