"""``ecgemotion demo``: the whole method end to end on real ECG and synthetic emotions."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub, common):
    from ecgemotion.cli.ui import add_command
    p = add_command(sub, common, "demo", "run the whole method and write a report",
                    "examples:\n  ecgemotion demo\n  ecgemotion demo --quick --out /tmp/demo\n"
                    "  ecgemotion demo --quick --modalities ecg,eeg,eda")
    p.add_argument("--quick", action="store_true", help="a 2-minute version (smaller everything)")
    p.add_argument("--out", default="ecgemotion-demo", help="output folder (ecgemotion-demo)")
    p.add_argument("--overwrite", action="store_true", help="replace a demo already in --out")
    p.add_argument("--seed", type=int, default=0,
                   help="seed for the synthetic data, pre-training and evaluation (0)")
    p.add_argument("--modalities", default=None,
                   help="also the synthetic set's EEG and GSR, e.g. ecg,eeg,eda: each modality "
                        "alone and their fusions join the evaluation, on the same folds "
                        "(docs/multimodal.md)")
    return p


def run(args: argparse.Namespace, ui) -> dict[str, Any]:
    from ecgemotion.demo.run import one_screen, run_demo
    from ecgemotion.recording import parse_modalities

    modalities = tuple(parse_modalities(args.modalities)) if args.modalities else None
    summary = run_demo(args.out, quick=args.quick, ui=ui, seed=args.seed, overwrite=args.overwrite,
                       modalities=modalities)
    ui.say(one_screen(summary))
    return summary
