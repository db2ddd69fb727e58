"""How often the ``noise`` quality flag fires on real ECG, and on signals that are not ECG.

    python benchmarks/quality.py --mitdb PATH/mitdb --cinc PATH/cinc2017 [--cinc-max 6000]

Every window goes through ``ecgemotion.preprocess.process_recording`` (the one path of
store building and prediction), with the default :class:`PreprocessConfig`.

* MIT-BIH (lead 0, 360 Hz): only windows whose beat annotations are all ``N`` (at least
  5 beats, no other annotation than rhythm ``+``): clean sinus rhythm, cardiologist-read.
* CinC 2017 (AliveCor, 300 Hz): every window of the records labelled ``N`` (normal; a
  record label, so some windows hold motion artefacts) and of those labelled ``~``
  (too noisy to classify).
* Synthetic signals that are not ECG (:func:`ecgemotion.synthetic.not_ecg`), 10 seeds.

For each set: how many windows, the share flagged ``noise``, the share flagged
``heart_rate`` (what caught noise before), and the share of windows that were good
before the noise flag and are not any more. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import wfdb

from ecgemotion.preprocess import PreprocessConfig, process_recording
from ecgemotion.recording import Recording
from ecgemotion.synthetic import NOT_ECG, not_ecg

BEATS = set("NLRBAaJSVrFejnE/fQ?")


def _windows(x: np.ndarray, fs: float, units: str = "mV"):
    return process_recording(Recording(x, fs, "q", "s", "t", units=units), PreprocessConfig())


class Tally:
    def __init__(self):
        self.n = self.noise = self.heart_rate = self.newly_bad = 0

    def add(self, w, keep: np.ndarray | None = None) -> None:
        keep = np.ones(len(w), dtype=bool) if keep is None else keep
        others = np.zeros(len(w), dtype=bool)
        for name, flag in w.flags.items():
            if name != "noise":
                others |= flag
        self.n += int(keep.sum())
        self.noise += int(w.flags["noise"][keep].sum())
        self.heart_rate += int(w.flags["heart_rate"][keep].sum())
        self.newly_bad += int((w.flags["noise"] & ~others)[keep].sum())

    def result(self) -> dict:
        share = lambda k: round(k / self.n, 4) if self.n else None  # noqa: E731
        return {"windows": self.n, "noise_flagged": share(self.noise),
                "heart_rate_flagged": share(self.heart_rate),
                "good_before_now_flagged": share(self.newly_bad)}


def mitdb_normal(root: Path) -> dict:
    tally = Tally()
    for hea in sorted(root.glob("[0-9][0-9][0-9].hea")):
        rec = wfdb.rdrecord(str(hea.with_suffix("")))
        ann = wfdb.rdann(str(hea.with_suffix("")), "atr")
        w = _windows(rec.p_signal[:, 0], rec.fs)
        samples, symbols = np.asarray(ann.sample), np.asarray(ann.symbol)
        keep = []
        for start in w.start_s:
            inside = symbols[(samples >= start * rec.fs) & (samples < (start + 10) * rec.fs)]
            beats = [s for s in inside if s in BEATS]
            keep.append(len(beats) >= 5 and all(s == "N" for s in beats)
                        and all(s in BEATS or s == "+" for s in inside))
        tally.add(w, np.asarray(keep, dtype=bool))
    return tally.result()


def cinc(root: Path, label: str, limit: int) -> dict:
    reference = pd.read_csv(root / "REFERENCE.csv")
    tally = Tally()
    for name in reference.loc[reference["class"] == label, "data_source"].to_numpy()[:limit]:
        rec = wfdb.rdrecord(str(root / name))
        if len(rec.p_signal) >= 10 * rec.fs:   # a few records are shorter than one window
            tally.add(_windows(rec.p_signal[:, 0], rec.fs))
    return tally.result()


def synthetic(seeds: int = 10) -> dict:
    out = {}
    for kind in NOT_ECG:
        tally = Tally()
        for seed in range(seeds):
            tally.add(_windows(not_ecg(kind, 120, 500.0, seed=seed), 500.0))
        out[kind] = tally.result()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mitdb", type=Path, required=True)
    ap.add_argument("--cinc", type=Path, required=True)
    ap.add_argument("--cinc-max", type=int, default=6000, help="records per CinC class at most")
    args = ap.parse_args()
    t0 = time.time()
    result = {"config": {k: v for k, v in PreprocessConfig().to_dict().items()
                         if k in ("min_beat_correlation", "min_kurtosis")},
              "mitdb_N_windows": mitdb_normal(args.mitdb),
              "cinc2017_N": cinc(args.cinc, "N", args.cinc_max),
              "cinc2017_noisy": cinc(args.cinc, "~", args.cinc_max),
              "not_ecg": synthetic()}
    result["seconds"] = round(time.time() - t0, 1)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
