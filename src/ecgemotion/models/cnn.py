"""The 1-D CNN baseline: conv encoder -> global average pooling -> the same classifier head.

For masked pre-training "the same way" as the Transformer it takes the same masked input
(zeroed samples + indicator channel) and a reconstruction head: a 1x1 conv that predicts,
at each position of the (strided) feature map, the ``stride`` samples it covers (a
transposed conv with kernel = stride, written as a linear map).
"""

from __future__ import annotations

import torch
from torch import nn

from ecgemotion.errors import ConfigError
from ecgemotion.models.blocks import (ConvEncoder, MLPHead, init_weights, patches_to_signal,
                                      prepare_input)
from ecgemotion.models.config import ModelConfig


class EcgCNN(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.config = cfg
        self.encoder = ConvEncoder(cfg.in_channels, cfg.conv_channels, cfg.conv_kernels,
                                   cfg.conv_strides, cfg.conv_norm)
        c = cfg.conv_channels[-1]
        self.recon_head = nn.Linear(c, cfg.stride)
        self.classifier = MLPHead(c, [cfg.classifier_hidden], cfg.n_classes, cfg.classifier_dropout)
        self.apply(init_weights)

    def encode(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """(B, 1, T) -> feature map (B, C, T // stride)."""
        if x.shape[-1] % self.config.stride:
            raise ConfigError(f"window of {x.shape[-1]} samples is not a multiple of the "
                              f"model's stride {self.config.stride}")
        return self.encoder(prepare_input(x, mask, indicator=self.config.mask_mode == "input"))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.encode(x).mean(dim=-1)
        return {"logits": self.classifier(h), "features": h}

    def reconstruct(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.encode(x, mask).transpose(1, 2)                     # (B, N, C)
        return patches_to_signal(self.recon_head(h))
