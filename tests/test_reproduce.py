"""``ecgemotion reproduce --quick`` end to end on an AMIGOS-layout fixture (+ DREAMER for
pre-training): stores, pre-training of both models, evaluations, table.md."""

from __future__ import annotations

import json

from ecgemotion.cli import main
from tests.fixtures.emotion_layouts import write_amigos, write_dreamer


def test_reproduce_quick(tmp_path, capsys):
    write_amigos(tmp_path / "amigos", subjects=range(1, 7), seconds=20, couple_ratings=True,
                 empty_long=())
    dreamer = write_dreamer(tmp_path / "dreamer", subjects=2, n_videos=2, seconds=20,
                            baseline_seconds=10)
    out = tmp_path / "repro"
    code = main(["reproduce", "--amigos", str(tmp_path / "amigos"),
                 "--amigos-option", "skip_subjects=none",
                 "--pretrain", f"dreamer={dreamer.files['all']}", "--no-open-ecg", "--quick",
                 "--systems", "transformer,cnn,hrv-logreg", "--max-folds", "1", "--epochs", "1",
                 "--n-boot", "50", "--workers", "1", "--out", str(out), "--json", "--quiet"])
    s = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and s["ok"], s
    assert s["pretrain_windows"] > s["amigos_windows"]      # AMIGOS + DREAMER, unlabelled
    assert set(s["evaluations"]) == {"arousal/paper", "arousal/subject", "valence/paper",
                                     "valence/subject"}
    table = (out / "table.md").read_text()
    assert "0.88 [known]" in table and "0.85 [known]" in table and "0.83 [likely]" in table
    assert "paper-comparable" in table and "honest" in table and "--quick run" in table
    for name in ("arousal-paper", "valence-subject"):
        r = json.loads((out / "eval" / name / "results.json").read_text())
        assert r["label_rule"] == "threshold:5"
        assert r["systems"]["transformer"]["pretrained"] is True
        assert r["systems"]["cnn"]["pretrained"] is True
        assert r["config"]["pretraining_includes_test_subjects"] is True
    paper = json.loads((out / "eval" / "arousal-paper" / "results.json").read_text())
    assert paper["protocol"]["window_mixed"] and "WINDOW-MIXED" in paper["protocol"]["warning"]


def test_reproduce_excludes_test_subjects_from_pretraining(tmp_path, capsys):
    write_amigos(tmp_path / "amigos", subjects=range(1, 5), seconds=20, couple_ratings=True,
                 empty_long=())
    out = tmp_path / "repro"
    code = main(["reproduce", "--amigos", str(tmp_path / "amigos"),
                 "--amigos-option", "skip_subjects=none", "--no-open-ecg", "--quick",
                 "--tasks", "arousal", "--protocols", "subject", "--k", "2",
                 "--systems", "transformer,hrv-logreg", "--epochs", "1", "--n-boot", "50",
                 "--workers", "1", "--exclude-test-subjects-from-pretraining",
                 "--out", str(out), "--json", "--quiet"])
    s = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and s["ok"], s
    per_fold = s["pretraining"]["per_fold"]
    assert len(per_fold) == 2                                   # one pre-training per fold
    r = json.loads((out / "eval" / "arousal-subject" / "results.json").read_text())
    assert r["config"]["pretraining_includes_test_subjects"] is False
    for fold in [f for f in r["folds"] if f["system"] == "transformer"]:
        excluded = next(p["excluded"] for p in per_fold
                        if set(p["excluded"]) == set(fold["test_subjects"]))
        # the fold's pre-training never saw its test subjects
        run = json.loads((out / "pretrain-folds").joinpath(
            f"fold{per_fold.index(next(p for p in per_fold if p['excluded'] == excluded)):02d}",
            "transformer", "run.json").read_text())
        assert not set(run["val_subjects"]) & set(excluded)
        assert run["subjects"]["train"] + run["subjects"]["val"] == 4 - len(excluded)
    assert "excluded from pre-training" in (out / "table.md").read_text()
