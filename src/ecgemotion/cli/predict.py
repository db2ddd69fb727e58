"""``ecgemotion predict``: emotion probabilities per window of a new recording."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from ecgemotion.errors import ConfigError

EXAMPLES = """examples:
  ecgemotion predict rec.edf --model runs/arousal --model runs/valence
  ecgemotion predict rec.csv --fs 500 --model runs/ --out rec-emotion.csv --json
  ecgemotion predict mitdb/100 --lead MLII --model runs/arousal --engine onnx
  ecgemotion predict live.csv --fs 250 --model runs/ --follow --idle-timeout 10

Inputs: CSV/TSV/TXT, EDF/BDF, WFDB (.hea or the record path), .npy (needs --fs), .mat.
Writes OUT.csv (one row per window: start_s, end_s, good, flag_*, heart_rate_bpm,
p_<task>) and OUT.png (ECG on top, one probability panel per task; grey: low-quality
windows, not predicted). --follow tails a growing CSV/TXT file and prints one line per
prediction (one JSON object per line with --json).
"""


def add_parser(sub, common):
    p = sub.add_parser("predict", parents=[common], help="predict emotion on a new recording",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("recording", help="ECG file: csv/tsv/txt, edf/bdf, WFDB record, npy, mat")
    p.add_argument("--model", action="append", required=True, metavar="DIR",
                   help="fine-tuned model folder, a folder of them, or an .onnx file (repeatable)")
    p.add_argument("--lead", help="channel/column/variable name or 0-based index")
    p.add_argument("--fs", type=float, help="sampling rate in Hz (needed when the file has none)")
    p.add_argument("--units", default=None, help="signal units (mV, uV, V) if the file has none")
    p.add_argument("--mains", type=float, default=None,
                   help="mains frequency (50/60) for models trained with notch 'auto'")
    p.add_argument("--out", help="output CSV (default: RECORDING-emotion.csv beside the input)")
    p.add_argument("--no-plot", action="store_true", help="do not write the PNG timeline")
    p.add_argument("--engine", choices=["torch", "onnx"], default="torch",
                   help="torch (default) or onnx (runs DIR/model.onnx with onnxruntime)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for the model")
    p.add_argument("--step", type=float, default=None,
                   help="window step in s (default: the model's training step)")
    f = p.add_argument_group("streaming (--follow)")
    f.add_argument("--follow", action="store_true",
                   help="tail a growing CSV/TXT file and print a prediction every --hop seconds")
    f.add_argument("--hop", type=float, default=2.0, help="seconds between predictions (2)")
    f.add_argument("--delay", type=float, default=4.0,
                   help="right context in s before a window is predicted (4; 0 = lowest latency, "
                        "less agreement with batch mode)")
    f.add_argument("--idle-timeout", type=float, default=10.0,
                   help="stop after this many seconds without new data (10; 0 = never)")
    f.add_argument("--max-seconds", type=float, default=None, help="stop after this wall time")
    return p


def run(args: argparse.Namespace, ui) -> dict[str, Any]:
    from ecgemotion.inference import EmotionRecognizer

    recording = Path(args.recording).expanduser()
    if args.fs is not None and not (math.isfinite(args.fs) and args.fs > 0):
        raise ConfigError(f"--fs must be a positive number of Hz, got {args.fs:g}")
    recognizer = EmotionRecognizer.from_pretrained(args.model, engine=args.engine,
                                                   threads=args.threads, step_s=args.step)
    if args.follow:
        return _follow(args, ui, recognizer, recording)
    return _batch(args, ui, recognizer, recording)


def _batch(args, ui, recognizer, recording: Path) -> dict[str, Any]:
    from ecgemotion.inference import check_some_good
    from ecgemotion.inference.plot import timeline_png
    from ecgemotion.io.readers import read_signal

    sf = read_signal(recording, fs=args.fs, lead=args.lead)
    units = args.units if args.units is not None else sf.units
    where = str(recording)
    table = recognizer.predict(sf.signal, sf.fs, units=units, mains_hz=args.mains, where=where)
    check_some_good(table, where)
    out = Path(args.out) if args.out else _default_out(recording)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False, float_format="%.6g")
    summary: dict[str, Any] = {"recording": where, "lead": sf.lead, "fs": sf.fs, "units": units,
                               "duration_s": round(len(sf.signal) / sf.fs, 3),
                               **recognizer.summary(table), "csv": str(out)}
    if not args.no_plot:
        png = out.with_suffix(".png")
        title = f"{recording.name}  lead {sf.lead}  ({', '.join(recognizer.tasks)})"
        timeline_png(png, sf.signal, sf.fs, table, recognizer.tasks, title=title)
        summary["png"] = str(png)
    ui.say(f"{where}: {summary['windows_predicted']} of {summary['windows']} windows predicted "
           f"({summary['windows_skipped']} low quality, not predicted)")
    for task in recognizer.tasks:
        info = summary[task]
        ui.say(f"  {task}: mean P({info['positive_class']}) = {info['mean_p']:.3f} over good windows")
    ui.say(f"  wrote {out}" + (f" and {summary['png']}" if "png" in summary else ""))
    return summary


def _default_out(recording: Path) -> Path:
    name = recording.name
    for ext in (".hea", ".dat"):
        if name.lower().endswith(ext):
            name = name[: -len(ext)]
    stem = Path(name).stem if Path(name).suffix else name
    return recording.parent / f"{stem}-emotion.csv"


def _follow(args, ui, recognizer, recording: Path) -> dict[str, Any]:
    from ecgemotion.inference import check_some_good, predictions_frame
    from ecgemotion.inference.follow import TextTail, follow

    tail = TextTail(recording, fs=args.fs, lead=args.lead)

    def make_stream(fs, units):
        return recognizer.stream(fs, hop_s=args.hop, delay_s=args.delay,
                                 units=args.units if args.units is not None else units,
                                 mains_hz=args.mains)

    ui.say(f"following {recording} (hop {args.hop:g} s, delay {args.delay:g} s); "
           "stops after idle timeout or --max-seconds")
    predictions = []
    for pred in follow(tail, make_stream, idle_timeout_s=args.idle_timeout or None,
                       max_seconds=args.max_seconds):
        predictions.append(pred)
        if args.json:
            print(json.dumps(_jsonable(pred.as_row())), flush=True)
        elif not args.quiet:
            print(pred.line(), flush=True)
    table = predictions_frame(predictions, recognizer.tasks)
    summary: dict[str, Any] = {"recording": str(recording), "fs": tail.fs, "follow": True,
                               "hop_s": args.hop, "delay_s": args.delay,
                               **recognizer.summary(table)}
    if not len(table):
        from ecgemotion.errors import DataError

        raise DataError(recording, f"fewer than one {recognizer.preprocess.window_s:g}-s window "
                                   "of samples arrived; nothing to predict")
    check_some_good(table, str(recording))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out, index=False, float_format="%.6g")
        summary["csv"] = args.out
    return summary


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else
                bool(v) if hasattr(v, "dtype") and v.dtype == bool else v) for k, v in row.items()}
