"""The CNN of Sarkar & Etemad (IEEE TAC 2020, arXiv 2002.03898), the self-supervised baseline.

Architecture as in the authors' reference code (github.com/pritamqu/SSL-ECG,
``implementation/model.py``): three conv blocks of two ``Conv1d('same') -> LeakyReLU``
layers with 32/64/128 filters and kernels 32/16/8, max pooling (size 8, stride 2) between
blocks, global max pooling -> 128 features.

Heads:
- ``transform_logits`` (B, n_transform_tasks): the multi-task pretext head. As in the
  reference code this is seven independent binary detectors (task 0: original signal,
  tasks 1-6: noise, scaling, negation, horizontal flip, permutation, time-warp), each
  ``Dense(128) -> LeakyReLU -> Dropout -> Dense(128) -> LeakyReLU -> Dropout -> Dense(1)``.
  Train with ``BCEWithLogits`` per task (or softmax over the 7 as a 7-way variant).
- ``logits`` (B, n_classes): the emotion head, two ReLU dense layers of
  ``classifier_hidden`` (512 in the paper) on the (frozen, in the paper) conv features.

Kernel sizes are in samples: the paper used 256 Hz, so at 128 Hz each kernel spans twice
the time. There is no masked-reconstruction path (``reconstruct`` raises).
"""

from __future__ import annotations

import torch
from torch import nn

from ecgemotion.errors import ConfigError
from ecgemotion.models.blocks import MLPHead, init_weights
from ecgemotion.models.config import ModelConfig


class SarkarCNN(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.config = cfg
        layers: list[nn.Module] = []
        c_in = 1
        for i, (c, k) in enumerate(zip(cfg.conv_channels, cfg.conv_kernels)):
            if i:
                layers.append(nn.MaxPool1d(8, stride=2))
            for _ in range(2):
                # TensorFlow 'same' padding (the extra zero goes right for even kernels)
                layers += [nn.ConstantPad1d(((k - 1) // 2, k // 2), 0.0), nn.Conv1d(c_in, c, k),
                           nn.LeakyReLU(0.2)]
                c_in = c
        self.encoder = nn.Sequential(*layers)
        self.transform_heads = nn.ModuleList(
            MLPHead(c_in, [128, 128], 1, cfg.dropout, act=lambda: nn.LeakyReLU(0.2))
            for _ in range(cfg.n_transform_tasks))
        self.classifier = MLPHead(c_in, [cfg.classifier_hidden] * 2, cfg.n_classes,
                                  cfg.classifier_dropout, act=nn.ReLU)
        self.apply(init_weights)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, T) -> (B, 128) globally max-pooled conv features."""
        return self.encoder(x).amax(dim=-1)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.encode(x)
        return {"logits": self.classifier(h), "features": h,
                "transform_logits": torch.cat([head(h) for head in self.transform_heads], dim=1)}

    def reconstruct(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        raise ConfigError("the 'sarkar' model is pre-trained by transformation recognition, "
                          "not masked reconstruction; use paper, fast or cnn")
