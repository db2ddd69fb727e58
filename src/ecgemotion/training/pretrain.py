"""Masked-signal pre-training (BERT-like): hide random spans, reconstruct them, MSE on the
masked samples only.

Validation uses the same masks every epoch (seeded per window) and scores two trivial
predictors on exactly those masks, so the log shows whether the model beats them:
``zeros`` (predict 0, the mean of a z-scored window) and ``interp`` (a straight line
across each masked span between its unmasked neighbours).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ecgemotion.errors import ConfigError
from ecgemotion.models import create_model, span_mask
from ecgemotion.training.data import derived_seed, split_rows
from ecgemotion.training.loop import TrainConfig, fit
from ecgemotion.training.objectives import OBJECTIVES, PairedWindows, SelfSupervised, masked_mse
from ecgemotion.training.targets import (RHYTHM_TARGETS, TARGET_VERSION, TargetScaler, n_targets,
                                         window_targets)


def interpolate_masked(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Fill each masked span of ``x`` (B, T) linearly between its unmasked neighbours
    (held constant at the window edges)."""
    out = x.copy()
    t = np.arange(x.shape[1])
    for i in range(x.shape[0]):
        m = mask[i]
        if m.any() and not m.all():
            out[i, m] = np.interp(t[m], t[~m], x[i, ~m])
        elif m.all():
            out[i] = 0.0
    return out


@dataclass
class MaskedReconstruction:
    """The pre-training task: ``ratio`` of each window hidden in spans of ``span`` samples."""

    ratio: float = 0.15
    span: int = 64
    seed: int = 0
    name: str = "pretrain"

    def mask(self, batch: int, length: int, generator: torch.Generator) -> torch.Tensor:
        return span_mask(batch, length, self.ratio, self.span, generator)

    def val_mask(self, rows: np.ndarray, length: int) -> torch.Tensor:
        """The fixed mask of each validation window, seeded by (seed, row)."""
        return torch.cat([self.mask(1, length, torch.Generator().manual_seed(
            derived_seed(self.seed, int(r), 3))) for r in rows])

    def train_loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                   generator: torch.Generator) -> torch.Tensor:
        mask = self.mask(x.shape[0], x.shape[-1], generator).to(x.device)
        return masked_mse(model.reconstruct(x, mask), x, mask)

    def val_metrics(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                    rows: np.ndarray) -> dict[str, tuple[float, float]]:
        mask = self.val_mask(rows, x.shape[-1]).to(x.device)
        pred = model.reconstruct(x, mask).float()
        m = mask[:, None, :]
        n = float(m.sum())
        xf = x.float()
        xn = xf[:, 0].cpu().numpy()
        interp = torch.from_numpy(interpolate_masked(xn, mask.cpu().numpy()))[:, None].to(x.device)
        return {"loss": (float(((pred - xf) ** 2)[m].sum()), n),
                "mse_zeros": (float((xf ** 2)[m].sum()), n),
                "mse_interp": (float(((interp - xf) ** 2)[m].sum()), n)}

    def on_epoch_end(self, model: nn.Module, x: torch.Tensor, rows: np.ndarray, out_dir: Path,
                     epoch: int) -> None:
        mask = self.val_mask(rows, x.shape[-1]).to(x.device)
        pred = model.reconstruct(x, mask).float()
        fs = getattr(model.config, "fs", 1.0)
        plot_reconstruction(x.float().cpu().numpy()[:, 0], pred.cpu().numpy()[:, 0],
                            mask.cpu().numpy(), fs, Path(out_dir) / "plots" / f"recon_epoch{epoch:03d}.png",
                            title=f"epoch {epoch}: original (black) vs reconstruction (red), "
                                  "masked spans shaded")


@dataclass
class MultimodalMaskedReconstruction:
    """Multimodal pre-training (``models/multimodal.py: MultimodalReconstructor``): in each
    modality ``ratio`` of the window hidden in spans of ``span_s`` seconds (its own mask, the
    same for its channels), the loss the mean over modalities of each one's masked MSE
    relative to predicting 0 (the masked samples' mean square), so that a centred EDA in
    µS and a z-scored EEG count alike. A window lacking a modality adds nothing to that
    modality's loss (its stored zeros are never a target), and a batch without any of it
    leaves the modality out of the mean."""

    layout: list[dict[str, Any]]
    ratio: float = 0.15
    span_s: float = 0.5
    seed: int = 0
    name: str = "pretrain-multimodal"

    def masks(self, batch: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        return {m["modality"]: span_mask(batch, m["window_len"], self.ratio,
                                         max(1, round(self.span_s * m["fs"])), generator)
                for m in self.layout}

    def errors(self, model: nn.Module, x: torch.Tensor, masks: dict[str, torch.Tensor]
               ) -> dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Per modality the windows have: (squared error summed over the hidden samples, the
        same for predicting 0, how many samples that is)."""
        out = {}
        for m, (pred, target, mask) in model.reconstruct(x, {k: v.to(x.device) for k, v in masks.items()}).items():
            hidden = mask[:, None, :].expand_as(target)
            out[m] = (((pred.float() - target.float()) ** 2)[hidden].sum(),
                      (target.float() ** 2)[hidden].sum(), hidden.sum())
        return out

    @staticmethod
    def mean_loss(errors) -> torch.Tensor:
        losses = [sq / zeros for sq, zeros, _ in errors.values() if zeros > 0]
        if not losses:      # no modality present (or not flat) in the batch: nothing to learn
            return torch.zeros((), requires_grad=True)
        return torch.stack(losses).mean()

    def train_loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                   generator: torch.Generator) -> torch.Tensor:
        return self.mean_loss(self.errors(model, x, self.masks(x.shape[0], generator)))

    def val_metrics(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                    rows: np.ndarray) -> dict[str, tuple[float, float]]:
        """The loss and, per modality, the masked MSE beside predicting 0; each validation
        window's masks are seeded by (seed, row), the same every epoch."""
        per_row = [self.masks(1, torch.Generator().manual_seed(derived_seed(self.seed, int(r), 3)))
                   for r in rows]
        errors = self.errors(model, x, {m: torch.cat([d[m] for d in per_row]) for m in per_row[0]})
        out = {"loss": (float(self.mean_loss(errors)) * len(rows), float(len(rows)))}
        for m, (sq, zeros, n) in errors.items():
            out[f"mse_{m}"], out[f"zeros_{m}"] = (float(sq), float(n)), (float(zeros), float(n))
        return out


def pretrain_multimodal(store, modalities: list[str], out_dir: str | Path,
                        train: TrainConfig | None = None, mask_ratio: float | None = None,
                        mask_span_s: float = 0.5, val_fraction: float = 0.2,
                        datasets: list[str] | None = None, quality: str = "usable", ui=None,
                        **overrides: Any) -> dict[str, Any]:
    """Pre-train the fusion model's signal encoders on ``modalities`` of a multimodal
    ``store`` without labels (:class:`MultimodalMaskedReconstruction`); validation on
    held-out subjects. ``overrides`` are :class:`MultimodalConfig` fields (``d_model``).
    ``finetune --modalities --init OUT`` starts from the result. Returns the run summary
    with each modality's validation MSE beside predicting 0."""
    from ecgemotion.models.multimodal import MultimodalConfig, MultimodalReconstructor, Packed, signal_layout
    from ecgemotion.store import WindowDataset

    train = train or TrainConfig(epochs=1)
    layout = signal_layout(store, modalities)
    if not layout:
        raise ConfigError("nothing to pre-train: the multimodal model takes the ECG as HRV "
                          "features; add a signal modality (e.g. --modalities ecg,eeg,eda), or "
                          "pre-train an ECG encoder with `pretrain` without --modalities")
    rows = store.select(datasets=datasets, quality=quality)
    if len(rows) == 0:
        raise ConfigError(f"{store.path}: no windows selected (datasets={datasets}, quality={quality})")
    train_rows, val_rows, subjects = split_rows(store.index, rows, val_fraction, train.seed)
    torch.manual_seed(train.seed)
    try:
        net = MultimodalReconstructor(MultimodalConfig(layout=layout, **overrides))
    except TypeError as exc:
        raise ConfigError(f"--set: not a multimodal model field ({exc})") from None
    task = MultimodalMaskedReconstruction(layout, 0.15 if mask_ratio is None else mask_ratio,
                                          mask_span_s, train.seed)
    view = Packed(store, layout)
    info = {"store": str(store.path), "store_identity": store.meta.get("identity"),
            "objective": task.name, "modalities": net.config.modalities,
            "mask": {"ratio": task.ratio, "span_s": mask_span_s},
            "subjects": {"train": len(subjects["train"]), "val": len(subjects["val"])},
            "val_subjects": subjects["val"], "datasets": datasets, "quality": quality}
    summary = fit(net, task, WindowDataset(view, train_rows), WindowDataset(view, val_rows), train,
                  out_dir, ui=ui, run_info=info)
    val = summary.get("final_val") or {}
    summary.update({"model": net.config.kind, "modalities": net.config.modalities,
                    "parameters": sum(p.numel() for p in net.parameters()),
                    "train_windows": len(train_rows), "val_windows": len(val_rows),
                    "train_subjects": len(subjects["train"]), "val_subjects": len(subjects["val"]),
                    "val_loss": val.get("loss"), "val_metrics": val, "mask": info["mask"],
                    "objective": task.name})
    return summary


def plot_reconstruction(x: np.ndarray, pred: np.ndarray, mask: np.ndarray, fs: float,
                        path: Path, title: str = "") -> Path:
    """One panel per window: signal, reconstruction on the masked spans, spans shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    n = len(x)
    fig, axes = plt.subplots(n, 1, figsize=(10, 1.5 * n + 0.6), sharex=True, squeeze=False)
    t = np.arange(x.shape[1]) / fs
    for ax, xi, pi, mi in zip(axes[:, 0], x, pred, mask):
        edges = np.diff(np.concatenate(([0], mi.astype(int), [0])))
        for s, e in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
            ax.axvspan(t[s], t[e - 1], color="tab:orange", alpha=0.2, lw=0)
        ax.plot(t, xi, color="black", lw=0.7)
        ax.plot(t, np.where(mi, pi, np.nan), color="tab:red", lw=0.9)
        ax.set_ylabel("z")
    axes[-1, 0].set_xlabel("time (s)")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.subplots_adjust(left=0.06, right=0.99, top=0.92, bottom=0.1, hspace=0.1)
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=72)
    plt.close(fig)
    tmp.replace(path)
    return path


def physio_targets(store, train_rows: np.ndarray, val_rows: np.ndarray, ui=None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Standardised physiology targets of the training and validation windows (computed once
    per store and kept in the feature cache; the scale is fitted on the training windows)."""
    from ecgemotion.paths import cache_dir
    from ecgemotion.row_cache import RowCache

    cache = RowCache(store, lambda w: window_targets(w, store.fs), "physio-targets",
                     [TARGET_VERSION, store.fs], cache_dir("features"))
    if ui is not None and len(todo := cache.missing(np.concatenate([train_rows, val_rows]))):
        ui.say(f"physiology targets: computing {len(todo)} windows (NeuroKit2 R peaks; cached "
               f"in {cache.file.parent})")
    train, val = cache(train_rows), cache(val_rows)
    scaler = TargetScaler.fit(train)
    if ui is not None:
        defined = np.isfinite(train[:, 0]).mean()
        ui.say(f"physiology targets: {len(RHYTHM_TARGETS)} rhythm values "
               f"({', '.join(RHYTHM_TARGETS)}) + the median beat ({train.shape[1] - len(RHYTHM_TARGETS)} "
               f"values); heart rate defined in {defined:.0%} of training windows")
    return scaler(train), scaler(val)


def self_supervised_data(task: SelfSupervised, store, train_rows: np.ndarray,
                         val_rows: np.ndarray, ui=None) -> tuple[Any, Any]:
    """Training and validation data an objective reads: paired crops (with physiology targets
    when it predicts them) or single windows; validation views are fixed."""
    from ecgemotion.store import WindowDataset

    if not task.paired:
        return WindowDataset(store, train_rows), WindowDataset(store, val_rows)
    targets = physio_targets(store, train_rows, val_rows, ui) if task.target_weight else (None, None)
    return (PairedWindows(store, train_rows, targets=targets[0]),
            PairedWindows(store, val_rows, random=False, targets=targets[1]))


def _checked_settings(objective: str, settings: dict[str, Any]) -> dict[str, Any]:
    """``settings`` if every key is a field of the self-supervised objective, else a clear error."""
    known = {f.name for f in fields(SelfSupervised)} - {"seed", "name"}
    if settings and objective == "paper":
        raise ConfigError("objective settings apply to the self-supervised objectives, not "
                          "'paper' (use --mask-ratio / --mask-span-s)")
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ConfigError(f"objective setting {', '.join(unknown)}: expected one of "
                          f"{', '.join(sorted(known))}")
    return settings


def _starting_model(model, init, objective: str, dropout: float | None,
                    overrides: dict[str, Any], ui) -> tuple[nn.Module, list[str]]:
    """The network pre-training starts from (``init``'s weights, or ``model`` fresh), with the
    dropout it trains with, and the heads ``init`` lacked (started fresh, said aloud)."""
    heads: list[str] = []
    if init is not None:
        from ecgemotion.models import from_pretrained

        net = from_pretrained(init, fresh_heads=True, **overrides)
        heads = sorted({k.split(".")[0] for k in net.fresh_heads})
        if heads and ui is not None:
            ui.say(f"{init}: has no {', '.join(heads)}; the {objective!r} objective starts "
                   f"{'them' if len(heads) > 1 else 'it'} from a fresh initialisation")
    else:
        net = create_model(model, **overrides)
    if net.config.kind == "sarkar" or (objective != "paper" and net.config.kind != "transformer"):
        raise ConfigError(f"the {objective!r} objective needs a Transformer preset (paper or "
                          "fast; cnn takes only 'paper'; sarkar uses its transformation pretext)")
    if dropout is not None:
        from ecgemotion.models.blocks import set_dropout

        set_dropout(net, dropout)
        if ui is not None:
            ui.say(f"dropout while pre-training: {dropout:g} (the saved config keeps "
                   f"{net.config.dropout:g} for fine-tuning)")
    return net, heads


def pretrain(store, model: str | Any = "fast", out_dir: str | Path = "runs/pretrain",
             train: TrainConfig | None = None, mask_ratio: float | None = None,
             mask_span_s: float = 0.5, val_fraction: float = 0.2,
             datasets: list[str] | None = None, quality: str = "usable", ui=None,
             init: str | Path | None = None, objective: str = "paper",
             objective_settings: dict[str, Any] | None = None, dropout: float | None = None,
             **model_overrides: Any) -> dict[str, Any]:
    """Pre-train ``model`` (a preset name or :class:`ModelConfig`) on ``store`` without labels;
    validation on held-out subjects. ``objective`` is ``paper`` (masked reconstruction of
    15 % in spans, the paper's) or one of :data:`~ecgemotion.training.objectives.OBJECTIVES`
    (``mae``, ``contrastive``, ``mae+contrastive``). ``init`` (a folder or a shipped name such
    as ``"ecgemotion-base"``) continues from saved weights instead of a random start.
    ``objective_settings`` overrides fields of the objective (its loss weights, temperature,
    ``beat_share``...; :class:`~ecgemotion.training.objectives.SelfSupervised`). ``dropout``
    replaces the model's dropout while pre-training (0 as MAE: on a CPU the dropout masks'
    random numbers cost a quarter of a step, docs/performance.md); the saved config keeps the
    model's own value, which fine-tuning reads.
    Returns the run summary (for ``paper``: the validation MSE beside the zeros /
    interpolation baselines)."""
    from ecgemotion.store import WindowDataset

    if objective not in OBJECTIVES:
        raise ConfigError(f"objective: expected one of {sorted(OBJECTIVES)}, found {objective!r}")
    task_settings, model_fields = OBJECTIVES[objective]
    task_settings = {**task_settings, **_checked_settings(objective, objective_settings or {})}

    train = train or TrainConfig(epochs=1)
    rows = store.select(datasets=datasets, quality=quality)
    if len(rows) == 0:
        raise ConfigError(f"{store.path}: no windows selected (datasets={datasets}, quality={quality})")
    train_rows, val_rows, subjects = split_rows(store.index, rows, val_fraction, train.seed)
    overrides = {"window_len": store.window_len, "fs": store.fs, **model_fields, **model_overrides}
    if task_settings.get("target_weight"):
        overrides["target_dim"] = n_targets(store.fs)
    torch.manual_seed(train.seed)
    net, heads = _starting_model(model, init, objective, dropout, overrides, ui)
    if objective == "paper":
        ratio = 0.15 if mask_ratio is None else mask_ratio
        span = max(1, round(mask_span_s * store.fs))
        task = MaskedReconstruction(ratio=ratio, span=span, seed=train.seed)
        mask = {"ratio": ratio, "span_s": mask_span_s, "span_samples": span,
                "mode": net.config.mask_mode}
        train_ds, val_ds = WindowDataset(store, train_rows), WindowDataset(store, val_rows)
    else:
        settings = {**task_settings, **({} if mask_ratio is None else {"mask_ratio": mask_ratio})}
        task = SelfSupervised(**settings, seed=train.seed, name=objective)
        if ui is not None:
            shown = {k: v for k, v in vars(task).items() if k not in ("seed", "name")}
            ui.say(f"objective {objective}: " + ", ".join(f"{k}={v}" for k, v in shown.items())
                   + (f" (set: {', '.join(sorted(objective_settings))})" if objective_settings else ""))
        mask = {"ratio": task.mask_ratio, "unit": "token", "token_s": net.config.stride / store.fs}
        train_ds, val_ds = self_supervised_data(task, store, train_rows, val_rows, ui)
    info = {"store": str(store.path), "store_identity": store.meta.get("identity"),
            "init": str(init) if init is not None else None, "fresh_heads": heads,
            "objective": objective, "dropout": net.config.dropout if dropout is None else dropout,
            "objective_settings": {k: v for k, v in vars(task).items() if k != "name"},
            "mask": mask,
            "subjects": {"train": len(subjects["train"]), "val": len(subjects["val"])},
            "val_subjects": subjects["val"], "datasets": datasets, "quality": quality}
    summary = fit(net, task, train_ds, val_ds, train, out_dir, ui=ui, run_info=info)
    val = summary.get("final_val") or {}
    summary.update({
        "model": net.config.name or net.config.kind,
        "parameters": sum(p.numel() for p in net.parameters()),
        "train_windows": len(train_rows), "val_windows": len(val_rows),
        "train_subjects": len(subjects["train"]), "val_subjects": len(subjects["val"]),
        "val_loss": val.get("loss"), "val_metrics": val,
        "val_mse": val.get("loss") if objective == "paper" else val.get("recon"),
        "val_mse_zeros": val.get("mse_zeros"), "val_mse_interp": val.get("mse_interp"),
        "beats_zeros": bool(val) and "mse_zeros" in val and val["loss"] < val["mse_zeros"],
        "beats_interp": bool(val) and "mse_interp" in val and val["loss"] < val["mse_interp"],
        "mask": info["mask"], "objective": objective,
    })
    return summary
