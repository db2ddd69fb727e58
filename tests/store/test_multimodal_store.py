"""Multimodal stores: ECG-only stores unchanged, other modalities aligned and checked."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from ecgemotion.errors import ConfigError, DataError
from ecgemotion.preprocess import PreprocessConfig, process_recording
from ecgemotion.recording import Channel, Recording, modality_of
from ecgemotion.sources import get_source
from ecgemotion.store import WindowStore, build_store, check_store
from ecgemotion.synthetic import ecg
from tests.fixtures.emotion_layouts import write_amigos

# sha256 of the window shard and index.csv that the code before multimodal stores
# (commit c90ef83) built from this exact fixture: the ECG-only path must not move a byte.
ECG_ONLY_SHARD = "62f6bbaf2d82768d7ba2be324879b5554528586b68a931ac095a9b33b1d6e109"
ECG_ONLY_INDEX = "2553581f766efcec2e6da9efc1161953c6be51c4fa8e598337dc3a2d55d32d71"


@pytest.fixture(scope="module")
def amigos(tmp_path_factory):
    root = tmp_path_factory.mktemp("mm") / "raw"
    write_amigos(root, subjects=(1, 2), n_trials=3, seconds=20, couple_ratings=True)
    return root


def _build(root, out, **config):
    return build_store([get_source("amigos", root)], PreprocessConfig(**config), out_dir=out,
                       label_rule="threshold:5", workers=1)[0]


def test_ecg_only_store_is_byte_identical_to_before(amigos, tmp_path):
    default = _build(amigos, tmp_path / "a")
    explicit = _build(amigos, tmp_path / "b", modalities=("ecg",))
    assert default.path.name == explicit.path.name            # same identity
    assert [s["sha256"] for s in default.meta["shards"]] == [ECG_ONLY_SHARD]
    assert default.meta["index_sha256"] == ECG_ONLY_INDEX
    assert "modalities" not in default.meta and "modalities" not in default.meta["preprocess"]
    assert not [c for c in default.index.columns if c.startswith("m_")]


def test_multimodal_store_aligns_modalities_and_is_checked(amigos, tmp_path):
    store = _build(amigos, tmp_path, modalities=("ecg", "eeg", "eda"))
    ecg_only = _build(amigos, tmp_path / "e")
    assert store.path.name != ecg_only.path.name              # modalities are in the identity
    assert store.modalities == ["ecg", "eeg", "eda"]
    assert store.channels("eeg")[:2] == ["AF3", "F7"] and store.channels("eda") == ["GSR"]
    rows = store.select()
    np.testing.assert_array_equal(store.windows(rows), ecg_only.windows(rows))   # ECG unchanged
    eeg, eda = store.modality_windows("eeg", rows), store.modality_windows("eda", rows)
    assert eeg.shape == (len(rows), 14, 1280) and eda.shape == (len(rows), 1, 160)   # 10 s each
    assert store.present("eeg", rows).all()
    # integrity covers every modality's shards
    shard = store.path / store.meta["modalities"]["eeg"]["shards"][0]["file"]
    data = bytearray(shard.read_bytes())
    data[100] ^= 0xFF
    shard.write_bytes(bytes(data))
    assert "eeg-00000.bin does not match its checksum" in check_store(store.path)
    with pytest.raises(DataError, match="no resp windows.*--modalities ecg,eeg,eda,resp"):
        store.modality_windows("resp", rows)


def test_modalities_are_cut_at_the_ecg_windows_times_at_their_own_rates():
    t32, t256 = np.arange(40 * 32) / 32, np.arange(40 * 256) / 256
    common = 50 * np.sin(2 * np.pi * 0.7 * t256)             # e.g. the reference electrode
    rec = Recording(signal=ecg(40, 128.0, hr_bpm=70, seed=2), fs=128.0, dataset="t", subject="s",
                    trial="1", channels=[
                        Channel("eda", "GSR", 5 + np.sin(2 * np.pi * 0.05 * t32), 32.0),
                        Channel("eeg", "O1", common + np.sin(2 * np.pi * 10 * t256), 256.0),
                        Channel("eeg", "O2", common - np.sin(2 * np.pi * 10 * t256), 256.0)])
    w = process_recording(rec, PreprocessConfig(modalities=("ecg", "eda", "eeg"), normalize="none"))
    eda, eeg = w.modalities["eda"], w.modalities["eeg"]
    assert eda.data.shape == (4, 1, 160) and eeg.data.shape == (4, 2, 1280)
    for i, start in enumerate(w.start_s):                      # the same 10 s as the ECG window
        t = start + np.arange(160) / 16
        assert np.corrcoef(eda.data[i, 0], np.sin(2 * np.pi * 0.05 * t))[0, 1] > 0.99
    # average reference: the shared 0.7 Hz component is gone (and 1-45 Hz would pass 10 Hz only)
    assert np.abs(eeg.data[1:3]).max() < 1.2 and eeg.channels == ("O1", "O2")
    kept = process_recording(rec, PreprocessConfig(modalities=("ecg", "eeg"), normalize="none",
                                                   eeg_reference="none")).modalities["eeg"]
    assert np.abs(kept.data[1:3]).max() > 10


def test_missing_modality_is_marked_absent_not_invented():
    x = ecg(30, 128.0, hr_bpm=70, seed=1)
    eda = np.full(30 * 16, np.nan)
    eda[:200] = 2.0 + 0.01 * np.random.default_rng(0).standard_normal(200)   # 12.5 s, then lost
    rec = Recording(signal=x, fs=128.0, dataset="t", subject="s", trial="1",
                    channels=[Channel("eda", "GSR", eda, 16.0)])
    w = process_recording(rec, PreprocessConfig(modalities=("ecg", "eda", "eeg")))
    assert w.modalities["eda"].present.tolist() == [True, False, False]
    assert not w.modalities["eeg"].present.any() and w.modalities["eeg"].data.shape[1] == 0
    assert np.isfinite(w.modalities["eda"].data).all() and not w.modalities["eda"].data[1:].any()


def test_modalities_option_is_checked():
    with pytest.raises(ConfigError, match="ECG anchors"):
        PreprocessConfig(modalities=("eeg",))
    with pytest.raises(ConfigError, match="found ecg,brain"):
        PreprocessConfig(modalities=("ecg", "brain"))


@pytest.mark.parametrize("name,modality", [
    ("ECG ECG", "ecg"), ("EEG Fp1", "eeg"), ("EEG Fpz-Cz", "eeg"), ("AF3", "eeg"), ("O2", "eeg"),
    ("GSR", "eda"), ("Resp chest", "resp"), ("PPG", "bvp"), ("EMG chin", "emg"),
    ("Temp", "temp"), ("time", None), ("Marker", None)])
def test_channel_names_announce_their_modality(name, modality):
    assert modality_of(name) == modality
