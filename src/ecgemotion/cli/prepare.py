"""``ecgemotion prepare``: read datasets into a window store."""

from __future__ import annotations

import argparse
from typing import Any

from ecgemotion.errors import ConfigError
from ecgemotion.preprocess import PreprocessConfig
from ecgemotion.store import build_store
from ecgemotion.cli.pairs import parse_options
from ecgemotion.store.recipes import sources_from_spec, sources_from_toml

EXAMPLES = """examples:
  ecgemotion prepare --dataset open-ecg
  ecgemotion prepare --dataset wfdb --root ~/data/mitdb
  ecgemotion prepare --dataset amigos --root ~/data/amigos --label-rule threshold:5
  ecgemotion prepare --dataset dreamer,ascertain --root ~/d/DREAMER.mat,~/d/ascertain
  ecgemotion prepare --config datasets.toml
"""


def add_preprocess_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("preprocessing (all of it goes into the store's identity)")
    g.add_argument("--target-fs", type=float, default=128.0,
                   help="sampling rate of the stored windows, Hz (128, the AMIGOS rate)")
    g.add_argument("--window", type=float, default=10.0, help="window length in s (10)")
    g.add_argument("--step", type=float, default=None, help="window step in s (= window)")
    g.add_argument("--band", default="0.5,40", help="band-pass edges in Hz, e.g. 0.5,40; 'none'")
    g.add_argument("--notch", default="auto",
                   help="mains notch: 50, 60, none, or auto (only where a source knows its mains)")
    g.add_argument("--max-gap", type=float, default=0.5, help="longest NaN gap to interpolate, s")
    g.add_argument("--normalize", choices=["window", "recording", "none"], default="window",
                   help="z-score each window (default), the whole recording (robust), or none")
    g.add_argument("--dtype", choices=["float32", "float16"], default="float32",
                   help="stored sample type (float16 halves the disk size)")
    g.add_argument("--modalities", default="ecg",
                   help="modalities to store, comma-separated: ecg plus any of eeg, eda, bvp, "
                        "resp, emg, temp, acc (default ecg: the ECG-only store)")
    g.add_argument("--eeg-reference", choices=["average", "none"], default="average",
                   help="EEG re-reference: the channels' average (default) or as recorded")


def preprocess_config(args: argparse.Namespace, overrides: dict[str, Any] | None = None
                      ) -> PreprocessConfig:
    band: tuple[float | None, float | None]
    if str(args.band).lower() == "none":
        band = (None, None)
    else:
        try:
            lo, hi = (float(v) if v.strip() else None for v in str(args.band).split(","))
        except ValueError:
            raise ConfigError(f"--band expects LOW,HIGH in Hz, got {args.band!r}") from None
        band = (lo, hi)
    notch: Any = args.notch
    if str(notch).lower() == "none":
        notch = None
    elif notch != "auto":
        try:
            notch = float(notch)
        except ValueError:
            raise ConfigError(f"--notch expects 50, 60, none or auto, got {notch!r}") from None
    values = dict(fs=args.target_fs, window_s=args.window, step_s=args.step or args.window, band_hz=band,
                  notch_hz=notch, max_gap_s=args.max_gap, normalize=args.normalize, dtype=args.dtype,
                  modalities=tuple(str(getattr(args, "modalities", "ecg")).split(",")),
                  eeg_reference=getattr(args, "eeg_reference", "average"))
    values.update(overrides or {})
    return PreprocessConfig(**values)


def add_parser(sub, common):
    from ecgemotion.cli.ui import add_command
    p = add_command(sub, common, "prepare", "build a window store from datasets",
                    EXAMPLES)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--dataset", help="source name(s), comma-separated (see `ecgemotion info --sources`)")
    src.add_argument("--config", help="TOML file listing [[dataset]] tables")
    p.add_argument("--root", help="dataset folder(s)/file(s), comma-separated, one per dataset")
    p.add_argument("--lead", help="lead to read (source-specific: left/right/both, a name or index)")
    p.add_argument("--fs", type=float, help="sampling rate of the input files, for formats that "
                   "do not store it (.npy, CSV without a time column)")
    p.add_argument("--label-rule", help="binarise ratings: threshold:5, threshold:>5, "
                   "median-per-subject, mean-per-subject")
    p.add_argument("--set", action="append", dest="option", metavar="KEY=VALUE",
                   help="a source option (repeatable or comma-separated), e.g. --set skip-subjects=none")
    p.add_argument("--option", action="append", dest="option", help=argparse.SUPPRESS)  # old spelling
    p.add_argument("--out", help="folder that holds stores (default: the ecgemotion cache)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: CPU count)")
    p.add_argument("--force", action="store_true", help="rebuild even if an intact store exists")
    add_preprocess_flags(p)
    return p


def run(args: argparse.Namespace, ui) -> dict[str, Any]:
    options = parse_options(args.option, "--set")
    if args.lead is not None:
        options["lead"] = args.lead
    if args.fs is not None:
        options["fs"] = args.fs
    label_rule = args.label_rule
    overrides: dict[str, Any] = {}
    if args.config:
        sources, extras = sources_from_toml(args.config)
        label_rule = label_rule or extras.get("label_rule")
        overrides = extras.get("preprocess", {})
    else:
        sources = sources_from_spec(args.dataset, args.root, options)
    config = preprocess_config(args, overrides)
    if label_rule:
        from ecgemotion.labels import parse_label_rule

        parse_label_rule(label_rule)  # fail fast on a typo, before hours of work
    store, summary = build_store(sources, config, out_dir=args.out, label_rule=label_rule,
                                 workers=args.workers, force=args.force, progress=ui.progress)
    _print_summary(ui, summary)
    _print_modalities(ui, store)
    if summary["windows"] == 0:
        ui.warn("no usable windows: every recording was skipped or too short")
        summary["_exit_code"] = 1
    return summary


def _print_modalities(ui, store) -> None:
    """Say which ECG lead(s) the sources chose, and which channels, rate and band each other
    stored modality got, and how often it was there."""
    from ecgemotion.preprocess import MODALITY_FILTERS

    leads = store.index.drop_duplicates(["dataset", "subject", "trial", "lead"])["lead"].value_counts()
    if len(leads):
        listed = [f"{lead} ({n} recording{'s' * (n != 1)})" for lead, n in leads.head(5).items()]
        more = f" and {len(leads) - 5} other leads" if len(leads) > 5 else ""
        ui.say(f"ecg: lead {', '.join(listed)}{more} at {store.fs:g} Hz")
    for modality, info in store.describe().get("modalities", {}).items():
        band = MODALITY_FILTERS[modality][1]
        names = store.channels(modality)
        ui.say(f"{modality}: {info['channels']} channel(s) {', '.join(names) or '(none found)'} at "
               f"{info['fs']:g} Hz, band {band[0] or 0:g}-{band[1] or 'open'} Hz; present in "
               f"{info['windows_with_it']} of {len(store)} windows")


def _print_summary(ui, s: dict[str, Any]) -> None:
    ui.say(("reused intact store " if s.get("reused") else "built store ") + s["store"])
    rows = [("recordings", s["recordings"]), ("hours", s["hours"]),
            ("windows kept", s["windows"]), ("good windows", s.get("good_windows"))]
    rows += [(f"dropped: {k}", v) for k, v in s["dropped"].items() if v]
    rows += [(f"flagged: {k}", v) for k, v in s["flagged"].items() if v]
    rows.append(("skipped recordings", s["skipped_count"]))
    ui.table(rows)
    for skip in s["skipped"][:20]:
        ui.say(f"  skipped {skip['where']}: {skip['reason']}")
    if len(s["skipped"]) > 20:
        ui.say(f"  ... and {len(s['skipped']) - 20} more (see meta.json)")
    for warning in s.get("warnings", [])[:10]:
        ui.warn(warning)
