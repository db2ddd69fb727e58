"""Live and batch prediction cost of ``hybrid-ctx`` vs ``hybrid`` (the window features alone).

    python benchmarks/hybrid_stream.py [--threads 1] [--minutes 3] [--hop 2]

Both models are the ``fast`` encoder with random weights (speed does not depend on them), one
with the window features, one with the window and 60-s context features; the same synthetic
recording (rhythm changing every minute) is predicted in batch and pushed through a stream at
``--hop``. A live context model re-reads the good windows of the last 60 s with each new
window, so this is where its cost shows. Prints one JSON object: seconds per window each way,
and the ratio hybrid-ctx / hybrid.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--minutes", type=float, default=3.0)
    ap.add_argument("--hop", type=float, default=2.0)
    args = ap.parse_args()

    import torch

    from ecgemotion.inference import EmotionRecognizer
    from ecgemotion.models import create_model, save_pretrained
    from ecgemotion.preprocess import PreprocessConfig
    from ecgemotion.synthetic import ecg
    from ecgemotion.training.finetune import HYBRIDS, hybrid_inputs

    torch.set_num_threads(args.threads)
    fs = 250.0
    minutes = max(1, int(round(args.minutes)))
    x = np.concatenate([ecg(60, fs, hr_bpm=hr, seed=i)
                        for i, hr in zip(range(minutes), [62, 95, 74, 110, 68] * minutes)])
    out: dict = {"threads": args.threads, "seconds_of_ecg": len(x) / fs, "hop_s": args.hop}
    with tempfile.TemporaryDirectory() as tmp:
        for model in HYBRIDS:
            torch.manual_seed(0)
            net = create_model("fast", physio_features=list(hybrid_inputs(model)))
            folder = save_pretrained(net, Path(tmp) / model, extra={
                "task": "arousal", "classes": ["low", "high"],
                "preprocess": PreprocessConfig().to_dict()})
            rec = EmotionRecognizer.from_pretrained(folder, threads=args.threads)
            rec.predict(x[: int(30 * fs)], fs)                       # warm-up
            t0 = time.perf_counter()
            n_batch = len(rec.predict(x, fs))
            batch_s = time.perf_counter() - t0
            stream = rec.stream(fs, hop_s=args.hop)
            t0 = time.perf_counter()
            n_live = len(stream.push(x)) + len(stream.flush())
            live_s = time.perf_counter() - t0
            out[model] = {"batch_s_per_window": batch_s / n_batch, "batch_windows": n_batch,
                          "stream_s_per_window": live_s / n_live, "stream_windows": n_live}
    for way in ("batch", "stream"):
        key = f"{way}_s_per_window"
        out[f"ratio_{way}_ctx_over_window"] = out["hybrid-ctx"][key] / out["hybrid"][key]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
