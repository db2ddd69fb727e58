"""``ecgemotion predict``: emotion probabilities per window of a new recording."""

from __future__ import annotations

import argparse
import json
import math
import signal
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ecgemotion.errors import ConfigError, DataError

# --serve: the live page's port, and its address unless --host says otherwise (a recording of
# someone's heart is not for the local network by default)
DEFAULT_PORT = 8765
LOOPBACK = "127.0.0.1"

EXAMPLES = """examples:
  ecgemotion predict rec.edf --model runs/arousal --model runs/valence
  ecgemotion predict rec.csv --fs 500 --model runs/ --out rec-emotion.csv --json
  ecgemotion predict mitdb/100 --lead MLII --model runs/arousal --engine onnx
  ecgemotion predict live.csv --fs 250 --model runs/ --follow --idle-timeout 10
  ecgemotion predict live.csv --fs 250 --model runs/ --follow --idle-timeout 0 --serve
  ecgemotion predict rec.csv --lead ECG --modalities ecg,eeg,eda --model models/mm

Inputs: CSV/TSV/TXT, EDF/BDF, WFDB (.hea or the record path), .npy (needs --fs), .mat, and
the open-ecg catalogue's files by name (pyphysio's medical.txt.bz2: ECG, EDA, BVP, resp).
Writes OUT.csv (one row per window: start_s, end_s, good, flag_*, heart_rate_bpm,
p_<task>) and OUT.png (ECG on top, one probability panel per task; grey: low-quality
windows, not predicted). --follow tails a growing CSV/TXT file and prints one line per
prediction (one JSON object per line with --json); --serve adds a live web page of it.
"""


def add_parser(sub, common):
    from ecgemotion.cli.ui import add_command
    p = add_command(sub, common, "predict", "predict emotion on a new recording",
                    EXAMPLES)
    p.add_argument("recording", help="ECG file: csv/tsv/txt, edf/bdf, WFDB record, npy, mat "
                                     "(or pyphysio's medical.txt.bz2)")
    p.add_argument("--model", action="append", required=True, metavar="DIR",
                   help="fine-tuned model folder, a folder of them, or an .onnx file (repeatable)")
    p.add_argument("--lead", help="channel/column/variable name or 0-based index")
    p.add_argument("--fs", type=float, help="sampling rate in Hz (needed when the file has none; "
                                            "one that contradicts the file's own rate is an error)")
    p.add_argument("--force", action="store_true",
                   help="use --fs even when it contradicts the rate stored in the file")
    p.add_argument("--units", default=None, help="signal units (mV, uV, V) if the file has none")
    p.add_argument("--mains", type=float, default=None,
                   help="mains frequency (50/60) for models trained with notch 'auto'")
    p.add_argument("--out", help="output CSV (default: RECORDING-emotion.csv beside the input)")
    p.add_argument("--no-plot", action="store_true", help="do not write the PNG timeline")
    p.add_argument("--engine", choices=["torch", "onnx"], default="torch",
                   help="torch (default) or onnx (runs DIR/model.onnx with onnxruntime)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for the model")
    p.add_argument("--device", default="auto",
                   help="where the torch engine runs: auto (CUDA when present), cpu, cuda, cuda:N")
    p.add_argument("--step", type=float, default=None,
                   help="window step in s (default: the model's training step)")
    p.add_argument("--smooth", type=float, default=None, metavar="SECONDS",
                   help="add p_<task>_smooth: the mean over the good windows within SECONDS "
                        "(centred), a timeline at the pace of per-trial emotion labels")
    p.add_argument("--modalities", default=None,
                   help="with a multimodal model (finetune --modalities): the modalities to read "
                        "from the recording besides its ECG, e.g. ecg,eeg,eda (EDF channels or "
                        "CSV columns named e.g. 'EEG Fp1', AF3, GSR); one the model has but the "
                        "file lacks is left out of the fusion, and the output says so")
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
    f.add_argument("--serve", nargs="?", type=int, const=DEFAULT_PORT, default=None, metavar="PORT",
                   help=f"a live web page of the stream: ECG, heart rate, probabilities, quality "
                        f"flags (port {DEFAULT_PORT} when PORT is left out; 0 = any free port)")
    f.add_argument("--host", default=LOOPBACK,
                   help=f"address --serve binds to ({LOOPBACK}: this computer only; 0.0.0.0: "
                        "every network this computer is on)")
    return p


def run(args: argparse.Namespace, ui) -> dict[str, Any]:
    from ecgemotion.inference import EmotionRecognizer
    from ecgemotion.recording import parse_modalities

    recording = Path(args.recording).expanduser()
    if args.serve is not None and not args.follow:
        raise ConfigError("--serve shows a stream as it is predicted: add --follow")
    if args.fs is not None and not (math.isfinite(args.fs) and args.fs > 0):
        raise ConfigError(f"--fs must be a positive number of Hz, got {args.fs:g}")
    asked = parse_modalities(args.modalities) if args.modalities else None
    recognizer = EmotionRecognizer.from_pretrained(args.model, engine=args.engine,
                                                   threads=args.threads, step_s=args.step,
                                                   device=args.device, modalities=asked)
    ui.say(f"engine {args.engine} on {', '.join(recognizer.devices)}")
    say_models(recognizer, ui)
    if recognizer.modalities and asked is None:
        ui.say(f"{args.model[0]} is a multimodal model: reading its modalities "
               f"{','.join(recognizer.modalities)} from the recording (--modalities to choose)")
    if args.follow:
        return _follow(args, ui, recognizer, recording, asked)
    return _batch(args, ui, recognizer, recording, asked)


def _batch(args, ui, recognizer, recording: Path, asked) -> dict[str, Any]:
    from ecgemotion.inference import check_some_good
    from ecgemotion.inference.plot import timeline_png
    from ecgemotion.io.readers import read_signal

    sf = read_signal(recording, fs=args.fs, lead=args.lead, force=args.force,
                     modalities=recognizer.preprocess.extra_modalities)
    units = args.units if args.units is not None else sf.units
    where = str(recording)
    say_signal(sf, where, ui)
    table = recognizer.predict(sf, units=units, mains_hz=args.mains, where=where)
    try:
        check_some_good(table, where)
    except DataError as exc:
        raise DataError(where, "; ".join(filter(None, [exc.reason, not_ecg(sf)]))) from None
    warn_not_ecg(sf, where, ui)
    if args.smooth is not None:
        from ecgemotion.inference.prediction import smooth

        table = smooth(table, recognizer.tasks, args.smooth)
        ui.say(f"smoothed timeline: p_<task>_smooth = mean over good windows within "
               f"{args.smooth:g} s (--smooth)")
    out = Path(args.out) if args.out else _default_out(recording)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False, float_format="%.6g")
    summary: dict[str, Any] = {"recording": where, "lead": sf.lead, "fs": sf.fs, "units": units,
                               "lead_chosen_because": sf.provenance.get("chosen_because"),
                               "ecg_likeness": sf.provenance.get("ecg_likeness"),
                               "duration_s": round(len(sf.signal) / sf.fs, 3),
                               **recognizer.summary(table), "csv": str(out)}
    used = summary.get("modalities_used")
    say_modalities(recognizer, sf.lead, [(c.modality, c.name) for c in sf.channels], asked, where,
                   ui, used)
    if not args.no_plot:
        png = out.with_suffix(".png")
        title = f"{recording.name}  lead {sf.lead}  ({', '.join(recognizer.tasks)})"
        timeline_png(png, sf.signal, sf.fs, table, recognizer.tasks, title=title, units=units)
        summary["png"] = str(png)
    ui.say(f"{where}: {summary['windows_predicted']} of {summary['windows']} windows predicted "
           f"({summary['windows_skipped']} low quality, not predicted)")
    for task in recognizer.tasks:
        info = summary[task]
        ui.say(f"  {task}: mean P({info['positive_class']}) = {info['mean_p']:.3f} over good windows, "
               f"{info['fraction_positive']:.0%} of them >= 0.5 (the recording's summary)"
               + (f", from {', '.join(m for m in used if used[m] > 0)}" if used else ""))
    ui.say(f"  wrote {out}" + (f" and {summary['png']}" if "png" in summary else ""))
    return summary


def say_modalities(recognizer, lead: str, channels: list[tuple[str, str]], asked, where: str, ui,
                   used: dict[str, float] | None = None) -> None:
    """A multimodal model: per modality, what the recording gave it (``used``: the share of
    predicted windows that had it), and a warning for each one it predicts without."""
    for m in recognizer.modalities:
        names = [name for modality, name in channels if modality == m]
        if m == "ecg":
            features = next(e.get("features") for e in recognizer.layout if e["modality"] == "ecg")
            ui.say(f"ecg: lead {lead}" + (f" (the window's {', '.join(features)})" if features else ""))
        elif asked is not None and m not in asked:
            ui.warn(f"{m}: the model has it but --modalities leaves it out: predicting without it")
        elif not names:
            ui.warn(f"{where}: no {m} channel found (names like {_EXAMPLE_NAMES.get(m, m)}): "
                    f"predicting without {m}")
        else:
            ui.say(f"{m}: {len(names)} channel(s) {', '.join(names)}"
                   + (f"; usable in {used[m]:.0%} of the predicted windows" if used else ""))
    for m in asked or []:
        if recognizer.modalities and m not in recognizer.modalities:
            ui.say(f"{m}: not read (the model takes {', '.join(recognizer.modalities)})")


_EXAMPLE_NAMES = {"eeg": "'EEG Fp1' or AF3", "eda": "GSR or EDA", "bvp": "BVP or PPG",
                  "resp": "Resp"}


def _default_out(recording: Path) -> Path:
    name = recording.name
    for ext in (".hea", ".dat", ".bz2"):
        if name.lower().endswith(ext):
            name = name[: -len(ext)]
    stem = Path(name).stem if Path(name).suffix else name
    return recording.parent / f"{stem}-emotion.csv"


def say_models(recognizer, ui) -> None:
    """Each model's provenance, and a warning for synthetic labels or a one-class model."""
    from ecgemotion.baselines.context import CONTEXT_RULE

    for spec in recognizer.specs:
        ui.say(spec.origin())
        if spec.context_features:
            ui.say(f"model {spec.task} reads {len(spec.context_features)} context features "
                   f"({', '.join(spec.context_features)}): {CONTEXT_RULE}")
        for caution in spec.cautions():
            ui.warn(caution)


def say_signal(sf, where: str, ui) -> None:
    """The channel and rate used (and why); a loud warning for a forced rate."""
    from ecgemotion.io.readers import describe_choice

    ui.say(f"{where}: {describe_choice(sf)}")
    if "OVERRIDING" in describe_choice(sf):
        ui.warn(f"{where}: using --fs {sf.fs:g} Hz against the file's own rate (--force): "
                "times and heart rates scale by the ratio of the two")


def not_ecg(sf) -> str | None:
    """Why the chosen signal may not be ECG (None when it looks like ECG or is too short)."""
    from ecgemotion.io.readers import ECG_LIKE_MIN, looks_like_ecg_signal

    if looks_like_ecg_signal(sf):
        return None
    return (f"{sf.lead!r} does not look like ECG (ECG-likeness {sf.provenance['ecg_likeness']:.2f}"
            f" < {ECG_LIKE_MIN}); pick the ECG with --lead")


def warn_not_ecg(sf, where: str, ui) -> None:
    """A warning when the chosen signal does not look like ECG (after the quality checks,
    which already name it when every window fails)."""
    reason = not_ecg(sf)
    if reason:
        ui.warn(f"{where}: {reason}")


def _follow(args, ui, recognizer, recording: Path, asked) -> dict[str, Any]:
    """Tail the file; every prediction is printed and appended (flushed) to --out as it comes,
    so that Ctrl-C or SIGTERM loses nothing: they stop the run cleanly (exit 130 / 143)."""
    from ecgemotion.inference import check_some_good, predictions_frame
    from ecgemotion.inference.follow import TextTail, follow

    tail = TextTail(recording, fs=args.fs, lead=args.lead, force=args.force,
                    min_rows=int(CHOOSE_ON_S * (args.fs or 250)),
                    modalities=recognizer.preprocess.extra_modalities)

    def make_stream(fs, units):
        if live is not None:
            live.units = args.units if args.units is not None else units
        if tail.probe is not None:
            say_signal(tail.probe, str(recording), ui)
            warn_not_ecg(tail.probe, str(recording), ui)
            say_modalities(recognizer, tail.probe.lead, tail.channels, asked, str(recording), ui)
        return recognizer.stream(fs, hop_s=args.hop, delay_s=args.delay,
                                 units=args.units if args.units is not None else units,
                                 mains_hz=args.mains, channels=tail.channels)

    ui.say(f"following {recording} (hop {args.hop:g} s, delay {args.delay:g} s); "
           "stops after idle timeout, --max-seconds, Ctrl-C or SIGTERM")
    if recognizer.uses_context:
        ui.say("live context: each window's ctx_ features see only the stream's windows up to "
               "it, so in the first 60 s they differ from a batch prediction of the same file")
    predictions = []
    out = Path(args.out) if args.out else None
    stopped = None
    with _csv_rows(out, recognizer.tasks, recognizer.modalities) as write, _stop_signals() as guard, \
            _live_view(args, ui, recognizer.tasks, recording) as live:
        try:
            for pred in follow(tail, make_stream, idle_timeout_s=args.idle_timeout or None,
                               max_seconds=args.max_seconds,
                               on_samples=live.add_samples if live is not None else None):
                with guard.deferred():
                    predictions.append(pred)
                    write(pred)
                    if live is not None:
                        live.add(pred)
                    if args.json:
                        print(json.dumps(_jsonable(pred.as_row())), flush=True)
                    elif not args.quiet:
                        print(pred.line(), flush=True)
        except _Stopped as exc:
            stopped = exc.signum
    table = predictions_frame(predictions, recognizer.tasks, recognizer.modalities)
    summary: dict[str, Any] = {"recording": str(recording), "fs": tail.fs, "follow": True,
                               "hop_s": args.hop, "delay_s": args.delay,
                               **recognizer.summary(table)}
    if out is not None:
        summary["csv"] = str(out)
    if stopped is not None:
        name = signal.Signals(stopped).name
        ui.say(f"stopped by {name} after {len(table)} predictions"
               + (f"; every one is in {out}" if out else ""))
        return {**summary, "stopped_by": name, "_exit_code": 128 + int(stopped)}
    if not len(table):
        raise DataError(recording, f"fewer than one {recognizer.preprocess.window_s:g}-s window "
                                   "of samples arrived; nothing to predict")
    check_some_good(table, str(recording))
    return summary


@contextmanager
def _live_view(args, ui, tasks: list[str], recording: Path):
    """With ``--serve``: the live page's state, served while the run lasts (None without)."""
    if args.serve is None:
        yield None
        return
    from ecgemotion.inference.live import LiveState, serve

    state = LiveState(tasks, source=str(recording))
    try:
        server = serve(state, args.host, args.serve)
    except OSError as exc:
        raise ConfigError(f"--serve: cannot listen on {args.host}:{args.serve} ({exc.strerror})") from None
    host, port = server.server_address[:2]
    where = "this computer only" if host.startswith("127.") or host == "::1" else \
        "reachable from other computers on the network"
    ui.say(f"live view: http://{host}:{port}/ (bound to {host}: {where}; --host to change)")
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


CHOOSE_ON_S = 4.0  # --follow picks the column on the first rows: enough of them to judge ECG


@contextmanager
def _csv_rows(out: Path | None, tasks: list[str], modalities=()):
    """A ``write(prediction)`` that appends one CSV row and flushes it (a no-op without --out)."""
    from ecgemotion.inference import predictions_frame

    if out is None:
        yield lambda pred: None
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as fh:
        predictions_frame([], tasks, modalities).to_csv(fh, index=False)
        fh.flush()

        def write(pred) -> None:
            predictions_frame([pred], tasks, modalities).to_csv(fh, index=False, header=False,
                                                    float_format="%.6g")
            fh.flush()

        yield write


class _Stopped(Exception):
    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class _SignalGuard:
    """SIGINT/SIGTERM raise :class:`_Stopped`, but never in the middle of writing a row."""

    def __init__(self):
        self.busy = False
        self.pending: int | None = None

    def handle(self, signum, frame) -> None:
        if self.busy:
            self.pending = signum
        else:
            raise _Stopped(signum)

    @contextmanager
    def deferred(self):
        self.busy = True
        try:
            yield
        finally:
            self.busy = False
        if self.pending is not None:
            raise _Stopped(self.pending)


@contextmanager
def _stop_signals():
    guard = _SignalGuard()
    if threading.current_thread() is not threading.main_thread():
        yield guard  # signal handlers can only be set in the main thread
        return
    previous = {sig: signal.signal(sig, guard.handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield guard
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else
                bool(v) if hasattr(v, "dtype") and v.dtype == bool else v) for k, v in row.items()}
