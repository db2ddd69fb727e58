"""The ECG-only path at an older commit against now, in the same run: ``prepare`` + ``predict``.

    python benchmarks/before_after.py [--before dc1f52a^] [--after REF] [--rounds 5] [--repeats 3]

Did multimodal support make the ECG-only path slower? The peer is the code itself before the
change: ``git archive`` puts the ``--before`` commit's ``src/`` in a temporary folder, and each
measurement runs in a fresh process importing either that ``src/`` or this checkout's, one
thread (``OMP_NUM_THREADS=1``, ``--workers 1``, ``--threads 1``), the two sides alternating
(the first side swaps every round) so that a change in the machine's load hits both alike.
Inside a process, one untimed call of each command loads the lazy imports; then each is timed
``--repeats`` times, through ``ecgemotion.cli.main`` as a user runs it, in CPU seconds of the
process (one thread: on a shared machine its wall time measures the neighbours' load too):

* ``prepare --dataset amigos`` (ECG only) of a synthetic AMIGOS layout (its files also hold
  EEG and GSR, as the real ones do), into a new folder each time (no store reuse);
* ``predict`` of a 20-min, 500 Hz one-column CSV with a tiny ``fast`` model (saved by the
  ``--before`` code, so both sides can load it).

Prints one JSON object: CPU seconds per call of each side (median), after / before ratios
(median over rounds, and their range), and the load average at the start and end.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

# Runs inside each measured process (its ``ecgemotion`` is the side's): times the commands.
WORKER = r"""
import json, sys, time
from ecgemotion.cli import main

args = json.loads(sys.argv[1])
commands = {
    "prepare": lambda out: ["prepare", "--dataset", "amigos", "--root", args["raw"],
                            "--label-rule", "threshold:5", "--workers", "1", "--out", out, "--quiet"],
    "predict": lambda out: ["predict", args["csv"], "--model", args["model"], "--fs", "500",
                            "--threads", "1", "--no-plot", "--out", out + ".csv", "--quiet"],
}
times = {}
for name, command in commands.items():
    assert main(command(f"{args['tmp']}/{name}-warm")) == 0
    times[name] = []
    for i in range(args["repeats"]):
        t0 = time.process_time()
        assert main(command(f"{args['tmp']}/{name}-{i}")) == 0
        times[name].append(time.process_time() - t0)
print(json.dumps(times))
"""

# Runs once with the --before code: a tiny ECG model in the format both sides read.
SAVE_MODEL = r"""
import sys, torch
from ecgemotion.models import create_model, save_pretrained
from ecgemotion.preprocess import PreprocessConfig

torch.manual_seed(0)
save_pretrained(create_model("fast", d_model=32, n_layers=1, n_heads=2, d_ff=64).eval(), sys.argv[1],
                extra={"task": "arousal", "classes": ["low", "high"], "label_rule": "threshold:5",
                       "preprocess": PreprocessConfig().to_dict()})
"""


def source_tree(ref: str, into: Path) -> Path:
    """``ref``'s ``src/`` unpacked under ``into`` (nothing in the repository changes)."""
    archive = into / "src.tar"
    with archive.open("wb") as fh:
        subprocess.run(["git", "-C", str(REPO), "archive", ref, "src"], stdout=fh, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def run_side(src: Path, code: str, *argv: str) -> str:
    """Run ``code`` in a fresh one-thread process importing ``src``'s ecgemotion; its stdout."""
    env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", code, *argv], env=env, capture_output=True,
                          text=True, cwd=src.parent)
    if done.returncode:
        raise SystemExit(f"{src}: measurement failed:\n{done.stderr[-3000:]}")
    return done.stdout


def make_inputs(root: Path, before_src: Path, subjects: int, minutes: float) -> dict[str, str]:
    """The AMIGOS layout, the CSV and the model every measurement reads."""
    from ecgemotion.demo.synthetic_amigos import write_synthetic_amigos
    from ecgemotion.synthetic import ecg

    write_synthetic_amigos(root / "raw", subjects=subjects, trials=8, seconds=60, seed=0)
    x = ecg(minutes * 60, 500.0, hr_bpm=70, noise_mv=0.03, wander_mv=0.2, seed=1)
    np.savetxt(root / "rec.csv", x, fmt="%.5f", header="ecg", comments="")
    run_side(before_src, SAVE_MODEL, str(root / "model"))
    return {"raw": str(root / "raw"), "csv": str(root / "rec.csv"), "model": str(root / "model")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", default="dc1f52a^", help="the older commit (default: the parent "
                                                         "of the first multimodal commit)")
    ap.add_argument("--after", default=None, help="the newer commit (default: this working tree)")
    ap.add_argument("--rounds", type=int, default=5, help="processes per side")
    ap.add_argument("--repeats", type=int, default=3, help="timed calls per command and process")
    ap.add_argument("--subjects", type=int, default=8, help="synthetic AMIGOS subjects (8 trials of 60 s)")
    ap.add_argument("--minutes", type=float, default=20.0, help="length of the predicted recording")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sides = {}
        for side, ref in (("before", args.before), ("after", args.after)):
            (tmp / side).mkdir()
            sides[side] = source_tree(ref, tmp / side) if ref else REPO / "src"
        inputs = make_inputs(tmp, sides["before"], args.subjects, args.minutes)
        load_start = os.getloadavg()
        times: dict[str, dict[str, list[float]]] = {s: {} for s in sides}
        ratios: dict[str, list[float]] = {}
        for r in range(args.rounds):
            order = list(sides) if r % 2 == 0 else list(sides)[::-1]
            medians = {}
            for side in order:
                work = tmp / f"{side}-{r}"
                work.mkdir()
                got = json.loads(run_side(sides[side], WORKER, json.dumps(
                    {**inputs, "tmp": str(work), "repeats": args.repeats})).splitlines()[-1])
                for name, values in got.items():
                    times[side].setdefault(name, []).extend(values)
                medians[side] = {name: float(np.median(v)) for name, v in got.items()}
            for name in medians["after"]:
                ratios.setdefault(name, []).append(medians["after"][name] / medians["before"][name])
        result = {
            "before": args.before, "after": args.after or "working tree",
            **{f"rev_{side}": subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", ref],
                                             capture_output=True, text=True).stdout.strip()
               for side, ref in (("before", args.before), ("after", args.after)) if ref},
            "rounds": args.rounds, "repeats": args.repeats,
            "workload": {"prepare": f"amigos, {args.subjects} subjects x 8 trials x 60 s, ECG only",
                         "predict": f"{args.minutes:g} min at 500 Hz, one CSV column, tiny fast model"},
            "cpu_seconds_per_call": {side: {name: round(float(np.median(v)), 4) for name, v in t.items()}
                                 for side, t in times.items()},
            "after_over_before": {name: {"median": round(float(np.median(v)), 3),
                                         "range": [round(min(v), 3), round(max(v), 3)]}
                                  for name, v in ratios.items()},
            "load_average": {"start": [round(v, 2) for v in load_start],
                             "end": [round(v, 2) for v in os.getloadavg()]},
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
