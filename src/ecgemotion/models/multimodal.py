"""Multimodal emotion models: one encoder per modality, fused late or early.

- **late** fusion (decision level, as the authors' follow-up arXiv 2212.13885 fuses
  separately trained ECG and EEG models): each modality's branch scores the window alone
  and the log-odds of the modalities present are added — each modality is independent,
  noisy evidence. The branches are trained one at a time (:attr:`MultimodalNet.solo`,
  ``training/finetune.py: fit_multimodal``), each selected on its own validation loss:
  trained jointly, the fused model overfit before each branch was as good as alone
  (0.74 balanced accuracy vs 0.76 for EEG alone; cf. Wang, Tran & Feiszli 2020, "What
  makes training multi-modal classification networks hard?");
- **early** fusion (Wu, Daoudi & Amad, arXiv 2303.17611): every modality's channel tokens,
  tagged with a modality embedding and a channel-name embedding, go through one shared
  Transformer with a CLS token.

The ECG enters as its window's heart-rate-variability features (``ecg_features``, the
hybrid model's :data:`~ecgemotion.baselines.hrv.PHYSIO_FEATURES`) by default: a conv
encoder learns nothing from a few hundred ECG windows (0.50 balanced accuracy where HRV
features give 0.71 on the same windows), so a fusion's ECG branch would throw that away.
They are standardised with the training rows' statistics (kept in buffers) and feed a
linear path to the logits fitted as a logistic regression on the training rows (as in
``models/hybrid.py``); in late fusion that logistic regression is the ECG branch (what ten
features and a few hundred windows support: an MLP on them scored 0.69 where the logistic
regression scored 0.70), in early fusion the features are also one token.

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
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from ecgemotion.baselines.context import hybrid_features
from ecgemotion.baselines.hrv import PHYSIO_FEATURES, physio_matrix
from ecgemotion.io.model_files import MULTIMODAL_PRETRAIN_KIND as PRETRAIN_KIND
from ecgemotion.models.blocks import MLPHead
from ecgemotion.models.hybrid import fit_feature_path, standardise
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
    modality_dropout: float = 0.25      # early fusion, training: each modality hidden with this chance
    kind: str = "multimodal"

    @property
    def modalities(self) -> list[str]:
        return [m["modality"] for m in self.layout]

    @property
    def input_len(self) -> int:
        return sum(width(m) for m in self.layout) + len(self.layout)

    @property
    def window_len(self) -> int:   # what generic code reads as the input length
        return self.input_len

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def width(entry: dict[str, Any]) -> int:
    """How many input values one layout entry takes: its features, or channels × samples."""
    return len(entry["features"]) if entry.get("features") else len(entry["channels"]) * entry["window_len"]


def layout_of(store, modalities: list[str], ecg_features=PHYSIO_FEATURES) -> list[dict[str, Any]]:
    """The input layout of ``modalities`` in ``store`` (channel names, window length, rate;
    the ECG as ``ecg_features`` of its window unless that is empty)."""
    return [{"modality": m, **store.modality_info(m),
             **({"features": list(ecg_features)} if m == "ecg" and ecg_features else {})}
            for m in modalities]


def pack(layout: list[dict[str, Any]], windows: dict[str, np.ndarray], present: dict[str, np.ndarray],
         features=None) -> np.ndarray:
    """The one-tensor input ``(n, input_len)``: each modality's ``(n, C, T)`` windows
    flattened (or, for a feature entry, ``features(ecg windows)``), then the presence flags.
    The one place the input is laid out, for a store (:class:`Packed`) and for ``predict``."""
    parts = []
    for m in layout:
        x = windows[m["modality"]]
        if m.get("features"):
            x = features(x) if features is not None else hybrid_features(x, m["fs"], m["features"])
        parts.append(np.asarray(x, dtype=np.float32).reshape(len(x), -1))
    flags = np.stack([present[m["modality"]] for m in layout], axis=1)
    return np.concatenate(parts + [flags.astype(np.float32)], axis=1)


class Packed:
    """A store view whose ``windows(rows)`` returns the multimodal model's one-tensor input
    (:func:`pack`); everything else passes through, so a traced evaluation store still sees
    every row served. HRV features come from the store's ``hrv`` (an evaluation's shared
    cache) or from a cache of its own, each row computed once."""

    def __init__(self, store, layout: list[dict[str, Any]]):
        self._store, self.layout, self._hrv = store, layout, None

    def hrv(self, rows):
        if self._hrv is None:    # looked up at the first read: a store is touched only when read
            self._hrv = getattr(self._store, "hrv", None)
            if self._hrv is None:
                from ecgemotion.baselines.hrv import HRVFeatureCache
                self._hrv = HRVFeatureCache(self._store)
        return self._hrv(rows)

    def windows(self, rows) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        names = next((m["features"] for m in self.layout if m.get("features")), None)
        return pack(self.layout, {m["modality"]: (rows if m.get("features") else
                                                   self._store.modality_windows(m["modality"], rows))
                                  for m in self.layout},
                    {m["modality"]: self._store.present(m["modality"], rows) for m in self.layout},
                    features=lambda r: physio_matrix(self.hrv(r), names))

    def __getattr__(self, name: str):
        return getattr(self._store, name)


def split_packed(layout: list[dict[str, Any]], x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
    """The packed input (:func:`pack`) -> each modality's ``(B, C, T)`` windows (a feature
    entry: ``(B, 1, F)``) and the ``(B, M)`` presence flags."""
    x = x.flatten(1)
    parts, at = [], 0
    for m in layout:
        n = width(m)
        parts.append(x[:, at:at + n].reshape(-1, 1, n) if m.get("features") else
                     x[:, at:at + n].reshape(-1, len(m["channels"]), m["window_len"]))
        at += n
    return parts, x[:, at:at + len(layout)] > 0.5


def name_bucket(name: str) -> int:
    """A stable bucket for a channel name (case and spacing ignored): ``O1`` is ``o1``."""
    return zlib.crc32("".join(str(name).lower().split()).encode()) % NAME_BUCKETS


def adaptive_pool_matrix(length: int, k: int) -> torch.Tensor:
    """``(length, k)``: column i averages ``nn.AdaptiveAvgPool1d(k)``'s i-th window."""
    pool = torch.zeros(length, k)
    for i in range(k):
        start, end = (i * length) // k, -(-(i + 1) * length // k)
        pool[start:end, i] = 1.0 / (end - start)
    return pool


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
            nn.Conv1d(16, d, 3, stride, 1), nn.GELU())
        length = window_len
        for k in (7, 5, 3):                  # each conv's output length (padding k // 2)
            length = (length + 2 * (k // 2) - k) // stride + 1
        # adaptive average pooling to a fixed token count, as a matrix: the same windows as
        # nn.AdaptiveAvgPool1d, and a graph that ONNX exports with a dynamic batch
        self.register_buffer("pool", adaptive_pool_matrix(length, TOKENS_PER_CHANNEL), persistent=False)
        self.register_buffer("buckets", torch.tensor([name_bucket(n) for n in names]),
                             persistent=False)   # from the layout: weights fit any montage
        self.position = nn.Parameter(torch.zeros(TOKENS_PER_CHANNEL, d))

    def forward(self, x: torch.Tensor, names: nn.Embedding) -> torch.Tensor:
        b, c, t = x.shape
        h = (self.conv(x.reshape(b * c, 1, t)) @ self.pool).transpose(1, 2)   # (B*C, K, d)
        h = h.reshape(b, c, TOKENS_PER_CHANNEL, -1) + self.position
        h = h + names(self.buckets)[None, :, None, :]
        return h.reshape(b, c * TOKENS_PER_CHANNEL, -1)


class FeatureEncoder(nn.Module):
    """A modality given as measured features (the ECG's HRV) -> one token ``(B, 1, d)``.
    NaN (an undefined feature) becomes the training median, then the training mean and SD
    standardise it (:meth:`MultimodalNet.fit_training_side`; buffers, so prediction repeats
    it exactly); beyond ±5 SD (a missed beat) is clipped."""

    def __init__(self, n_features: int, d: int):
        super().__init__()
        self.register_buffer("fill", torch.zeros(n_features))
        self.register_buffer("center", torch.zeros(n_features))
        self.register_buffer("scale", torch.ones(n_features))
        self.proj = nn.Sequential(nn.Linear(n_features, d), nn.GELU())

    def normalise(self, raw: torch.Tensor) -> torch.Tensor:
        return standardise(raw, self.fill, self.center, self.scale)

    def forward(self, x: torch.Tensor, names: nn.Embedding) -> torch.Tensor:
        return self.proj(self.normalise(x[:, 0]))[:, None]


class MultimodalNet(nn.Module):
    """Per-modality encoders fused ``late`` or ``early`` (see the module docstring)."""

    def __init__(self, config: MultimodalConfig):
        super().__init__()
        if config.fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, not {config.fusion!r}")
        self.config = config
        d = config.d_model
        self.encoders = nn.ModuleDict({m["modality"]: FeatureEncoder(len(m["features"]), d)
                                       if m.get("features") else ModalityEncoder(m["window_len"], d, m["channels"])
                                       for m in config.layout})
        self.featured = next((i for i, m in enumerate(config.layout) if m.get("features")), None)
        if self.featured is not None:    # the features' linear path to the logits
            self.physio = nn.Linear(len(config.layout[self.featured]["features"]), config.n_classes)
            nn.init.zeros_(self.physio.weight)
            nn.init.zeros_(self.physio.bias)
        self.names = nn.Embedding(NAME_BUCKETS, d)
        self.modality_embedding = nn.Embedding(len(MODALITIES), d)
        self.register_buffer("modality_ids", torch.tensor([MODALITIES.index(m) for m in config.modalities]),
                             persistent=False)
        if config.fusion == "early":
            self.cls = nn.Parameter(torch.zeros(1, 1, d))
            layer = nn.TransformerEncoderLayer(d, config.n_heads, 2 * d, config.dropout,
                                               batch_first=True, norm_first=True)
            self.fusion = nn.TransformerEncoder(layer, config.n_layers, enable_nested_tensor=False)
            self.classifier = MLPHead(d, [config.classifier_hidden], config.n_classes,
                                      config.classifier_dropout)
        else:   # one head per modality scored from its signal; their logits are added
            self.heads = nn.ModuleDict({m["modality"]: nn.Sequential(nn.LayerNorm(d), MLPHead(
                d, [config.classifier_hidden], config.n_classes, config.classifier_dropout))
                for m in config.layout if not m.get("features")})
        self.solo: int | None = None    # late fusion, while training: only this branch counts
        for table in (self.names, self.modality_embedding):   # small tags: the signal must dominate
            nn.init.normal_(table.weight, std=0.02)

    def split(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        return split_packed(self.config.layout, x)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        parts, has = self.split(x)
        if self.solo is not None:            # one branch alone: the others are not even run
            present = has & (torch.arange(len(parts), device=x.device) == self.solo)
        elif self.training and self.config.modality_dropout and len(parts) > 1:
            present = has & self._keep_mask(has)
        else:
            present = has
        tokens = [enc(p, self.names) + self.modality_embedding(self.modality_ids[i])
                  if self.solo in (None, i) and not (self.config.fusion == "late" and i == self.featured)
                  else None for i, (enc, p) in enumerate(zip(self.encoders.values(), parts))]
        physio = None
        if self.featured is not None:     # the features' linear path, the featured modality's say
            i = self.featured
            physio = self.physio(self.encoders[self.config.modalities[i]].normalise(parts[i][:, 0]))
        if self.config.fusion == "early":
            owner = torch.cat([present[:, i:i + 1].expand(-1, t.shape[1]) for i, t in enumerate(tokens)], 1)
            seq = torch.cat([self.cls.expand(x.shape[0], -1, -1)] + tokens, 1)
            keep = torch.cat([torch.ones_like(owner[:, :1]), owner], 1)
            h = self.fusion(seq, src_key_padding_mask=~keep)[:, 0]
            logits = self.classifier(h)
            if physio is not None:
                logits = logits + physio * present[:, self.featured:self.featured + 1]
            return {"logits": logits, "features": h}
        branch = [physio if i == self.featured else self.heads[m](t.mean(1)) if t is not None
                  else torch.zeros(x.shape[0], self.config.n_classes, device=x.device)
                  for i, (m, t) in enumerate(zip(self.config.modalities, tokens))]
        logits = (torch.stack(branch, 1) * present[..., None]).sum(1)     # absent -> no say
        return {"logits": logits, "features": torch.stack(branch, 1).flatten(1)}

    def fit_training_side(self, packed: np.ndarray, y: np.ndarray) -> None:
        """Fix the feature branch's normalisation on the training rows' packed inputs and
        start its linear path at a logistic regression (``models/hybrid.py``'s
        :func:`~ecgemotion.models.hybrid.fit_feature_path`). No feature branch: nothing."""
        if self.featured is not None:
            parts, _ = self.split(torch.as_tensor(np.asarray(packed, dtype=np.float32)))
            fit_feature_path(self.encoders[self.config.modalities[self.featured]],
                             parts[self.featured][:, 0].numpy(), y, self.physio)

    def branch(self, i: int | None) -> list[nn.Parameter]:
        """Late fusion: let only branch ``i`` have a say and train (None: all of them again).
        Its parameters are returned; every other one is frozen, and other branches' norm
        statistics stay as they are (their modules are kept in eval mode)."""
        if self.config.fusion != "late":
            raise ValueError("only late fusion trains its branches one at a time")
        self.solo = i
        own = set() if i is None else {id(p) for p in self._branch_modules(i).parameters()}
        for p in self.parameters():
            p.requires_grad = i is None or id(p) in own
        self.train(self.training)
        return [p for p in self.parameters() if p.requires_grad]

    def _branch_modules(self, i: int) -> nn.Module:
        m = self.config.modalities[i]
        return nn.ModuleList([self.physio] if i == self.featured else [self.encoders[m], self.heads[m]])

    def train(self, mode: bool = True):
        super().train(mode)
        if self.solo is not None:
            for i in range(len(self.config.layout)):
                if i != self.solo:
                    self._branch_modules(i).eval()
        return self

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



def build_multimodal(store, modalities: list[str], fusion: str, seed: int = 0,
                     ecg_features=PHYSIO_FEATURES, **overrides: Any) -> MultimodalNet:
    """A fresh 2-class multimodal model for ``modalities`` of ``store``."""
    torch.manual_seed(seed)
    return MultimodalNet(MultimodalConfig(layout=layout_of(store, modalities, ecg_features),
                                          fusion=fusion, **overrides))


# -- multimodal masked pre-training ------------------------------------------------------------
PRETRAINED_PARTS = ("names.", "modality_embedding.")   # + each signal modality's encoders.<m>.


def signal_layout(store, modalities: list[str]) -> list[dict[str, Any]]:
    """The entries of ``modalities`` that a fusion model reads as signals (the ECG enters as
    its HRV features, which a logistic regression fits at fine-tuning: nothing to pre-train)."""
    return [m for m in layout_of(store, modalities) if not m.get("features")]


class MultimodalReconstructor(nn.Module):
    """Multimodal masked pre-training (``pretrain --modalities``): each signal modality's
    window, with spans hidden, goes through the fusion model's own encoder
    (:class:`ModalityEncoder`, with the channel-name and modality embeddings), and a linear
    decoder per modality turns each of a channel's tokens back into its stretch of samples.
    Its state keys are :class:`MultimodalNet`'s for the parts a fine-tune starts from
    (:func:`load_pretrained_encoders`); the decoders are left behind."""

    def __init__(self, config: MultimodalConfig):
        super().__init__()
        if any(m.get("features") for m in config.layout):
            raise ValueError("pre-training reconstructs signals: a feature entry has none")
        self.config = replace(config, kind=PRETRAIN_KIND)
        net = MultimodalNet(replace(config, fusion="late"))      # its encoders and embeddings
        self.encoders, self.names, self.modality_embedding = net.encoders, net.names, net.modality_embedding
        self.register_buffer("modality_ids", net.modality_ids.clone(), persistent=False)
        self.decoders = nn.ModuleDict({m["modality"]: nn.Linear(
            config.d_model, -(-m["window_len"] // TOKENS_PER_CHANNEL)) for m in config.layout})
        for decoder in self.decoders.values():   # start at predicting the window's centre, 0
            nn.init.zeros_(decoder.weight)
            nn.init.zeros_(decoder.bias)

    def reconstruct(self, x: torch.Tensor, masks: dict[str, torch.Tensor]
                    ) -> dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Packed input ``(B, 1, D)`` and ``{modality: (B, T) bool}`` (True = hidden) -> per
        modality (reconstruction ``(n, C, T)``, the windows themselves, their masks) for the n
        windows that have it: a window lacking a modality never reaches its encoder (nor its
        batch statistics). A hidden sample reaches the encoder as 0 (the window's centre)."""
        parts, present = split_packed(self.config.layout, x)
        out = {}
        for i, (m, part) in enumerate(zip(self.config.modalities, parts)):
            has = present[:, i]
            if not has.any():
                continue
            part, mask = part[has], masks[m][has]
            seen = part.masked_fill(mask[:, None, :], 0.0)
            tokens = self.encoders[m](seen, self.names) + self.modality_embedding(self.modality_ids[i])
            n, c, t = part.shape
            pred = self.decoders[m](tokens.reshape(n, c, TOKENS_PER_CHANNEL, -1)).reshape(n, c, -1)
            out[m] = (pred[..., :t], part, mask)
        return out


def is_multimodal_pretraining(folder) -> bool:
    """Whether ``folder`` (a run folder or its ``best/``) is a ``pretrain --modalities`` run."""
    from ecgemotion.errors import EcgEmotionError
    from ecgemotion.models.hub import resolve_pretrained

    try:
        return folder is not None and _saved_config(resolve_pretrained(folder)).get("kind") == PRETRAIN_KIND
    except EcgEmotionError:    # neither a folder nor a shipped name
        return False


def pretrained_width(folder) -> int:
    """The embedding width of a multimodal pre-training run (what a fine-tune must build)."""
    from ecgemotion.models.hub import resolve_pretrained

    return int(_saved_config(resolve_pretrained(folder)).get("d_model", MultimodalConfig.d_model))


def load_pretrained_encoders(net: MultimodalNet, folder) -> list[str]:
    """Start ``net``'s signal encoders (and its channel-name and modality embeddings) from a
    multimodal pre-training run (``pretrain --modalities``: a run folder, its ``best/`` is
    read); heads, fusion layers and the ECG's feature path stay fresh. Returns the modalities
    loaded. A run for other windows or another width is an error naming the file."""
    from ecgemotion.errors import ConfigError
    from ecgemotion.io.model_files import WEIGHTS_NAME
    from ecgemotion.models.hub import read_weights, resolve_pretrained

    folder = resolve_pretrained(folder)
    saved = _saved_config(folder)
    if saved.get("kind") != PRETRAIN_KIND:
        raise ConfigError(f"{folder}: expected a multimodal pre-training run (`ecgemotion pretrain "
                          f"--modalities`, config kind {PRETRAIN_KIND!r}), found kind {saved.get('kind')!r}")
    theirs = {m["modality"]: m for m in saved.get("layout", [])}
    shared = [m for m in net.config.layout if not m.get("features") and m["modality"] in theirs]
    if not shared:
        raise ConfigError(f"{folder}: pre-trained {', '.join(theirs) or 'nothing'}; the model "
                          f"reads {', '.join(net.config.modalities)} (no signal modality in common)")
    for m in shared:
        t = theirs[m["modality"]]
        if (t["window_len"], float(t["fs"]), saved.get("d_model")) != (m["window_len"], float(m["fs"]),
                                                                      net.config.d_model):
            raise ConfigError(f"{folder}: its {m['modality']} encoder takes {t['window_len']} samples at "
                              f"{t['fs']:g} Hz, width {saved.get('d_model')}; the model needs "
                              f"{m['window_len']} at {m['fs']:g} Hz, width {net.config.d_model}")
    weights = read_weights(folder / WEIGHTS_NAME)
    parts = PRETRAINED_PARTS + tuple(f"encoders.{m['modality']}." for m in shared)
    wanted = [k for k in net.state_dict() if k.startswith(parts)]
    missing = [k for k in wanted if k not in weights]
    if missing:
        raise ConfigError(f"{folder / WEIGHTS_NAME}: has no {missing[0]} (not a complete pre-training run)")
    net.load_state_dict({k: weights[k] for k in wanted}, strict=False)
    return [m["modality"] for m in shared]


# -- saved models ----------------------------------------------------------------------------
def _saved_config(folder) -> dict[str, Any]:
    """A saved model folder's config.json ({} when there is none to read)."""
    import json
    from pathlib import Path

    from ecgemotion.io.model_files import CONFIG_NAME

    try:
        data = json.loads((Path(folder) / CONFIG_NAME).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def is_multimodal(folder) -> bool:
    """Whether a saved model folder holds a multimodal model (its config says so)."""
    return _saved_config(folder).get("kind") == "multimodal"


def load_multimodal(folder) -> MultimodalNet | MultimodalReconstructor:
    """A multimodal model saved by ``finetune --modalities`` (``save_pretrained``: config.json
    names the modalities and channels; model.safetensors holds every weight and the feature
    normalisation), or a ``pretrain --modalities`` run's encoders and decoders. Every weight
    must match: a wrong file is an error naming the key."""
    from dataclasses import fields

    from ecgemotion.io.model_files import CONFIG_NAME, WEIGHTS_NAME, read_config_file
    from ecgemotion.models.hub import load_state_strict, read_weights, resolve_pretrained

    folder = resolve_pretrained(folder)
    data, _ = read_config_file(folder / CONFIG_NAME)       # unreadable: an error naming it
    known = {f.name for f in fields(MultimodalConfig)}
    config = MultimodalConfig(**{k: v for k, v in data.items() if k in known})
    net = MultimodalReconstructor(config) if config.kind == PRETRAIN_KIND else MultimodalNet(config)
    load_state_strict(net, read_weights(folder / WEIGHTS_NAME), str(folder / WEIGHTS_NAME))
    return net.eval()


def describe_multimodal(net: MultimodalNet) -> dict[str, Any]:
    """What ``info`` prints for a multimodal model (or pre-training run): its fusion,
    modalities and their inputs."""
    cfg = net.config
    what = ("multimodal pre-training run (signal encoders for `finetune --modalities … --init`)"
            if cfg.kind == PRETRAIN_KIND else f"multimodal ({cfg.fusion} fusion)")
    return {"model": what, "kind": cfg.kind,
            "parameters": int(sum(p.numel() for p in net.parameters())),
            "modalities": cfg.modalities,
            **{f"input {m['modality']}": (f"{len(m['features'])} HRV features of the "
                                          f"{m['window_len'] / m['fs']:g}-s ECG window at {m['fs']:g} Hz"
                                          if m.get("features") else
                                          f"{len(m['channels'])} channel(s) {', '.join(m['channels'])} "
                                          f"at {m['fs']:g} Hz, {m['window_len']} samples")
               for m in cfg.layout},
            "config": cfg.to_dict()}


def for_channels(net: MultimodalNet, channels: dict[str, list[str]]) -> MultimodalNet:
    """The same weights for a recording's own channel lists (another EEG montage, or its
    channels in another order): channels are known by name, so only the layout changes."""
    layout = [{**m, "channels": list(channels.get(m["modality"]) or m["channels"])}
              if not m.get("features") else m for m in net.config.layout]
    if layout == net.config.layout:
        return net
    other = MultimodalNet(replace(net.config, layout=layout))
    other.load_state_dict(net.state_dict())
    return other.eval()
