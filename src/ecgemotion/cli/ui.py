"""Progress bars and messages that respect ``--quiet`` and ``--json``.

Human-readable messages go to stderr when ``--json`` is given so that the last
line of stdout stays the JSON summary.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def plain(doc: str | None) -> str | None:
    """A docstring for ``--help``: reStructuredText's double backticks would print as is."""
    return re.sub(r"``(.+?)``", r"\1", doc) if doc else doc


def add_command(sub, common, name: str, help: str, epilog: str, doc: str | None = None):
    """The subparser of one command: the shared flags (``common``), its one-line ``help``, the
    module ``doc`` as the description and the examples ``epilog``, both printed as written."""
    return sub.add_parser(name, parents=[common], help=help, description=plain(doc), epilog=epilog,
                          formatter_class=argparse.RawDescriptionHelpFormatter)


class UI:
    def __init__(self, quiet: bool = False, json_mode: bool = False):
        self.quiet = quiet
        self.json_mode = json_mode

    @property
    def stream(self):
        return sys.stderr if self.json_mode else sys.stdout

    def say(self, message: str = "") -> None:
        if not self.quiet:
            print(message, file=self.stream, flush=True)

    def warn(self, message: str) -> None:
        print(f"warning: {message}", file=sys.stderr, flush=True)

    # Seconds between progress lines when stderr is a log file, not a terminal.
    log_every_s = 30.0

    def progress(self, iterable: Iterable[T] | None = None, **kwargs: Any) -> Iterator[T] | tqdm:
        """A tqdm bar on stderr (hidden with --quiet); when stderr is not a terminal, one
        plain line every ``log_every_s`` seconds instead, so a log shows that work goes on."""
        if sys.stderr.isatty() or self.quiet:
            return tqdm(iterable, disable=self.quiet, file=sys.stderr, dynamic_ncols=True, **kwargs)
        return _LogBar(iterable, file=_Lines(sys.stderr), mininterval=self.log_every_s,
                       maxinterval=self.log_every_s, ncols=100, ascii=True, **kwargs)

    def table(self, rows: list[tuple[str, Any]]) -> None:
        width = max((len(k) for k, _ in rows), default=0)
        for key, value in rows:
            self.say(f"  {key:<{width}}  {value}")


class _LogBar(tqdm):
    """tqdm whose postfix and description changes wait for the next timed line."""

    def set_postfix(self, ordered_dict=None, refresh=True, **kwargs):
        super().set_postfix(ordered_dict, refresh=False, **kwargs)

    def set_description(self, desc=None, refresh=True):
        super().set_description(desc, refresh=False)


class _Lines:
    """A file for tqdm that turns its carriage-return redraws into whole lines (for logs)."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> None:
        text = text.replace("\r", "").strip()
        if text:
            print(text, file=self.stream, flush=True)

    def flush(self) -> None:
        self.stream.flush()
