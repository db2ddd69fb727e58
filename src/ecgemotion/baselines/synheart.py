"""The synheart peer: PyPI ``synheart-emotion`` 0.1.0, a ready-made stress model.

It ships ExtraTrees classifiers (WESAD chest ECG, baseline vs stress) as ONNX with JSON
metadata, fed 14 HRV features over 60-120 s of RR intervals; below 10 valid intervals its
feature function returns zeros. Our windows are 10 s, so each window's features come from the
RR intervals of the 60-s context of ``baselines/context.py`` (the hybrid's context features
use the same rule).
The package is optional (``pip install 'ecgemotion[peers]'``); :func:`require` says so.
"""

from __future__ import annotations

import numpy as np

from ecgemotion.baselines.context import CONTEXT_S
from ecgemotion.errors import ConfigError

PACKAGE = "synheart-emotion==0.1.0"
MODEL = "ExtraTrees_60_5_nozipmap"
"""The shipped model read zero-shot: the one trained on 60-s windows, the shortest context."""
MIN_RR = 10          # fewer valid RR intervals and synheart's features are all zero


def require():
    """The installed package, or a ConfigError saying how to install it."""
    try:
        import synheart_emotion
    except ImportError:
        raise ConfigError("the synheart and synheart-refit systems need the synheart-emotion "
                          f"package, which is not installed: pip install 'ecgemotion[peers]' "
                          f"(or pip install {PACKAGE})") from None
    return synheart_emotion


def peer_features(rr: list[np.ndarray]) -> np.ndarray:
    """synheart's 14 features per RR list, in its model's input order; NaN rows where it has
    fewer than :data:`MIN_RR` valid intervals (its zeros would be read as data)."""
    from synheart_emotion.synheart_emotion import _clean_rr_intervals, extract_14_features

    out = np.full((len(rr), 14), np.nan)
    for i, r in enumerate(rr):
        if len(_clean_rr_intervals(list(r))) >= MIN_RR:
            out[i] = extract_14_features(list(r))
    return out


def shipped_stress_probability(features: np.ndarray) -> np.ndarray:
    """P(Stress) of the shipped model (:data:`MODEL`) for finite feature rows."""
    from synheart_emotion.synheart_emotion import _load_model_from_package

    session, _, classes, _ = _load_model_from_package(MODEL)
    _, probabilities = session.run(None, {session.get_inputs()[0].name:
                                          np.asarray(features, dtype=np.float32)})
    return np.asarray(probabilities, dtype=float)[:, classes.index("Stress")]


def high_probability(p_stress: np.ndarray, target: str) -> np.ndarray:
    """The peer's P(Stress) read as our P(high): stress is high arousal and low valence, so
    valence takes 1 - P(Stress); every other target takes P(Stress) as it is."""
    return 1.0 - p_stress if target == "valence" else p_stress


def refit_model(x: np.ndarray, y: np.ndarray, seed: int):
    """``synheart-refit``: ExtraTrees (class-balanced) on the training rows' peer features
    ``x``; also how many rows it left out (features or label not finite)."""
    from sklearn.ensemble import ExtraTreesClassifier

    keep = np.isfinite(x).all(axis=1) & np.isfinite(y)
    model = ExtraTreesClassifier(n_estimators=100, class_weight="balanced", random_state=seed,
                                 n_jobs=1).fit(x[keep], y[keep])
    return model, int((~keep).sum())


def peer_probability(x: np.ndarray, target: str, model=None) -> tuple[np.ndarray, np.ndarray]:
    """P(high) of rows with peer features ``x``: the refitted ``model``'s, or the shipped
    model's zero-shot (:func:`high_probability`); 0.5 where a row has too few RR intervals.
    Also which rows were usable."""
    usable = np.isfinite(x).all(axis=1)
    prob = np.full(len(x), 0.5)
    if usable.any():
        prob[usable] = (model.predict_proba(x[usable])[:, list(model.classes_).index(1)]
                        if model is not None else
                        high_probability(shipped_stress_probability(x[usable]), target))
    return prob, usable
