"""The six signal transformations of Sarkar & Etemad's pretext task, batched in torch.

Sarkar & Etemad, "Self-supervised ECG Representation Learning for Emotion Recognition",
IEEE TAC 2020 (arXiv 2002.03898). Parameters as in the authors' reference code,
github.com/pritamqu/SSL-ECG, ``implementation/main.py`` and
``implementation/signal_transformation_task.py`` (checked for this module):

=================  =============================================================  ===============
transformation     reference implementation                                       parameter
=================  =============================================================  ===============
noise              add white Gaussian noise at a target SNR (dB) w.r.t. the       ``snr_db=15``
                   window's mean power ``mean(x²)``
scaling            multiply by a constant                                         ``factor=1.1``
negation           ``-x``                                                         —
horizontal flip    time reversal                                                  —
permutation        cut into ``pieces`` equal segments, shuffle them               ``pieces=20``
time-warping       cut into ``pieces`` segments; a random ceil(pieces/2) are       ``pieces=9``,
                   stretched by ``stretch``, the others squeezed by ``squeeze``     ``stretch=1.05``,
                   (linear interpolation), concatenated, then a random crop of      ``squeeze=1/1.05``
                   the original length
=================  =============================================================  ===============

Note: the scaling factor in the reference code is **1.1** (``scale_param = 1.1``), not 0.9;
the squeeze factor is ``1 / 1.05`` (≈0.952), not 0.95. Windows there are 10 s at 256 Hz
(2560 samples); nothing here depends on the rate except through the segment counts.

Task labels: the reference trains **seven binary tasks** — "is this the original signal",
"is this the noisy signal", … — each window is expanded into its 7 versions (original +
6 transformations), the target is the one-hot vector of the version (``to_categorical`` of
0..6), each of seven sigmoid heads gets a binary cross-entropy, and the losses are summed
with weights :data:`TASK_LOSS_WEIGHTS` = (0.195, 0.195, 0.195, 0.0125, 0.0125, 0.195,
0.195) (negation and flip are easy, so they weigh little). So it is a 7-class problem
trained as 7 one-vs-rest binary tasks; :func:`make_transformation_batch` returns the
integer class (``F.one_hot`` gives the reference's targets) and
:func:`transformation_loss` computes the weighted multi-task loss (or a softmax 7-way
cross-entropy with ``multitask=False``). ``include_original=False`` gives the 6-way variant.

Differences from the reference, by design: segments are split with ``array_split``
semantics over the whole window (the reference drops the remainder of ``T // fs``
seconds in time-warping and keeps a short remainder piece in permutation); resampling
uses half-pixel linear interpolation like ``cv2.resize(INTER_LINEAR)``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["TRANSFORMS", "DEFAULTS", "TASK_LOSS_WEIGHTS", "add_noise", "scale", "negate", "hflip",
           "permute", "time_warp", "apply_transform", "make_transformation_batch",
           "transformation_loss"]

TRANSFORMS = ("original", "noise", "scale", "negate", "flip", "permute", "time_warp")
DEFAULTS = {"snr_db": 15.0, "scale_factor": 1.1, "permute_pieces": 20, "warp_pieces": 9,
            "warp_stretch": 1.05, "warp_squeeze": 1.0 / 1.05}
TASK_LOSS_WEIGHTS = (0.195, 0.195, 0.195, 0.0125, 0.0125, 0.195, 0.195)


def _check(x: torch.Tensor) -> None:
    if x.ndim != 3:
        raise ValueError(f"expected a (B, C, T) batch, got shape {tuple(x.shape)}")


def _bounds(T: int, pieces: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Starts and lengths of ``pieces`` near-equal segments of ``T`` samples (array_split)."""
    pieces = max(1, min(int(pieces), T))
    base, extra = divmod(T, pieces)
    lengths = torch.full((pieces,), base, dtype=torch.long, device=device)
    lengths[:extra] += 1
    starts = torch.cumsum(lengths, 0) - lengths
    return starts, lengths


def _rand(shape, generator, device) -> torch.Tensor:
    return torch.rand(shape, generator=generator, device=device if generator is None
                      else generator.device)


def add_noise(x: torch.Tensor, snr_db: float = DEFAULTS["snr_db"],
              generator: torch.Generator | None = None) -> torch.Tensor:
    """Add white Gaussian noise at ``snr_db`` relative to each window's mean power."""
    _check(x)
    power = x.pow(2).mean(dim=-1, keepdim=True)
    std = torch.sqrt(power / (10.0 ** (snr_db / 10.0)))
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype,
                        device=x.device if generator is None else generator.device).to(x.device)
    return x + std * noise


def scale(x: torch.Tensor, factor: float = DEFAULTS["scale_factor"]) -> torch.Tensor:
    _check(x)
    return x * factor


def negate(x: torch.Tensor) -> torch.Tensor:
    _check(x)
    return -x


def hflip(x: torch.Tensor) -> torch.Tensor:
    """Time reversal."""
    _check(x)
    return torch.flip(x, dims=(-1,))


def permute(x: torch.Tensor, pieces: int = DEFAULTS["permute_pieces"],
            generator: torch.Generator | None = None) -> torch.Tensor:
    """Cut each window into ``pieces`` segments and shuffle them (an own order per window)."""
    _check(x)
    B, C, T = x.shape
    starts, lengths = _bounds(T, pieces, x.device)
    m = len(starts)
    order = torch.argsort(_rand((B, m), generator, x.device).to(x.device), dim=1)  # (B, m)
    out_len = lengths[order]                                   # (B, m)
    out_start = torch.cumsum(out_len, 1) - out_len             # (B, m)
    t = torch.arange(T, device=x.device).expand(B, T).contiguous()
    slot = torch.searchsorted(out_start, t, right=True) - 1    # (B, T)
    src = starts[order.gather(1, slot)] + (t - out_start.gather(1, slot))
    return x.gather(2, src.unsqueeze(1).expand(B, C, T))


def time_warp(x: torch.Tensor, pieces: int = DEFAULTS["warp_pieces"],
              stretch: float = DEFAULTS["warp_stretch"], squeeze: float = DEFAULTS["warp_squeeze"],
              generator: torch.Generator | None = None) -> torch.Tensor:
    """Stretch a random half (rounded up) of ``pieces`` segments, squeeze the rest, crop.

    Each segment of ``n`` samples becomes ``ceil(n * factor)`` samples by linear
    interpolation; the concatenation is cropped back to ``T`` at a random offset (or,
    if it came out shorter, its last sample is repeated).
    """
    _check(x)
    B, C, T = x.shape
    dev = x.device
    starts, lengths = _bounds(T, pieces, dev)
    m = len(starts)
    n_stretch = math.ceil(m / 2)
    rank = torch.argsort(_rand((B, m), generator, dev).to(dev), dim=1).argsort(dim=1)
    factor = torch.where(rank < n_stretch, torch.tensor(float(stretch), device=dev),
                         torch.tensor(float(squeeze), device=dev))          # (B, m)
    out_len = torch.ceil(lengths.to(torch.float64) * factor.to(torch.float64)).long().clamp(min=1)
    out_start = torch.cumsum(out_len, 1) - out_len
    total = out_len.sum(1)                                                    # (B,)
    slack = (total - T).clamp(min=0)
    offset = torch.floor(_rand((B,), generator, dev).to(dev).double() * (slack + 1).double()).long()
    offset = torch.minimum(offset, slack)
    p = (torch.arange(T, device=dev).expand(B, T) + offset[:, None])
    p = torch.minimum(p, (total - 1)[:, None])                                # pad: repeat last
    slot = torch.searchsorted(out_start, p.contiguous(), right=True) - 1
    u = (p - out_start.gather(1, slot)).to(x.dtype)
    n_in = lengths[slot].to(x.dtype)
    n_out = out_len.gather(1, slot).to(x.dtype)
    pos = ((u + 0.5) * n_in / n_out - 0.5).clamp(min=0)
    pos = torch.minimum(pos, n_in - 1)
    src = starts[slot].to(x.dtype) + pos
    lo = torch.floor(src).long()
    hi = torch.minimum(lo + 1, (starts[slot] + lengths[slot] - 1))
    w = (src - lo.to(x.dtype)).unsqueeze(1)
    lo3, hi3 = (idx.unsqueeze(1).expand(B, C, T) for idx in (lo, hi))
    return x.gather(2, lo3) * (1 - w) + x.gather(2, hi3) * w


def apply_transform(name: str, x: torch.Tensor, generator: torch.Generator | None = None,
                    **params) -> torch.Tensor:
    """Apply one of :data:`TRANSFORMS` by name with :data:`DEFAULTS` overridden by ``params``."""
    p = {**DEFAULTS, **params}
    if name == "original":
        return x
    if name == "noise":
        return add_noise(x, p["snr_db"], generator)
    if name == "scale":
        return scale(x, p["scale_factor"])
    if name == "negate":
        return negate(x)
    if name == "flip":
        return hflip(x)
    if name == "permute":
        return permute(x, p["permute_pieces"], generator)
    if name == "time_warp":
        return time_warp(x, p["warp_pieces"], p["warp_stretch"], p["warp_squeeze"], generator)
    raise ValueError(f"unknown transformation {name!r}; choose from {', '.join(TRANSFORMS)}")


def make_transformation_batch(x: torch.Tensor, generator: torch.Generator | None = None,
                              include_original: bool = True, shuffle: bool = True,
                              **params) -> tuple[torch.Tensor, torch.Tensor]:
    """Expand ``(B, 1, T)`` windows into every transformed version and its task label.

    Returns ``(x_aug, target)``: ``x_aug`` is ``(K·B, 1, T)`` and ``target`` the integer
    class in ``0..K-1`` (``K`` = 7 with the original, as in the reference, else 6; the
    class numbers follow :data:`TRANSFORMS`, minus "original" for K = 6). ``shuffle``
    mixes versions across the batch (the reference shuffles before each step).
    """
    _check(x)
    names = TRANSFORMS if include_original else TRANSFORMS[1:]
    parts = [apply_transform(n, x, generator, **params) for n in names]
    x_aug = torch.cat(parts, dim=0)
    target = torch.arange(len(names), device=x.device).repeat_interleave(x.shape[0])
    if shuffle:
        perm = torch.argsort(_rand((len(target),), generator, x.device).to(x.device))
        x_aug, target = x_aug[perm], target[perm]
    return x_aug, target


def transformation_loss(logits: torch.Tensor, target: torch.Tensor, multitask: bool = True,
                        weights=None) -> torch.Tensor:
    """The pretext loss for ``logits`` ``(N, K)`` and integer ``target`` ``(N,)``.

    ``multitask=True`` (reference): K binary tasks on the one-hot target, per-task mean BCE
    weighted by ``weights`` (:data:`TASK_LOSS_WEIGHTS` for K = 7, their tail for K = 6,
    uniform otherwise) and summed. ``multitask=False``: softmax cross-entropy over K.
    """
    K = logits.shape[1]
    if not multitask:
        return F.cross_entropy(logits, target)
    if weights is None:
        weights = TASK_LOSS_WEIGHTS if K == 7 else TASK_LOSS_WEIGHTS[1:] if K == 6 else [1.0 / K] * K
    w = torch.as_tensor(weights, dtype=logits.dtype, device=logits.device)
    onehot = F.one_hot(target, K).to(logits.dtype)
    per_task = F.binary_cross_entropy_with_logits(logits, onehot, reduction="none").mean(0)
    return (per_task * w).sum()
