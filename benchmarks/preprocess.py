"""Preprocessing throughput and memory, against a NeuroKit2 peer pipeline in the same run.

    python benchmarks/preprocess.py [--hours 2] [--rss-hours 10,100] [--workers 2]

Throughput: hours of ECG turned into normalised 10-s windows at 128 Hz per second of
wall time, on identical 1000 Hz input, single process:
  * ours:  ecgemotion.preprocess.process_recording (gap repair, resample, band-pass,
           quality flags, z-score);
  * peer:  nk.ecg_clean at the native rate, nk.signal_resample to 128 Hz, then a
           Python loop cutting and z-scoring each window (what most published code does).
Peak RSS: building a real store (process pool, shards, index) from a synthetic
corpus of N hours, measured for the parent and, separately, the largest worker.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ecgemotion.preprocess import PreprocessConfig, process_recording
from ecgemotion.recording import Recording
from ecgemotion.sources import Source, SourceItem, register_source
from ecgemotion.synthetic import ecg

FS = 1000.0
RECORD_MIN = 10


@register_source
class SyntheticCorpus(Source):
    """``hours`` of 10-min, 1000 Hz synthetic recordings, generated inside the workers."""

    name = "bench-synthetic"
    accepts = ("hours",)
    needs_root = False

    def items(self):
        n = int(round(float(self.options["hours"]) * 60 / RECORD_MIN))
        return [SourceItem(f"rec{i}", params=(("seed", i),)) for i in range(n)]

    def load(self, item):
        seed = item.param("seed")
        x = _record(seed)
        yield Recording(x, FS, self.name, f"s{seed % 50}", f"r{seed}", units="mV")


def _record(seed: int) -> np.ndarray:
    return ecg(RECORD_MIN * 60, FS, hr_bpm=55 + seed % 40, seed=seed).astype(np.float32)


def peer_pipeline(x: np.ndarray, fs: float, config: PreprocessConfig) -> np.ndarray:
    import neurokit2 as nk

    clean = nk.ecg_clean(x, sampling_rate=int(fs))
    y = nk.signal_resample(clean, sampling_rate=int(fs), desired_sampling_rate=int(config.fs),
                           method="poly")
    windows = []
    for start in range(0, len(y) - config.window_len + 1, config.step_len):
        w = y[start:start + config.window_len]
        windows.append((w - w.mean()) / (w.std() + 1e-8))
    return np.asarray(windows, dtype=np.float32)


def throughput(hours: float) -> dict:
    config = PreprocessConfig()
    records = [_record(i) for i in range(max(1, int(round(hours * 60 / RECORD_MIN))))]
    total_h = len(records) * RECORD_MIN / 60
    timings = {}
    for name, fn in {
        "ours": lambda x: process_recording(Recording(x, FS, "b", "s", "t", units="mV"), config).data,
        "neurokit2": lambda x: peer_pipeline(x, FS, config),
    }.items():
        fn(records[0][: int(60 * FS)])  # warm-up: imports, filter design caches
        t0 = time.perf_counter()
        n_windows = sum(len(fn(x)) for x in records)
        elapsed = time.perf_counter() - t0
        timings[name] = {"seconds": round(elapsed, 3), "windows": n_windows,
                         "hours_per_second": round(total_h / elapsed, 3)}
    return {"input_hours": total_h, "input_fs": FS, **timings,
            "speedup_vs_neurokit2": round(timings["neurokit2"]["seconds"] / timings["ours"]["seconds"], 2)}


def peak_rss(hours: float, workers: int) -> dict:
    """Run in a fresh interpreter so each measurement starts clean."""
    import subprocess

    code = (
        "import json,resource,sys,time;sys.path.insert(0,%r);import preprocess as b;"
        "from ecgemotion.store import build_store;from ecgemotion.preprocess import PreprocessConfig;"
        "import tempfile;d=tempfile.mkdtemp();t=time.time();"
        "s,summary=build_store([b.SyntheticCorpus(hours=%r)],PreprocessConfig(),out_dir=d,workers=%d);"
        "print(json.dumps({'windows':summary['windows'],'seconds':round(time.time()-t,1),"
        "'parent_mb':resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024,"
        "'largest_worker_mb':resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss/1024}))"
    ) % (str(Path(__file__).parent), hours, workers)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["hours"] = hours
    result["hours_per_second_store_build"] = round(hours / result["seconds"], 2)
    return {k: round(v, 1) if isinstance(v, float) else v for k, v in result.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=2.0, help="input for the throughput race")
    ap.add_argument("--rss-hours", default="10,100", help="corpus sizes for the memory check")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    report = {"throughput": throughput(args.hours),
              "store_build_memory": [peak_rss(float(h), args.workers)
                                     for h in args.rss_hours.split(",") if h]}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
