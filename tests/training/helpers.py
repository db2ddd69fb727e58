"""Test helpers: a tiny window store (synthetic ECG, 256-sample windows) written in the store's on-disk format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ecgemotion import synthetic
from ecgemotion.store.window_store import FORMAT_VERSION, INDEX_FILE, META_FILE, sha256_file

TINY_MODEL = dict(d_model=32, n_heads=4, n_layers=1, d_ff=64, conv_channels=[8, 16, 32],
                  conv_kernels=[7, 5, 3], conv_strides=[2, 2, 2], classifier_hidden=16,
                  dropout=0.1)


def write_tiny_store(path: Path, n_subjects: int = 6, per_subject: int = 24, window_len: int = 256,
                     fs: float = 64.0, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    path.mkdir(parents=True)
    windows, rows = [], []
    for s in range(n_subjects):
        hr = rng.uniform(55, 95)
        sig = synthetic.ecg(per_subject * window_len / fs + 1, fs, hr_bpm=hr, seed=seed * 100 + s)
        for w in range(per_subject):
            x = sig[w * window_len:(w + 1) * window_len]
            windows.append((x - x.mean()) / (x.std() + 1e-8))
            rows.append({"row": len(rows), "dataset": "tiny", "subject": f"S{s:02d}", "trial": "t0",
                         "lead": "ECG", "part": "", "start_s": w * window_len / fs,
                         "hr_bpm": hr, "good": True, "q_flat": False, "q_clipped": False,
                         "q_amplitude": False, "q_heart_rate": False,
                         "label_arousal": float(1 + s % 9),
                         "y_arousal": float(s % 2)})
    data = np.asarray(windows, dtype="<f4")
    data.tofile(path / "windows-00000.bin")
    pd.DataFrame(rows).to_csv(path / INDEX_FILE, index=False)
    meta = {"format": FORMAT_VERSION, "complete": True, "identity": "tiny", "fs": fs,
            "window_len": window_len, "dtype": "float32",
            "shards": [{"file": "windows-00000.bin", "n": len(data),
                        "sha256": sha256_file(path / "windows-00000.bin")}],
            "n_windows": len(data), "index_sha256": sha256_file(path / INDEX_FILE), "summary": {}}
    (path / META_FILE).write_text(json.dumps(meta))
    return path
