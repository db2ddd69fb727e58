"""The paper's model and its fast variant: conv signal encoder -> [CLS] + tokens -> Transformer.

``paper``: stride-1 conv encoder (kernels 65/33/17, widths up to 256), one token per
sample, so attention runs over window_len + 1 tokens. ``fast``: the same family with a
strided encoder (total stride 32 -> 40 tokens per 1280-sample window); the
reconstruction head then predicts the ``stride`` samples of each token.

With ``decoder_layers > 0`` the model also carries an MAE decoder (He et al. 2022; ST-MEM for
ECG): :meth:`encode_visible` runs the Transformer on the unmasked tokens only, so a 75 % mask
makes a pre-training step about four times cheaper, and a small decoder fills in the rest.
``proj_dim > 0`` adds the projection head of the contrastive objective, ``target_dim > 0`` the
linear head that predicts physiology targets from the pooled embedding. All are
pre-training heads: fine-tuning and inference read only :meth:`embed`.
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
        if cfg.decoder_layers:
            self.mae_decoder = MaeDecoder(d, cfg.decoder_dim, cfg.decoder_layers, n_pos, cfg.stride)
        if cfg.proj_dim:
            self.contrastive_head = ProjectionHead(d, cfg.proj_dim)
        if cfg.target_dim:
            self.target_head = nn.Linear(d, cfg.target_dim)
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
        h = self.tokens(x, mask)                                     # (B, N, d)
        if cfg.mask_mode == "embedding" and mask is not None:
            m = token_mask(mask, cfg.stride)[..., None]
            h = torch.where(m, self.mask_token.to(h.dtype), h)
        h = torch.cat([self.cls_token.expand(h.shape[0], -1, -1).to(h.dtype), h], dim=1)
        h = self.drop(h + self.pos[:, : h.shape[1]])
        for block in self.blocks:
            h = block(h)
        return self.norm(h)

    def tokens(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Conv tokens (B, N, d) before position, CLS and Transformer; masked samples zeroed."""
        cfg = self.config
        if x.shape[-1] % cfg.stride or x.shape[-1] // cfg.stride + 1 > self.pos.shape[1]:
            raise ConfigError(f"window of {x.shape[-1]} samples does not fit this model (built for "
                              f"{cfg.window_len} samples = {cfg.window_len / cfg.fs:g} s at "
                              f"{cfg.fs:g} Hz, stride {cfg.stride})")
        h = self.encoder(prepare_input(x, mask, indicator=cfg.mask_mode == "input"))
        return self.embed_norm(self.proj(h.transpose(1, 2)))

    def pool(self, h: torch.Tensor) -> torch.Tensor:
        """(B, 1 + N, d) encoder output -> (B, d) window embedding (``config.pooling``)."""
        return h[:, 0] if self.config.pooling == "cls" else h[:, 1:].mean(dim=1)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The window embedding that frozen probes and the classifier read."""
        return self.pool(self.encode(x))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.embed(x)
        return {"logits": self.classifier(h), "features": h}

    def encode_visible(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """Encoder on the kept tokens only: ``keep`` (B, K) token indices -> (B, 1 + K, d).

        The samples of dropped tokens are zeroed before the conv encoder (and flagged in the
        indicator channel), so no kept token sees hidden signal through its receptive field.
        """
        cfg = self.config
        b, n = x.shape[0], x.shape[-1] // cfg.stride
        dropped = torch.ones(b, n, dtype=torch.bool, device=x.device)
        dropped.scatter_(1, keep, False)
        h = self.tokens(x, dropped.repeat_interleave(cfg.stride, dim=1))
        pos = self.pos[:, 1: n + 1].expand(b, -1, -1)
        h = torch.gather(h + pos.to(h.dtype), 1, keep[..., None].expand(-1, -1, h.shape[-1]))
        cls = (self.cls_token + self.pos[:, :1]).expand(b, -1, -1).to(h.dtype)
        h = self.drop(torch.cat([cls, h], dim=1))
        for block in self.blocks:
            h = block(h)
        return self.norm(h)

    def mae(self, x: torch.Tensor, keep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(predicted samples (B, 1, T), pooled embedding of the visible tokens (B, d))."""
        h = self.encode_visible(x, keep)
        n = x.shape[-1] // self.config.stride
        return patches_to_signal(self.mae_decoder(h, keep, n)), self.pool(h)

    def reconstruct(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Predicted signal (B, 1, T) from the masked input; the loss uses masked positions."""
        h = self.encode(x, mask)[:, 1:]
        return patches_to_signal(self.recon_head(h))


class MaeDecoder(nn.Module):
    """Small Transformer that places mask tokens among the encoded visible ones and predicts
    the ``stride`` samples of every token."""

    def __init__(self, d_model: int, dim: int, n_layers: int, n_pos: int, stride: int):
        super().__init__()
        self.inp = nn.Linear(d_model, dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.register_buffer("pos", sinusoidal_table(n_pos, dim)[None], persistent=False)
        self.blocks = nn.ModuleList(Block(dim, max(1, dim // 32), 4 * dim, 0.0)
                                    for _ in range(n_layers))
        self.norm = nn.LayerNorm(dim)
        self.out = nn.Linear(dim, stride)
        nn.init.normal_(self.mask_token, std=0.02)

    def forward(self, h: torch.Tensor, keep: torch.Tensor, n: int) -> torch.Tensor:
        """(B, 1 + K, d) encoder output, (B, K) kept indices -> (B, n, stride) predictions."""
        v = self.inp(h)
        b, dim = v.shape[0], v.shape[-1]
        full = self.mask_token.to(v.dtype).expand(b, n, dim).clone()
        full.scatter_(1, keep[..., None].expand(-1, -1, dim), v[:, 1:])
        z = torch.cat([v[:, :1], full], dim=1) + self.pos[:, : n + 1].to(v.dtype)
        for block in self.blocks:
            z = block(z)
        return self.out(self.norm(z)[:, 1:])


class ProjectionHead(nn.Module):
    """SimCLR's projection: Linear -> BatchNorm -> ReLU -> Linear -> BatchNorm.

    The batch norms matter here: at initialisation the token-mean embedding of every window
    is nearly the same vector (the mean of the position table dominates), so without
    centring over the batch the InfoNCE logits are uniform and the gradient vanishes
    (measured: loss stuck at log(batch) for 400 steps).
    """

    def __init__(self, d_in: int, d_out: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d_in, d_in), nn.BatchNorm1d(d_in), nn.ReLU(),
                                 nn.Linear(d_in, d_out), nn.BatchNorm1d(d_out, affine=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.float())
