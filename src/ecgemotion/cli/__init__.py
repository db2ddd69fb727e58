"""The ``ecgemotion`` command line: thin wrappers that parse arguments into the
same calls the Python API offers.

Each subcommand lives in its own module under ``ecgemotion.cli`` and exposes
``add_parser(subparsers)`` and ``run(args, ui) -> dict``. The returned dict is the
run summary: printed as JSON on the last line of stdout with ``--json``.
Errors a user can act on (:class:`~ecgemotion.errors.EcgEmotionError`) print one
line on stderr and exit with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from ecgemotion import __version__
from ecgemotion.cli.ui import UI
from ecgemotion.errors import EcgEmotionError

# Subcommand modules, in the order ``--help`` lists them.
COMMANDS = ["prepare", "info", "pretrain", "probe", "finetune", "evaluate", "reproduce", "predict",
            "export", "demo"]


def _common_flags() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true",
                        help="print the run summary as one JSON object on the last line of stdout")
    common.add_argument("--quiet", action="store_true", help="no progress bars or messages")
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ecgemotion",
        description="Emotion recognition from ECG: prepare data, pre-train, fine-tune, evaluate, "
                    "predict, export. Every command accepts --json and --quiet.")
    parser.add_argument("--version", action="version", version=f"ecgemotion {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common = _common_flags()
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"ecgemotion.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"ecgemotion.cli.{name}":
                continue  # command not built yet
            raise
        p = module.add_parser(sub, common)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from ecgemotion.cli.config import parse_with_config, saved_options, write_command

    parser = build_parser()
    ui = UI(json_mode="--json" in (sys.argv[1:] if argv is None else argv))
    try:
        args, read = parse_with_config(parser, argv)
        ui = UI(quiet=args.quiet, json_mode=args.json)
        if read:
            ui.say(read)
        options = saved_options(args)
        summary = args._run(args, ui)
        if options and summary and summary.get("out") and Path(summary["out"]).is_dir():
            saved = write_command(summary["out"], args.command, options)
            ui.say(f"options saved: `ecgemotion {args.command} --config {saved}` runs this again")
    except EcgEmotionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if ui.json_mode:
            print(json.dumps({"ok": False, "error": str(exc)}))
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    summary = summary or {}
    exit_code = int(summary.pop("_exit_code", 0))
    if args.json:
        print(json.dumps({"ok": exit_code == 0, **summary}, default=str))
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
