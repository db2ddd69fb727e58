"""The Python layer: ``embed`` and ``fit`` at any input rate, ``WindowStore(path)``,
``sampling_rate=`` wherever ``fs=`` is accepted."""

from __future__ import annotations

import numpy as np
import pytest

import ecgemotion
from ecgemotion.errors import ConfigError
from ecgemotion.synthetic import ecg
from tests.torch_threads import one_torch_thread  # noqa: F401


def test_embed_takes_a_raw_array_at_any_rate():
    """A raw 250 Hz array (2500 samples a window) used to fail inside the model; it is now
    resampled to 128 Hz and cut into 10-s windows, as in training."""
    x250 = ecg(40, 250, hr_bpm=70, seed=1)
    emb = ecgemotion.embed(x250, fs=250)
    assert list(emb["start_s"]) == [0.0, 10.0, 20.0, 30.0] and list(emb["end_s"])[-1] == 40.0
    features = emb.filter(regex=r"^e\d+$").to_numpy()
    assert features.shape[0] == 4 and features.shape[1] >= 32 and np.isfinite(features).all()
    # the same ECG at 500 Hz and the NeuroKit2 spelling of the rate: nearly the same embedding
    x500 = ecg(40, 500, hr_bpm=70, seed=1)
    again = ecgemotion.embed(x500, sampling_rate=500).filter(regex=r"^e\d+$").to_numpy()
    cos = np.sum(features * again, 1) / np.linalg.norm(features, axis=1) / np.linalg.norm(again, axis=1)
    assert cos.min() > 0.95
    # several recordings at once: a 'recording' column says which
    many = ecgemotion.embed([x250[: 2500 * 2], x250], fs=250)
    assert list(many["recording"]) == [0, 0, 1, 1, 1, 1]


def test_embed_errors_name_the_rate_and_window():
    with pytest.raises(ConfigError, match="no sampling rate given; pass fs"):
        ecgemotion.embed(np.zeros(5000))
    with pytest.raises(ecgemotion.DataError, match=r"shorter than one 10-s window"):
        ecgemotion.embed(ecg(6, 250, seed=2), fs=250)
    with pytest.raises(ConfigError, match="disagree"):
        ecgemotion.embed(ecg(20, 250, seed=2), fs=250, sampling_rate=500)


def _labelled(fs: float = 250.0):
    clips = [(person, clip) for person in range(6) for clip in range(4)]
    recordings = [ecg(30, fs, hr_bpm=95 if clip % 2 else 62, seed=10 * person + clip)
                  for person, clip in clips]
    return recordings, [clip % 2 for _, clip in clips], [f"p{person}" for person, _ in clips]


def test_fit_writes_the_linear_probe_into_the_head_exactly(tmp_path):
    """The fitted recogniser's P(high) equals the logistic regression's on the same frozen
    embeddings, and the saved folder is an ordinary model that predict loads."""
    from ecgemotion.api import _encoder, _with_linear_head
    from ecgemotion.inference import EmotionRecognizer
    from ecgemotion.probe import _standardised_logreg, embed_windows

    recordings, y, groups = _labelled()
    rec = ecgemotion.fit(recordings, y, groups, fs=250, task="arousal")
    spec = rec.specs[0]
    assert spec.task == "arousal" and spec.classes == ["low", "high"]
    assert spec.extra["val_metrics"]["balanced_accuracy"] > 0.9 and spec.extra["val_subjects"]
    new = ecg(40, 250, hr_bpm=95, seed=99)
    assert rec.predict(new, fs=250)["p_arousal"].min() > 0.5
    assert rec.predict(ecg(40, 250, hr_bpm=62, seed=98), fs=250)["p_arousal"].max() < 0.5
    # exactness of the head: same windows, sklearn vs the saved torch model
    encoder, _ = _encoder("ecgemotion-base", None)
    windows = rec.windows(new, fs=250).data
    x = embed_windows(encoder, windows)
    probe = _standardised_logreg(0).fit(x, (x[:, 0] > np.median(x[:, 0])).astype(int))
    net = _with_linear_head("ecgemotion-base", probe)
    import torch

    with torch.no_grad():
        p = torch.softmax(net(torch.from_numpy(windows)[:, None])["logits"], 1)[:, 1].numpy()
    assert np.abs(p - probe.predict_proba(x)[:, 1]).max() < 1e-4
    rec.save_pretrained(tmp_path / "arousal")
    loaded = EmotionRecognizer.from_pretrained(tmp_path / "arousal")
    assert loaded.predict(new, fs=250)["p_arousal"].to_numpy() == pytest.approx(
        rec.predict(new, fs=250)["p_arousal"].to_numpy(), abs=1e-6)


def test_fit_refuses_what_it_cannot_learn():
    recordings, y, groups = _labelled()
    with pytest.raises(ConfigError, match="two classes"):
        ecgemotion.fit(recordings[:4], [1, 1, 1, 1], fs=250)
    with pytest.raises(ConfigError, match="4 recordings but 3 labels"):
        ecgemotion.fit(recordings[:4], [0, 1, 0], fs=250)


def test_window_store_opens_by_calling_the_class(tmp_path):
    from ecgemotion.store import WindowStore
    from tests.training.helpers import write_tiny_store

    path = write_tiny_store(tmp_path / "tiny")
    store = WindowStore(path)
    assert len(store) == len(WindowStore.open(path)) == 144
    assert np.array_equal(store.windows([0, 5]), WindowStore.open(path).windows([0, 5]))
    with pytest.raises(ecgemotion.DataError, match="not a store folder"):
        WindowStore(tmp_path / "nope")


def test_sampling_rate_is_accepted_where_fs_is(tmp_path):
    from ecgemotion.io.readers import read_signal

    x = ecg(20, 250, seed=4)
    np.save(tmp_path / "x.npy", x)
    assert read_signal(tmp_path / "x.npy", sampling_rate=250).fs == 250.0
    recordings, y, groups = _labelled()
    rec = ecgemotion.fit(recordings[:8], y[:8], fs=250)
    a = rec.predict(x, fs=250)
    b = rec.predict(x, sampling_rate=250)
    assert a.equals(b)
    assert rec.stream(sampling_rate=250).fs == 250.0
    assert len(rec.windows(x, sampling_rate=250)) == 2
