"""The one training loop, shared by pre-training and fine-tuning.

``fit(model, task, train_ds, val_ds, config, out_dir)`` runs AdamW with linear warm-up
then cosine decay, gradient clipping, bf16 autocast where it is faster, ``torchrun`` data
parallelism, validation every epoch, atomic ``best``/``last`` checkpoints and exact resume.

What the objective is lives in a *task* object (see :class:`Task`); the loop knows
nothing about masks or labels.

Reproducibility: the data order is a function of (seed, epoch), and before every step
the torch RNG is re-seeded from (seed, step, rank) and the task receives a generator
seeded the same way. So a run killed and resumed from its last checkpoint replays the
same batches, masks and dropout as an uninterrupted run: on CPU (deterministic mode)
the final weights are bit-identical.

Time budget (``minutes``): a few throw-away steps on a copy of the model measure the
step time, and the run's total step count is fixed from them before step 0 (stored in
the checkpoint), so the learning-rate schedule is a pure function of the step.
"""

from __future__ import annotations

import copy
import csv
import json
import math
import os
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from ecgemotion.errors import ConfigError, EcgEmotionError
from ecgemotion.training.checkpoint import find_checkpoint, load_checkpoint, save_checkpoint
from ecgemotion.training.data import derived_seed, epoch_batches, steps_per_epoch
from ecgemotion.training.distributed import (DistEnv, allreduce_gradients, allreduce_sum,
                                             broadcast_int, broadcast_module, dist_env,
                                             init_distributed, select_device)
from ecgemotion.training.recipes import PRETRAIN, Recipe

BUDGET = ("epochs", "minutes", "steps")


@dataclass
class TrainConfig:
    epochs: int | None = None          # run this many epochs ...
    minutes: float | None = None       # ... or fit the run into this wall time
    steps: int | None = None           # ... or run exactly this many optimizer steps
    batch_size: int = PRETRAIN.batch_size   # a bare TrainConfig is the pre-training recipe
    lr: float = PRETRAIN.lr
    min_lr_fraction: float = 0.1       # cosine decays to lr * this
    warmup_fraction: float = PRETRAIN.warmup_fraction  # of the total steps (at least 1 step)
    weight_decay: float = PRETRAIN.weight_decay
    betas: tuple[float, float] = (0.9, 0.98)
    grad_clip: float = 1.0
    seed: int = 0
    device: str = "auto"               # auto | cpu | cuda | cuda:N
    precision: str = "auto"            # auto (bf16 where faster: CUDA, AMX CPUs) | fp32 | bf16
    deterministic: bool | None = None  # None: on for CPU, off for CUDA
    val_max_windows: int = 4096        # validation subset size (fixed across epochs)
    checkpoint_every_s: float = 600.0  # also save ``last`` this often within an epoch
    resume: bool = False
    stop_after_steps: int | None = None  # stop (and checkpoint) early, as if killed: tests
    # validate the starting weights as "epoch 0", a candidate for best/: a model that starts
    # as a fitted baseline (the hybrid's feature path) keeps it when no epoch beats it
    validate_start: bool = False

    @classmethod
    def from_recipe(cls, recipe: Recipe, **overrides: Any) -> "TrainConfig":
        """The recipe's settings with ``overrides`` on top; a budget given there (epochs,
        minutes or steps, not None) replaces the recipe's."""
        settings = recipe.settings()
        overrides = {k: v for k, v in overrides.items() if v is not None or k not in BUDGET}
        if any(k in overrides for k in BUDGET):
            settings.update(epochs=None, minutes=None)
        return cls(**{**settings, **overrides})

    def validate(self) -> "TrainConfig":
        if sum(v is not None for v in (self.epochs, self.minutes, self.steps)) != 1:
            raise ConfigError("give exactly one of epochs, minutes or steps")
        if self.steps is not None and self.steps < 1:
            raise ConfigError(f"steps must be >= 1, found {self.steps}")
        if self.epochs is not None and self.epochs < 1:
            raise ConfigError(f"epochs must be >= 1, found {self.epochs}")
        if self.minutes is not None and self.minutes <= 0:
            raise ConfigError(f"minutes must be > 0, found {self.minutes}")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ConfigError(f"precision must be auto, fp32 or bf16, found {self.precision!r}")
        if self.batch_size < 1 or self.lr <= 0:
            raise ConfigError("batch_size and lr must be positive")
        return self


class Task(Protocol):
    """What a training objective provides to :func:`fit`.

    ``train_loss`` returns the scalar loss of one batch (``generator`` is seeded from
    (seed, step, rank), for masks or augmentations). ``val_metrics`` returns, for one
    validation batch, ``{name: (sum, count)}`` that the loop sums over batches and
    ranks; it must contain ``"loss"``. ``rows`` identifies the windows (for per-window
    seeded randomness that does not depend on batching). ``on_epoch_end`` may draw plots.
    """

    name: str

    def train_loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                   generator: torch.Generator) -> torch.Tensor: ...

    def val_metrics(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                    rows: np.ndarray) -> dict[str, tuple[float, float]]: ...

    def on_epoch_end(self, model: nn.Module, x: torch.Tensor, rows: np.ndarray,
                     out_dir: Path, epoch: int) -> None: ...


def lr_at(step: int, total: int, cfg: TrainConfig) -> float:
    """Linear warm-up over ``warmup_fraction`` of the run, then cosine to ``min_lr_fraction``."""
    warmup = max(1, round(cfg.warmup_fraction * total))
    if step < warmup:
        return cfg.lr * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    floor = cfg.lr * cfg.min_lr_fraction
    return floor + (cfg.lr - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW; no weight decay on biases, norms, tokens and position tables (ndim < 2 or 3-D)."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (decay if p.ndim == 2 or (p.ndim == 3 and "encoder" in name) else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=tuple(cfg.betas))


def bf16_is_fast(device: torch.device) -> bool:
    """bf16 autocast pays on CUDA GPUs that support it and on CPUs with AMX tiles (measured on
    a 2-core Xeon with AMX: bf16 matmul 3.5x the fp32 peak, a pre-training step 1.4x faster;
    without AMX, CPU bf16 is emulated and slower)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    amx = getattr(torch.cpu, "_is_amx_tile_supported", None)
    return device.type == "cpu" and amx is not None and bool(amx())


def autocast_context(device: torch.device, precision: str):
    """bf16 autocast where it is faster (``auto``, see :func:`bf16_is_fast`) or when asked
    (``bf16``), else fp32."""
    if precision == "auto":
        precision = "bf16" if bf16_is_fast(device) else "fp32"
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16), "bf16"
    return nullcontext(), "fp32"


def set_determinism(device: torch.device, deterministic: bool | None) -> bool:
    on = device.type == "cpu" if deterministic is None else deterministic
    if on:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    else:
        torch.use_deterministic_algorithms(False)
        torch.set_float32_matmul_precision("high")
        torch.backends.cudnn.benchmark = True
    return on


class RunLog:
    """``log.csv`` (one row per validation), TensorBoard scalars when installed. Rank 0 only."""

    COLUMNS = ["epoch", "step", "train_loss", "val_loss", "lr", "windows_per_s", "elapsed"]

    def __init__(self, out_dir: Path, resume_step: int | None, enabled: bool):
        self.path = out_dir / "log.csv"
        self.enabled = enabled
        self.writer = None
        if not enabled:
            return
        if resume_step is not None and self.path.is_file():   # drop rows after the checkpoint
            with open(self.path, newline="") as fh:
                rows = [r for r in csv.DictReader(fh) if int(r["step"]) <= resume_step]
            header = list(rows[0].keys()) if rows else None
            self._rewrite(header, rows)
        elif self.path.exists():
            self.path.unlink()
        try:
            from torch.utils.tensorboard import SummaryWriter  # needs the tensorboard package

            self.writer = SummaryWriter(str(out_dir / "tensorboard"))
        except Exception:  # noqa: BLE001 - optional
            self.writer = None

    def _rewrite(self, header, rows) -> None:
        if header is None:
            self.path.unlink(missing_ok=True)
            return
        with open(self.path, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=header)
            w.writeheader()
            w.writerows(rows)

    def row(self, values: dict[str, Any]) -> None:
        if not self.enabled:
            return
        new = not self.path.exists()
        header = self.COLUMNS + sorted(k for k in values if k not in self.COLUMNS)
        if not new:
            with open(self.path, newline="") as fh:
                header = next(csv.reader(fh))
        with open(self.path, "a", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=header, extrasaction="ignore")
            if new:
                w.writeheader()
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in values.items()})
        if self.writer is not None:
            for k, v in values.items():
                if k not in ("epoch", "step") and isinstance(v, (int, float)):
                    self.writer.add_scalar(k, v, values["step"])
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


@dataclass
class _State:
    step: int = 0
    total_steps: int = 0
    best_val_loss: float = math.inf
    best_step: int = -1
    elapsed: float = 0.0
    epoch_loss_sum: float = 0.0
    epoch_loss_n: int = 0
    last_val: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)


def _val_positions(n: int, cfg: TrainConfig, env: DistEnv) -> np.ndarray:
    """A fixed validation subset (same every epoch), sharded over ranks."""
    order = np.sort(np.random.default_rng([cfg.seed, 7919]).permutation(n)[: cfg.val_max_windows])
    mine = order[env.rank::env.world_size]
    # every rank must take part in the metric all-reduce, even with fewer windows than ranks
    return mine if len(mine) or not len(order) else order[:1]


def validation_pass(model: nn.Module, task: Task, val_ds, positions: np.ndarray,
                    batch_size: int, device: torch.device, autocast) -> dict[str, float]:
    """Sum the task's validation metrics over ``positions`` (and over ranks): {name: mean}."""
    model.eval()
    sums: dict[str, list[float]] = {}
    with torch.no_grad():
        for i in range(0, len(positions), batch_size):
            pos = positions[i: i + batch_size]
            x, y = val_ds.batch(pos)
            with autocast:
                metrics = task.val_metrics(model, x.to(device), y.to(device), val_ds.rows[pos])
            for k, (s, c) in metrics.items():
                acc = sums.setdefault(k, [0.0, 0.0])
                acc[0] += float(s)
                acc[1] += float(c)
    names = sorted(sums) if sums else ["loss"]
    flat = allreduce_sum([v for k in names for v in sums.get(k, [0.0, 0.0])], device)
    model.train()
    return {k: (flat[2 * i] / flat[2 * i + 1] if flat[2 * i + 1] else float("nan"))
            for i, k in enumerate(names)}


def _train_step(model, task, optimizer, x, y, gen, cfg, env, autocast) -> torch.Tensor:
    with autocast:
        loss = task.train_loss(model, x, y, gen)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if env.distributed:
        allreduce_gradients(model, env.world_size)
    if cfg.grad_clip:
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
    optimizer.step()
    return loss.detach()


def _calibrate_total(model, task, train_ds, val_n, cfg, env, device, autocast, spe) -> int:
    """Steps that fit in ``cfg.minutes``: time throw-away steps on a copy of the model."""
    probe = copy.deepcopy(model)
    opt = make_optimizer(probe, cfg)
    batches = epoch_batches(len(train_ds), cfg.batch_size, cfg.seed, 10**6, env.rank, env.world_size)
    times = []
    for i in range(3):
        x, y = train_ds.batch(batches[i % len(batches)])
        gen = torch.Generator().manual_seed(i)
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        _train_step(probe, task, opt, x.to(device), y.to(device), gen, cfg, env, autocast)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    del probe, opt
    t_step = float(np.median(times[1:])) if len(times) > 1 else times[0]
    # validation costs about a third of a training step per window
    val_per_epoch = t_step / 3 * (min(val_n, cfg.val_max_windows) / env.world_size) / cfg.batch_size
    budget = cfg.minutes * 60 * 0.92
    total = int(budget / (t_step + val_per_epoch / spe))
    return broadcast_int(max(1, total), device)


@dataclass
class _Run:
    """What one :func:`fit` call shares between its epochs."""

    model: nn.Module
    task: Task
    train_ds: Any
    val_ds: Any
    cfg: TrainConfig
    env: DistEnv
    device: torch.device
    autocast: Any
    optimizer: torch.optim.Optimizer
    st: _State
    spe: int                 # steps per epoch
    total: int               # steps in the run
    val_pos: np.ndarray
    out_dir: Path
    log: RunLog
    say: Any
    bar: Any = None
    t_start: float = 0.0     # wall clock when this process started training
    elapsed0: float = 0.0    # training time before a resume
    last_ckpt: float = 0.0   # wall clock of the last ``last/`` checkpoint

    def checkpoint_state(self) -> dict[str, Any]:
        return {**asdict(self.st), "steps_per_epoch": self.spe, "seed": self.cfg.seed,
                "world_size": self.env.world_size, "task": self.task.name}

    def save_last(self) -> None:
        if self.env.is_main:
            save_checkpoint(self.out_dir / "last", self.model, self.optimizer,
                            self.checkpoint_state())


def _train_epoch(run: _Run) -> tuple[str | None, float]:
    """Train from the current step to the end of its epoch, the run or a stop; return why it
    stopped early (None: it did not) and the windows per second."""
    st, cfg, env, spe, total = run.st, run.cfg, run.env, run.spe, run.total
    epoch, first = divmod(st.step, spe)
    batches = epoch_batches(len(run.train_ds), cfg.batch_size, cfg.seed, epoch, env.rank,
                            env.world_size)
    t_epoch, windows_epoch = time.time(), 0
    stopped: str | None = None
    for b in range(first, spe):
        lr = lr_at(st.step, total, cfg)
        for group in run.optimizer.param_groups:
            group["lr"] = lr
        torch.manual_seed(derived_seed(cfg.seed, st.step, env.rank, 1))
        gen = torch.Generator().manual_seed(derived_seed(cfg.seed, st.step, env.rank, 2))
        x, y = run.train_ds.batch(batches[b])
        loss = _train_step(run.model, run.task, run.optimizer,
                           x.to(run.device, non_blocking=True), y.to(run.device, non_blocking=True),
                           gen, cfg, env, run.autocast)
        loss_value = float(loss)
        if not math.isfinite(loss_value):
            raise EcgEmotionError(f"training diverged at step {st.step}: loss {loss_value} "
                                  "(lower --lr?)")
        st.step += 1
        st.epoch_loss_sum += loss_value
        st.epoch_loss_n += 1
        windows_epoch += len(x) * env.world_size
        st.elapsed = run.elapsed0 + time.time() - run.t_start
        if run.bar is not None:
            run.bar.update(1)
            if st.step % 5 == 0 or st.step == total:
                run.bar.set_postfix(loss=f"{loss_value:.4f}", lr=f"{lr:.2e}",
                                    win_s=f"{windows_epoch / max(1e-9, time.time() - t_epoch):.0f}")
        if st.step >= total:
            break
        if cfg.stop_after_steps is not None and st.step >= cfg.stop_after_steps:
            stopped = f"stop_after_steps={cfg.stop_after_steps}"
            break
        if cfg.minutes is not None and st.elapsed > cfg.minutes * 60 * 1.1:
            stopped = f"time budget of {cfg.minutes} min exhausted"
            break
        if time.time() - run.last_ckpt > cfg.checkpoint_every_s:
            run.save_last()
            run.last_ckpt = time.time()
    return stopped, windows_epoch / max(1e-9, time.time() - t_epoch)


def _time_up_unvalidated(run: _Run, stopped: str | None) -> bool:
    """A time budget that ran out before the first validation: validate the partial epoch so
    the run still leaves a ``best/`` checkpoint for whoever loads it next (the demo does)."""
    return bool(stopped) and run.cfg.minutes is not None and run.st.best_step < 0


def _end_epoch(run: _Run, wps: float) -> None:
    """Validate, log the epoch's row, keep ``best/`` when it improved, save ``last/``."""
    st, cfg, env, model, task = run.st, run.cfg, run.env, run.model, run.task
    val = validation_pass(model, task, run.val_ds, run.val_pos, cfg.batch_size, run.device, run.autocast)
    train_loss = st.epoch_loss_sum / st.epoch_loss_n if st.epoch_loss_n else float("nan")
    train_loss = allreduce_sum([train_loss], run.device)[0] / env.world_size
    st.epoch_loss_sum, st.epoch_loss_n = 0.0, 0
    st.last_val = val
    row = {"epoch": (st.step - 1) // run.spe + 1, "step": st.step, "train_loss": train_loss,
           "val_loss": val["loss"], "lr": lr_at(st.step - 1, run.total, cfg) if st.step else 0.0,
           "windows_per_s": wps, "elapsed": round(st.elapsed, 2),
           **{f"val_{k}": v for k, v in val.items() if k != "loss"}}
    st.history.append(row)
    run.log.row(row)
    improved = val["loss"] < st.best_val_loss
    if improved:
        st.best_val_loss, st.best_step = val["loss"], st.step
    if env.is_main:
        if improved:
            save_checkpoint(run.out_dir / "best", model, None, run.checkpoint_state())
        if len(run.val_pos) and hasattr(task, "on_epoch_end"):
            x, _ = run.val_ds.batch(run.val_pos[:4])
            model.eval()
            with torch.no_grad(), run.autocast:
                task.on_epoch_end(model, x.to(run.device), run.val_ds.rows[run.val_pos[:4]],
                                  run.out_dir, row["epoch"])
            model.train()
        trained = (f"train {train_loss:.4f}  " if st.step else "the starting weights, before "
                   "any step: ")
        run.say(f"epoch {row['epoch']}: {trained}val {val['loss']:.4f}  "
                + "  ".join(f"{k} {v:.4f}" for k, v in val.items() if k != "loss")
                + (f"  {wps:.1f} windows/s" if st.step else ""))
    run.save_last()
    run.last_ckpt = time.time()


def _start_state(cfg: TrainConfig, out_dir: Path, model: nn.Module, optimizer, spe: int,
                 say) -> _State:
    """A fresh state; with ``cfg.resume``, the one saved in ``out_dir/last`` (weights and
    optimizer loaded), refused when the steps per epoch changed. Never overwrites a run."""
    st = _State()
    last_dir = out_dir / "last"
    if cfg.resume:
        if find_checkpoint(last_dir) is None:
            raise EcgEmotionError(f"{last_dir}: --resume given but there is no checkpoint to "
                                  "resume from")
        saved = load_checkpoint(last_dir, model, optimizer)
        for k in asdict(_State()):
            if k in saved:
                setattr(st, k, saved[k])
        if saved.get("steps_per_epoch") != spe:
            raise EcgEmotionError(f"{last_dir}: checkpoint was made with {saved.get('steps_per_epoch')} "
                                  f"steps per epoch, this run has {spe} (batch size, world size "
                                  "or data changed): cannot resume exactly")
        say(f"resuming from step {st.step} of {st.total_steps}")
    elif find_checkpoint(last_dir) is not None:
        raise EcgEmotionError(f"{out_dir}: already holds a training run; pass resume=True "
                              "(--resume) to continue it or choose another output folder")
    return st


def _train(run: _Run) -> str | None:
    """Epochs until the planned total or a stop (time budget, signal): an epoch that ends
    validates and checkpoints, an interrupted one saves ``last/``. Returns why it stopped."""
    st, stopped = run.st, None
    run.model.train()
    try:
        if run.cfg.validate_start and st.step == 0:
            _end_epoch(run, 0.0)
        while st.step < run.total and stopped is None:
            stopped, wps = _train_epoch(run)
            if st.step % run.spe == 0 or st.step >= run.total or _time_up_unvalidated(run, stopped):
                _end_epoch(run, wps)
            elif stopped:
                run.save_last()
    except KeyboardInterrupt:
        run.save_last()
        raise
    finally:
        if run.bar is not None:
            run.bar.close()
        run.log.close()
    return stopped


def fit(model: nn.Module, task: Task, train_ds, val_ds, cfg: TrainConfig, out_dir: str | Path,
        ui=None, run_info: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train ``model`` on ``train_ds`` for ``task``; validate on ``val_ds`` every epoch.

    Datasets offer ``len()``, ``.rows`` and ``.batch(positions) -> (x (B,1,T), y (B,))``
    (:class:`ecgemotion.store.WindowDataset`). Writes into ``out_dir`` (rank 0 only):
    ``last/`` and ``best/`` checkpoints, ``log.csv``, ``run.json``, ``summary.json``.
    Returns the run summary with ``history``: the rows of ``log.csv``, one per validation.
    """
    cfg.validate()
    out_dir = Path(out_dir)
    env = dist_env()
    device = select_device(cfg.device, env)
    init_distributed(env, device)
    deterministic = set_determinism(device, cfg.deterministic)
    autocast, precision = autocast_context(device, cfg.precision)
    main = env.is_main
    say = (ui.say if (ui is not None and main) else (lambda *a, **k: None))
    why = {"fp32": "bf16 would be slower here", "bf16": "faster here"}[precision]
    say(f"device {device}, precision {precision}"
        + (f" (auto: {why}; --precision overrides it)" if cfg.precision == "auto" else ""))

    model.to(device)
    broadcast_module(model)
    optimizer = make_optimizer(model, cfg)
    spe = steps_per_epoch(len(train_ds), cfg.batch_size, env.world_size)
    st = _start_state(cfg, out_dir, model, optimizer, spe, say)
    resumed_from = st.step if cfg.resume else None  # in the summary: a provable resume
    last_dir, best_dir = out_dir / "last", out_dir / "best"
    if main:
        out_dir.mkdir(parents=True, exist_ok=True)

    if not st.total_steps:  # a resumed run keeps the total it planned
        st.total_steps = (cfg.steps if cfg.steps is not None else
                          cfg.epochs * spe if cfg.epochs is not None else
                          _calibrate_total(model, task, train_ds, len(val_ds), cfg, env, device,
                                           autocast, spe))
    total = st.total_steps
    val_pos = _val_positions(len(val_ds), cfg, env)
    info = {"task": task.name, "train_config": asdict(cfg), "model_config": model.config.to_dict(),
            "world_size": env.world_size, "device": str(device), "precision": precision,
            "deterministic": deterministic, "train_windows": len(train_ds),
            "val_windows": len(val_ds), "val_windows_used": min(len(val_ds), cfg.val_max_windows),
            "steps_per_epoch": spe, "total_steps": total, **(run_info or {})}
    if main:
        (out_dir / "run.json").write_text(json.dumps(info, indent=2, default=str) + "\n")
    log = RunLog(out_dir, st.step if cfg.resume else None, enabled=main)

    run = _Run(model, task, train_ds, val_ds, cfg, env, device, autocast, optimizer, st, spe,
               total, val_pos, out_dir, log, say)
    run.bar = (ui.progress(total=total, initial=st.step, desc=task.name, unit="step")
               if ui is not None and main else None)
    run.t_start = run.last_ckpt = time.time()
    run.elapsed0 = st.elapsed
    stopped = _train(run)

    summary = {
        "task": task.name, "out": str(out_dir), "best": str(best_dir), "last": str(last_dir),
        "steps": st.step, "total_steps": total, "epochs": round(st.step / spe, 3),
        "resumed_from_step": resumed_from,
        "complete": st.step >= total, "stopped": stopped,
        "best_val_loss": st.best_val_loss, "best_step": st.best_step,
        "final_val": st.last_val, "elapsed_s": round(st.elapsed, 2),
        "windows_per_s": st.history[-1]["windows_per_s"] if st.history else None,
        "device": str(device), "precision": precision, "world_size": env.world_size,
        "seed": cfg.seed,
    }
    if main:
        (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    return {**summary, "history": list(st.history)}   # on disk: log.csv
