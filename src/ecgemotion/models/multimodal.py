"""Multimodal emotion models: one encoder per modality, fused late or early.

- **late** fusion (the authors' follow-up, arXiv 2212.13885): each modality's encoder pools
  its window to one embedding; the embeddings of the modalities present are joined and a
  head classifies them;
- **early** fusion (Wu, Daoudi & Amad, arXiv 2303.17611): every modality's channel tokens,
  tagged with a modality embedding and a channel-name embedding, go through one shared
  Transformer with a CLS token.

EEG montages differ between datasets (14 Emotiv electrodes vs 19+ 10-20 ones), so a
channel is known by its *name* (a hashed embedding), never by its position, and one small
conv encoder per modality is shared by all its channels: a model takes any channel count.

The network takes ONE tensor ``(B, 1, D)``, every modality's ``(channels × T)`` window
flattened in :class:`Layout` order, then one presence flag per modality (the input
:class:`Packed` builds), so the shared training loop and ``predict_proba`` drive it
unchanged. A modality whose flag is 0 (missing in that window) is left out of the fusion.
"""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from ecgemotion.models.blocks import MLPHead
from ecgemotion.recording import MODALITIES

FUSIONS = ("late", "early")
NAME_BUCKETS = 512        # hashed channel-name vocabulary (10-20 has ~75 names)
TOKENS_PER_CHANNEL = 4    # each channel's window is pooled to this many tokens


@dataclass
class MultimodalConfig:
    """Architecture of a multimodal model (plain data: saved in run.json and checkpoints).

    ``layout``: one ``{"modality", "channels", "window_len", "fs"}`` per input modality,
    in input order.
    """

    layout: list[dict[str, Any]] = field(default_factory=list)
    fusion: str = "late"
    d_model: int = 64
    n_heads: int = 4
    n_layers: int = 2
    dropout: float = 0.1
    n_classes: int = 2
    classifier_hidden: int = 64
    classifier_dropout: float = 0.1
    modality_dropout: float = 0.0       # training only: each modality hidden with this chance
    kind: str = "multimodal"

    @property
    def modalities(self) -> list[str]:
        return [m["modality"] for m in self.layout]

    @property
    def input_len(self) -> int:
        return sum(len(m["channels"]) * m["window_len"] for m in self.layout) + len(self.layout)

    @property
    def window_len(self) -> int:   # what generic code reads as the input length
        return self.input_len

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def layout_of(store, modalities: list[str]) -> list[dict[str, Any]]:
    """The input layout of ``modalities`` in ``store`` (channel names, window length, rate)."""
    return [{"modality": m, **store.modality_info(m)} for m in modalities]


class Packed:
    """A store view whose ``windows(rows)`` returns the multimodal model's one-tensor input
    (each modality's windows flattened, then the presence flags); everything else passes
    through, so a traced evaluation store still sees every row served."""

    def __init__(self, store, modalities: list[str]):
        self._store, self.modalities = store, list(modalities)

    def windows(self, rows) -> np.ndarray:
        parts = [self._store.modality_windows(m, rows).reshape(len(np.atleast_1d(rows)), -1)
                 for m in self.modalities]
        flags = np.stack([self._store.present(m, rows) for m in self.modalities], axis=1)
        return np.concatenate(parts + [flags.astype(np.float32)], axis=1)

    def __getattr__(self, name: str):
        return getattr(self._store, name)


def name_bucket(name: str) -> int:
    """A stable bucket for a channel name (case and spacing ignored): ``O1`` is ``o1``."""
    return zlib.crc32("".join(str(name).lower().split()).encode()) % NAME_BUCKETS


class ModalityEncoder(nn.Module):
    """One modality's channels -> tokens ``(B, C * TOKENS_PER_CHANNEL, d)``: an input
    standardisation and a conv stack shared by the channels (strides scaled so any rate gives a few dozen steps), pooled to
    a fixed token count, plus the channel-name and token-position embeddings."""

    def __init__(self, window_len: int, d: int, names: list[str]):
        super().__init__()
        stride = max(1, int(round((window_len / 16) ** (1 / 3))))    # ~16 steps left
        self.conv = nn.Sequential(
            # batch statistics standardise the input: a centred EDA window keeps its µS
            # amplitude relative to other windows, yet reaches the convolution at unit scale
            nn.BatchNorm1d(1), nn.Conv1d(1, 8, 7, stride, 3), nn.GELU(), nn.Conv1d(8, 16, 5, stride, 2), nn.GELU(),
            nn.Conv1d(16, d, 3, stride, 1), nn.GELU(), nn.AdaptiveAvgPool1d(TOKENS_PER_CHANNEL))
        self.register_buffer("buckets", torch.tensor([name_bucket(n) for n in names]),
                             persistent=False)   # from the layout: weights fit any montage
        self.position = nn.Parameter(torch.zeros(TOKENS_PER_CHANNEL, d))

    def forward(self, x: torch.Tensor, names: nn.Embedding) -> torch.Tensor:
        b, c, t = x.shape
        h = self.conv(x.reshape(b * c, 1, t)).transpose(1, 2)            # (B*C, K, d)
        h = h.reshape(b, c, TOKENS_PER_CHANNEL, -1) + self.position
        h = h + names(self.buckets)[None, :, None, :]
        return h.reshape(b, c * TOKENS_PER_CHANNEL, -1)


class MultimodalNet(nn.Module):
    """Per-modality encoders fused ``late`` or ``early`` (see the module docstring)."""

    def __init__(self, config: MultimodalConfig):
        super().__init__()
        if config.fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, not {config.fusion!r}")
        self.config = config
        d = config.d_model
        self.encoders = nn.ModuleDict({m["modality"]: ModalityEncoder(m["window_len"], d, m["channels"])
                                       for m in config.layout})
        self.names = nn.Embedding(NAME_BUCKETS, d)
        self.modality_embedding = nn.Embedding(len(MODALITIES), d)
        self.register_buffer("modality_ids", torch.tensor([MODALITIES.index(m) for m in config.modalities]),
                             persistent=False)
        if config.fusion == "early":
            self.cls = nn.Parameter(torch.zeros(1, 1, d))
            layer = nn.TransformerEncoderLayer(d, config.n_heads, 2 * d, config.dropout,
                                               batch_first=True, norm_first=True)
            self.fusion = nn.TransformerEncoder(layer, config.n_layers, enable_nested_tensor=False)
            head_in = d
        else:
            self.fusion = nn.ModuleDict({m: nn.Sequential(nn.LayerNorm(d), nn.Linear(d, d), nn.GELU())
                                         for m in config.modalities})
            head_in = d * len(config.layout)
        self.classifier = MLPHead(head_in, [config.classifier_hidden], config.n_classes,
                                  config.classifier_dropout)
        for table in (self.names, self.modality_embedding):   # small tags: the signal must dominate
            nn.init.normal_(table.weight, std=0.02)

    def split(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The packed input -> each modality's ``(B, C, T)`` windows and the ``(B, M)`` flags."""
        x = x.flatten(1)
        parts, at = [], 0
        for m in self.config.layout:
            n = len(m["channels"]) * m["window_len"]
            parts.append(x[:, at:at + n].reshape(len(x), len(m["channels"]), m["window_len"]))
            at += n
        return parts, x[:, at:at + len(self.config.layout)] > 0.5

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        parts, present = self.split(x)
        if self.training and self.config.modality_dropout and len(parts) > 1:
            present = present & self._keep_mask(present)
        tokens = [enc(p, self.names) + self.modality_embedding(self.modality_ids[i])
                  for i, (enc, p) in enumerate(zip(self.encoders.values(), parts))]
        if self.config.fusion == "early":
            owner = torch.cat([present[:, i:i + 1].expand(-1, t.shape[1]) for i, t in enumerate(tokens)], 1)
            seq = torch.cat([self.cls.expand(len(x), -1, -1)] + tokens, 1)
            keep = torch.cat([torch.ones_like(owner[:, :1]), owner], 1)
            return self.fusion(seq, src_key_padding_mask=~keep)[:, 0]
        pooled = [self.fusion[m](t.mean(1)) * present[:, i:i + 1]          # absent -> zeros
                  for i, (m, t) in enumerate(zip(self.config.modalities, tokens))]
        return torch.cat(pooled, 1)

    def _keep_mask(self, present: torch.Tensor) -> torch.Tensor:
        """Modality dropout (Neverova et al. 2016): hide whole modalities at random while
        training, never all of a window's, so that no modality is leaned on alone and a
        missing one at prediction time is a situation the model has seen."""
        keep = torch.rand(present.shape, device=present.device) >= self.config.modality_dropout
        lost = ~(keep & present).any(1)
        if lost.any():       # keep one present modality of each window left with none
            pick = torch.multinomial(present[lost].float() + 1e-6, 1).squeeze(1)
            keep[lost] = torch.nn.functional.one_hot(pick, present.shape[1]).bool()
        return keep

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.embed(x)
        return {"logits": self.classifier(h), "features": h}


def build_multimodal(store, modalities: list[str], fusion: str, seed: int = 0,
                     **overrides: Any) -> MultimodalNet:
    """A fresh 2-class multimodal model for ``modalities`` of ``store``."""
    torch.manual_seed(seed)
    return MultimodalNet(MultimodalConfig(layout=layout_of(store, modalities), fusion=fusion,
                                          **overrides))
