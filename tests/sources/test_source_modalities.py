"""Every emotion source brings all of its modalities: ``prepare --modalities`` stores them
under their channel names, each window cut at its ECG window's time (the fixtures write every
channel as a function of time, tests/fixtures/__init__.py: tones)."""

import warnings

import numpy as np
import pytest

from ecgemotion.preprocess import PreprocessConfig
from ecgemotion.recording import EMOTIV_EEG
from ecgemotion.sources import get_source
from ecgemotion.store import build_store
from tests.fixtures import assert_windows_follow, load_all, tones
from tests.fixtures.emotion_layouts import ASCERTAIN_OTHERS, write_ascertain, write_dreamer, write_pspm
from tests.fixtures.other_layouts import CASE_OTHERS, write_case, write_wesad


# sha256 of the ECG-only window shard and index.csv that the code before these sources
# emitted other modalities (commit c7e2bbd) built from each test's fixture: not a byte moves.
ECG_ONLY = {
    "dreamer": ("0ad7a0c159c03d7a59ab35b10b85d74a318068f1bec085333140739fb2b001d0",
                "4959cfc1f69b60a5b4ef4f231b4fd95dc540a148dc0a277da03ccf1e50377c87"),
    "wesad": ("4f00650847f03ec522414502a3141731d2b5d335ac08b5a8684bddbc0d40925d",
              "b5e57fa83f1c50627388b161801d1a0ad843786cabd51ffd41fb82825ea0377f"),
    "case": ("cb1b2225159a17ca0bcb27e37ccb17124022f5cac03f1282700c22de333a2b0b",
             "145d5941b241d02532a6b0c12c28561fdf7d62911b768f29fbdd2430d27d53cb"),
    "ascertain": ("2642d26d3d7ed61d01dce1bc04c85ea7925c25c2c10efa0cb6bbf9591ff38f0f",
                  "11f037ef0946c0791a4ff25387a9bd14b79905b7eb49ecda4dd636977b298a45"),
    "pspm": ("82ed863fd973b7462c52fba882df1d41493d24f33c00fc05a0f9672f357fa0a3",
             "a4acb1ada91b20ac6c8ffec4056e29ea537cdc3757efeea6f2f9accacf9cd1a8"),
}


def prepare(name, root, modalities, **options):
    """The store of ``name`` at ``root`` with ``modalities``; its ECG-only twin is as before."""
    config = PreprocessConfig(modalities=("ecg", *modalities))
    store = build_store([get_source(name, root, **options)], config, out_dir=root / "s", workers=1)[0]
    ecg_only = build_store([get_source(name, root, **options)], PreprocessConfig(), out_dir=root / "s",
                           workers=1)[0]
    assert (ecg_only.meta["shards"][0]["sha256"], ecg_only.meta["index_sha256"]) == ECG_ONLY[name]
    rows = store.select(quality="all")
    np.testing.assert_array_equal(store.windows(rows), ecg_only.windows(rows))   # ECG untouched
    return store


def read(name, root, modalities=(), **options):
    source = get_source(name, root, **options)
    source.extra_modalities = tuple(modalities)
    return load_all(source)[0]


def layout(recording):
    return [(c.modality, c.name, c.fs) for c in recording.channels]


def test_dreamer_brings_its_14_eeg_channels_and_other_ecg_lead(tmp_path):
    truth = write_dreamer(tmp_path, subjects=1, n_videos=1, seconds=20.0, baseline_seconds=10.0)
    assert layout(read("dreamer", tmp_path)[0]) == \
        [("eeg", e, 128.0) for e in EMOTIV_EEG] + [("ecg", "ECG 1", 256.0)]
    store = prepare("dreamer", tmp_path, ["eeg"])
    assert store.channels("eeg") == list(EMOTIV_EEG) and len(store) == 3

    def written(row, t):                       # each clip's EEG has times of its own (t0)
        t0 = truth.trials[tuple(store.index.loc[row, ["subject", "trial"]])]["t0"]
        return np.stack([tones("eeg", e, t0 + t) for e in EMOTIV_EEG])
    assert_windows_follow(store, "eeg", written)


WESAD_CHANNELS = [("acc", "chest ACC x", 700.0), ("acc", "chest ACC y", 700.0), ("acc", "chest ACC z", 700.0),
                  ("emg", "chest EMG", 700.0), ("eda", "chest EDA", 700.0), ("temp", "chest Temp", 700.0),
                  ("resp", "chest Resp", 700.0), ("acc", "wrist ACC x", 32.0), ("acc", "wrist ACC y", 32.0),
                  ("acc", "wrist ACC z", 32.0), ("bvp", "wrist BVP", 64.0), ("eda", "wrist EDA", 4.0),
                  ("temp", "wrist TEMP", 4.0)]


def test_wesad_brings_every_chest_and_wrist_signal(tmp_path):
    # baseline from 3 s to 15 s, stress from 15 s to 26 s: the conditions' stretches are cut
    # from every signal at its own rate
    write_wesad(tmp_path, subjects=("S2",), protocol=((0, 3), (1, 12), (2, 11)))
    assert layout(read("wesad", tmp_path)[0]) == WESAD_CHANNELS
    modalities = ["eda", "bvp", "resp", "emg", "temp", "acc"]
    store = prepare("wesad", tmp_path, modalities, conditions="1,2")
    assert store.channels("eda") == ["chest EDA", "wrist EDA"] and len(store) == 2
    offset = {"baseline": 3.0, "stress": 15.0}
    for m in modalities:
        assert store.channels(m) == [name for modality, name, _fs in WESAD_CHANNELS if modality == m]
        assert_windows_follow(store, m, lambda row, t: np.stack([
            tones(m, f"S2 {name}", offset[store.index.loc[row, "trial"]] + t) for name in store.channels(m)]))


def test_case_brings_bvp_gsr_respiration_temperature_and_emg_when_asked(tmp_path):
    write_case(tmp_path, subjects=(1,), fs=250.0, sequence=((10, 1.0), (3, 12.0), (11, 1.0)))
    modalities = ["bvp", "eda", "resp", "temp", "emg"]
    assert read("case", tmp_path)[0].channels == []          # an ECG-only read takes no other column
    assert layout(read("case", tmp_path, modalities)[0]) == \
        [(modality, name, 250.0) for name, (modality, _level) in CASE_OTHERS.items()]
    store = prepare("case", tmp_path, modalities)
    assert store.channels("emg") == ["emg_zygo", "emg_coru", "emg_trap"] and len(store) == 1
    for m in modalities:                       # video 3 starts 1 s into the file
        assert_windows_follow(store, m, lambda row, t: np.stack([
            tones(m, f"1 {name}", 1.0 + t) for name in store.channels(m)]))


def test_ascertain_brings_eeg_and_gsr_placed_on_the_ecg_clock(tmp_path):
    truth = write_ascertain(tmp_path, subjects=(1, 12), n_clips=1, seconds=20.0)   # both layouts
    assert layout(read("ascertain", tmp_path)[0]) == [("ecg", "ECG Right", 256.0)]
    assert [layout(r) for r in read("ascertain", tmp_path, ["eeg", "eda"])] == \
        [[("eeg", "Fp1", 512.0), ("eda", "GSR", 100.0), ("ecg", "ECG Right", 256.0)]] * 2
    store = prepare("ascertain", tmp_path, ["eeg", "eda"])
    rows = store.select(quality="all")
    second = rows[store.index.loc[rows, "start_s"].to_numpy() >= 10]
    assert len(rows) == 4 and len(second) == 2
    # EEG starts 0.75 s and GSR 1.25 s after the ECG: their first windows lack them
    for m, (_variable, _fs, lag) in ASCERTAIN_OTHERS.items():
        assert lag > 0.5 and store.present(m, rows).tolist() == (store.index.loc[rows, "start_s"] >= 10).tolist()
        name = store.channels(m)[0]
        assert_windows_follow(store, m, lambda row, t: tones(m, name, truth.trials[tuple(
            store.index.loc[row, ["subject", "trial"]])]["t0"] + t)[None], rows=second)


def test_pspm_brings_its_scr_and_respiration_channels(tmp_path):
    write_pspm(tmp_path, subjects=(1,), seconds=20.0)
    assert layout(read("pspm", tmp_path)[0]) == [("eda", "scr ch1", 100.0), ("resp", "resp ch3", 100.0)]
    store = prepare("pspm", tmp_path, ["eda", "resp"])
    for m, chantype in (("eda", "scr"), ("resp", "resp")):
        assert store.channels(m) == [f"{chantype} ch{1 if m == 'eda' else 3}"]
        assert_windows_follow(store, m, lambda row, t: tones(m, f"s01 {chantype}", t)[None])


def test_a_broken_eeg_clip_is_left_out_with_a_warning_naming_it_and_the_ecg_kept(tmp_path):
    import scipy.io

    from tests.fixtures.emotion_layouts import ascertain_other_clip

    write_ascertain(tmp_path / "a", subjects=(1,), n_clips=1, seconds=6.0)
    eeg_file = ascertain_other_clip(tmp_path / "a", "eeg", 1, 1)
    scipy.io.savemat(eeg_file, {"ThisEEG": np.ones((10, 1))})        # no timestamp column
    with pytest.warns(UserWarning, match=f"{eeg_file}: expected one numeric .* found ThisEEG of shape \\(10,\\); "
                                         "this clip is stored without eeg"):
        (rec,) = read("ascertain", tmp_path / "a", ["eeg", "eda"])
    assert [c.name for c in rec.channels] == ["GSR", "ECG Right"] and np.isfinite(rec.signal).all()

    write_dreamer(tmp_path / "d", subjects=1, n_videos=1, seconds=6.0, baseline_seconds=5.0,
                  defects=("eeg_13_columns",))
    with pytest.warns(UserWarning, match=r"stimuli\{1\}: expected EEG as a \(samples × 14\) matrix .* "
                                         r"found shape \(768, 13\) at 128 Hz"):
        recs = read("dreamer", tmp_path / "d", ["eeg"])
    assert [len(r.channels) for r in recs] == [1, 15]                  # stimulus: ECG 1 only
    with warnings.catch_warnings():
        warnings.simplefilter("error")                                 # ECG-only: nothing to say
        read("dreamer", tmp_path / "d")
