"""Self-supervised objectives beyond the paper's masked reconstruction (the v2 study).

- ``mae``: MAE-style masked patch reconstruction (ST-MEM): 75 % of the tokens hidden, the
  encoder sees only the rest, a small decoder predicts the hidden samples.
- ``contrastive``: InfoNCE over the batch whose positives are two crops of the same
  recording a few seconds apart (CLOCS' cross-segment positives, as overlapping crops), with
  moderate noise and scaling; windows of the same person are never used as negatives.
- ``mae+contrastive``: both at once on the same two masked views, so the contrastive term
  costs no extra encoder pass.
- ``paper+contrastive``: the paper's masked reconstruction (15 % in 0.5-s spans, full
  encoder) and InfoNCE on the same two masked views.
- ``paper+contrastive+physio``: that, plus a linear head on the pooled embedding predicting
  each window's rhythm statistics and median beat (:mod:`.targets`), computed from the
  unlabelled signal.

Every objective trains the pooled (token-mean) embedding that frozen probes and
fine-tuning read. ``paper`` (15 % spans, full encoder, lives in :mod:`.pretrain`) stays
available for the paper's recipe.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ecgemotion.models.blocks import patches_to_signal
from ecgemotion.models.masking import span_mask
from ecgemotion.subjects import subject_keys
from ecgemotion.training.data import derived_seed
from ecgemotion.training.targets import target_weights

# name -> (objective settings, model-config fields the objective needs)
OBJECTIVES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "paper": ({}, {}),
    "paper+contrastive": (dict(mask_ratio=0.15, mask_style="spans", recon_weight=1.0,
                               contrastive_weight=0.2), dict(proj_dim=64, pooling="mean")),
    "paper+contrastive+physio": (dict(mask_ratio=0.15, mask_style="spans", recon_weight=1.0,
                                      contrastive_weight=0.2, target_weight=1.0),
                                 dict(proj_dim=64, pooling="mean")),
    "mae": (dict(mask_ratio=0.75, recon_weight=1.0, contrastive_weight=0.0),
            dict(decoder_layers=2, pooling="mean")),
    "contrastive": (dict(mask_ratio=0.0, recon_weight=0.0, contrastive_weight=1.0),
                    dict(proj_dim=64, pooling="mean")),
    "mae+contrastive": (dict(mask_ratio=0.5, recon_weight=1.0, contrastive_weight=0.2),
                        dict(decoder_layers=2, proj_dim=64, pooling="mean")),
}


def masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over masked samples; pred/target (B, 1, T), mask (B, T) bool."""
    m = mask[:, None, :]
    return F.mse_loss(pred.float()[m], target.float()[m])


def weighted_nan_mse(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor
                     ) -> torch.Tensor:
    """Squared error per column averaged over the rows where the target is defined, then
    summed with ``weights``; columns with no defined target contribute nothing."""
    known = torch.isfinite(target)
    err = torch.where(known, pred.float() - torch.nan_to_num(target), torch.zeros_like(target)) ** 2
    per_column = err.sum(0) / known.sum(0).clamp(min=1)
    return (per_column * weights).sum()


def random_keep(batch: int, n_tokens: int, n_keep: int, generator: torch.Generator) -> torch.Tensor:
    """(batch, n_keep) sorted token indices kept visible, uniform without replacement per row."""
    order = torch.rand(batch, n_tokens, generator=generator).argsort(dim=1)
    return order[:, :n_keep].sort(dim=1).values


def info_nce(z1: torch.Tensor, z2: torch.Tensor, groups: torch.Tensor, temperature: float
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric NT-Xent over 2B views: view i's positive is its pair; other views of the
    same group (person) are excluded from the negatives. Returns (loss, positive-is-top-1)."""
    z = F.normalize(torch.cat([z1, z2]).float(), dim=1)
    b = z1.shape[0]
    sim = z @ z.T / temperature
    g = torch.cat([groups, groups])
    pair = torch.cat([torch.arange(b, 2 * b), torch.arange(b)]).to(z.device)
    same = g[:, None] == g[None, :]
    same[torch.arange(2 * b), pair] = False                 # the positive itself stays
    sim = sim.masked_fill(same, float("-inf"))               # self and same-person excluded
    loss = F.cross_entropy(sim, pair)
    top1 = (sim.argmax(dim=1) == pair).float()
    return loss, top1


class PairedWindows:
    """A window dataset whose items are two crops of the same recording, a few seconds apart.

    ``batch(positions)`` returns ``x`` (B, 2, T) and ``y`` (B,), an integer per person (so
    the objective keeps same-person windows out of the negatives). Each window is joined with
    the next window of its recording (or the previous one, at a recording's end) into 2T
    contiguous samples; the two views are crops of T samples whose starts differ by up to
    ``max_shift_s`` seconds, each z-scored again. A recording of one window gives the window
    twice (the augmentations still differ). Offsets come from torch's global RNG, which
    :func:`~ecgemotion.training.loop.fit` re-seeds before every step (exact resume); with
    ``random=False`` the views are fixed: the window and the crop half a window later.
    With ``targets`` (per row, standardised; :mod:`.targets`) ``y`` is ``(B, 1 + K)``: the
    person, then the mean of the two joined windows' targets (what both crops show).

    Why crops and not two whole windows: measured on the pre-training store, InfoNCE between
    windows 10-30 s apart stayed at chance for 200 steps from a random start, while
    overlapping crops give a signal from the first steps and still ask for invariance to
    where the beats fall.
    """

    def __init__(self, store, rows: np.ndarray, max_shift_s: float = 5.0, random: bool = True,
                 targets: np.ndarray | None = None):
        self.store = store
        self.rows = np.asarray(rows, dtype=np.int64)
        self.targets = targets
        self.random = random
        self.max_shift = int(round(max_shift_s * store.fs))
        index = store.index.iloc[self.rows]
        self.labels = pd.factorize(subject_keys(index))[0].astype(np.int64)
        parts = [index[c].astype(str).to_numpy() for c in ("trial", "lead", "part") if c in index]
        recording = pd.factorize(pd.Series(subject_keys(index)).str.cat(parts, sep="/"))[0]
        start = index["start_s"].to_numpy(dtype=float)
        order = np.lexsort((start, recording))
        same = recording[order][1:] == recording[order][:-1]
        step = np.diff(start[order])
        window_s = np.median(step[same]) if same.any() else np.inf
        contiguous = same & np.isclose(step, window_s)
        self.next = np.full(len(order), -1, dtype=np.int64)   # per position: contiguous next
        self.next[order[:-1][contiguous]] = order[1:][contiguous]
        self.prev = np.full(len(order), -1, dtype=np.int64)
        self.prev[order[1:][contiguous]] = order[:-1][contiguous]

    def __len__(self) -> int:
        return len(self.rows)

    def batch(self, positions: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        positions = np.asarray(positions, dtype=np.int64)
        first = np.where(self.next[positions] >= 0, positions,
                         np.where(self.prev[positions] >= 0, self.prev[positions], positions))
        second = np.where(self.next[first] >= 0, self.next[first], first)
        w = self.store.windows(np.stack([self.rows[first], self.rows[second]], 1).reshape(-1))
        t = w.shape[-1]
        joined = w.reshape(len(positions), 2 * t)
        b = len(positions)
        if self.random:
            a = torch.randint(0, t + 1, (b,)).numpy()
            shift = torch.randint(-self.max_shift, self.max_shift + 1, (b,)).numpy()
            c = np.clip(a + shift, 0, t)
        else:
            a, c = np.zeros(b, dtype=np.int64), np.full(b, t // 2)
        single = second == first                              # no neighbour: the window twice
        a[single], c[single] = 0, 0
        idx = np.arange(t)
        views = np.stack([joined[np.arange(b)[:, None], a[:, None] + idx],
                          joined[np.arange(b)[:, None], c[:, None] + idx]], axis=1)
        views = (views - views.mean(-1, keepdims=True)) / (views.std(-1, keepdims=True) + 1e-6)
        y = torch.from_numpy(self.labels[positions])
        if self.targets is not None:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)      # all-NaN column: stays NaN
                shown = np.nanmean(np.stack([self.targets[first], self.targets[second]]), axis=0)
            y = torch.cat([y[:, None].float(), torch.from_numpy(shown.astype(np.float32))], dim=1)
        return torch.from_numpy(views.astype(np.float32)), y


@dataclass
class SelfSupervised:
    """MAE reconstruction and/or contrastive InfoNCE on two views of a recording."""

    mask_ratio: float = 0.75
    mask_style: str = "tokens"                 # tokens: MAE, encoder on visible tokens; spans: paper
    span: int = 64                             # span length (samples) for mask_style="spans"
    recon_weight: float = 1.0
    contrastive_weight: float = 0.0
    target_weight: float = 0.0                 # physiology targets (y carries them; .targets)
    beat_share: float = 0.5                    # of the target loss, the median beat's share
    temperature: float = 0.1
    noise: tuple[float, float] = (0.05, 0.2)   # Gaussian noise sigma range (z-scored signal)
    scale: tuple[float, float] = (0.8, 1.2)
    seed: int = 0
    name: str = "mae"

    @property
    def paired(self) -> bool:
        return self.contrastive_weight > 0

    def _augment(self, views: list[torch.Tensor], generator: torch.Generator) -> list[torch.Tensor]:
        """Each view noised and scaled (contrastive training only)."""
        out = []
        for v in views:
            b = v.shape[0]
            sigma = torch.empty(b, 1, 1).uniform_(*self.noise, generator=generator)
            scale = torch.empty(b, 1, 1).uniform_(*self.scale, generator=generator)
            noise = torch.randn(v.shape, generator=generator)
            out.append(v * scale.to(v) + (sigma * noise).to(v))
        return out

    def _losses(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                generator: torch.Generator, augment: bool) -> dict[str, torch.Tensor]:
        cfg = model.config
        groups, targets = (y[:, 0].long(), y[:, 1:]) if y.ndim == 2 else (y, None)
        n = x.shape[-1] // cfg.stride
        n_keep = max(1, round((1 - self.mask_ratio) * n))
        recon, pooled = [], []
        clean = [x[:, i: i + 1] for i in range(x.shape[1] if self.paired else 1)]
        views = self._augment(clean, generator) if augment and self.paired else clean
        for v, target in zip(views, clean):
            if self.mask_style == "spans":
                mask = span_mask(v.shape[0], v.shape[-1], self.mask_ratio, self.span,
                                 generator).to(x.device)
                h = model.encode(v, mask)
                recon.append(masked_mse(patches_to_signal(model.recon_head(h[:, 1:])), target, mask))
                pooled.append(model.pool(h))
                continue
            keep = random_keep(v.shape[0], n, n_keep, generator).to(x.device)
            if self.recon_weight > 0:
                pred, emb = model.mae(v, keep)
                hidden = torch.ones(v.shape[0], n, dtype=torch.bool, device=x.device)
                hidden.scatter_(1, keep, False)
                recon.append(masked_mse(pred, target, hidden.repeat_interleave(cfg.stride, dim=1)))
            else:
                emb = model.pool(model.encode_visible(v, keep))
            pooled.append(emb)
        out: dict[str, torch.Tensor] = {}
        total = x.new_zeros((), dtype=torch.float32)
        if recon:
            out["recon"] = torch.stack(recon).mean()
            total = total + self.recon_weight * out["recon"]
        if self.paired:
            z = [model.contrastive_head(p) for p in pooled]
            out["contrastive"], top1 = info_nce(z[0], z[1], groups, self.temperature)
            out["pair_top1"] = top1.mean()
            total = total + self.contrastive_weight * out["contrastive"]
        if self.target_weight > 0:
            weights = torch.from_numpy(target_weights(targets.shape[1], self.beat_share)).to(x.device)
            out["physio"] = torch.stack([weighted_nan_mse(model.target_head(p), targets, weights)
                                         for p in pooled]).mean()
            total = total + self.target_weight * out["physio"]
        out["loss"] = total
        return out

    def train_loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                   generator: torch.Generator) -> torch.Tensor:
        return self._losses(model, x, y, generator, augment=True)["loss"]

    def val_metrics(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                    rows: np.ndarray) -> dict[str, tuple[float, float]]:
        gen = torch.Generator().manual_seed(derived_seed(self.seed, int(rows[0]), len(rows), 3))
        losses = self._losses(model, x, y, gen, augment=False)
        b = float(x.shape[0])
        return {k: (float(v) * b, b) for k, v in losses.items()}
