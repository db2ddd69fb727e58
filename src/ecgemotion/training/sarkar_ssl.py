"""Sarkar & Etemad's pretext task: recognise which transformation was applied to a window.

Each training batch of ``B`` windows is expanded into its 7 versions (original, noise,
scaling, negation, horizontal flip, permutation, time-warp; see
:mod:`ecgemotion.baselines.transformations`) and the ``sarkar`` model's seven binary
heads (``transform_logits``) are trained with the reference's weighted multi-task BCE.
Validation uses transformations drawn from a generator seeded by the first row of the
batch, so every epoch sees the same validation versions; it reports the loss and the
7-way accuracy (argmax over the heads).

After the pretext training the conv features are frozen and only the dense emotion head
is trained (:func:`ecgemotion.training.finetune.fit_classifier` with ``freeze=True``),
as in the paper.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ecgemotion.baselines.transformations import make_transformation_batch, transformation_loss
from ecgemotion.errors import ConfigError
from ecgemotion.training.data import derived_seed


@dataclass
class TransformationRecognition:
    """The pretext task for :func:`ecgemotion.training.fit`."""

    multitask: bool = True
    seed: int = 0
    name: str = "sarkar-ssl"

    def train_loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                   generator: torch.Generator) -> torch.Tensor:
        x_aug, target = make_transformation_batch(x, generator)
        logits = model(x_aug)["transform_logits"].float()
        return transformation_loss(logits, target, multitask=self.multitask)

    def val_metrics(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                    rows: np.ndarray) -> dict[str, tuple[float, float]]:
        gen = torch.Generator().manual_seed(derived_seed(self.seed, int(rows[0]) if len(rows) else 0, 5))
        x_aug, target = make_transformation_batch(x, gen)
        logits = model(x_aug)["transform_logits"].float()
        loss = transformation_loss(logits, target, multitask=self.multitask)
        correct = (logits.argmax(1) == target).sum()
        n = float(len(target))
        return {"loss": (float(loss) * n, n), "accuracy": (float(correct), n)}

    def on_epoch_end(self, model, x, rows, out_dir, epoch) -> None:
        return None


def pretrain_sarkar(store, rows, out_dir: str | Path, train_cfg=None, val_fraction: float = 0.2,
                    seed: int | None = None, overrides: dict[str, Any] | None = None,
                    ui=None) -> tuple[nn.Module, dict[str, Any]]:
    """Pre-train a ``sarkar`` model by transformation recognition on ``rows`` of ``store``
    (labels unused); validation on held-out subjects of those rows. Returns the model with
    the weights of the best validation epoch and the run summary."""
    from ecgemotion.models import create_model
    from ecgemotion.store import WindowDataset
    from ecgemotion.training.checkpoint import find_checkpoint, load_checkpoint
    from ecgemotion.training.data import split_rows
    from ecgemotion.training.loop import TrainConfig, fit
    from ecgemotion.training.recipes import PRETEXT

    train_cfg = train_cfg or TrainConfig.from_recipe(PRETEXT)
    seed = train_cfg.seed if seed is None else seed
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) == 0:
        raise ConfigError("no windows for the transformation-recognition pre-training")
    try:
        train_rows, val_rows, _ = split_rows(store.index, rows, val_fraction, seed)
    except ConfigError:  # a single subject: validate on a window subset instead
        perm = np.random.default_rng(seed).permutation(rows)
        n_val = max(1, int(round(val_fraction * len(rows)))) if len(rows) > 1 else 0
        val_rows, train_rows = np.sort(perm[:n_val]), np.sort(perm[n_val:])
    torch.manual_seed(seed)
    model = create_model("sarkar", **{"window_len": store.window_len, "fs": store.fs,
                                      "n_classes": 2, **(overrides or {})})
    if train_cfg.batch_size > len(train_rows):
        from dataclasses import replace

        train_cfg = replace(train_cfg, batch_size=max(1, len(train_rows)))
    task = TransformationRecognition(seed=seed)
    out_dir = Path(out_dir)
    summary = fit(model, task, WindowDataset(store, train_rows), WindowDataset(store, val_rows),
                  train_cfg, out_dir, ui=ui,
                  run_info={"pretext": "transformation recognition (Sarkar & Etemad)"})
    if len(val_rows) and find_checkpoint(out_dir / "best") is not None:
        rng = torch.get_rng_state()
        load_checkpoint(out_dir / "best", model)
        torch.set_rng_state(rng)
    summary["pretext_val_accuracy"] = (summary.get("final_val") or {}).get("accuracy")
    return model, summary
