"""The multimodal commands: ``evaluate --modalities`` (each modality alone and both fusions
on the same folds, with the paired tests, through the leakage guard), and ``finetune
--modalities`` -> ``info`` -> ``predict --modalities`` on a recording's file (degrading to the
modalities the file has) -> ``export`` to ONNX."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ecgemotion.cli import main
from ecgemotion.evaluation.runner import EvaluationOptions, run_evaluation
from ecgemotion.evaluation.splits import LeakageError
from ecgemotion.evaluation.systems import System, modality_systems
from ecgemotion.training.loop import TrainConfig


def test_evaluate_compares_modalities_and_fusions_on_the_same_folds(mm_store, tmp_path, capsys):
    out = tmp_path / "e"
    assert modality_systems(["ecg", "eeg"]) == ("mm-ecg", "mm-eeg", "fusion-late", "fusion-early",
                                                "hrv-logreg")        # what --modalities runs
    code = main(["evaluate", "--store", str(mm_store.path), "--modalities", "ecg,eda",
                 "--systems", "mm-eda,fusion-late", "--task", "arousal", "--protocol", "subject", "--k", "2", "--max-folds", "1",
                 "--epochs", "1", "--n-boot", "50", "--out", str(out), "--json", "--quiet"])
    assert code == 0
    r = json.loads((out / "results.json").read_text())
    systems = ["mm-eda", "fusion-late"]
    assert r["config"]["systems"] == systems and r["config"]["modalities"] == ["ecg", "eda"]
    folds = {f["system"]: f for f in r["folds"]}
    assert set(folds) == {"majority", *systems}
    assert len({(f["n_test"], str(f["test_subjects"])) for f in folds.values()}) == 1   # same fold
    assert folds["fusion-late"]["modalities_used"] == {"ecg": 1.0, "eda": 1.0}
    pairs = {(p["a"], p["b"]) for p in r["paired_tests"]}
    assert ("fusion-late", "mm-eda") in pairs
    assert r["leakage_check"]["passed"]


def test_a_modality_the_store_lacks_is_named(mm_store, tmp_path, capsys):
    code = main(["evaluate", "--store", str(mm_store.path), "--modalities", "ecg,bvp",
                 "--task", "arousal", "--protocol", "subject", "--out", str(tmp_path / "x"), "--quiet"])
    err = capsys.readouterr().err
    assert code != 0 and "no bvp windows" in err and "ecg, eeg, eda" in err


class PeekingModality(System):
    """Cheats through a modality's windows instead of the ECG's."""

    name = "peek-eeg"

    def fit_predict(self, ctx, fold, fit_store, test_store, run_dir, seed):
        fit_store.modality_windows("eeg", fold.test[:1])
        return np.full(len(fold.test), 0.5), {}


def test_the_leakage_guard_sees_modality_windows(mm_store, tmp_path):
    options = EvaluationOptions(train_cfg=TrainConfig(epochs=1), k=2, max_folds=1, n_boot=20)
    with pytest.raises(LeakageError, match="served to training"):
        run_evaluation(mm_store, "arousal", "subject", [PeekingModality()], tmp_path, options)


def _trial_csv(store, path, keep=("ecg", "eeg", "eda")):
    """The store's first recording written as a CSV, its channels under their own names
    (``AF3``..., ``GSR``), at full precision; returns the store rows of that recording."""
    import pandas as pd

    from ecgemotion.sources import get_source

    source = get_source("amigos", store.path.parent.parent / "raw")
    rec = next(r for r in source.load(source.items()[0]) if hasattr(r, "signal"))
    columns = {"ECG": rec.signal} if "ecg" in keep else {}
    columns.update({c.name: c.signal for c in rec.channels if c.modality in keep and c.modality != "ecg"})
    pd.DataFrame(columns).to_csv(path, index=False, float_format="%.9g")
    ix = store.index
    return np.flatnonzero((ix["subject"] == rec.subject) & (ix["trial"].astype(str) == str(rec.trial)))


def test_finetune_info_predict_with_modalities(mm_store, tmp_path, capsys):
    import pandas as pd
    import torch

    from ecgemotion.models.multimodal import Packed, load_multimodal
    from ecgemotion.training.finetune import predict_proba

    out = tmp_path / "mm"
    assert main(["finetune", "--store", str(mm_store.path), "--modalities", "ecg,eeg,eda",
                 "--task", "arousal", "--epochs", "1", "--out", str(out), "--quiet"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["kind"] == "multimodal" and (out / "model.safetensors").is_file()
    layout = {m["modality"]: m for m in config["layout"]}
    assert list(layout) == ["ecg", "eeg", "eda"] and layout["eda"]["channels"] == ["GSR"]
    assert len(layout["eeg"]["channels"]) == 14 and layout["ecg"]["features"]
    assert config["extra"]["preprocess"]["modalities"] == ["ecg", "eeg", "eda"]

    capsys.readouterr()
    assert main(["info", "--model", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["modalities"] == ["ecg", "eeg", "eda"]

    # predict on the recording's own file = the saved model on the store's windows of it
    rows = _trial_csv(mm_store, tmp_path / "rec.csv")
    net = load_multimodal(out)
    expected = predict_proba(net, Packed(mm_store, net.config.layout).windows, rows)
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "rec.csv"), "--fs", "128", "--lead", "ECG",   # its own
                 "--model", str(out), "--out", str(tmp_path / "p.csv"), "--no-plot"]) == 0  # modalities
    assert "reading its modalities ecg,eeg,eda" in capsys.readouterr().out
    table = pd.read_csv(tmp_path / "p.csv")
    assert table["used_eeg"].all() and table["used_eda"].all()
    np.testing.assert_allclose(table["p_arousal"], expected, atol=1e-4)

    # the headset's GSR lost: the same model without it, said aloud
    _trial_csv(mm_store, tmp_path / "no-gsr.csv", keep=("ecg", "eeg"))
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "no-gsr.csv"), "--fs", "128", "--lead", "ECG",
                 "--modalities", "ecg,eeg,eda", "--model", str(out), "--out", str(tmp_path / "q.csv"),
                 "--no-plot"]) == 0
    assert "no eda channel found" in capsys.readouterr().err
    degraded = pd.read_csv(tmp_path / "q.csv")
    assert not degraded["used_eda"].any() and degraded["used_eeg"].all()
    x = Packed(mm_store, net.config.layout).windows(rows)
    x[:, -1] = 0                                            # eda flagged absent
    with torch.no_grad():
        want = torch.softmax(net(torch.from_numpy(x)[:, None])["logits"], 1)[:, 1].numpy()
    np.testing.assert_allclose(degraded["p_arousal"], want, atol=1e-4)
    assert not np.allclose(degraded["p_arousal"], table["p_arousal"], atol=1e-4)

    # ONNX: the same probabilities from ONNX Runtime, for the recording's windows too
    from ecgemotion.inference.engines import ort_session

    capsys.readouterr()
    assert main(["export", "--model", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["max_abs_diff"] < 1e-4
    packed = Packed(mm_store, net.config.layout).windows(rows)[:, None, :]
    onnx_p = ort_session(out / "model.onnx").run(["probabilities"], {"packed": packed})[0][:, 1]
    np.testing.assert_allclose(onnx_p, expected, atol=1e-5)


def test_physionet_style_edfs_labelled_by_a_manifest_go_through_prepare_and_evaluate(tmp_path, capsys):
    """EDF+ files with 19 10-20 EEG channels and an ECG, labelled by a manifest:
    ``prepare --modalities ecg,eeg`` stores their EEG, ``evaluate --modalities ecg,eeg`` uses it."""
    from ecgemotion.store import WindowStore
    from tests.fixtures.other_layouts import TEN_TWENTY, write_eeg_ecg_edf, write_manifest

    rows = []
    for s in range(4):
        for trial, arousal in (("calm", 2), ("tense", 8)):
            write_eeg_ecg_edf(tmp_path / f"s{s}-{trial}.edf", seconds=10.0, seed=10 * s + arousal)
            rows.append({"path": f"s{s}-{trial}.edf", "subject": f"s{s}", "trial": trial, "arousal": arousal})
    manifest = write_manifest(tmp_path, rows, extra=("arousal",))
    assert main(["prepare", "--dataset", "manifest", "--root", str(manifest), "--modalities", "ecg,eeg",
                 "--label-rule", "threshold:5", "--workers", "1", "--out", str(tmp_path / "s"), "--json"]) == 0
    store = WindowStore.open(json.loads(capsys.readouterr().out.strip().splitlines()[-1])["store"])
    assert store.channels("eeg") == [f"EEG {e}" for e in TEN_TWENTY] and len(store) == 8
    assert store.present("eeg", store.select(quality="all")).all()
    assert store.index.groupby("trial")["y_arousal"].unique().to_dict() == {"calm": [0], "tense": [1]}
    out = tmp_path / "e"
    assert main(["evaluate", "--store", str(store.path), "--modalities", "ecg,eeg", "--systems",
                 "fusion-late", "--task", "arousal", "--protocol", "subject", "--k", "2",
                 "--max-folds", "1", "--epochs", "1", "--n-boot", "20", "--out", str(out), "--quiet"]) == 0
    r = json.loads((out / "results.json").read_text())
    folds = {f["system"]: f for f in r["folds"]}
    assert r["config"]["modalities"] == ["ecg", "eeg"] and set(folds) == {"majority", "fusion-late"}
    assert folds["fusion-late"]["modalities_used"] == {"ecg": 1.0, "eeg": 1.0} and folds["fusion-late"]["n_test"] == 4
