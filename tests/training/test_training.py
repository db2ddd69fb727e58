"""Training loop: split, data order, a tiny pre-training run, exact resume, checkpoints."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from ecgemotion.errors import ConfigError, EcgEmotionError
from ecgemotion.models import create_model, from_pretrained
from ecgemotion.models.blocks import SelfAttention, set_dropout
from ecgemotion.store import WindowStore
from ecgemotion.training import (TrainConfig, epoch_batches, interpolate_masked, lr_at, pretrain,
                                 split_subjects, steps_per_epoch)
from ecgemotion.training.targets import RHYTHM_TARGETS, target_weights
from tests.training.helpers import TINY_MODEL


def test_split_subjects_deterministic_and_disjoint(tiny_store_path):
    index = WindowStore.open(tiny_store_path).index
    train, val = split_subjects(index, 0.34, seed=1)
    assert (train, val) == split_subjects(index, 0.34, seed=1)
    assert set(train).isdisjoint(val) and len(train) + len(val) == 6 and len(val) == 2
    assert split_subjects(index, 0.34, seed=2) != (train, val)


def test_epoch_batches_are_a_function_of_seed_and_epoch():
    a = epoch_batches(100, 8, seed=3, epoch=2)
    assert a.shape == (12, 8) and len(np.unique(a)) == 96
    assert np.array_equal(a, epoch_batches(100, 8, seed=3, epoch=2))
    assert not np.array_equal(a, epoch_batches(100, 8, seed=3, epoch=3))
    r0, r1 = (epoch_batches(100, 8, 3, 2, rank=r, world_size=2) for r in (0, 1))
    assert r0.shape == r1.shape == (steps_per_epoch(100, 8, 2), 8)
    assert set(r0.ravel()).isdisjoint(r1.ravel())


def test_lr_schedule():
    cfg = TrainConfig(epochs=1, lr=1e-3, warmup_fraction=0.1, min_lr_fraction=0.1)
    lrs = [lr_at(s, 100, cfg) for s in range(100)]
    assert lrs[0] == pytest.approx(1e-4) and max(lrs) == pytest.approx(1e-3)
    assert lrs[-1] == pytest.approx(1e-4, rel=0.05) and np.argmax(lrs) == 9


def test_interpolation_baseline():
    x = np.arange(10, dtype=float)[None] ** 1.0
    m = np.zeros((1, 10), bool)
    m[0, 3:6] = True
    assert np.allclose(interpolate_masked(x, m), x)  # a line is recovered exactly


def _run(store, out, **kw):
    model_kw = {**TINY_MODEL, **kw.pop("model", {})}
    cfg = TrainConfig(**{"epochs": 2, "batch_size": 16, "lr": 2e-3, "seed": 0,
                         "val_max_windows": 48, **kw})
    return pretrain(store, "fast", out, cfg, mask_span_s=0.25, val_fraction=0.34, **model_kw)


def test_pretrain_beats_zeros_and_writes_outputs(tiny_store_path, tmp_path):
    store = WindowStore.open(tiny_store_path)
    s = _run(store, tmp_path / "run", epochs=6, lr=3e-3)
    assert s["complete"] and s["steps"] == 6 * 6
    assert s["val_mse"] < s["val_mse_zeros"] and s["beats_zeros"]
    with open(tmp_path / "run" / "log.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 6 and {"epoch", "step", "train_loss", "val_loss", "lr", "windows_per_s",
                               "elapsed", "val_mse_zeros", "val_mse_interp"} <= set(rows[0])
    assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])
    assert (tmp_path / "run" / "plots" / "recon_epoch006.png").is_file()
    for d in ("best", "last"):
        assert {"model.safetensors", "config.json", "state.json"} <= {
            p.name for p in (tmp_path / "run" / d).iterdir()}
    model = from_pretrained(tmp_path / "run")  # resolves to best/
    assert model.config.window_len == 256 and model.config.fs == 64.0
    enc = from_pretrained(tmp_path / "run" / "best", encoder_only=True, n_classes=2)
    assert enc(torch.randn(2, 1, 256))["logits"].shape == (2, 2)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["best_val_loss"] <= s["val_mse"] + 1e-12


@pytest.mark.parametrize("mask_mode", ["input", "embedding"])
def test_resume_equals_uninterrupted(tiny_store_path, tmp_path, mask_mode):
    store = WindowStore.open(tiny_store_path)
    kw = dict(epochs=3, model={"mask_mode": mask_mode})
    full = _run(store, tmp_path / "full", **kw)
    part = _run(store, tmp_path / "cut", stop_after_steps=8, **kw)   # mid-epoch 2 (6 steps/epoch)
    assert part["steps"] == 8 and not part["complete"]
    with pytest.raises(EcgEmotionError, match="already holds a training run"):
        _run(store, tmp_path / "cut", **kw)
    resumed = _run(store, tmp_path / "cut", resume=True, **kw)
    assert resumed["steps"] == full["steps"] == 18
    assert resumed["resumed_from_step"] == 8 and full["resumed_from_step"] is None
    a = load_file(str(tmp_path / "full" / "last" / "model.safetensors"))
    b = load_file(str(tmp_path / "cut" / "last" / "model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    oa = load_file(str(tmp_path / "full" / "last" / "optimizer.safetensors"))
    ob = load_file(str(tmp_path / "cut" / "last" / "optimizer.safetensors"))
    assert all(torch.equal(oa[k], ob[k]) for k in oa)
    assert full["final_val"] == resumed["final_val"]
    with open(tmp_path / "cut" / "log.csv") as fh:
        assert [r["step"] for r in csv.DictReader(fh)] == ["6", "12", "18"]


def test_resume_starts_from_the_checkpoint_and_trains_only_the_rest(tiny_store_path, tmp_path,
                                                                    monkeypatch):
    """Bit-identical resume would also hold for a run that ignored the checkpoint and restarted
    at step 0 (training is a function of (seed, step)): so perturb one weight in the checkpoint,
    and count the steps trained after it."""
    import shutil

    from safetensors.torch import save_file

    from ecgemotion.training import loop

    store = WindowStore.open(tiny_store_path)
    _run(store, tmp_path / "a", epochs=3, stop_after_steps=8)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    weights_file = tmp_path / "b" / "last" / "model.safetensors"
    weights = load_file(str(weights_file))
    name = next(k for k, v in weights.items() if v.is_floating_point() and v.ndim == 2)
    weights[name][0, 0] += 0.5
    save_file(weights, str(weights_file))

    steps = []
    step = loop._train_step
    monkeypatch.setattr(loop, "_train_step", lambda *a, **k: steps.append(1) or step(*a, **k))
    a = _run(store, tmp_path / "a", epochs=3, resume=True)
    assert a["resumed_from_step"] == 8 and len(steps) == 18 - 8
    b = _run(store, tmp_path / "b", epochs=3, resume=True)
    final = [load_file(str(tmp_path / run / "last" / "model.safetensors"))[name] for run in "ab"]
    assert not torch.equal(*final), "the perturbed checkpoint did not change the result"
    assert a["final_val"] != b["final_val"]


def test_resume_without_checkpoint_is_an_error(tiny_store_path, tmp_path):
    with pytest.raises(EcgEmotionError, match="no checkpoint"):
        _run(WindowStore.open(tiny_store_path), tmp_path / "none", resume=True)


def test_pretrain_continues_from_saved_weights(tiny_store_path, tmp_path):
    """``init`` starts from the saved encoder: the first validation loss is the trained one's."""
    store = WindowStore.open(tiny_store_path)
    first = _run(store, tmp_path / "first", epochs=6, lr=3e-3)
    again = pretrain(store, "fast", tmp_path / "again", TrainConfig(epochs=1, batch_size=16, lr=1e-6),
                     val_fraction=0.34, mask_span_s=0.25, init=tmp_path / "first")
    fresh = _run(store, tmp_path / "fresh", epochs=1, lr=1e-6)
    assert again["val_mse"] < fresh["val_mse"]
    assert abs(again["val_mse"] - first["best_val_loss"]) < 0.05 * first["best_val_loss"]
    assert json.loads((tmp_path / "again" / "run.json").read_text())["init"] == str(tmp_path / "first")


def test_pretrain_init_adds_the_heads_a_new_objective_needs(tiny_store_path, tmp_path):
    """Continuing a masked-reconstruction checkpoint with ``paper+contrastive+physio`` loads the
    encoder it has and starts the heads it lacks fresh, saying so in run.json."""
    store = WindowStore.open(tiny_store_path)
    _run(store, tmp_path / "paper", epochs=1)
    summary = pretrain(store, "fast", tmp_path / "both", TrainConfig(epochs=1, batch_size=16, lr=1e-9),
                       val_fraction=0.34, init=tmp_path / "paper",
                       objective="paper+contrastive+physio",
                       objective_settings={"beat_share": 0.8, "temperature": 0.2}, dropout=0.0)
    info = json.loads((tmp_path / "both" / "run.json").read_text())
    assert info["fresh_heads"] == ["contrastive_head", "target_head"]
    assert info["objective_settings"]["beat_share"] == 0.8 and info["objective_settings"]["temperature"] == 0.2
    assert info["objective_settings"]["contrastive_weight"] == 0.2      # the rest: the objective's
    assert info["dropout"] == 0.0                                        # trained without dropout,
    saved = json.loads((tmp_path / "both" / "best" / "config.json").read_text())
    assert saved["dropout"] == 0.1                                       # the config keeps it for fine-tuning
    assert np.isfinite(summary["val_metrics"]["physio"]) and summary["val_metrics"]["physio"] > 0
    before = load_file(str(tmp_path / "paper" / "best" / "model.safetensors"))
    after = load_file(str(tmp_path / "both" / "last" / "model.safetensors"))
    assert all(torch.allclose(before[k], after[k], atol=1e-6) for k in before if k.startswith("encoder."))
    assert any(k.startswith("contrastive_head.") for k in after)


def test_a_time_budget_spent_before_any_validation_still_leaves_a_best_checkpoint(
        tiny_store_path, tmp_path):
    """A busy machine can spend a short --minutes budget inside the first epoch; the run must
    still validate and save best/ (the demo loads it next), not only last/."""
    store = WindowStore.open(tiny_store_path)
    _run(store, tmp_path / "run", stop_after_steps=2)            # 6 steps/epoch: no validation yet
    assert not (tmp_path / "run" / "best").exists()
    s = _run(store, tmp_path / "run", epochs=None, minutes=1e-4, resume=True)
    assert s["stopped"].startswith("time budget") and s["steps"] == 3
    assert s["best_step"] == 3 and (tmp_path / "run" / "best" / "model.safetensors").is_file()


def test_fit_returns_the_history_it_logs(tiny_store_path, tmp_path):
    """fit's summary carries the rows of log.csv, so no caller reads the file back."""
    s = _run(WindowStore.open(tiny_store_path), tmp_path / "run", epochs=2)
    with open(tmp_path / "run" / "log.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["step"]) for r in rows] == [h["step"] for h in s["history"]] == [6, 12]
    for r, h in zip(rows, s["history"]):
        assert float(r["val_loss"]) == pytest.approx(h["val_loss"], rel=1e-5)


def test_validate_start_keeps_the_starting_weights_when_no_epoch_beats_them(tiny_store_path,
                                                                             tmp_path):
    """The hybrid starts as a fitted feature model; when fine-tuning only makes held-out
    subjects worse, best/ must be the start ("epoch 0"), not the least bad epoch."""
    s = _run(WindowStore.open(tiny_store_path), tmp_path / "run", epochs=1, lr=50.0,
             validate_start=True)                            # a rate that wrecks the model
    assert [h["epoch"] for h in s["history"]] == [0, 1] and s["best_step"] == 0
    assert np.isnan(s["history"][0]["train_loss"])           # nothing trained yet: no number
    best = load_file(str(tmp_path / "run" / "best" / "model.safetensors"))
    last = load_file(str(tmp_path / "run" / "last" / "model.safetensors"))
    assert any(not torch.equal(best[k], last[k]) for k in best)


def test_objective_settings_are_checked_and_beat_share_weights_the_beat_block(tiny_store_path, tmp_path):
    store = WindowStore.open(tiny_store_path)
    with pytest.raises(ConfigError, match="objective setting temprature: expected one of .*temperature"):
        pretrain(store, "fast", tmp_path / "x", objective="paper+contrastive",
                 objective_settings={"temprature": 0.2})
    with pytest.raises(ConfigError, match="not 'paper'"):
        pretrain(store, "fast", tmp_path / "x", objective_settings={"beat_share": 0.8})
    k = len(RHYTHM_TARGETS)
    w = target_weights(k + 45, beat_share=0.8)
    assert w[k:].sum() == pytest.approx(0.8) and w[:k].sum() == pytest.approx(0.2)


def test_set_dropout_switches_off_every_dropout_including_attention():
    net = create_model("fast", window_len=256, fs=128.0, d_model=32, n_heads=4, n_layers=1, d_ff=64,
                       conv_channels=[8, 16, 32], conv_kernels=[7, 5, 3], dropout=0.5).train()
    x = torch.randn(4, 1, 256)
    assert not torch.equal(net.embed(x), net.embed(x))
    set_dropout(net, 0.0)
    assert torch.equal(net.embed(x), net.embed(x)) and net.config.dropout == 0.5
    assert all(m.dropout == 0 for m in net.modules() if isinstance(m, SelfAttention))
