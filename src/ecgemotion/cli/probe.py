"""``ecgemotion probe``: an encoder benchmark on real ECG (rhythm, identity, physiology,
fine-tuning), with the HRV and mean-beat-template references in the same table."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ecgemotion.cli.ui import add_command
from ecgemotion.sources.base import as_list

EPILOG = """examples:
  ecgemotion probe --model ecgemotion-base --out runs/probe
  ecgemotion probe --model ecgemotion-base,ecgemotion-base-v1,random --probes rhythm,identity \\
      --data ../shared/data --out runs/probe
"""


def add_parser(sub, common):
    from ecgemotion.probe import PROBES

    p = add_command(sub, common, "probe", "score encoders on real ECG probes",
                    EPILOG, __doc__)
    p.add_argument("--model", default="ecgemotion-base",
                   help="comma-separated encoders: shipped names, saved folders, or random[:PRESET] "
                        "for the untrained architecture (default: ecgemotion-base)")
    p.add_argument("--probes", default="rhythm,identity,physiology",
                   help=f"comma-separated subset of {','.join(PROBES)} (default: the frozen three)")
    p.add_argument("--data", help="folder with mitdb/ and cinc2017/ or their .tar.gz "
                                  "(default: $ECGEMOTION_DATA, else ../shared/data)")
    p.add_argument("--finetune-fractions", default="0.1",
                   help="label fractions for the finetune probe (default: 0.1)")
    p.add_argument("--no-references", action="store_true", help="skip the hrv / templates rows")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples per CI (1000)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: chosen and printed)")
    p.add_argument("--out", default="runs/probe", help="folder for probe.json and probe.md")
    return p


def run(args: argparse.Namespace, ui) -> dict[str, Any]:
    from ecgemotion.probe import find_data, open_stores, run_probes, table
    from ecgemotion.training.threads import configure_threads

    ui.say(configure_threads(args.threads))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = find_data(args.data)
    ui.say(f"probe data: MIT-BIH {data['mitdb']}, CinC 2017 {data['cinc2017']}")
    stores = open_stores(data)
    models, probes = as_list(args.model), as_list(args.probes)
    from ecgemotion.paths import cache_dir

    results = run_probes(models, probes, stores, cache_dir("probe"),
                         references=not args.no_references, n_boot=args.n_boot,
                         finetune_fractions=[float(f) for f in as_list(args.finetune_fractions)],
                         say=ui.say)
    md = table(results)
    (out / "probe.json").write_text(json.dumps({"models": models, "probes": probes,
                                                "results": results}, indent=1) + "\n")
    (out / "probe.md").write_text(md)
    ui.say(md)
    return {"out": str(out), "results": results}
