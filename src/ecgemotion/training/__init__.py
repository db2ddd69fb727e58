"""Training: one loop (:func:`fit`) for pre-training and fine-tuning, plus the masked-
reconstruction pre-training task.

- :class:`TrainConfig`: epochs or minutes, batch size, AdamW + warm-up/cosine, clipping,
  seed, device, precision, resume.
- :func:`fit` (model, task, train_ds, val_ds, config, out_dir): device selection, bf16
  autocast on CUDA, ``torchrun`` data parallelism, per-epoch validation, atomic
  ``best/``/``last/`` checkpoints (safetensors + JSON), exact resume, ``log.csv``,
  TensorBoard when installed, progress bar.
- A *task* supplies ``train_loss``, ``val_metrics`` and ``on_epoch_end``
  (see :class:`ecgemotion.training.loop.Task`); :class:`MaskedReconstruction` is the
  pre-training one and :func:`pretrain` wires it to a window store.
- :func:`split_subjects` / :func:`split_rows`: deterministic subject-held-out validation.
"""

from ecgemotion.subjects import subject_keys
from ecgemotion.training.checkpoint import find_checkpoint, load_checkpoint, save_checkpoint
from ecgemotion.training.data import epoch_batches, split_rows, split_subjects, steps_per_epoch
from ecgemotion.training.distributed import DistEnv, dist_env, select_device
from ecgemotion.training.loop import TrainConfig, Task, autocast_context, fit, lr_at, validation_pass
from ecgemotion.training.pretrain import (MaskedReconstruction, interpolate_masked, masked_mse,
                                          plot_reconstruction, pretrain)

__all__ = ["DistEnv", "MaskedReconstruction", "Task", "TrainConfig", "autocast_context",
           "dist_env", "epoch_batches", "find_checkpoint", "fit", "interpolate_masked",
           "load_checkpoint", "lr_at", "masked_mse", "plot_reconstruction", "pretrain",
           "save_checkpoint", "select_device", "split_rows", "split_subjects", "steps_per_epoch",
           "subject_keys", "validation_pass"]
