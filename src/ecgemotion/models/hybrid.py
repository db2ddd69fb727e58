"""The ``hybrid`` model: the encoder's window embedding joined with the window's physiology.

The network sees beat shape within 10 s; the HRV features (``baselines/hrv.py``,
:data:`~ecgemotion.baselines.hrv.PHYSIO_FEATURES`) measure rhythm directly. Two ways to
combine them, both fed by :func:`~ecgemotion.baselines.hrv.physio_matrix`, the one place the
features are chosen:

- cheap: frozen embedding + features -> a classical model (:func:`fit_predict_hybrid`);
- end to end: :class:`HybridClassifier` fine-tunes the encoder with the features
  concatenated to the embedding before the classifier head.

The end-to-end model takes ONE tensor, ``(B, 1, T + F)``: the window followed by its F raw
features. The shared training loop, ``predict_proba`` and an ONNX export all pass one
tensor, so the features ride along unchanged; the normalisation (training-side median
for NaN, mean and std) is kept in the model's buffers, so prediction repeats it exactly.
Its config is the encoder's with ``physio_features`` naming the features, which is how
``create_model`` (and so every loader of a saved folder) rebuilds it.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import torch
from torch import nn

from ecgemotion.baselines.hrv import PHYSIO_FEATURES, physio_matrix
from ecgemotion.models.blocks import MLPHead

CLIP = 5.0  # standardised features beyond ±5 SD (a missed beat) are clipped


def hybrid_table(embeddings: np.ndarray, table: pd.DataFrame) -> pd.DataFrame:
    """Embedding columns ``e0..`` beside the physiological features, one row per window."""
    emb = pd.DataFrame(np.asarray(embeddings, dtype=float),
                       columns=[f"e{j}" for j in range(np.shape(embeddings)[1])])
    return pd.concat([emb, pd.DataFrame(physio_matrix(table).astype(float),
                                        columns=list(PHYSIO_FEATURES))], axis=1)


C_GRID = (1e-3, 1e-2, 1e-1, 1.0)
MIN_FEATURE_AUROC = 0.55   # below: the features predict nothing across training subjects


def choose_c(train: pd.DataFrame, y, groups, seed: int = 0) -> float:
    """The logistic regression's L2 strength by AUROC in a cross-validation over whole
    ``groups`` (subjects) of the training rows: ~140 inputs against a few hundred windows
    overfit at the default C, and the training side is the only place to choose.
    1.0 when there are too few groups of each class to cross-validate."""
    return scored_c(train, y, groups, seed)[0]


def scored_c(train: pd.DataFrame, y, groups, seed: int = 0) -> tuple[float, float]:
    """:func:`choose_c`'s choice and its cross-validated AUROC (NaN when not cross-validated)."""
    from sklearn.model_selection import StratifiedGroupKFold, cross_val_score

    from ecgemotion.baselines.hrv import make_model

    y = np.asarray(y, dtype=np.int64)
    groups = np.asarray(groups)
    k = min(5, *(len(np.unique(groups[y == c])) for c in (0, 1)))
    if k < 2:
        return 1.0, float("nan")
    cols = [c for c in train.columns if train[c].notna().any()]
    x = train[cols].to_numpy(dtype=float)
    cv = list(StratifiedGroupKFold(k, shuffle=True, random_state=seed).split(x, y, groups))
    with warnings.catch_warnings():   # a fold whose held-out subjects share one class has no
        warnings.simplefilter("ignore")   # AUROC (NaN, skipped by nanmean): not the user's problem
        scores = [np.nanmean(cross_val_score(make_model("logreg", seed=seed, C=c,
                                                        class_weight="balanced"),
                                             x, y, cv=cv, scoring="roc_auc"))
                  for c in C_GRID]
    if not np.isfinite(scores).any():
        return 1.0, float("nan")
    best = int(np.nanargmax(scores))
    return float(C_GRID[best]), float(scores[best])


def fit_predict_hybrid(train: pd.DataFrame, y, test: pd.DataFrame, model: str = "logreg",
                       seed: int = 0, groups=None) -> np.ndarray:
    """P(high) of the cheap hybrid: ``logreg`` (median fill, standardised, class-balanced,
    C by :func:`choose_c` over ``groups`` when given) or ``gbm`` (gradient boosting,
    class-balanced) on :func:`hybrid_table` rows."""
    from ecgemotion.baselines.hrv import fit_predict_features

    c = choose_c(train, y, groups, seed) if model == "logreg" and groups is not None else 1.0
    return fit_predict_features(train, y, test, model=model, seed=seed, C=c,
                                features=list(train.columns), class_weight="balanced")


def probe_weights(z: np.ndarray, y: np.ndarray, groups=None, seed: int = 0) -> tuple[np.ndarray, float]:
    """``(w, b)`` of the linear feature path: a class-balanced logistic regression on the
    standardised features ``z``. With ``groups`` its L2 strength is :func:`choose_c`'s (across
    training subjects; the default C = 1 let ten correlated features overfit: AUROC 0.869 vs
    0.893 on the synthetic AMIGOS folds of docs/results.md §4e), and the chosen direction's
    length is then refitted without penalty on the training rows: a strong penalty shrinks
    the logits toward 0, where the network's head would drown them when the two are added.
    When even the best penalty's AUROC across training subjects is under
    :data:`MIN_FEATURE_AUROC`, the features carry nothing that transfers to new people, and
    the path starts at 0 rather than at a fit of noise (synthetic valence, §4e)."""
    from sklearn.linear_model import LogisticRegression

    c, auroc = scored_c(pd.DataFrame(z), y, groups, seed) if groups is not None else (1.0, np.nan)
    if auroc < MIN_FEATURE_AUROC:
        return np.zeros(z.shape[1]), 0.0
    probe = LogisticRegression(C=c, max_iter=2000, class_weight="balanced").fit(z, y)
    w, b = probe.coef_[0], float(probe.intercept_[0])
    if c < 1.0 and np.any(w):
        score = (z @ w)[:, None]
        scale = LogisticRegression(C=np.inf, class_weight="balanced").fit(score, y)
        w, b = w * float(scale.coef_[0, 0]), float(scale.intercept_[0])
    return w, b


def standardise(raw: torch.Tensor, fill, center, scale) -> torch.Tensor:
    """Raw features -> NaN filled with the training median, standardised, clipped."""
    f = torch.where(torch.isnan(raw), fill.to(raw.dtype), raw)
    return ((f - center.to(f.dtype)) / scale.to(f.dtype)).clamp(-CLIP, CLIP)


@torch.no_grad()
def fit_feature_path(owner: nn.Module, features: np.ndarray, y: np.ndarray, linear: nn.Linear,
                     groups=None) -> None:
    """Set ``owner``'s ``fill``/``center``/``scale`` buffers from the training rows' raw
    features (NaN -> median, then mean / SD of the filled values) and start ``linear``
    (features -> 2 logits) at a class-balanced logistic regression on them
    (:func:`probe_weights`; its L2 strength chosen over whole ``groups`` when given)."""
    f = np.asarray(features, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # an all-NaN column
        fill = np.nan_to_num(np.nanmedian(f, axis=0))
    filled = np.where(np.isnan(f), fill, f)
    std = filled.std(axis=0)
    owner.fill.copy_(torch.as_tensor(fill))
    owner.center.copy_(torch.as_tensor(filled.mean(axis=0)))
    owner.scale.copy_(torch.as_tensor(np.where(std > 1e-6, std, 1.0)))
    y = np.asarray(y, dtype=np.int64)
    if len(np.unique(y)) == 2:
        z = standardise(torch.as_tensor(f, dtype=torch.float32), owner.fill, owner.center,
                        owner.scale).numpy()
        w, b = probe_weights(z, y, groups)     # logit(high) - logit(low) = w.z + b
        linear.weight.copy_(torch.as_tensor(np.stack([-w / 2, w / 2])))
        linear.bias.copy_(torch.as_tensor([-b / 2, b / 2]))


class HybridClassifier(nn.Module):
    """``encoder`` embedding ⊕ standardised physiological features -> 2-class head, plus a
    linear path from the features alone to the logits.

    Call :meth:`fit_training_side` with the training rows' raw features and labels before
    training: it fixes the normalisation and starts the linear path at a logistic regression
    on the features (linear probing before fine-tuning, Kumar et al. 2022). AdamW moves
    each weight by about the learning rate per step, so a fresh head would need far more
    steps than a short fine-tune has to give the features any weight.
    """

    def __init__(self, encoder: nn.Module, features=PHYSIO_FEATURES):
        super().__init__()
        cfg = encoder.config
        n_features = len(features)
        # what checkpoints and save_pretrained record: enough for create_model to rebuild it
        self.config = cfg.replace(physio_features=list(features))
        self.window_len = int(cfg.window_len)
        self.encoder = encoder
        encoder.classifier = nn.Identity()     # its own head is replaced by ours
        was_training = encoder.training
        encoder.eval()                         # a shape probe must not touch norm statistics
        with torch.no_grad():
            d = self._embed(torch.zeros(1, 1, self.window_len)).shape[1]
        encoder.train(was_training)
        self.register_buffer("fill", torch.zeros(n_features))
        self.register_buffer("center", torch.zeros(n_features))
        self.register_buffer("scale", torch.ones(n_features))
        self.classifier = MLPHead(d + n_features, [cfg.classifier_hidden], cfg.n_classes,
                                  cfg.classifier_dropout)
        self.physio = nn.Linear(n_features, cfg.n_classes)
        # the network's share of the logits starts at exactly 0, so the untrained hybrid is the
        # feature path alone (what validate_start compares the fine-tuned epochs against)
        for layer in (self.classifier.net[-1], self.physio):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def fit_training_side(self, features: np.ndarray, y: np.ndarray, groups=None) -> None:
        """Normalisation and linear path from the training rows (:func:`fit_feature_path`)."""
        fit_feature_path(self, features, y, self.physio, groups)

    def _normalise(self, raw: torch.Tensor) -> torch.Tensor:
        return standardise(raw, self.fill, self.center, self.scale)

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        enc = self.encoder
        return enc.embed(x) if hasattr(enc, "embed") else enc(x)["features"]

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        signal, raw = x[..., : self.window_len], x[..., self.window_len:].flatten(1)
        f = self._normalise(raw)
        h = self._embed(signal)
        logits = self.classifier(torch.cat([h, f.to(h.dtype)], dim=1)) + self.physio(f).to(h.dtype)
        return {"logits": logits, "features": h}


def hybridise(net: nn.Module, hrv_of, train_rows, y_train, groups=None,
              features=PHYSIO_FEATURES) -> HybridClassifier:
    """``net``'s encoder with a hybrid head on ``features`` fitted (normalisation, linear
    path) on the feature table ``hrv_of(train_rows)``, labels and (optional) subjects of the
    training rows only."""
    hybrid = HybridClassifier(net, features)
    hybrid.fit_training_side(physio_matrix(hrv_of(train_rows), features), y_train, groups)
    return hybrid


def feature_reader(store, hrv_of, features, sides):
    """What a hybrid on ``features`` reads per row: ``hrv_of``, joined with the 60-s context
    features computed within each of ``sides`` when ``features`` asks for any."""
    from ecgemotion.baselines.context import CONTEXT_FEATURES

    return ContextFeatures(store, hrv_of, sides) if set(features) & set(CONTEXT_FEATURES) else hrv_of


def fitted_hybrid(net: nn.Module, store, hrv_of, train_rows, target: str, features, sides):
    """``net`` made a hybrid on ``features`` (its normalisation and linear path fitted on the
    training rows' features, labels ``y_<target>`` and subjects), and the view of ``store``
    that feeds it; context features stay within each of ``sides``."""
    from ecgemotion.subjects import subject_keys

    read = feature_reader(store, hrv_of, features, sides)
    y = store.index[f"y_{target}"].to_numpy(dtype=float)[np.asarray(train_rows, dtype=np.int64)]
    return (hybridise(net, read, train_rows, y, subject_keys(store.index, train_rows), features),
            WithFeatures(store, read, features))


class ContextFeatures:
    """``hrv_of`` for a hybrid that also reads the 60-s context features
    (``baselines/context.py``): each row's window features beside its context features. The
    context is computed per ``side`` (e.g. a fold's train+val rows, or its test rows) when a
    row of that side is first asked for, so a window's context never reaches across a split
    and the test side is read only when the test rows are."""

    def __init__(self, store, hrv_of, sides):
        self._store, self._hrv_of = store, hrv_of
        self._sides = [np.asarray(rows, dtype=np.int64) for rows in sides]
        self._done: set[int] = set()
        self._context = pd.DataFrame()   # the computed sides' rows, joined once per side

    def _table(self, rows: np.ndarray) -> pd.DataFrame:
        from ecgemotion.baselines.context import context_table

        for i, side in enumerate(self._sides):
            if i not in self._done and np.isin(rows, side).any():
                self._done.add(i)
                side_table = context_table(self._store, side).set_index(pd.Index(side))
                self._context = pd.concat([self._context, side_table]) if len(self._context) \
                    else side_table
        return self._context.loc[rows]

    def __call__(self, rows) -> pd.DataFrame:
        rows = np.asarray(rows, dtype=np.int64)
        return pd.concat([self._hrv_of(rows).reset_index(drop=True),
                          self._table(rows).reset_index(drop=True)], axis=1)


class WithFeatures:
    """A store view whose ``windows(rows)`` returns each window followed by its raw
    physiological features, the input :class:`HybridClassifier` takes; everything else
    passes through. ``hrv_of(rows)`` gives the feature table (default: ``store.hrv``, which a
    traced evaluation store reports to the leakage guard); ``features`` names its columns."""

    def __init__(self, store, hrv_of=None, features=PHYSIO_FEATURES):
        self._store, self._hrv_of, self._features = store, hrv_of, features

    def windows(self, rows) -> np.ndarray:
        w = np.asarray(self._store.windows(rows), dtype=np.float32)
        table = self._hrv_of(rows) if self._hrv_of is not None else self._store.hrv(rows)
        return np.concatenate([w, physio_matrix(table, self._features)], axis=1)

    def __getattr__(self, name: str):
        return getattr(self._store, name)
