"""Span masks for masked-signal pre-training."""

from __future__ import annotations

import torch


def span_mask(batch: int, length: int, ratio: float = 0.15, span: int = 64,
              generator: torch.Generator | None = None,
              device: torch.device | str | None = None) -> torch.Tensor:
    """A bool mask (batch, length), True on masked samples: contiguous spans of ``span``
    samples (64 = 0.5 s at 128 Hz) covering about ``ratio`` of each row.

    Span starts are drawn uniformly without replacement from the ``length // span`` aligned
    slots shifted by a random per-row offset, so spans never overlap and every row has
    exactly ``round(ratio * length / span)`` spans (at least one when ratio > 0).

    >>> m = span_mask(4, 1280, 0.15, 64, torch.Generator().manual_seed(0))
    >>> m.shape, round(m.float().mean().item(), 4)
    (torch.Size([4, 1280]), 0.15)
    """
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"mask ratio must be in [0, 1), found {ratio}")
    span = max(1, min(span, length))
    slots = length // span
    n_spans = min(slots, max(1 if ratio > 0 else 0, round(ratio * length / span)))
    mask = torch.zeros(batch, length, dtype=torch.bool)
    if n_spans == 0:
        return mask.to(device) if device is not None else mask
    # random slot choice per row: argsort of uniform noise
    noise = torch.rand(batch, slots, generator=generator)
    chosen = noise.argsort(dim=1)[:, :n_spans]                       # (B, n_spans)
    slack = length - slots * span
    offset = torch.randint(0, slack + 1, (batch, 1), generator=generator)
    starts = chosen * span + offset                                  # (B, n_spans)
    idx = (starts[..., None] + torch.arange(span)).reshape(batch, -1)
    mask.scatter_(1, idx, True)
    return mask.to(device) if device is not None else mask
