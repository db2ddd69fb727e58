"""``ecgemotion evaluate``: every protocol runs, results.json records what it must, and an
instrumented store proves that no test window reaches training or model selection."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from ecgemotion.cli import main
from ecgemotion.evaluation.runner import EvaluationOptions, evaluate, run_evaluation
from ecgemotion.evaluation.splits import LeakageError
from ecgemotion.evaluation.systems import NeuralSystem, System, SystemSpec, build_systems
from ecgemotion.training.loop import TrainConfig

TINY = ("d_model=32,n_heads=4,n_layers=1,d_ff=64,conv_channels=[8,16,32],conv_kernels=[15,9,5],"
        "conv_strides=[4,4,4],classifier_hidden=32,dropout=0,conv_norm=batch")


def _cli(capsys, *argv):
    code = main([*argv, "--json", "--quiet"])
    out = capsys.readouterr().out.strip().splitlines()
    return code, json.loads(out[-1])


@pytest.mark.parametrize("protocol", ["paper", "subject", "loso", "trial"])
def test_every_protocol_writes_results(amigos_store, tmp_path, capsys, protocol):
    out = tmp_path / protocol
    code, s = _cli(capsys, "evaluate", "--store", str(amigos_store.path), "--init", "scratch",
                   "--task", "arousal",
                   "--protocol", protocol, "--k", "3", "--max-folds", "2", "--epochs", "1",
                   "--systems", "transformer,hrv-logreg", "--model-overrides", TINY,
                   "--n-boot", "100", "--seed", "3", "--out", str(out))
    assert code == 0 and s["ok"]
    r = json.loads((out / "results.json").read_text())
    assert r["label_rule"] == "threshold:5"
    assert r["seed"] == 3 and r["config"]["train"]["seed"] == 3
    assert r["config"]["train"]["epochs"] == 1 and r["config"]["model_overrides"]["d_model"] == 32
    assert r["protocol"]["protocol"] == protocol
    assert r["protocol"]["subject_dependent"] == (protocol in ("paper", "trial"))
    assert r["protocol"]["window_mixed"] == (protocol == "paper")
    assert r["ecgemotion_version"]
    assert {f["system"] for f in r["folds"]} == {"majority", "transformer", "hrv-logreg"}
    assert len([f for f in r["folds"] if f["system"] == "transformer"]) == 2
    ci = r["bootstrap_ci"]["transformer"]["accuracy"]
    assert ci["low"] <= ci["point"] <= ci["high"]
    assert ci["unit"] == ("window" if protocol == "paper" else "cluster")
    assert r["per_subject"]["transformer"] and r["trial_level"]["transformer"]["accuracy"]["n"] == 2
    assert any(t["a"] == "transformer" and t["b"] == "hrv-logreg" for t in r["paired_tests"])
    assert r["leakage_check"]["passed"]
    report = (out / "report.md").read_text()
    for plot in ("confusion", "roc", "per_subject", "training_curves"):
        assert (out / r["plots"][plot]).is_file() and r["plots"][plot] in report
    # the same report as one self-contained page (the demo's writer): ROC, paired tests, CIs
    page = (out / "report.html").read_text()
    assert not re.search(r'(src|href)="(?!data:)', page)
    assert page.count('src="data:image/png;base64,') == 4 and 'alt="arousal: ROC' in page
    assert "Paired comparisons" in page and "<table>" in page
    auroc = r["bootstrap_ci"]["transformer"]["auroc"]      # one AUROC: the table's is the ROC's
    assert f"{auroc['point']:.3f} [{auroc['low']:.3f}, {auroc['high']:.3f}]" in report
    if protocol in ("subject", "loso"):                   # ... and it is the folds' mean
        folds = [f for f in r["folds"] if f["system"] == "transformer"]
        assert abs(auroc["point"] - np.average([f["auroc"] for f in folds], weights=[
            len(f["test_subjects"]) for f in folds])) < 1e-9
    if protocol == "paper":  # visibly marked in every output
        assert "SUBJECT-DEPENDENT, WINDOW-MIXED" in report
        assert "SUBJECT-DEPENDENT, WINDOW-MIXED" in r["protocol"]["warning"]


class RecordingStore:
    """Wraps a store; records every window row served, by the phase the runner announces."""

    def __init__(self, store):
        self._store = store
        self.phase = None
        self.log: dict[tuple, list[np.ndarray]] = {}

    def tracer(self, event, fold, system):
        self.phase = None if event == "done" else (fold.name, system, event)

    def windows(self, rows):
        rows = np.asarray(rows).reshape(-1)
        assert self.phase is not None, "window read outside a fit/predict phase"
        self.log.setdefault(self.phase, []).append(rows.copy())
        return self._store.windows(rows)

    def __len__(self):
        return len(self._store)

    def __getattr__(self, name):
        return getattr(self._store, name)


@pytest.mark.parametrize("protocol", ["subject", "paper"])
def test_no_test_window_reaches_training_or_selection(amigos_store, tmp_path, protocol):
    """Instrumented: every row read while training/selecting is outside that fold's test set,
    and prediction reads exactly the test rows, once per system."""
    spy = RecordingStore(amigos_store)
    folds = {}
    orig = spy.tracer

    def tracer(event, fold, system):
        folds[fold.name] = fold
        orig(event, fold, system)

    spec = SystemSpec("transformer,sarkar,hrv-logreg", init="scratch",
                      overrides=dict(d_model=16, n_heads=2, n_layers=1, d_ff=32,
                                     conv_channels=[4, 8, 16], conv_kernels=[7, 5, 3],
                                     conv_strides=[4, 4, 4], classifier_hidden=8),
                      sarkar_overrides=dict(conv_channels=[4, 8, 8], classifier_hidden=8))
    options = EvaluationOptions(train_cfg=TrainConfig(epochs=1, batch_size=32),
                                ssl_cfg=TrainConfig(epochs=1, batch_size=4, stop_after_steps=2),
                                k=3, max_folds=2, n_boot=50, tracer=tracer)
    res = evaluate(spy, "arousal", protocol, spec, tmp_path / "e", options)
    assert len(folds) == 2
    for (fold_name, system, phase), parts in spy.log.items():
        fold = folds[fold_name]
        rows = np.concatenate(parts)
        if phase == "fit":
            assert not np.intersect1d(rows, fold.test).size, (system, fold_name)
            assert np.isin(rows, np.concatenate([fold.train, fold.val])).all()
        else:
            assert np.isin(rows, fold.test).all()
    for fold in folds.values():
        for system in ("transformer", "sarkar"):
            fit = np.concatenate(spy.log[(fold.name, system, "fit")])
            assert np.isin(fold.val, fit).all()      # validation windows were used (selection)
            pred = np.concatenate(spy.log[(fold.name, system, "predict")])
            assert np.array_equal(np.sort(pred), np.sort(fold.test))  # test touched exactly once
    assert res["leakage_check"]["passed"]


class PeekingSystem(System):
    """A cheating system: looks at one test window while training."""

    name = "peek"

    def fit_predict(self, ctx, fold, fit_store, test_store, run_dir, seed):
        fit_store.windows(fold.test[:1])
        return np.full(len(fold.test), 0.5), {}


def test_runner_refuses_a_system_that_peeks_at_test(amigos_store, tmp_path):
    options = EvaluationOptions(train_cfg=TrainConfig(epochs=1), k=3, max_folds=1, n_boot=20)
    with pytest.raises(LeakageError, match="served to training"):
        run_evaluation(amigos_store, "arousal", "subject", [PeekingSystem()], tmp_path, options)


def test_scratch_and_cnn_notes():
    systems, notes = build_systems(SystemSpec("transformer,scratch,cnn", init="scratch"))
    assert [s.name for s in systems] == ["transformer", "cnn"]
    assert any("scratch" in n for n in notes) and any("--init-cnn" in n for n in notes)
    assert isinstance(systems[0], NeuralSystem) and not systems[0].pretrained


def test_a_saved_command_runs_again_as_it_was(amigos_store, tmp_path, capsys):
    """Every evaluate leaves OUT/command.toml; --config on it gives the same results, a flag
    on the command line wins over the file, and a misspelt key is named."""
    first, again = tmp_path / "first", tmp_path / "again"
    code, _ = _cli(capsys, "evaluate", "--store", str(amigos_store.path), "--init", "scratch",
                   "--task", "arousal", "--protocol", "subject", "--k", "3", "--max-folds", "1",
                   "--systems", "hrv-logreg", "--n-boot", "20", "--seed", "4",
                   "--set", "cnn.d_model=8", "--out", str(first))
    assert code == 0
    code, _ = _cli(capsys, "evaluate", "--config", str(first / "command.toml"),
                   "--out", str(again))
    assert code == 0
    a, b = (json.loads((d / "results.json").read_text()) for d in (first, again))
    assert a["bootstrap_ci"] == b["bootstrap_ci"] and b["seed"] == 4
    assert 'set = ["cnn.d_model=8"]' in (again / "command.toml").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(f'store = "{amigos_store.path}"\nbatch_sise = 3\n')
    assert main(["evaluate", "--config", str(bad)]) == 2
    assert "bad.toml: no option 'batch_sise' in 'ecgemotion evaluate'" in capsys.readouterr().err
