"""``ModelConfig``: every network in :mod:`ecgemotion.models` is built from one of these.

A config is plain data (numbers, strings, lists) and round-trips through JSON, so it
is saved beside the weights as ``config.json`` and printed in every run's summary.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ecgemotion.errors import ConfigError
from ecgemotion.io.model_files import read_config_file

KINDS = ("transformer", "cnn", "sarkar")
MASK_MODES = ("input", "embedding")
POSITIONAL = ("sinusoidal", "learned")
POOLING = ("cls", "mean")


@dataclass
class ModelConfig:
    """Architecture of one model. Lengths are in samples, ``fs`` in Hz.

    ``kind`` picks the family (``transformer``: conv encoder + Transformer + CLS, the
    paper's model and the fast variant; ``cnn``: conv encoder + global pooling;
    ``sarkar``: the CNN of Sarkar & Etemad). Fields a family does not use are ignored.
    """

    kind: str = "transformer"
    name: str = ""                       # preset it came from, for humans
    window_len: int = 1280               # samples per window (10 s at 128 Hz)
    fs: float = 128.0
    # conv signal encoder: one entry per conv layer
    conv_channels: list[int] = field(default_factory=lambda: [64, 128, 256])
    conv_kernels: list[int] = field(default_factory=lambda: [65, 33, 17])
    conv_strides: list[int] = field(default_factory=lambda: [1, 1, 1])
    conv_norm: str = "none"              # none | batch | group
    # Transformer
    d_model: int = 256
    n_heads: int = 8
    n_layers: int = 4
    d_ff: int = 1024
    dropout: float = 0.1
    positional: str = "sinusoidal"       # sinusoidal | learned
    max_tokens: int = 0                  # 0: window_len // stride + 1 (the CLS token)
    pooling: str = "cls"                 # window embedding: the CLS token or the token mean
    # masked pre-training
    mask_mode: str = "input"             # input | embedding
    decoder_layers: int = 0              # MAE decoder blocks (0: no decoder, the paper's head)
    decoder_dim: int = 64
    proj_dim: int = 0                    # contrastive projection head width (0: none)
    target_dim: int = 0                  # physiology-target head width (0: none; training/targets.py)
    # heads
    n_classes: int = 2
    classifier_hidden: int = 128
    classifier_dropout: float = 0.1
    n_transform_tasks: int = 7           # sarkar: original + six transformations
    # hybrid: physiological features (baselines/hrv.py names) joined to the embedding; the
    # input is then the window followed by these raw features (models/hybrid.py)
    physio_features: list[str] = field(default_factory=list)

    # -- derived ---------------------------------------------------------------------
    @property
    def stride(self) -> int:
        """Samples per token (product of the conv strides)."""
        return math.prod(self.conv_strides)

    @property
    def n_tokens(self) -> int:
        """Signal tokens per window (without the CLS token)."""
        return self.window_len // self.stride

    @property
    def in_channels(self) -> int:
        """Input channels of the conv encoder: signal, plus a mask indicator in input mode."""
        return 2 if (self.kind in ("transformer", "cnn") and self.mask_mode == "input") else 1

    def validate(self) -> "ModelConfig":
        if self.kind not in KINDS:
            raise ConfigError(f"model kind: expected one of {KINDS}, found {self.kind!r}")
        if self.mask_mode not in MASK_MODES:
            raise ConfigError(f"mask_mode: expected one of {MASK_MODES}, found {self.mask_mode!r}")
        if self.pooling not in POOLING:
            raise ConfigError(f"pooling: expected one of {POOLING}, found {self.pooling!r}")
        if self.positional not in POSITIONAL:
            raise ConfigError(f"positional: expected one of {POSITIONAL}, found {self.positional!r}")
        n = len(self.conv_channels)
        if not (len(self.conv_kernels) == len(self.conv_strides) == n) or n == 0:
            raise ConfigError(
                f"conv encoder: conv_channels, conv_kernels and conv_strides must have the same "
                f"non-zero length, found {len(self.conv_channels)}, {len(self.conv_kernels)}, "
                f"{len(self.conv_strides)}")
        if self.kind in ("transformer", "cnn") and any(k % 2 == 0 for k in self.conv_kernels):
            raise ConfigError(f"conv_kernels must be odd for 'same' padding, found {self.conv_kernels}")
        if self.kind in ("transformer", "cnn") and self.window_len % self.stride:
            raise ConfigError(f"window_len {self.window_len} is not a multiple of the conv "
                              f"encoder's total stride {self.stride}")
        if self.physio_features:
            from ecgemotion.baselines.context import CONTEXT_FEATURES
            from ecgemotion.baselines.hrv import FEATURES

            unknown = sorted(set(self.physio_features) - set(FEATURES) - set(CONTEXT_FEATURES))
            if unknown:
                raise ConfigError(f"physio_features: unknown feature(s) {unknown}; expected "
                                  f"names from {list(FEATURES) + list(CONTEXT_FEATURES)}")
        if self.kind == "transformer":
            if self.d_model % self.n_heads:
                raise ConfigError(f"d_model {self.d_model} is not divisible by n_heads {self.n_heads}")
            if self.max_tokens and self.max_tokens < self.n_tokens + 1:
                raise ConfigError(f"max_tokens {self.max_tokens} < tokens per window + CLS "
                                  f"({self.n_tokens + 1})")
        return self

    # -- JSON ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str | None = None) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        where = f"{source}: " if source else ""
        if str(data.get("kind", "")).startswith("multimodal"):
            raise ConfigError(f"{where}a multimodal model (kind {data['kind']!r}), not an ECG "
                              "network: use it with --modalities (docs/multimodal.md)")
        if unknown:
            raise ConfigError(f"{where}unknown model config field(s) {unknown}; "
                              f"expected a subset of {sorted(known)}")
        return cls(**data).validate()

    def replace(self, **overrides: Any) -> "ModelConfig":
        return ModelConfig.from_dict({**self.to_dict(), **overrides})

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "ModelConfig":
        data, _ = read_config_file(path)
        return cls.from_dict(data, source=str(path))

