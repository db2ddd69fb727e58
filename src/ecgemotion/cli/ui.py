"""Progress bars and messages that respect ``--quiet`` and ``--json``.

Human-readable messages go to stderr when ``--json`` is given so that the last
line of stdout stays the JSON summary.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


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

    def progress(self, iterable: Iterable[T] | None = None, **kwargs: Any) -> Iterator[T] | tqdm:
        """A tqdm bar on stderr, hidden with --quiet or when stderr is not a terminal."""
        disable = self.quiet or not sys.stderr.isatty()
        return tqdm(iterable, disable=disable, file=sys.stderr, dynamic_ncols=True, **kwargs)

    def table(self, rows: list[tuple[str, Any]]) -> None:
        width = max((len(k) for k, _ in rows), default=0)
        for key, value in rows:
            self.say(f"  {key:<{width}}  {value}")
