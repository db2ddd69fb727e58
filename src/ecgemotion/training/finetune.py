"""Fine-tuning a (pre-trained) model for one binary emotion task: arousal or valence.

``finetune(store, init, task, out_dir, ...)`` builds the model (from a pre-trained
folder, a shipped name or ``"scratch"``), draws a **subject-held-out validation split
from the training rows** (never from test data), trains it with :func:`fit` and keeps
the epoch with the lowest validation loss, then saves a deployable folder with
:func:`save_pretrained`: ``config.json`` + ``model.safetensors``, and under ``extra``
the task, the classes (``["low", "high"]``; P(high) = ``softmax(logits)[:, 1]``), the
label rule, the preprocessing, the store identity, the validation metrics, the
initialisation and the seed — what ``ecgemotion predict`` needs.

Two regimes:

- **full fine-tuning** (default, the paper): every weight is trained;
- **frozen** (``freeze=True``): the encoder is frozen (weights *and* normalisation
  statistics, it stays in eval mode) and only the classifier head is trained: a probe
  of the representation.

Class imbalance: the loss is **class-weighted cross-entropy**, the weight of class c
being ``n / (2 n_c)`` on the training rows (sklearn's "balanced"), so both classes
count equally; the validation loss is weighted the same way (with the *training*
weights), so the selected epoch is the one with the best class-balanced loss.
Validation also reports accuracy and balanced accuracy.
"""

from __future__ import annotations

import shutil
import types
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ecgemotion.errors import ConfigError
from ecgemotion.io.model_files import ModelCard
from ecgemotion.paths import claim_output
from ecgemotion.subjects import subject_keys
from ecgemotion.training.recipes import FINETUNE

CLASSES = ["low", "high"]


# -- the task ----------------------------------------------------------------------------------
@dataclass
class Classification:
    """Binary classification task for :func:`ecgemotion.training.fit`.

    ``class_weights`` (2,) weight the cross-entropy of the training and validation loss.
    Validation metrics: ``loss`` (weighted CE), ``accuracy``, ``recall_low``,
    ``recall_high`` (their mean is the balanced accuracy).
    """

    class_weights: tuple[float, float] = (1.0, 1.0)
    name: str = "finetune"
    history: list[dict[str, float]] = field(default_factory=list)

    def _w(self, device) -> torch.Tensor:
        return torch.as_tensor(self.class_weights, dtype=torch.float32, device=device)

    def train_loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                   generator: torch.Generator) -> torch.Tensor:
        logits = model(x)["logits"].float()
        return F.cross_entropy(logits, y, weight=self._w(logits.device))

    def val_metrics(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                    rows: np.ndarray) -> dict[str, tuple[float, float]]:
        logits = model(x)["logits"].float()
        w = self._w(logits.device)
        ce = F.cross_entropy(logits, y, reduction="none")
        pred = logits.argmax(1)
        pos, neg = y == 1, y == 0
        return {"loss": (float((ce * w[y]).sum()), float(w[y].sum())),
                "accuracy": (float((pred == y).sum()), float(len(y))),
                "recall_high": (float((pred[pos] == 1).sum()), float(pos.sum())),
                "recall_low": (float((pred[neg] == 0).sum()), float(neg.sum())),
                "predicted_high": (float((pred == 1).sum()), float(len(y)))}

    def on_epoch_end(self, model, x, rows, out_dir, epoch) -> None:  # noqa: D401 - nothing to draw
        return None


def balanced_weights(y: np.ndarray) -> tuple[float, float]:
    """``n / (2 n_c)`` per class (1.0 for an absent class)."""
    y = np.asarray(y, dtype=np.int64)
    n = len(y)
    out = []
    for c in (0, 1):
        nc = int((y == c).sum())
        out.append(float(n / (2 * nc)) if nc else 1.0)
    return out[0], out[1]


# -- building models ---------------------------------------------------------------------------
# The shipped encoder every user-facing fine-tune starts from unless told otherwise.
DEFAULT_INIT = "ecgemotion-base"
# What `ecgemotion finetune` trains unless told otherwise: the best measured system
# (docs/results.md §4e: hybrid-ctx has the best balanced accuracy and AUROC on CinC 2017
# few-label AF at 10 % and 100 % of the labels, and on synthetic AMIGOS arousal and valence).
DEFAULT_MODEL = "hybrid-ctx"
# Model fields a pre-trained encoder may take new values for (the rest is its architecture).
HEAD_FIELDS = ("dropout", "classifier_hidden", "classifier_dropout")


def is_scratch(init: str | Path | None) -> bool:
    return init is None or str(init).lower() in ("scratch", "none", "random", "")


def build_model(init: str | Path | None, store, model: str = "fast",
                overrides: dict[str, Any] | None = None, seed: int = 0,
                architecture_only: bool = False) -> nn.Module:
    """A 2-class model for ``store``'s windows.

    ``init`` is a pre-trained folder / shipped name (its encoder is loaded, heads fresh)
    or ``"scratch"`` (``model`` preset + ``overrides``, random weights). With
    ``architecture_only`` the pre-trained folder's architecture is used but not its
    weights (the from-scratch control of the same network).
    """
    from ecgemotion.models import create_model, from_pretrained
    from ecgemotion.models.config import ModelConfig
    from ecgemotion.models.hub import CONFIG_NAME, resolve_pretrained

    overrides = dict(overrides or {})
    torch.manual_seed(seed)
    if is_scratch(init):
        net = create_model(model, **{"window_len": store.window_len, "fs": store.fs,
                                     "n_classes": 2, **overrides})
    else:
        folder = resolve_pretrained(init)
        cfg = ModelConfig.load(folder / CONFIG_NAME)
        if cfg.window_len != store.window_len or abs(cfg.fs - store.fs) > 1e-6:
            raise ConfigError(f"{folder}: the model was built for {cfg.window_len}-sample windows at "
                              f"{cfg.fs:g} Hz but the store has {store.window_len} at {store.fs:g} Hz; "
                              "prepare the store with the model's window and rate, or pass "
                              "--init scratch")
        # head-only fields may change; architecture fields must not
        head = {k: v for k, v in overrides.items() if k in HEAD_FIELDS}
        if cfg.physio_features:     # a hybrid model: start from its encoder
            return _hybrid_encoder(folder, cfg, head, architecture_only)
        if architecture_only:
            net = create_model(cfg.replace(n_classes=2, **head))
        else:
            net = from_pretrained(folder, encoder_only=True, n_classes=2, **head)
    return net


def _hybrid_encoder(folder: Path, cfg, head: dict[str, Any], architecture_only: bool) -> nn.Module:
    """The encoder inside a saved hybrid, with a fresh head (as ``encoder_only`` loading)."""
    from ecgemotion.models import create_model, from_pretrained, load_state_strict
    from ecgemotion.models.hub import HEAD_PREFIXES

    net = create_model(cfg.replace(physio_features=[], n_classes=2, **head))
    if not architecture_only:
        inner = {k[len("encoder."):]: v for k, v in from_pretrained(folder).state_dict().items()
                 if k.startswith("encoder.")}
        load_state_strict(net, inner, str(folder), ignore=HEAD_PREFIXES)
    return net


def freeze_encoder(model: nn.Module) -> nn.Module:
    """Train only ``model.classifier``: every other parameter frozen, and the frozen
    part kept in eval mode (no dropout, no batch-norm statistic updates) even when the
    training loop calls ``model.train()``."""
    if not hasattr(model, "classifier"):
        raise ConfigError("this model has no classifier head to train")
    for name, p in model.named_parameters():
        p.requires_grad = name.startswith("classifier.")

    def train(self, mode: bool = True):
        nn.Module.train(self, mode)
        for name, child in self.named_children():
            if name != "classifier":
                child.eval()
        return self

    model.train = types.MethodType(train, model)
    model.train(model.training)
    return model


# -- fitting -----------------------------------------------------------------------------------
def fit_classifier(model: nn.Module, store, train_rows, val_rows, target: str, out_dir: str | Path,
                   train_cfg=None, freeze: bool = False, ui=None,
                   run_info: dict[str, Any] | None = None, keep_checkpoints: bool = True
                   ) -> tuple[nn.Module, dict[str, Any]]:
    """Train ``model`` on ``train_rows``, select the epoch on ``val_rows``; return the best
    model (weights of the lowest validation loss) and the run summary (with the history).

    Only ``train_rows`` and ``val_rows`` are read. With no validation rows the last
    epoch is kept (and the summary says so).
    """
    from ecgemotion.store import WindowDataset
    from ecgemotion.training.checkpoint import find_checkpoint, load_checkpoint
    from ecgemotion.training.loop import TrainConfig, fit

    train_cfg = train_cfg or TrainConfig.from_recipe(FINETUNE)
    train_rows = np.asarray(train_rows, dtype=np.int64)
    val_rows = np.asarray(val_rows, dtype=np.int64)
    train_ds = WindowDataset(store, train_rows, target)
    val_ds = WindowDataset(store, val_rows, target)
    if len(train_ds) == 0:
        raise ConfigError("no training windows")
    weights = balanced_weights(train_ds.labels)
    task = Classification(class_weights=weights)
    if freeze:
        freeze_encoder(model)
    if train_cfg.batch_size > len(train_ds):
        train_cfg = replace(train_cfg, batch_size=len(train_ds))
    out_dir = Path(out_dir)
    info = {"target": target, "freeze": freeze, "class_weights": list(weights),
            "train_windows": len(train_ds), "val_windows": len(val_ds),
            "train_positive_share": float(train_ds.labels.mean()), **(run_info or {})}
    summary = fit(model, task, train_ds, val_ds, train_cfg, out_dir, ui=ui, run_info=info)
    best = out_dir / "best"
    selected = "best_val_loss"
    if len(val_ds) and find_checkpoint(best) is not None:
        rng = torch.get_rng_state()
        load_checkpoint(best, model)
        torch.set_rng_state(rng)
    else:
        selected = "last_epoch (no validation windows)"
    history = summary["history"]
    best_row = next((h for h in history if int(h["step"]) == summary.get("best_step")), None)
    val_metrics = {}
    if best_row is not None:
        rh, rl = best_row.get("val_recall_high"), best_row.get("val_recall_low")
        vals = [v for v in (rh, rl) if v is not None and np.isfinite(v)]
        val_metrics = {"loss": float(best_row["val_loss"]),
                       "accuracy": float(best_row.get("val_accuracy", float("nan"))),
                       "balanced_accuracy": float(np.mean(vals)) if vals else float("nan"),
                       "predicted_high_share": float(best_row.get("val_predicted_high", float("nan"))),
                       "epoch": int(best_row["epoch"])}
    summary.update({"selected": selected, "history": history, "val_metrics": val_metrics,
                    "class_weights": list(weights)})
    if not keep_checkpoints:
        for d in (out_dir / "best", out_dir / "last", out_dir / "best.old", out_dir / "last.old"):
            shutil.rmtree(d, ignore_errors=True)
    model.eval()
    return model, summary


@torch.no_grad()
def predict_proba(model: nn.Module, windows_of, rows, batch_size: int = 256,
                  device: str | torch.device = "cpu") -> np.ndarray:
    """P(high) = softmax(logits)[:, 1] for ``rows``; ``windows_of(rows)`` returns (n, T)."""
    rows = np.asarray(rows, dtype=np.int64)
    model.eval()
    model.to(device)
    out = np.empty(len(rows), dtype=np.float64)
    for i in range(0, len(rows), batch_size):
        x = torch.from_numpy(np.asarray(windows_of(rows[i:i + batch_size]), dtype=np.float32))
        logits = model(x.unsqueeze(1).to(device))["logits"].float()
        out[i:i + len(x)] = torch.softmax(logits, dim=1)[:, 1].cpu().numpy()
    return out


def training_data(store, rows) -> dict[str, Any]:
    """What a model was trained on, saved with it and printed by ``predict``; ``synthetic``
    carries the store's note when its data (and labels) were invented, e.g. by the demo."""
    index = store.index.iloc[np.asarray(rows, dtype=np.int64)]
    return {"datasets": sorted(index["dataset"].unique().tolist()),
            "subjects": int(len(set(subject_keys(index)))),
            "windows": int(len(index)), "hours": round(len(index) * store.window_len / store.fs / 3600, 3),
            "licences": store.meta.get("licences", []), "synthetic": store.meta.get("synthetic", [])}


def warn_one_class(val_metrics: dict[str, Any], what: str, ui=None) -> bool:
    """Say so when the selected model gave every validation window the same class."""
    from ecgemotion.evaluation.metrics import one_class

    if not one_class(val_metrics.get("predicted_high_share")):
        return False
    message = (f"{what} predicts one class for every validation window (balanced accuracy "
               f"{val_metrics.get('balanced_accuracy', float('nan')):.3f}): it has learned nothing "
               "yet; more epochs, more data or another --lr may help")
    if ui is not None:
        ui.warn(message)
    else:
        import warnings

        warnings.warn(message, stacklevel=3)
    return True


# -- the hybrid -------------------------------------------------------------------------------
HYBRID = "hybrid"               # --model: the encoder's embedding + the window's physiology
HYBRID_CTX = "hybrid-ctx"       # ... + HRV over the 60 s ending at the window (baselines/context.py)
HYBRIDS = (HYBRID, HYBRID_CTX)
HYBRID_SCRATCH_PRESET = "fast"  # the encoder a hybrid gets with --init scratch


def hybrid_inputs(model: str) -> tuple[str, ...]:
    """The raw features a hybrid ``--model`` joins to the embedding, in input order."""
    from ecgemotion.baselines.context import CONTEXT_FEATURES
    from ecgemotion.baselines.hrv import PHYSIO_FEATURES

    return PHYSIO_FEATURES + (CONTEXT_FEATURES if model == HYBRID_CTX else ())


def with_physiology(net: nn.Module, store, train_rows, task: str, val_rows=(),
                    features: tuple[str, ...] | None = None):
    """``net`` turned into a hybrid (``models/hybrid.py``) on ``features`` (default: the
    window's), whose normalisation and linear feature path are fitted on the training rows,
    and the store view that feeds it (each window followed by its features, computed once
    per row). Context features come from each side's own windows (training, validation)."""
    from ecgemotion.baselines.hrv import HRVFeatureCache
    from ecgemotion.models.hybrid import fitted_hybrid

    features = hybrid_inputs(HYBRID) if features is None else tuple(features)
    return fitted_hybrid(net, store, HRVFeatureCache(store), train_rows, task, features,
                         [train_rows, val_rows])


def multimodal_model(store, modalities: list[str], train_rows, task: str,
                     overrides: dict[str, Any] | None = None, seed: int = 0,
                     init: str | Path | None = None, ui=None):
    """A multimodal model for ``modalities`` of ``store`` (``overrides``: config fields, e.g.
    ``fusion``), its feature normalisation and linear path fitted on the training rows, and
    the store view that feeds it. ``init``: a ``pretrain --modalities`` run its signal
    encoders start from (heads fresh; the width is the run's); None or scratch: all fresh."""
    from ecgemotion.models.multimodal import (Packed, build_multimodal, load_pretrained_encoders,
                                              pretrained_width)

    overrides = dict(overrides or {})
    if not is_scratch(init):
        overrides = {"d_model": pretrained_width(init), **overrides}
    try:
        net = build_multimodal(store, list(modalities), overrides.pop("fusion", "late"), seed=seed,
                               **overrides)
    except TypeError as exc:
        raise ConfigError(f"--set: not a multimodal model field ({exc})") from None
    if not is_scratch(init):
        loaded = load_pretrained_encoders(net, init)
        if ui is not None:
            ui.say(f"{', '.join(loaded)} encoder(s) and the channel-name embedding start from {init}; "
                   "the heads" + (" and the ECG's logistic regression" if net.featured is not None else "")
                   + " start fresh")
    view = Packed(store, net.config.layout)
    rows = np.asarray(train_rows, dtype=np.int64)
    net.fit_training_side(view.windows(rows), store.index[f"y_{task}"].to_numpy(dtype=float)[rows])
    return net, view


def fit_multimodal(net, store, train_rows, val_rows, target: str, out_dir: str | Path,
                   train_cfg=None, ui=None, run_info: dict[str, Any] | None = None,
                   keep_checkpoints: bool = True) -> tuple[nn.Module, dict[str, Any]]:
    """Train a multimodal model as :func:`fit_classifier` does. Late fusion trains each
    signal branch alone, one after the other, each selected on its own validation loss
    (the ECG features' branch is its logistic regression, fitted before); the model then
    adds their logits, and the summary's ``val_metrics`` are the fused model's."""
    if net.config.fusion != "late":
        return fit_classifier(net, store, train_rows, val_rows, target, out_dir, train_cfg, ui=ui,
                              run_info=run_info, keep_checkpoints=keep_checkpoints)
    branches, history, epochs, seconds = {}, [], 0, 0.0
    for i, m in enumerate(net.config.modalities):
        if i == net.featured:
            continue
        net.branch(i)
        net, summary = fit_classifier(net, store, train_rows, val_rows, target, Path(out_dir) / m,
                                      train_cfg, ui=ui, run_info={**(run_info or {}), "branch": m},
                                      keep_checkpoints=keep_checkpoints)
        branches[m] = summary["val_metrics"]
        history += [{**h, "branch": m} for h in summary["history"]]
        epochs += summary.get("epochs") or 0
        seconds += summary.get("elapsed_s") or 0.0
    net.branch(None)
    y = np.asarray(store.index[f"y_{target}"].to_numpy(dtype=float), dtype=np.int64)
    weights = balanced_weights(y[np.asarray(train_rows, dtype=np.int64)])
    val = _fused_val_metrics(predict_proba(net, store.windows, val_rows), y[np.asarray(val_rows, dtype=np.int64)],
                             weights) if len(val_rows) else {}
    return net.eval(), {"val_metrics": val, "branches": branches, "history": history,
                        "epochs": epochs, "elapsed_s": seconds, "class_weights": list(weights)}


def _fused_val_metrics(prob: np.ndarray, y: np.ndarray, weights) -> dict[str, float]:
    """:func:`fit_classifier`'s validation metrics for a model assembled after training."""
    w = np.asarray(weights)[y]
    p = np.clip(np.where(y == 1, prob, 1 - prob), 1e-7, 1.0)
    pred = (prob >= 0.5).astype(int)
    recalls = [float(np.mean(pred[y == c] == c)) for c in (0, 1) if (y == c).any()]
    return {"loss": float(-(w * np.log(p)).sum() / w.sum()), "accuracy": float(np.mean(pred == y)),
            "balanced_accuracy": float(np.mean(recalls)), "predicted_high_share": float(pred.mean()),
            "epoch": None}


# -- the command's API -----------------------------------------------------------------------
def finetune(store, init: str | Path | None, task: str, out_dir: str | Path, model: str = "fast",
             freeze: bool = False, train_cfg=None, val_fraction: float = 0.2,
             quality: str = "good", subjects: list[str] | None = None,
             overrides: dict[str, Any] | None = None, ui=None,
             overwrite: bool = False, modalities: list[str] | None = None) -> dict[str, Any]:
    """Train one deployable model on every labelled window of ``store`` (minus a
    subject-held-out validation split) and save it in ``out_dir`` (``save_pretrained``).
    ``train_cfg`` defaults to the fine-tune recipe: the run ``ecgemotion finetune`` makes.
    ``modalities`` (e.g. ``["ecg", "eeg", "eda"]``) trains a multimodal model instead
    (``models/multimodal.py``; ``init`` a ``pretrain --modalities`` run or scratch;
    ``overrides`` are its config fields)."""
    from ecgemotion.models import save_pretrained
    from ecgemotion.training.data import split_rows
    from ecgemotion.training.loop import TrainConfig

    train_cfg = train_cfg or TrainConfig.from_recipe(FINETUNE)
    out_dir = claim_output(out_dir, "model.safetensors", "a model", overwrite,
                           remove=("config.json", "model.onnx*", "run"))
    rows = store.select(subjects=subjects, quality=quality, labelled=task)
    if len(rows) == 0:
        raise ConfigError(f"{store.path}: no good windows labelled '{task}'")
    train_rows, val_rows, split = split_rows(store.index, rows, val_fraction, train_cfg.seed)
    hybrid = model in HYBRIDS and not modalities
    if modalities:
        net, fit_store = multimodal_model(store, modalities, train_rows, task, overrides,
                                          seed=train_cfg.seed, init=init, ui=ui)
    else:
        net = build_model(init, store, HYBRID_SCRATCH_PRESET if hybrid else model, overrides,
                          seed=train_cfg.seed)
        fit_store = store
    if hybrid:
        net, fit_store = with_physiology(net, store, train_rows, task, val_rows,
                                         hybrid_inputs(model))
        train_cfg = replace(train_cfg, validate_start=True)
        if ui is not None:
            ui.say("hybrid: the feature path starts as a logistic regression (L2 strength chosen "
                   "across the training subjects); that start is validated as epoch 0 and kept "
                   "if no fine-tuning epoch lowers the validation loss")
    init_desc = "scratch" if is_scratch(init) else str(init)
    fit_with = fit_multimodal if modalities else partial(fit_classifier, freeze=freeze)
    net, summary = fit_with(net, fit_store, train_rows, val_rows, task, out_dir / "run",
                            train_cfg, ui=ui, run_info={"init": init_desc, "val_subjects": split["val"]},
                            keep_checkpoints=False)
    card = ModelCard(
        task=task, classes=CLASSES, preprocess=store.meta.get("preprocess"),
        label_rule=store.meta.get("label_rule"), training_data=training_data(store, train_rows),
        val_metrics=summary["val_metrics"],
        details={"store": {"path": str(store.path), "identity": store.meta.get("identity")},
                 "init": init_desc, "seed": train_cfg.seed, "freeze": freeze,
                 "class_weights": summary["class_weights"],
                 "imbalance": "class-weighted cross-entropy (n / (2 n_c))",
                 "train_windows": int(len(train_rows)), "val_windows": int(len(val_rows)),
                 "train_subjects": split["train"], "val_subjects": split["val"],
                 "selected_epoch": summary["val_metrics"].get("epoch")})
    save_pretrained(net, out_dir, extra=card.to_extra())
    warn_one_class(summary["val_metrics"], f"{out_dir} ({task})", ui)
    return {"out": str(out_dir), "task": task, "init": init_desc,
            "model": model if hybrid else getattr(net.config, "name", net.config.kind),
            "physio_features": list(getattr(net.config, "physio_features", [])),
            **({"modalities": net.config.modalities, "fusion": net.config.fusion} if modalities else {}),
            "freeze": freeze, "train_windows": int(len(train_rows)),
            "val_windows": int(len(val_rows)), "val_subjects": split["val"],
            "val_metrics": summary["val_metrics"], "epochs": summary.get("epochs"),
            "elapsed_s": summary.get("elapsed_s"), "label_rule": card.label_rule,
            "seed": train_cfg.seed}
