"""``--config FILE.toml`` for pretrain, finetune and evaluate, and the ``command.toml`` every such
run leaves beside its outputs, so that ``ecgemotion COMMAND --config OUT/command.toml`` runs it
again as it was.

Keys are the option names (``batch-size`` or ``batch_size``); ``set`` takes a list of
``"KEY=VALUE"`` strings or a table. Options given on the command line win over the file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

from ecgemotion.errors import ConfigError

SAVED_NAME = "command.toml"
NOT_SAVED = {"help", "config", "json", "quiet"}   # how a run talks, not what it does


def add_config_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE.toml",
                   help="option values from a TOML file (keys: the option names, e.g. "
                        "batch-size = 64); command-line flags win. Every run saves its own as "
                        f"OUT/{SAVED_NAME}")
    p.set_defaults(_parser=p)


def _options(p: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {a.dest: a for a in p._actions
            if a.option_strings and a.dest not in NOT_SAVED and a.help != argparse.SUPPRESS}


def read_config(path: str | Path, p: argparse.ArgumentParser, command: str) -> dict[str, Any]:
    """The file's values by option ``dest``; an unknown key or a bad choice is a ConfigError."""
    path = Path(path).expanduser()
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such --config file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    if data.pop("command", command) != command:
        raise ConfigError(f"{path}: written for another command; this is 'ecgemotion {command}'")
    options, values = _options(p), {}
    for key, value in data.items():
        action = options.get(key.replace("-", "_"))
        if action is None:
            raise ConfigError(f"{path}: no option {key!r} in 'ecgemotion {command}'; its options: "
                              + ", ".join(sorted(a.option_strings[0][2:] for a in options.values())))
        if isinstance(action, argparse._AppendAction):
            value = ([f"{k}={json.dumps(v)}" for k, v in value.items()] if isinstance(value, dict)
                     else list(value) if isinstance(value, list) else [value])
        if action.choices is not None and value not in action.choices:
            raise ConfigError(f"{path}: {key} = {value!r}; choose from "
                              + ", ".join(map(str, action.choices)))
        values[action.dest] = value
    return values


def parse_with_config(parser: argparse.ArgumentParser, argv) -> tuple[argparse.Namespace, str]:
    """Parse ``argv``; with ``--config``, the file's values become the command's defaults first
    (a required option may come from the file), so the command line wins. Returns the
    namespace and what to say about the file ("" without one)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    command = next((a for a in argv if not a.startswith("-")), None)
    sub = commands.choices.get(command)
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config")
    path = pre.parse_known_args(argv)[0].config if sub is not None else None
    if sub is None or sub.get_default("_parser") is not sub or not path:
        return parser.parse_args(argv), ""
    values = read_config(path, sub, command)
    for action in sub._actions:
        if action.dest in values:
            action.required = False
    sub.set_defaults(**values)
    return parser.parse_args(argv), (f"options from {Path(path).expanduser()}: "
                                     + (", ".join(k.replace("_", "-") for k in values) or "none")
                                     + " (command-line flags win)")


def saved_options(args: argparse.Namespace) -> dict[str, Any]:
    """What the run was asked to do, as option values (before the command changes any)."""
    sub = getattr(args, "_parser", None)
    if sub is None:
        return {}
    out = {}
    for dest in _options(sub):
        value = getattr(args, dest, None)
        if value is not None and value != []:
            out[dest.replace("_", "-")] = value
    return out


def write_command(folder: str | Path, command: str, options: dict[str, Any]) -> Path:
    """``folder/command.toml``: re-runnable as it is with ``--config``."""
    path = Path(folder) / SAVED_NAME
    lines = [f"# ecgemotion {command}, {time.strftime('%Y-%m-%d %H:%M:%S')}, run from {os.getcwd()}",
             f"# again: ecgemotion {command} --config {path}", f"command = {json.dumps(command)}"]
    lines += [f"{key} = {_toml(value)}" for key, value in options.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def _toml(value: Any) -> str:
    """A TOML value for what argparse holds: strings, numbers, booleans, lists of them (JSON's
    spelling of these is TOML's)."""
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, Path):
        value = str(value)
    return json.dumps(value)
