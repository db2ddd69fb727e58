"""Building blocks shared by the model families: conv encoder, attention, heads, masking input."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ecgemotion.errors import ConfigError


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm1d(channels)
    if kind == "group":
        return nn.GroupNorm(min(8, channels), channels)
    return nn.Identity()


class ConvEncoder(nn.Module):
    """Stack of ``Conv1d -> norm -> GELU`` layers, 'same' padding (odd kernels).

    (B, in_channels, T) -> (B, channels[-1], T // prod(strides)).
    """

    def __init__(self, in_channels: int, channels: list[int], kernels: list[int],
                 strides: list[int], norm: str = "none"):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = in_channels
        for c, k, s in zip(channels, kernels, strides):
            layers += [nn.Conv1d(c_in, c, k, stride=s, padding=k // 2), _norm(norm, c), nn.GELU()]
            c_in = c
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def prepare_input(x: torch.Tensor, mask: torch.Tensor | None, indicator: bool) -> torch.Tensor:
    """Zero the masked samples of ``x`` (B, 1, T); append the mask as a channel if ``indicator``.

    Masked samples are always zeroed before the conv encoder: a wide conv kernel would
    otherwise copy the hidden signal into its unmasked neighbours' embeddings.
    """
    if x.ndim != 3 or x.shape[1] != 1:
        raise ConfigError(f"expected a signal of shape (batch, 1, time), found {tuple(x.shape)}")
    if mask is None:
        m = torch.zeros(x.shape[0], 1, x.shape[-1], dtype=x.dtype, device=x.device)
    else:
        m = mask[:, None, :].to(x.dtype)
        x = x * (1 - m)
    return torch.cat([x, m], dim=1) if indicator else x


def token_mask(mask: torch.Tensor, stride: int) -> torch.Tensor:
    """Sample mask (B, T) -> token mask (B, T // stride): a token is masked if any sample is."""
    b, t = mask.shape
    return mask.view(b, t // stride, stride).any(dim=-1)


def sinusoidal_table(n: int, d: int) -> torch.Tensor:
    """The fixed (n, d) sine/cosine position table of Vaswani et al. (2017)."""
    pos = torch.arange(n, dtype=torch.float32)[:, None]
    div = torch.exp(torch.arange(0, d, 2, dtype=torch.float32) * (-math.log(10000.0) / d))
    table = torch.zeros(n, d)
    table[:, 0::2] = torch.sin(pos * div)
    table[:, 1::2] = torch.cos(pos * div[: d // 2])
    return table


PLAIN_ATTENTION_MAX_TOKENS = 512   # beyond it SDPA's fused CPU kernel wins even in bf16


def plain_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, dropout_p: float = 0.0
                    ) -> torch.Tensor:
    """``softmax(q kᵀ / √d) v``, dropout on the weights. Why not always SDPA: on a CPU under
    bf16 autocast, SDPA's fused kernel is 5.9× slower than this at 41 tokens and still 1.5×
    at 320; from about a thousand tokens, and in fp32 from about a hundred, the fused kernel
    wins (``benchmarks/attention.py``, docs/performance.md)."""
    weights = ((q @ k.transpose(-2, -1)) * q.shape[-1] ** -0.5).softmax(-1)
    return F.dropout(weights, dropout_p, dropout_p > 0).to(v.dtype) @ v


class SelfAttention(nn.Module):
    """Multi-head self-attention: ``F.scaled_dot_product_attention``, except on a CPU under
    bf16 autocast with up to :data:`PLAIN_ATTENTION_MAX_TOKENS` tokens, where
    :func:`plain_attention` is several times faster."""

    def __init__(self, d_model: int, n_heads: int, dropout: float):
        super().__init__()
        self.n_heads = n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.dropout = dropout
        self.resid_drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        p = self.dropout if self.training else 0.0
        if x.is_cuda or q.dtype != torch.bfloat16 or n > PLAIN_ATTENTION_MAX_TOKENS:
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p)
        else:
            y = plain_attention(q, k, v, p)
        return self.resid_drop(self.proj(y.transpose(1, 2).reshape(b, n, d)))


def set_dropout(model: nn.Module, p: float) -> None:
    """Every dropout of ``model`` (residual, feed-forward, attention weights) set to ``p``; the
    model's config is left as it is, so a fine-tune reading it keeps its own dropout."""
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = p
        elif isinstance(m, SelfAttention):
            m.dropout = p


class Block(nn.Module):
    """Pre-LayerNorm Transformer encoder block: x + attn(ln(x)); x + mlp(ln(x))."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = SelfAttention(d_model, n_heads, dropout)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Linear(d_ff, d_model),
                                 nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class MLPHead(nn.Module):
    """``[Linear -> act -> Dropout] * len(hidden) -> Linear(n_out)``."""

    def __init__(self, d_in: int, hidden: list[int], n_out: int, dropout: float,
                 act: type[nn.Module] = nn.GELU):
        super().__init__()
        layers: list[nn.Module] = []
        for h in hidden:
            layers += [nn.Linear(d_in, h), act(), nn.Dropout(dropout)]
            d_in = h
        layers.append(nn.Linear(d_in, n_out))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def patches_to_signal(p: torch.Tensor) -> torch.Tensor:
    """(B, n_tokens, stride) per-token sample predictions -> (B, 1, n_tokens * stride)."""
    return p.reshape(p.shape[0], 1, -1)


def init_weights(module: nn.Module) -> None:
    """nanoGPT-style init: N(0, 0.02) for linear weights, zero biases."""
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
