"""Multimodal masked pre-training (``pretrain --modalities``) and a fusion model started from
it (``finetune --modalities --init RUN``), on the multimodal AMIGOS-layout store."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ecgemotion.cli import main
from ecgemotion.errors import ConfigError
from ecgemotion.evaluation.runner import EvaluationOptions, run_evaluation
from ecgemotion.evaluation.systems import SystemSpec, build_systems, modality_systems
from ecgemotion.models.hub import read_weights
from ecgemotion.training.finetune import build_model
from ecgemotion.training.loop import TrainConfig
from ecgemotion.models.multimodal import (MultimodalConfig, MultimodalReconstructor, Packed,
                                          build_multimodal, load_pretrained_encoders,
                                          pretrained_width, signal_layout)
from ecgemotion.training.pretrain import MultimodalMaskedReconstruction

MODALITIES = "ecg,eeg,eda"


@pytest.fixture(scope="module")
def pretrained(mm_store, tmp_path_factory):
    """A 3-epoch multimodal pre-training run (tiny width) and what the command printed."""
    out = tmp_path_factory.mktemp("mm-pretrain") / "run"
    code = main(["pretrain", "--store", str(mm_store.path), "--modalities", MODALITIES,
                 "--epochs", "3", "--batch-size", "8", "--lr", "3e-3", "--set", "d_model=16",
                 "--threads", "1", "--out", str(out), "--quiet", "--json"])
    assert code == 0
    return out


def test_pretraining_lowers_the_masked_loss_and_saves_the_encoders(pretrained):
    history = [line.split(",") for line in (pretrained / "log.csv").read_text().splitlines()]
    col = {name: i for i, name in enumerate(history[0])}
    val = [float(r[col["val_loss"]]) for r in history[1:]]
    # the decoders start at predicting 0, a relative MSE of exactly 1 in every modality
    assert val[-1] < val[0] < 1.0
    assert float(history[-1][col["val_mse_eda"]]) < float(history[-1][col["val_zeros_eda"]])
    config = json.loads((pretrained / "best" / "config.json").read_text())
    assert config["kind"] == "multimodal-pretrain"
    assert [m["modality"] for m in config["layout"]] == ["eeg", "eda"]   # the ECG enters as HRV
    assert len(config["layout"][0]["channels"]) == 14


def test_info_describes_the_run_and_ecg_commands_refuse_it(mm_store, pretrained, capsys):
    assert main(["info", "--model", str(pretrained), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["kind"] == "multimodal-pretrain" and info["modalities"] == ["eeg", "eda"]
    with pytest.raises(ConfigError, match="a multimodal model .* use it with --modalities"):
        build_model(str(pretrained), mm_store)
    recording = pretrained.parent / "rec.csv"
    recording.write_text("ECG\n" + "\n".join(["0.0"] * 2560) + "\n")
    assert main(["predict", str(recording), "--fs", "128", "--model", str(pretrained)]) == 2
    err = capsys.readouterr().err
    assert "multimodal pre-training run" in err and "--modalities MODALITIES --init" in err


def test_finetune_init_starts_the_fusion_encoders_from_the_run(mm_store, pretrained, tmp_path, capsys):
    net = build_multimodal(mm_store, ["ecg", "eeg", "eda"], "late", d_model=pretrained_width(pretrained))
    fresh = {k: v.clone() for k, v in net.state_dict().items()}
    assert load_pretrained_encoders(net, pretrained) == ["eeg", "eda"]
    saved = read_weights(pretrained / "best" / "model.safetensors")
    mine = net.state_dict()
    loaded = [k for k in mine if k.startswith(("encoders.eeg.", "encoders.eda.", "names."))]
    assert len(loaded) > 10 and all(torch.equal(mine[k], saved[k]) for k in loaded)
    assert not torch.equal(fresh["encoders.eeg.conv.1.weight"], saved["encoders.eeg.conv.1.weight"])
    assert torch.equal(mine["heads.eeg.1.net.0.weight"], fresh["heads.eeg.1.net.0.weight"])  # fresh

    out = tmp_path / "mm"
    code = main(["finetune", "--store", str(mm_store.path), "--modalities", MODALITIES,
                 "--init", str(pretrained), "--task", "arousal", "--epochs", "1", "--threads", "1",
                 "--out", str(out)])
    said = capsys.readouterr().out
    assert code == 0 and "eeg, eda encoder(s) and the channel-name embedding start from" in said
    assert json.loads((out / "config.json").read_text())["extra"]["init"] == str(pretrained)
    with pytest.raises(ConfigError, match="expected a multimodal pre-training run"):
        load_pretrained_encoders(net, out)                  # a fine-tuned model is not a run


def test_a_window_without_eeg_adds_no_eeg_loss(mm_store):
    torch.manual_seed(0)
    layout = signal_layout(mm_store, ["ecg", "eeg", "eda"])
    net = MultimodalReconstructor(MultimodalConfig(layout=layout, d_model=16)).train()
    task = MultimodalMaskedReconstruction(layout)
    x = torch.from_numpy(Packed(mm_store, layout).windows(np.arange(6)))[:, None]
    masks = task.masks(6, torch.Generator().manual_seed(0))
    alone = task.errors(net, x[1:], {m: v[1:] for m, v in masks.items()})

    x[0, 0, -2] = 0.0                                           # window 0: EEG flagged absent ...
    x[0, 0, :14 * 1280] = float("nan")                          # ... and garbage where it was
    with_it = task.errors(net, x, masks)
    for a, b in zip(with_it["eeg"], alone["eeg"]):              # its EEG counts for nothing
        torch.testing.assert_close(a, b)
    assert with_it["eda"][2] > alone["eda"][2]                  # its EDA still counts
    assert torch.isfinite(task.mean_loss(with_it))

    x[:, 0, -2] = 0.0                                           # no window has EEG: left out
    assert set(task.errors(net, x, masks)) == {"eda"}


def test_evaluate_compares_pretrained_and_scratch_on_the_same_folds(mm_store, pretrained, tmp_path):
    assert modality_systems(["ecg", "eeg", "eda"], pretrained=True)[-4:] == (
        "mm-eeg-pretrained", "mm-eda-pretrained", "fusion-late-pretrained", "hrv-logreg")
    systems, _ = build_systems(SystemSpec("mm-eda,mm-eda-pretrained", init=str(pretrained),
                                          modalities=("ecg", "eda")))
    r = run_evaluation(mm_store, "arousal", "subject", systems, tmp_path,
                       EvaluationOptions(train_cfg=TrainConfig(epochs=1), k=2, max_folds=1, n_boot=20))
    assert r["systems"]["mm-eda-pretrained"]["init"] == str(pretrained)
    assert r["systems"]["mm-eda"]["init"] == "scratch"
    assert ("mm-eda-pretrained", "mm-eda") in {(p["a"], p["b"]) for p in r["paired_tests"]}
    assert r["leakage_check"]["passed"]
    with pytest.raises(ConfigError, match="give --init RUN"):
        build_systems(SystemSpec("fusion-late-pretrained", init="scratch", modalities=("ecg", "eda")))
