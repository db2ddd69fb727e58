"""Inference speed: PyTorch eager vs ONNX Runtime, ``fast`` and ``paper`` vs the Sarkar CNN.

    python benchmarks/inference.py [--threads 2] [--seconds 3] [--models fast,paper,sarkar]

For each model (random weights; speed does not depend on them), each engine and batch
sizes 1 and 64, on identical realistic windows (synthetic ECG through
``process_recording``): windows/s and the p50/p99 latency per call and per window.
PyTorch runs under ``torch.inference_mode`` with ``torch.set_num_threads(T)``;
onnxruntime with ``intra_op_num_threads=T``, ``inter_op_num_threads=1`` and
``ORT_ENABLE_ALL`` graph optimisations. Each model is exported with
``ecgemotion.inference.export_onnx``, which also checks ORT against PyTorch (max |diff|
is reported). Prints one JSON object. Targets for ``fast`` on 2 cores: >= 1,000
windows/s at batch 64 and p99 < 20 ms at batch 1.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _time_calls(fn, seconds: float, min_calls: int, max_calls: int = 100_000) -> np.ndarray:
    fn()  # warm-up (first-call allocation, ORT arena, oneDNN primitive cache)
    fn()
    times = []
    t_end = time.perf_counter() + seconds
    while (len(times) < min_calls or time.perf_counter() < t_end) and len(times) < max_calls:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return np.asarray(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    ap.add_argument("--models", default="fast,paper,sarkar")
    ap.add_argument("--batches", default="1,64")
    args = ap.parse_args()

    import onnxruntime as ort
    import torch

    from ecgemotion.inference.engines import load_torch_model, ort_session
    from ecgemotion.inference.export import export_onnx, realistic_windows
    from ecgemotion.models import count_parameters, create_model, save_pretrained
    from ecgemotion.preprocess import PreprocessConfig

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    config = PreprocessConfig()
    base = realistic_windows(config, n_max=64)
    windows = np.concatenate([base] * (64 // len(base) + 1))[:64].astype(np.float32)
    batches = [int(b) for b in args.batches.split(",")]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            torch.manual_seed(0)
            folder = Path(tmp) / name
            save_pretrained(create_model(name), folder, extra={
                "task": "arousal", "classes": ["low", "high"], "preprocess": config.to_dict()})
            check = export_onnx(folder, folder / "model.onnx")
            model = load_torch_model(folder)
            session = ort_session(folder / "model.onnx", threads=args.threads)
            entry = {"model": name, "parameters": count_parameters(model),
                     "onnx_max_abs_diff": check["max_abs_diff"], "engines": {}}

            def run_torch(x):
                with torch.inference_mode():
                    return model(torch.from_numpy(x))["logits"].softmax(-1)

            def run_ort(x):
                return session.run(["probabilities"], {"window": x})[0]

            for engine, fn in (("torch", run_torch), ("onnxruntime", run_ort)):
                per_batch = {}
                for b in batches:
                    x = np.ascontiguousarray(windows[:b, None, :])
                    t = _time_calls(lambda: fn(x), args.seconds, min_calls=5 if b > 1 else 30)
                    per_batch[f"batch_{b}"] = {
                        "windows_per_s": round(b * len(t) / float(t.sum()), 1),
                        "p50_ms_per_call": round(1e3 * float(np.percentile(t, 50)), 3),
                        "p99_ms_per_call": round(1e3 * float(np.percentile(t, 99)), 3),
                        "p50_ms_per_window": round(1e3 * float(np.percentile(t, 50)) / b, 3),
                        "p99_ms_per_window": round(1e3 * float(np.percentile(t, 99)) / b, 3),
                        "calls": int(len(t)),
                    }
                entry["engines"][engine] = per_batch
            results.append(entry)
            print(f"done {name}", file=sys.stderr, flush=True)

    fast = next((r for r in results if r["model"] == "fast"), None)
    targets = None
    if fast is not None:
        best_batched = max(e.get("batch_64", {}).get("windows_per_s", 0) for e in fast["engines"].values())
        best_p99 = min(e.get("batch_1", {}).get("p99_ms_per_call", 1e9) for e in fast["engines"].values())
        targets = {"fast_batched_windows_per_s": best_batched, "target_windows_per_s": 1000,
                   "fast_p99_ms_batch_1": best_p99, "target_p99_ms": 20,
                   "met": bool(best_batched >= 1000 and best_p99 < 20)}
    print(json.dumps({
        "benchmark": "inference",
        "threads": {"torch.set_num_threads": args.threads, "torch.set_num_interop_threads": 1,
                    "ort.intra_op_num_threads": args.threads, "ort.inter_op_num_threads": 1,
                    "ort.graph_optimization_level": "ORT_ENABLE_ALL"},
        "window": {"samples": config.window_len, "fs": config.fs, "seconds": config.window_s},
        "torch": torch.__version__, "onnxruntime": ort.__version__,
        "cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
        "seconds_per_measurement": args.seconds,
        "results": results, "targets": targets,
    }, indent=1))


if __name__ == "__main__":
    main()
