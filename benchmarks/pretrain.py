"""Pre-training throughput and model FLOP utilisation: ``paper`` vs ``fast``, same run;
with ``--objectives``, the step cost of each self-supervised objective on ``fast``.

For each model: training windows/s (forward + backward + AdamW step of masked
reconstruction), the FLOPs of one training window (``FlopCounterMode``, forward +
backward), the achieved training FLOP/s and its ratio to this machine's measured matmul
peak (a large ``torch.matmul`` timed in fp32 and bf16 in the same run); then the
validation masked MSE each model reaches after the same short wall time (with the
zeros / linear-interpolation baselines on the same masks). Prints one JSON object.

    python benchmarks/pretrain.py                         # synthetic ECG, CPU or GPU
    python benchmarks/pretrain.py --store STORE --minutes 5 --batch-size 64
    python benchmarks/pretrain.py --objectives paper,mae,contrastive,mae+contrastive --batch-size 128
    python benchmarks/pretrain.py --objectives paper+contrastive+physio,paper+contrastive+physio@nodrop

The objective timing interleaves the objectives step by step (A B C D A B C D ...), so
load from other processes falls on all of them alike: their ratios are meaningful even on
a shared machine. Training FLOPs are counted on the objective's real training step.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time

import numpy as np
import torch

from ecgemotion import synthetic
from ecgemotion.models import create_model, flops_per_window
from ecgemotion.training import (MaskedReconstruction, TrainConfig, autocast_context, fit,
                                 select_device)
from ecgemotion.training.loop import make_optimizer


class ArrayDataset:
    """In-memory windows with the ``WindowDataset.batch`` interface."""

    def __init__(self, x: np.ndarray):
        self.x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        self.rows = np.arange(len(x))

    def __len__(self) -> int:
        return len(self.x)

    def batch(self, positions):
        positions = np.asarray(positions)
        return self.x[positions].unsqueeze(1), torch.full((len(positions),), -1)


def synthetic_windows(n_subjects: int, per_subject: int, window_len: int = 1280, fs: float = 128.0,
                      seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = []
    for s in range(n_subjects):
        sig = synthetic.ecg(per_subject * window_len / fs + 1, fs, hr_bpm=rng.uniform(55, 100),
                            hrv_ms=rng.uniform(20, 80), seed=seed * 1000 + s)
        for w in range(per_subject):
            x = sig[w * window_len:(w + 1) * window_len]
            out.append((x - x.mean()) / (x.std() + 1e-8))
    return np.asarray(out, dtype=np.float32)


def matmul_peak(device: torch.device, dtype: torch.dtype, n: int, seconds: float = 2.0) -> float:
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(2):
        a @ b
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ b
        reps += 1
        if device.type == "cuda" and reps % 10:
            continue
        sync()
    sync()
    return 2 * n ** 3 * reps / (time.perf_counter() - t0)


def throughput(name: str, device, autocast, batch: int, window_len: int, seconds: float) -> dict:
    torch.use_deterministic_algorithms(False)  # a previous fit() may have switched it on
    torch.manual_seed(0)
    model = create_model(name, window_len=window_len).to(device)
    task = MaskedReconstruction(span=64)
    opt = make_optimizer(model, TrainConfig(epochs=1))
    x = torch.from_numpy(synthetic_windows(2, max(1, batch // 2 + 1), window_len))[:batch, None].to(device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def step(i):
        with autocast:
            loss = task.train_loss(model, x, None, torch.Generator().manual_seed(i))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    step(0)
    sync()
    steps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds or steps < 2:
        step(steps + 1)
        steps += 1
    sync()
    dt = time.perf_counter() - t0
    train_flops = flops_per_window(model.float(), "reconstruct", backward=True)
    wps = steps * batch / dt
    return {"windows_per_s": wps, "steps_timed": steps, "seconds": dt, "batch_size": batch,
            "parameters": sum(p.numel() for p in model.parameters()),
            "tokens_per_window": model.config.n_tokens + 1,
            "train_flops_per_window": train_flops, "achieved_flops_per_s": wps * train_flops}


def objective_step_costs(objectives: list[str], batch: int, rounds: int, precision: str) -> dict:
    """Seconds per training step and windows/s of each objective on ``fast``, interleaved.
    ``NAME@nodrop`` times NAME with dropout off (``pretrain --dropout 0``)."""
    from ecgemotion.models.accounting import flop_counter
    from ecgemotion.models.blocks import set_dropout
    from ecgemotion.training.objectives import OBJECTIVES, SelfSupervised
    from ecgemotion.training.targets import n_targets

    torch.use_deterministic_algorithms(False)
    x1 = torch.from_numpy(synthetic_windows(4, batch // 2 + 1))[:batch, None]
    x2 = torch.cat([x1, x1.roll(1, dims=0)], dim=1)            # (B, 2, T) pairs
    device = torch.device("cpu")
    autocast, _ = autocast_context(device, precision)
    setups = {}
    for name in objectives:
        objective, _, variant = name.partition("@")
        settings, fields = OBJECTIVES[objective]
        torch.manual_seed(0)
        k = n_targets(128.0) if settings.get("target_weight") else 0
        model = create_model("fast", **fields, **({"target_dim": k} if k else {}))
        if variant == "nodrop":
            set_dropout(model, 0.0)
        task = (MaskedReconstruction(span=64) if objective == "paper"
                else SelfSupervised(**settings, name=objective))
        x = x2 if getattr(task, "paired", False) else x1
        y = torch.arange(batch)                                    # the person of each pair
        if k:                                                      # + standardised targets
            y = torch.cat([y[:, None].float(), torch.randn(batch, k)], dim=1)
        setups[name] = (model, task, make_optimizer(model, TrainConfig(epochs=1)), x, y)

    def step(name: str, i: int) -> None:
        model, task, opt, x, y = setups[name]
        with autocast:
            loss = task.train_loss(model, x, y, torch.Generator().manual_seed(i))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    times: dict[str, list[float]] = {n: [] for n in objectives}
    for i in range(rounds + 1):
        for name in objectives:
            t0 = time.perf_counter()
            step(name, i)
            if i:                                                  # round 0 warms up
                times[name].append(time.perf_counter() - t0)
    out = {}
    for name in objectives:
        model, task, _, x, y = setups[name]
        counter = flop_counter()
        with counter:
            task.train_loss(model, x, y, torch.Generator().manual_seed(0)).backward()
        t = float(np.median(times[name]))
        views = x.shape[0] * x.shape[1]
        out[name] = {"seconds_per_step": t, "windows_per_s": batch / t, "views_per_s": views / t,
                     "train_flops_per_step": int(counter.get_total_flops()),
                     "achieved_flops_per_s": counter.get_total_flops() / t}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--store", help="window store (default: synthetic ECG in memory)")
    p.add_argument("--models", default="paper,fast")
    p.add_argument("--batch-size", type=int, default=None, help="default: 4 on CPU, 64 on GPU")
    p.add_argument("--throughput-seconds", type=float, default=20.0)
    p.add_argument("--minutes", type=float, default=2.0, help="training wall time per model")
    p.add_argument("--device", default="auto")
    p.add_argument("--objectives", help="time these objectives on fast instead (comma-separated)")
    p.add_argument("--rounds", type=int, default=10, help="interleaved steps per objective")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    args = p.parse_args()
    if args.objectives:
        names = args.objectives.split(",")
        batch = args.batch_size or 128
        cpu = torch.device("cpu")
        peaks = {"fp32": matmul_peak(cpu, torch.float32, 1024),
                 "bf16": matmul_peak(cpu, torch.bfloat16, 1024)}
        _, used = autocast_context(cpu, args.precision)
        res = objective_step_costs(names, batch, args.rounds, args.precision)
        for r in res.values():
            r["mfu_fp32"] = r["achieved_flops_per_s"] / peaks["fp32"]
            r["mfu"] = r["achieved_flops_per_s"] / peaks[used]      # against the peak of what ran
        print(json.dumps({"torch_threads": torch.get_num_threads(), "batch_size": batch,
                          "precision": used, "matmul_peak_flops_per_s": peaks,
                          "objectives": res}, indent=1))
        return

    device = select_device(args.device)
    autocast, precision = autocast_context(device, "auto")
    batch = args.batch_size or (64 if device.type == "cuda" else 4)
    n = 4096 if device.type == "cuda" else 1024
    peak = {"fp32": matmul_peak(device, torch.float32, n)}
    peak["bf16"] = matmul_peak(device, torch.bfloat16, n)
    ref = peak["bf16" if precision == "bf16" else "fp32"]

    if args.store:
        from ecgemotion.store import WindowDataset, WindowStore
        from ecgemotion.training import split_rows

        store = WindowStore.open(args.store)
        tr, va, _ = split_rows(store.index, store.select(), 0.2, 0)
        train_ds, val_ds, window_len = WindowDataset(store, tr), WindowDataset(store, va), store.window_len
    else:
        window_len = 1280
        train_ds = ArrayDataset(synthetic_windows(16, 40, window_len, seed=1))
        val_ds = ArrayDataset(synthetic_windows(4, 32, window_len, seed=2))

    result = {"device": str(device), "cpu": platform.processor() or platform.machine(),
              "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
              "precision": precision, "matmul_peak_flops_per_s": peak, "models": {}}
    for name in args.models.split(","):
        r = throughput(name, device, autocast, batch, window_len, args.throughput_seconds)
        r["mfu"] = r["achieved_flops_per_s"] / ref
        with tempfile.TemporaryDirectory() as out:
            torch.manual_seed(0)
            model = create_model(name, window_len=window_len)
            s = fit(model, MaskedReconstruction(span=64), train_ds, val_ds,
                    TrainConfig(minutes=args.minutes, batch_size=batch, lr=3e-4,
                                val_max_windows=64, checkpoint_every_s=1e9), out)
        r["short_run"] = {"minutes": args.minutes, "steps": s["steps"], "elapsed_s": s["elapsed_s"],
                          "val_mse": s["final_val"].get("loss"),
                          "val_mse_zeros": s["final_val"].get("mse_zeros"),
                          "val_mse_interp": s["final_val"].get("mse_interp")}
        result["models"][name] = r
    if {"paper", "fast"} <= set(result["models"]):
        m = result["models"]
        result["fast_over_paper_windows_per_s"] = m["fast"]["windows_per_s"] / m["paper"]["windows_per_s"]
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
