"""``embed`` and ``fit``: the shipped encoder from Python, without building a store.

    import ecgemotion
    emb = ecgemotion.embed(signal, fs=250)                  # one row per 10-s window
    rec = ecgemotion.fit(recordings, labels, groups, fs=250, task="arousal")
    rec.predict(new_signal, fs=250)                         # an EmotionRecognizer

Any input rate works: every recording goes through
:func:`ecgemotion.preprocess.process_recording` (resampled to the model's 128 Hz, cut
into its 10-s windows), the path training and ``predict`` use.

``fit`` trains a standardised, class-balanced logistic regression on the frozen
window embeddings (a linear probe, the field's standard first look at an encoder) and
writes it into the model's own classifier head, so that the result is an ordinary
fine-tuned model folder: ``save_pretrained``, ``ecgemotion predict --model`` and
``ecgemotion export`` all work on it. For full fine-tuning build a store and run
``ecgemotion finetune``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ecgemotion.errors import ConfigError, DataError
from ecgemotion.io.model_files import ModelCard
from ecgemotion.io.readers import rate_argument
from ecgemotion.preprocess import PreprocessConfig, Windows, process_recording

DEFAULT_MODEL = "ecgemotion-base"


def embed(signal: Any, fs: float | None = None, *, sampling_rate: float | None = None,
          model: str | Path = DEFAULT_MODEL, step_s: float | None = None,
          units: str = "") -> pd.DataFrame:
    """One embedding per window of one recording (or of each of several).

    ``signal``: a 1-D array at ``fs`` Hz, a file path, a ``SignalFile``, or a list of
    these / a 2-D array whose rows are recordings (a ``recording`` column then says
    which). Columns: ``start_s, end_s, good, heart_rate_bpm, e0 ... e{d-1}``; windows that
    fail a quality check are kept with ``good=False``.
    """
    encoder, config = _encoder(model, step_s)
    frames = []
    from ecgemotion.probe import embed_windows

    for i, rec_windows in enumerate(_windows_of(signal, rate_argument(fs, sampling_rate), config, units)):
        frame = _window_facts(rec_windows, config)
        features = embed_windows(encoder, rec_windows.data)
        frame = pd.concat([frame, pd.DataFrame(features, columns=[f"e{j}" for j in
                                                                  range(features.shape[1])])], axis=1)
        frames.append(frame.assign(recording=i) if _is_many(signal) else frame)
    out = pd.concat(frames, ignore_index=True)
    out.attrs.update(model=str(model), fs=config.fs, window_s=config.window_s)
    return out


def fit(recordings: Any, y: Sequence[Any], groups: Sequence[Any] | None = None, *,
        fs: float | None = None, sampling_rate: float | None = None, task: str = "emotion",
        model: str | Path = DEFAULT_MODEL, label_rule: str = "labels given to ecgemotion.fit",
        val_fraction: float = 0.2, seed: int = 0, units: str = "", synthetic: str | None = None):
    """An :class:`~ecgemotion.inference.EmotionRecognizer` from labelled recordings.

    ``recordings`` as for :func:`embed` (one label ``y`` per recording; each of its good
    windows takes it); ``y`` has two values (0/1, False/True, or two names: the larger
    is the positive class). ``groups`` (e.g. subject ids) give an honest validation
    figure: ``val_fraction`` of the groups is held out first, scored, then the model is
    refitted on everything. ``synthetic`` (a note) marks invented labels, as the demo's.
    """
    from ecgemotion.inference import EmotionRecognizer
    from ecgemotion.models import save_pretrained
    from ecgemotion.probe import _standardised_logreg, embed_windows
    from ecgemotion.training.finetune import warn_one_class

    encoder, config = _encoder(model, None)
    items = _as_list(recordings)
    y = list(y)
    if len(y) != len(items):
        raise ConfigError(f"fit: {len(items)} recordings but {len(y)} labels; give one label each")
    y = [int(v) if isinstance(v, (bool, np.bool_)) else v for v in y]
    classes = sorted(set(y))
    if len(classes) != 2:
        raise ConfigError(f"fit: expected two classes in y, found {len(classes)}: {classes}")
    groups = list(groups) if groups is not None else list(range(len(items)))
    features, labels, keys = [], [], []
    for rec_windows, label, group in zip(_windows_of(items, rate_argument(fs, sampling_rate),
                                                     config, units), y, groups):
        good = rec_windows.good
        features.append(embed_windows(encoder, rec_windows.data[good]))
        labels += [classes.index(label)] * int(good.sum())
        keys += [str(group)] * int(good.sum())
    x, labels, keys = np.concatenate(features), np.asarray(labels), np.asarray(keys)
    if len(set(labels)) < 2:
        raise DataError(None, f"fit: the good windows hold one class only ({classes[labels[0]]})")
    val_metrics, val_groups = _validate(x, labels, keys, val_fraction, seed, _standardised_logreg)
    probe = _standardised_logreg(seed).fit(x, labels)
    net = _with_linear_head(model, probe)
    names = ["low", "high"] if classes == [0, 1] else [str(c) for c in classes]
    card = ModelCard(task=task, classes=names, preprocess=config.to_dict(), label_rule=label_rule,
                     training_data={"datasets": ["arrays given to ecgemotion.fit"],
                                    "subjects": len(set(keys)), "windows": int(len(labels)),
                                    "synthetic": [synthetic] if synthetic else []},
                     val_metrics=val_metrics,
                     details={"init": str(model), "val_subjects": val_groups, "seed": seed,
                              "head": "logistic regression on frozen embeddings (ecgemotion.fit)"})
    warn_one_class(val_metrics, f"ecgemotion.fit ({task})")
    with tempfile.TemporaryDirectory() as tmp:
        folder = save_pretrained(net, Path(tmp) / task, card.to_extra())
        recognizer = EmotionRecognizer.from_pretrained(folder)
    recognizer.specs[0].source = f"ecgemotion.fit({task}) in memory; save with .save_pretrained(dir)"
    return recognizer


# -- helpers ---------------------------------------------------------------------------------
def _encoder(model: str | Path, step_s: float | None):
    """The frozen model and the preprocessing its windows need (a fine-tuned folder's own,
    else 10-s windows at the encoder's rate)."""
    from ecgemotion.io.model_files import read_config_file
    from ecgemotion.models.hub import CONFIG_NAME, resolve_pretrained
    from ecgemotion.probe import load_encoder

    encoder = load_encoder(str(model))
    _, extra = read_config_file(resolve_pretrained(model) / CONFIG_NAME)
    cfg = encoder.config
    config = PreprocessConfig.from_dict(extra["preprocess"]) if "preprocess" in extra else \
        PreprocessConfig(fs=cfg.fs, window_s=cfg.window_len / cfg.fs, step_s=cfg.window_len / cfg.fs)
    if step_s is not None:
        config = PreprocessConfig.from_dict({**config.to_dict(), "step_s": float(step_s)})
    return encoder, config


def _is_many(signal: Any) -> bool:
    return isinstance(signal, (list, tuple)) or (isinstance(signal, np.ndarray) and signal.ndim == 2
                                                 and min(signal.shape) > 1)


def _as_list(signal: Any) -> list[Any]:
    return list(signal) if _is_many(signal) else [signal]


def _windows_of(signal: Any, fs: float | None, config: PreprocessConfig, units: str):
    from ecgemotion.inference.recognizer import as_recording

    for i, item in enumerate(_as_list(signal)):
        where = None if isinstance(item, (str, Path)) else f"recording {i}" if _is_many(signal) else None
        yield process_recording(as_recording(item, fs, units, where=where), config)


def _window_facts(win: Windows, config: PreprocessConfig) -> pd.DataFrame:
    return pd.DataFrame({"start_s": win.start_s, "end_s": win.start_s + config.window_s,
                         "good": win.good, "heart_rate_bpm": win.heart_rate})


def _validate(x, labels, keys, val_fraction, seed, make) -> tuple[dict[str, float], list[str]]:
    """Hold out ``val_fraction`` of the groups, fit on the rest, score on them."""
    from ecgemotion.training.data import split_subjects

    index = pd.DataFrame({"dataset": "fit", "subject": keys})
    if index["subject"].nunique() < 2:
        return {}, []
    train, val = split_subjects(index, val_fraction, seed)
    is_val = np.isin("fit/" + keys, val)
    if len(set(labels[~is_val])) < 2 or not is_val.any():
        return {}, []
    pred = make(seed).fit(x[~is_val], labels[~is_val]).predict(x[is_val])
    truth = labels[is_val]
    recalls = [float(np.mean(pred[truth == c] == c)) for c in (0, 1) if (truth == c).any()]
    return {"accuracy": float(np.mean(pred == truth)), "balanced_accuracy": float(np.mean(recalls)),
            "predicted_high_share": float(np.mean(pred == 1)), "windows": int(is_val.sum())}, \
        [v.split("/", 1)[1] for v in val]


def _with_linear_head(model: str | Path, probe):
    """The encoder with its MLP head ``Linear -> GELU -> Dropout -> Linear`` set to compute
    the probe's logit ``z = w·f + b`` exactly: hidden units ``z`` and ``-z``, output
    ``GELU(z) - GELU(-z) = zΦ(z) + z(1 - Φ(z)) = z`` for the positive class, 0 for the other."""
    import torch

    from ecgemotion.models import from_pretrained

    scaler, logreg = probe[-2], probe[-1]
    w = logreg.coef_[0] / scaler.scale_
    b = float(logreg.intercept_[0] - np.dot(w, scaler.mean_))
    net = from_pretrained(model, encoder_only=True, n_classes=2).eval()
    layers = list(net.classifier.net)
    kinds = [type(m).__name__ for m in layers]
    if kinds != ["Linear", "GELU", "Dropout", "Linear"] or layers[0].out_features < 2 \
            or layers[1].approximate != "none":
        raise ConfigError(f"{model}: fit needs a classifier head Linear-GELU-Dropout-Linear with "
                          f">= 2 hidden units, found {kinds}")
    first, last = layers[0], layers[-1]
    with torch.no_grad():
        for p in (first.weight, first.bias, last.weight, last.bias):
            p.zero_()
        first.weight[0] = torch.as_tensor(w, dtype=first.weight.dtype)
        first.weight[1] = -first.weight[0]
        first.bias[0], first.bias[1] = b, -b
        last.weight[1, 0], last.weight[1, 1] = 1.0, -1.0
    return net
