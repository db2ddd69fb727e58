"""Self-supervised objectives beyond the paper's masked reconstruction (the v2 study).

- ``mae``: MAE-style masked patch reconstruction (ST-MEM): 75 % of the tokens hidden, the
  encoder sees only the rest, a small decoder predicts the hidden samples.
- ``contrastive``: InfoNCE over the batch whose positives are two *different* windows of the
  same recording, a few seconds apart (CLOCS' cross-segment positives), with moderate noise
  and scaling; windows of the same person are never used as negatives.
- ``mae+contrastive``: both at once on the same two masked views, so the contrastive term
  costs no extra encoder pass.

Every objective trains the pooled (token-mean) embedding that frozen probes and
fine-tuning read. ``paper`` (15 % spans, full encoder, lives in :mod:`.pretrain`) stays
available for the paper's recipe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ecgemotion.training.data import derived_seed, subject_keys

# name -> (objective settings, model-config fields the objective needs)
OBJECTIVES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "paper": ({}, {}),
    "mae": (dict(mask_ratio=0.75, recon_weight=1.0, contrastive_weight=0.0),
            dict(decoder_layers=2, pooling="mean")),
    "contrastive": (dict(mask_ratio=0.0, recon_weight=0.0, contrastive_weight=1.0),
                    dict(proj_dim=64, pooling="mean")),
    "mae+contrastive": (dict(mask_ratio=0.5, recon_weight=1.0, contrastive_weight=0.2),
                        dict(decoder_layers=2, proj_dim=64, pooling="mean")),
}


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
    """A window dataset whose items are two windows of the same recording.

    ``batch(positions)`` returns ``x`` (B, 2, T) — the window and a partner drawn among the
    ``reach`` windows before or after it in the same recording (itself when the recording
    has one window) — and ``y`` (B,), an integer per person, so the objective can keep
    same-person windows out of the negatives. Partners are drawn with torch's global RNG,
    which :func:`~ecgemotion.training.loop.fit` re-seeds before every step (exact resume);
    with ``random=False`` the partner is the next window (validation).
    """

    def __init__(self, store, rows: np.ndarray, reach: int = 3, random: bool = True):
        self.store = store
        self.rows = np.asarray(rows, dtype=np.int64)
        self.random = random
        index = store.index.iloc[self.rows]
        self.labels = pd.factorize(subject_keys(index))[0].astype(np.int64)
        parts = [index[c].astype(str).to_numpy() for c in ("trial", "lead", "part") if c in index]
        recording = pd.factorize(pd.Series(subject_keys(index)).str.cat(parts, sep="/"))[0]
        order = np.lexsort((index["start_s"].to_numpy(), recording))
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        rec_sorted = recording[order]
        # neighbours in the sorted order that belong to the same recording, within reach
        cand = np.full((len(order), 2 * reach), -1, dtype=np.int64)
        for j, off in enumerate([o for o in range(-reach, reach + 1) if o]):
            nb = np.arange(len(order)) + off
            ok = (nb >= 0) & (nb < len(order))
            ok[ok] &= rec_sorted[nb[ok]] == rec_sorted[ok]
            cand[ok, j] = order[nb[ok]]
        self.candidates = cand[rank]                        # per position, -1 = none
        self.n_candidates = (self.candidates >= 0).sum(axis=1)

    def __len__(self) -> int:
        return len(self.rows)

    def partners(self, positions: np.ndarray) -> np.ndarray:
        cand = self.candidates[positions]
        out = np.asarray(positions).copy()
        for i, c in enumerate(cand):
            c = c[c >= 0]
            if len(c):
                out[i] = c[int(torch.randint(len(c), (1,)))] if self.random else c[len(c) // 2]
        return out

    def batch(self, positions: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        positions = np.asarray(positions, dtype=np.int64)
        both = np.stack([self.rows[positions], self.rows[self.partners(positions)]], axis=1)
        x = self.store.windows(both.reshape(-1)).reshape(len(positions), 2, -1)
        return torch.from_numpy(x), torch.from_numpy(self.labels[positions])


@dataclass
class SelfSupervised:
    """MAE reconstruction and/or contrastive InfoNCE on two views of a recording."""

    mask_ratio: float = 0.75
    recon_weight: float = 1.0
    contrastive_weight: float = 0.0
    temperature: float = 0.1
    noise: tuple[float, float] = (0.05, 0.2)   # Gaussian noise sigma range (z-scored signal)
    scale: tuple[float, float] = (0.8, 1.2)
    seed: int = 0
    name: str = "mae"

    @property
    def paired(self) -> bool:
        return self.contrastive_weight > 0

    def _views(self, x: torch.Tensor, generator: torch.Generator, augment: bool) -> list[torch.Tensor]:
        """The clean windows (one, or two when paired), noised and scaled when ``augment``."""
        views = [x[:, i: i + 1] for i in range(x.shape[1])] if self.paired else [x[:, :1]]
        if not (augment and self.paired):
            return views
        out = []
        for v in views:
            b = v.shape[0]
            sigma = torch.empty(b, 1, 1).uniform_(*self.noise, generator=generator)
            scale = torch.empty(b, 1, 1).uniform_(*self.scale, generator=generator)
            noise = torch.randn(v.shape, generator=generator)
            out.append(v * scale.to(v) + (sigma * noise).to(v))
        return out

    def _losses(self, model: nn.Module, x: torch.Tensor, groups: torch.Tensor,
                generator: torch.Generator, augment: bool) -> dict[str, torch.Tensor]:
        cfg = model.config
        n = x.shape[-1] // cfg.stride
        n_keep = max(1, round((1 - self.mask_ratio) * n))
        recon, pooled = [], []
        clean = [x[:, i: i + 1] for i in range(x.shape[1] if self.paired else 1)]
        for v, target in zip(self._views(x, generator, augment), clean):
            keep = random_keep(v.shape[0], n, n_keep, generator).to(x.device)
            if self.recon_weight > 0:
                pred, emb = model.mae(v, keep)
                hidden = torch.ones(v.shape[0], n, dtype=torch.bool, device=x.device)
                hidden.scatter_(1, keep, False)
                m = hidden.repeat_interleave(cfg.stride, dim=1)[:, None, :]
                recon.append(F.mse_loss(pred.float()[m], target.float()[m]))
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
