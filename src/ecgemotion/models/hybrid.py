"""The ``hybrid`` model: the encoder's window embedding joined with the window's physiology.

The network sees beat shape within 10 s; the HRV features (``baselines/hrv.py``,
:data:`~ecgemotion.baselines.hrv.PHYSIO_FEATURES`) measure rhythm directly. Two ways to
combine them, both fed by :func:`physio_matrix`, the one place the features are chosen:

- cheap: frozen embedding + features -> a classical model (:func:`fit_predict_hybrid`);
- end to end: :class:`HybridClassifier` fine-tunes the encoder with the features
  concatenated to the embedding before the classifier head.

The end-to-end model takes ONE tensor, ``(B, 1, T + F)``: the window followed by its F raw
features. The shared training loop, ``predict_proba`` and an ONNX export all pass one
tensor, so the features ride along unchanged; the normalisation (training-side median
for NaN, mean and std) is kept in the model's buffers, so prediction repeats it exactly.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import torch
from torch import nn

from ecgemotion.models.blocks import MLPHead

CLIP = 5.0  # standardised features beyond ±5 SD (a missed beat) are clipped


def physio_matrix(table: pd.DataFrame) -> np.ndarray:
    """The hybrid's physiological inputs, ``(n, F)`` float32 with NaN where undefined, from
    an HRV feature table (``hrv_features`` / ``HRVFeatureCache`` / ``TracedStore.hrv``)."""
    from ecgemotion.baselines.hrv import PHYSIO_FEATURES

    return table[list(PHYSIO_FEATURES)].to_numpy(dtype=np.float32)


def hybrid_table(embeddings: np.ndarray, table: pd.DataFrame) -> pd.DataFrame:
    """Embedding columns ``e0..`` beside the physiological features, one row per window."""
    from ecgemotion.baselines.hrv import PHYSIO_FEATURES

    emb = pd.DataFrame(np.asarray(embeddings, dtype=float),
                       columns=[f"e{j}" for j in range(np.shape(embeddings)[1])])
    return pd.concat([emb, pd.DataFrame(physio_matrix(table).astype(float),
                                        columns=list(PHYSIO_FEATURES))], axis=1)


def fit_predict_hybrid(train: pd.DataFrame, y, test: pd.DataFrame, model: str = "logreg",
                       seed: int = 0) -> np.ndarray:
    """P(high) of the cheap hybrid: ``logreg`` (median fill, standardised, class-balanced)
    or ``gbm`` (gradient boosting, class-balanced) on :func:`hybrid_table` rows."""
    from ecgemotion.baselines.hrv import fit_predict_features

    return fit_predict_features(train, y, test, model=model, seed=seed,
                                features=list(train.columns), class_weight="balanced")


class HybridClassifier(nn.Module):
    """``encoder`` embedding ⊕ standardised physiological features -> 2-class head.

    Call :meth:`fit_normalisation` with the training rows' raw features before training.
    """

    def __init__(self, encoder: nn.Module, n_features: int, hidden: int | None = None,
                 dropout: float | None = None):
        super().__init__()
        cfg = encoder.config
        self.config = cfg                      # what the training loop and checkpoints record
        self.window_len = int(cfg.window_len)
        self.encoder = encoder
        encoder.classifier = nn.Identity()     # its own head is replaced by ours
        d = self._embed(torch.zeros(1, 1, self.window_len)).shape[1]
        self.register_buffer("fill", torch.zeros(n_features))
        self.register_buffer("center", torch.zeros(n_features))
        self.register_buffer("scale", torch.ones(n_features))
        self.classifier = MLPHead(d + n_features, [hidden or cfg.classifier_hidden], cfg.n_classes,
                                  cfg.classifier_dropout if dropout is None else dropout)

    @torch.no_grad()
    def fit_normalisation(self, features: np.ndarray) -> None:
        """Training-side statistics: NaN -> median, then mean / std of the filled values."""
        f = np.asarray(features, dtype=np.float64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)   # an all-NaN column
            fill = np.nan_to_num(np.nanmedian(f, axis=0))
        filled = np.where(np.isnan(f), fill, f)
        std = filled.std(axis=0)
        self.fill.copy_(torch.as_tensor(fill))
        self.center.copy_(torch.as_tensor(filled.mean(axis=0)))
        self.scale.copy_(torch.as_tensor(np.where(std > 1e-6, std, 1.0)))

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        enc = self.encoder
        return enc.embed(x) if hasattr(enc, "embed") else enc(x)["features"]

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        signal, raw = x[..., : self.window_len], x[..., self.window_len:].flatten(1)
        f = torch.where(torch.isnan(raw), self.fill.to(raw.dtype), raw)
        f = ((f - self.center.to(f.dtype)) / self.scale.to(f.dtype)).clamp(-CLIP, CLIP)
        h = self._embed(signal)
        return {"logits": self.classifier(torch.cat([h, f.to(h.dtype)], dim=1)), "features": h}


def hybridise(net: nn.Module, hrv_of, train_rows) -> HybridClassifier:
    """``net``'s encoder with a fresh hybrid head, its feature normalisation fitted on the
    HRV table ``hrv_of(train_rows)`` of the training rows only."""
    from ecgemotion.baselines.hrv import PHYSIO_FEATURES

    hybrid = HybridClassifier(net, len(PHYSIO_FEATURES))
    hybrid.fit_normalisation(physio_matrix(hrv_of(train_rows)))
    return hybrid


class WithFeatures:
    """A store view whose ``windows(rows)`` returns each window followed by its raw
    physiological features, the input :class:`HybridClassifier` takes; everything else
    passes through. ``hrv_of(rows)`` gives the HRV table (default: ``store.hrv``, which a
    traced evaluation store reports to the leakage guard)."""

    def __init__(self, store, hrv_of=None):
        self._store, self._hrv_of = store, hrv_of

    def windows(self, rows) -> np.ndarray:
        w = np.asarray(self._store.windows(rows), dtype=np.float32)
        table = self._hrv_of(rows) if self._hrv_of is not None else self._store.hrv(rows)
        return np.concatenate([w, physio_matrix(table)], axis=1)

    def __getattr__(self, name: str):
        return getattr(self._store, name)
