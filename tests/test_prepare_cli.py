"""``ecgemotion prepare`` end to end on each dataset's fixture: windows, subjects, trials, labels."""

import json

import numpy as np
import pytest

from ecgemotion.cli import main
from ecgemotion.store import WindowStore
from tests.fixtures.emotion_layouts import write_amigos, write_ascertain, write_dreamer, write_pspm
from tests.fixtures.other_layouts import (TEN_TWENTY, write_case, write_csv, write_edf,
                                          write_eeg_ecg_edf, write_manifest,
                                          write_npy, write_wesad, write_wfdb)


def prepare(capsys, *argv):
    code = main(["prepare", "--json", "--workers", "1", *argv])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    return code, summary


def trials_of(store):
    return store.index[["subject", "trial"]].drop_duplicates()


def test_amigos_labelled_store(tmp_path, capsys):
    truth = write_amigos(tmp_path / "amigos", subjects=(1, 2, 8), seconds=20, couple_ratings=True)
    code, s = prepare(capsys, "--dataset", "amigos", "--root", str(tmp_path / "amigos"),
                      "--label-rule", "threshold:5", "--out", str(tmp_path / "stores"))
    assert code == 0 and s["ok"]
    store = WindowStore.open(s["store"])
    # P01, P02: 20 trials; P08: 16 (its long-video trials are empty) — two 10-s windows each.
    assert len(store) == (20 + 20 + 16) * 2
    assert sorted(store.index["subject"].unique()) == ["P01", "P02", "P08"]
    assert len(trials_of(store)) == 56
    assert s["skipped_count"] == 4 and all("empty" in k["reason"] for k in s["skipped"])
    assert store.meta["label_rule"] == "threshold:5"
    for (subject, trial), facts in truth.trials.items():
        if facts["empty"]:
            continue
        rows = store.index[(store.index.subject == subject) & (store.index.trial == trial)]
        assert (rows["label_arousal"] == facts["labels"]["arousal"]).all()
        assert (rows["y_arousal"] == float(facts["labels"]["arousal"] >= 5)).all()
    assert np.isfinite(store.windows(np.arange(len(store)))).all()


def test_amigos_median_rule_and_nan_labels_never_become_labels(tmp_path, capsys):
    write_amigos(tmp_path / "a", subjects=(1, 2), seconds=10, defects=("nan_labels",))
    code, s = prepare(capsys, "--dataset", "amigos", "--root", str(tmp_path / "a"),
                      "--label-rule", "median-per-subject", "--out", str(tmp_path / "s"))
    store = WindowStore.open(s["store"])
    nan_rows = store.index["label_arousal"].isna()
    assert nan_rows.sum() == 1 and store.index.loc[nan_rows, "y_arousal"].isna().all()
    assert store.index.loc[~nan_rows, "y_arousal"].notna().all()
    assert len(store.select(labelled="arousal")) == len(store) - 1


def test_dreamer_stimuli_and_baselines(tmp_path, capsys):
    truth = write_dreamer(tmp_path / "d", subjects=2, n_videos=3, seconds=20, baseline_seconds=10)
    code, s = prepare(capsys, "--dataset", "dreamer", "--root", str(truth.files["all"]),
                      "--label-rule", "threshold:3", "--out", str(tmp_path / "s"))
    store = WindowStore.open(s["store"])
    idx = store.index
    assert (idx["part"] == "stimulus").sum() == 2 * 3 * 2 and (idx["part"] == "baseline").sum() == 2 * 3
    assert idx.loc[idx.part == "baseline", "y_arousal"].isna().all()
    assert idx.loc[idx.part == "stimulus", "y_arousal"].notna().all()


def test_ascertain_and_pspm_combined_into_one_store(tmp_path, capsys):
    write_ascertain(tmp_path / "asc", subjects=(1, 12), n_clips=2, seconds=20)
    write_pspm(tmp_path / "pspm", subjects=(1, 2), seconds=30)
    code, s = prepare(capsys, "--dataset", "ascertain,pspm",
                      "--root", f"{tmp_path / 'asc'},{tmp_path / 'pspm'}", "--out", str(tmp_path / "s"))
    store = WindowStore.open(s["store"])
    counts = store.index["dataset"].value_counts().to_dict()
    assert counts == {"ascertain": 2 * 2 * 2, "pspm": 2 * 3}


def test_wesad_condition_windows(tmp_path, capsys):
    write_wesad(tmp_path / "w", subjects=("S2",))
    code, s = prepare(capsys, "--dataset", "wesad", "--root", str(tmp_path / "w"),
                      "--window", "2", "--out", str(tmp_path / "s"))
    store = WindowStore.open(s["store"])
    # The fixture's protocol is 29 s long: 14 two-second windows, those straddling a
    # condition change are dropped (mixed) unless ≥ 90 % pure.
    assert s["dropped"].get("mixed_label", 0) > 0
    assert len(store) + s["dropped"]["mixed_label"] == 14
    assert set(store.index["label_condition"].unique()) <= {0, 1, 2, 3, 4, 6, 7}


def test_case_videos(tmp_path, capsys):
    write_case(tmp_path / "c", subjects=(1,))
    code, s = prepare(capsys, "--dataset", "case", "--root", str(tmp_path / "c"), "--window", "2",
                      "--label-rule", "threshold:5", "--out", str(tmp_path / "s"))
    store = WindowStore.open(s["store"])
    assert sorted(store.index["trial"].unique()) == ["video1", "video3", "video5", "video7"]
    assert store.index.loc[store.index.trial == "video7", "y_arousal"].isna().all()  # unannotated


def test_manifest_over_every_generic_format(tmp_path, capsys):
    data = tmp_path / "study"
    data.mkdir()
    write_npy(data / "a.npy", seconds=20, fs=250)
    write_csv(data / "b.csv", seconds=20, fs=250)
    write_edf(data / "c.edf", seconds=20, fs=256)
    write_wfdb(data, "d", seconds=20, fs=360)
    manifest = write_manifest(data, [
        {"path": "a.npy", "fs": 250, "subject": "u1", "trial": "t1", "arousal": 7, "valence": 2},
        {"path": "b.csv", "subject": "u1", "trial": "t2", "lead": "ECG", "arousal": 3, "valence": 8},
        {"path": "c.edf", "subject": "u2", "trial": "t1", "lead": "ECG I", "arousal": 6, "valence": 6},
        {"path": "d.hea", "subject": "u2", "trial": "t2", "lead": "MLII", "arousal": 2, "valence": 1},
    ])
    code, s = prepare(capsys, "--dataset", "manifest", "--root", str(manifest),
                      "--label-rule", "threshold:5", "--out", str(tmp_path / "s"))
    assert code == 0 and s["skipped_count"] == 0
    store = WindowStore.open(s["store"])
    assert len(store) == 8
    per_trial = store.index.groupby(["subject", "trial"])["y_arousal"].first().to_dict()
    assert per_trial == {("u1", "t1"): 1.0, ("u1", "t2"): 0.0, ("u2", "t1"): 1.0, ("u2", "t2"): 0.0}


def test_edf_eeg_channels_come_along_time_aligned_only_when_asked(tmp_path, capsys):
    """A PhysioNet-style EDF (10-20 EEG + resp + ECG): ``--modalities ecg,eeg`` stores the 19
    EEG channels cut at the ECG windows' times; the ECG-only read ignores them."""
    from ecgemotion.io.readers import read_signal

    written = write_eeg_ecg_edf(tmp_path / "psg.edf")
    code, s = prepare(capsys, "--dataset", "edf", "--root", str(tmp_path / "psg.edf"),
                      "--modalities", "ecg,eeg", "--out", str(tmp_path / "s"))
    code_ecg, s_ecg = prepare(capsys, "--dataset", "edf", "--root", str(tmp_path / "psg.edf"),
                              "--out", str(tmp_path / "s"))
    assert code == code_ecg == 0
    store, ecg_only = WindowStore.open(s["store"]), WindowStore.open(s_ecg["store"])
    assert store.modalities == ["ecg", "eeg"] and store.channels("eeg") == [f"EEG {e}" for e in TEN_TWENTY]
    rows = store.select()
    assert len(rows) == 3 and store.present("eeg", rows).all()
    np.testing.assert_array_equal(store.windows(rows), ecg_only.windows(rows))
    eeg = store.modality_windows("eeg", rows)                        # (3, 19, 10 s at 128 Hz)
    raw = np.stack([written[f"EEG {e}"] for e in TEN_TWENTY])
    referenced = raw - raw.mean(axis=0)                              # the default average reference
    ecg_windows, inner = store.windows(rows), slice(128, -128)    # 1 s off each end: filter edges
    for i, start in enumerate(store.index.loc[rows, "start_s"]):
        at = int(round(start * 256)) + np.arange(0, 2560, 2)          # the same 10 s, at 128 Hz
        for k in range(len(TEN_TWENTY)):   # > 0.999 here; one 256-Hz sample off gives 0.90
            assert np.corrcoef(eeg[i, k, inner], referenced[k, at][inner])[0, 1] > 0.99
        assert np.corrcoef(ecg_windows[i, inner], written["ECG ECG"][at][inner])[0, 1] > 0.94
    assert read_signal(tmp_path / "psg.edf").channels == []           # ECG-only: nothing else read


def test_toml_dataset_list(tmp_path, capsys):
    write_npy(tmp_path / "x.npy", seconds=30, fs=250)
    (tmp_path / "sets.toml").write_text(
        'label_rule = "threshold:5"\n[preprocess]\nfs = 100\n'
        '[[dataset]]\nname = "npy"\nroot = "x.npy"\nfs = 250\n')
    code, s = prepare(capsys, "--config", str(tmp_path / "sets.toml"), "--out", str(tmp_path / "s"))
    store = WindowStore.open(s["store"])
    assert store.fs == 100 and store.window_len == 1000 and len(store) == 3


def test_nothing_usable_exits_nonzero_with_reasons(tmp_path, capsys):
    np.save(tmp_path / "short.npy", np.zeros(100))
    code, s = prepare(capsys, "--dataset", "npy", "--root", str(tmp_path), "--fs", "250",
                      "--out", str(tmp_path / "s"))
    assert code == 1 and s["windows"] == 0 and "shorter than one" in s["skipped"][0]["reason"]


@pytest.mark.parametrize("argv,message", [
    (["--dataset", "amigos"], "needs --root"),
    (["--dataset", "amigos", "--root", "/nonexistent/x"], "does not exist"),
    (["--dataset", "npy,csv", "--root", "a"], "one root per dataset"),
    (["--dataset", "npy", "--root", ".", "--label-rule", "threshold:high"], "label rule"),
])
def test_bad_arguments_give_one_line_errors(argv, message, capsys):
    assert main(["prepare", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
