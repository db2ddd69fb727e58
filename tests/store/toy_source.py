"""A minimal file-backed source for store tests: ``<root>/<subject>_<trial>_<arousal>.npy`` at 250 Hz."""

from pathlib import Path

import numpy as np

from ecgemotion.errors import DataError
from ecgemotion.recording import Recording
from ecgemotion.sources import Source, SourceItem, register_source
from ecgemotion.synthetic import ecg


@register_source
class ToySource(Source):
    name = "toy"

    def items(self):
        return [SourceItem(p.name, files=(p,)) for p in sorted(self.root.glob("*.npy"))]

    def load(self, item):
        path = item.files[0]
        try:
            x = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise DataError(path, f"not a readable .npy file ({exc})") from None
        subject, trial, arousal = path.stem.split("_")
        yield Recording(x, 250.0, "toy", subject, trial, labels={"arousal": float(arousal)},
                        units="mV", provenance={"file": str(path)})


def write_toy(root: Path, subjects=3, trials=2, seconds=60) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for s in range(subjects):
        for t in range(trials):
            arousal = 2 + 5 * t
            np.save(root / f"s{s}_t{t}_{arousal}.npy",
                    ecg(seconds, 250, hr_bpm=60 + 10 * t + 3 * s, seed=10 * s + t))
    return root
