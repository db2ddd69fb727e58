"""The paper's model and its fast variant: conv signal encoder -> [CLS] + tokens -> Transformer.

``paper``: stride-1 conv encoder (kernels 65/33/17, widths up to 256), one token per
sample, so attention runs over window_len + 1 tokens. ``fast``: the same family with a
strided encoder (total stride 32 -> 40 tokens per 1280-sample window); the
reconstruction head then predicts the ``stride`` samples of each token.
"""

from __future__ import annotations

import torch
from torch import nn

from ecgemotion.errors import ConfigError
from ecgemotion.models.blocks import (Block, ConvEncoder, MLPHead, init_weights,
                                      patches_to_signal, prepare_input, sinusoidal_table,
                                      token_mask)
from ecgemotion.models.config import ModelConfig


class EcgTransformer(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.config = cfg
        d = cfg.d_model
        self.encoder = ConvEncoder(cfg.in_channels, cfg.conv_channels, cfg.conv_kernels,
                                   cfg.conv_strides, cfg.conv_norm)
        c_out = cfg.conv_channels[-1]
        self.proj = nn.Linear(c_out, d) if c_out != d else nn.Identity()
        self.embed_norm = nn.LayerNorm(d)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        if cfg.mask_mode == "embedding":
            self.mask_token = nn.Parameter(torch.zeros(1, 1, d))
        n_pos = cfg.max_tokens or cfg.n_tokens + 1
        if cfg.positional == "learned":
            self.pos = nn.Parameter(torch.zeros(1, n_pos, d))
        else:
            self.register_buffer("pos", sinusoidal_table(n_pos, d)[None], persistent=False)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(d, cfg.n_heads, cfg.d_ff, cfg.dropout)
                                    for _ in range(cfg.n_layers))
        self.norm = nn.LayerNorm(d)
        self.recon_head = nn.Linear(d, cfg.stride)
        self.classifier = MLPHead(d, [cfg.classifier_hidden], cfg.n_classes, cfg.classifier_dropout)
        self.apply(init_weights)
        for p in [self.cls_token, getattr(self, "mask_token", None)]:
            if p is not None:
                nn.init.normal_(p, std=0.02)
        if cfg.positional == "learned":
            nn.init.normal_(self.pos, std=0.02)

    def encode(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """(B, 1, T) signal [+ (B, T) mask] -> (B, 1 + n_tokens, d_model); index 0 is CLS."""
        cfg = self.config
        if x.shape[-1] % cfg.stride or x.shape[-1] // cfg.stride + 1 > self.pos.shape[1]:
            raise ConfigError(f"window of {x.shape[-1]} samples does not fit this model (built for "
                              f"{cfg.window_len} samples, stride {cfg.stride})")
        h = self.encoder(prepare_input(x, mask, indicator=cfg.mask_mode == "input"))
        h = self.embed_norm(self.proj(h.transpose(1, 2)))            # (B, N, d)
        if cfg.mask_mode == "embedding" and mask is not None:
            m = token_mask(mask, cfg.stride)[..., None]
            h = torch.where(m, self.mask_token.to(h.dtype), h)
        h = torch.cat([self.cls_token.expand(h.shape[0], -1, -1).to(h.dtype), h], dim=1)
        h = self.drop(h + self.pos[:, : h.shape[1]])
        for block in self.blocks:
            h = block(h)
        return self.norm(h)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.encode(x)[:, 0]
        return {"logits": self.classifier(h), "features": h}

    def reconstruct(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Predicted signal (B, 1, T) from the masked input; the loss uses masked positions."""
        h = self.encode(x, mask)[:, 1:]
        return patches_to_signal(self.recon_head(h))
