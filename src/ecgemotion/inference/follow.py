"""Tail a growing delimited-text file (CSV/TSV/TXT) and feed a stream, ``tail -f`` style.

The header and first rows are handed to :func:`ecgemotion.io.readers.read_signal` (on a
small temporary copy) so that the column, the time column and the sampling rate are
chosen exactly as for a whole file; later rows are parsed as they are appended. A
line is used only once its newline has been written.

Faults a live file has, and what happens (``follow`` says each one on stderr): a file
truncated, replaced (a new inode) or rewritten in place (the bytes before the read
position changed) is read again from its start as a new segment, after the windows of
the old one are flushed; a line that is not a number (a write cut short, then another
appended) becomes one missing sample; a last line without newline is read as it is.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from ecgemotion.errors import ConfigError, DataError
from ecgemotion.io.readers import TEXT_EXTENSIONS, read_signal, sniff_layout


class TextTail:
    """Incremental reader of one column of a growing delimited text file (with
    ``modalities``, also of the columns whose names announce one of them, as
    :func:`read_signal` attaches them: :attr:`channels`)."""

    def __init__(self, path: str | Path, fs: float | None = None, lead=None, min_rows: int = 20,
                 force: bool = False, modalities=()):
        self.path = Path(path)
        if self.path.suffix.lower() not in TEXT_EXTENSIONS:
            raise ConfigError(f"{self.path}: --follow reads growing text files ({', '.join(TEXT_EXTENSIONS)}); "
                              f"'{self.path.suffix or '(none)'}' files cannot be appended to while read")
        self.fs_given, self.lead, self.min_rows, self.force = fs, lead, min_rows, force
        self.modalities = tuple(modalities)
        self.probe = None  # the SignalFile of the first rows: which column, which rate, and why
        self.offset = 0
        self.pending = b""
        self.head_lines: list[str] = []
        self.column: int | None = None
        self.columns: list[int] = []   # the ECG's column, then each channel's
        self.channels: list[tuple[str, str]] = []   # (modality, name) of the other columns
        self.delimiter: str | None = None
        self.fs: float | None = None
        self.units = ""
        self.line_no = 0
        self.file_id: tuple[int, int] | None = None  # (device, inode) being read
        self.seen = b""             # the last bytes read: a rewrite in place changes them
        self.restarts = 0           # truncations/replacements/rewrites so far (new segments)
        self.header_may_repeat = False
        self.notices: list[str] = []  # what went wrong, for the user

    def poll(self) -> np.ndarray:
        """New samples since the last call (empty when nothing complete was appended): 1-D,
        or with :attr:`channels` one row per sample, the ECG's value first."""
        if not self.path.exists():
            return np.zeros(0)
        with self.path.open("rb") as fh:
            self._check_same_file(fh)
            fh.seek(self.offset)
            data = fh.read()
        self.offset += len(data)
        self.seen = (self.seen + data)[-64:]
        data = self.pending + data
        cut = data.rfind(b"\n")
        if cut < 0:
            self.pending = data
            return np.zeros(0)
        self.pending = data[cut + 1:]
        lines = data[:cut].decode("utf-8-sig", errors="replace").splitlines()
        if self.column is None:
            self.head_lines += lines
            data_rows = [ln for ln in self.head_lines if ln.strip() and not ln.lstrip().startswith("#")]
            if len(data_rows) < self.min_rows + 1:
                return np.zeros(0)
            self._configure()
            lines, self.head_lines = self.head_lines[self._first_data:], []
        return self._parse(lines)

    def _check_same_file(self, fh) -> None:
        """Notice a file truncated, replaced or rewritten under us: start again from its start."""
        st = os.fstat(fh.fileno())
        file_id = (st.st_dev, st.st_ino)
        what = None
        if self.file_id is not None and file_id != self.file_id:
            what = "was replaced by another file"
        elif st.st_size < self.offset:
            what = f"was truncated (from {self.offset} to {st.st_size} bytes)"
        elif self.seen:
            fh.seek(self.offset - len(self.seen))
            if fh.read(len(self.seen)) != self.seen:
                what = "was rewritten"
        self.file_id = file_id
        if what is None:
            return
        dropped = f"; its unfinished last line {self.pending.decode(errors='replace')!r} is dropped" \
            if self.pending.strip() else ""
        self.notices.append(f"{self.path} {what}: reading it again from its start as a new "
                            f"segment{dropped}")
        self.restarts += 1
        self.offset, self.pending, self.seen, self.line_no = 0, b"", b"", 0
        self.head_lines = []
        self.header_may_repeat = True

    def finish(self) -> np.ndarray:
        """At the end: configure from whatever arrived, and parse a last line without newline."""
        tail = self.pending.decode("utf-8-sig", errors="replace")
        self.pending = b""
        if tail.strip():
            self.notices.append(f"{self.path}: the last line {tail!r} has no newline (a write cut "
                                "short?); read as it is")
        lines = tail.splitlines()
        if self.column is None:
            self.head_lines += lines
            if not any(ln.strip() for ln in self.head_lines):
                raise DataError(self.path, "no data rows arrived")
            self._configure()
            lines, self.head_lines = self.head_lines[self._first_data:], []
        return self._parse(lines)

    def _configure(self) -> None:
        lines = self.head_lines
        with tempfile.TemporaryDirectory() as tmp:
            probe = Path(tmp) / self.path.name
            probe.write_text("\n".join(lines) + "\n")
            try:
                sf = read_signal(probe, fs=self.fs_given, lead=self.lead, force=self.force,
                                 modalities=self.modalities)
            except DataError as exc:
                raise DataError(self.path, exc.reason) from None
            except ConfigError as exc:
                raise ConfigError(str(exc).replace(str(probe), str(self.path))) from None
        prov = sf.provenance
        self.probe = sf
        self.column = int(prov["column_index"])
        self.fs, self.units = sf.fs, sf.units
        start, self.delimiter, cells, has_header = sniff_layout(lines)  # as read_signal saw it
        self._first_data = start + 1 if has_header else start
        self.channels = [(c.modality, c.name) for c in sf.channels]
        self.columns = [self.column] + [cells.index(name) for _, name in self.channels]
        self.line_no = self._first_data

    def _parse(self, lines: list[str]) -> np.ndarray:
        out = np.empty((len(lines), len(self.columns)))
        n = 0
        for line in lines:
            self.line_no += 1
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            fields = line.split(self.delimiter) if self.delimiter else line.split()
            values = [_number(fields[c]) if c < len(fields) else None for c in self.columns]
            if None in values:
                if self.header_may_repeat:  # a rewritten file starts with its header again
                    self.header_may_repeat = False
                    continue
                self.notices.append(f"{self.path}: line {self.line_no}: {line.strip()[:40]!r} has no "
                                    f"number in field {self.columns[values.index(None)] + 1}; "
                                    "counted as a missing sample")
                values = [float("nan") if v is None else v for v in values]
            self.header_may_repeat = False
            out[n] = values
            n += 1
        return out[:n] if self.channels else out[:n, 0]


def _number(token: str) -> float | None:
    token = token.strip().strip('"')
    if token.lower() in ("", "nan", "na", "n/a", "null", "none"):
        return float("nan")
    try:
        return float(token)
    except ValueError:
        return None


def _ecg(chunk: np.ndarray) -> np.ndarray:
    """The ECG of a polled chunk (its first column when the tail reads channels too)."""
    return chunk if chunk.ndim == 1 else chunk[:, 0]


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


def follow(tail: TextTail, make_stream: Callable, *, poll_s: float = 0.2,
           idle_timeout_s: float | None = 5.0, max_seconds: float | None = None,
           sleep: Callable[[float], None] = time.sleep,
           notice: Callable[[str], None] = _warn,
           on_samples: Callable[[np.ndarray, float], None] | None = None) -> Iterator:
    """Yield predictions while the file grows; stop after ``idle_timeout_s`` without new
    data or after ``max_seconds`` of wall time, then flush the pending windows.
    ``on_samples(chunk, fs)`` sees every new sample (the live view draws them).

    When the file starts over (truncated, replaced, rewritten), the windows of the old
    content are flushed first, so none already due is lost, and the new content's times
    continue after the old content's; ``notice`` is told each fault.
    """
    t0 = last_data = time.monotonic()
    stream, restarts, shift = None, 0, 0.0

    def shifted(predictions):
        for p in predictions:
            p.start_s, p.end_s = p.start_s + shift, p.end_s + shift
            yield p

    while True:
        chunk = tail.poll()
        if tail.restarts != restarts:
            restarts = tail.restarts
            if stream is not None:   # the old content ends here: emit what it still owes
                yield from shifted(stream.flush())
                shift += stream.samples_seen / stream.fs
                stream = None
        for message in tail.notices:
            notice(message)
        tail.notices.clear()
        if stream is None and tail.fs is not None:
            stream = make_stream(tail.fs, tail.units)
        if stream is not None and len(chunk):
            if on_samples is not None:
                on_samples(_ecg(chunk), stream.fs)
            yield from shifted(stream.push(chunk))
        now = time.monotonic()  # after the work: only time spent waiting for data is idle
        if len(chunk):
            last_data = now
        if max_seconds is not None and now - t0 >= max_seconds:
            break
        if idle_timeout_s is not None and now - last_data >= idle_timeout_s:
            break
        if not len(chunk):
            sleep(poll_s)
    if stream is None and tail.column is None and not tail.path.exists():
        raise DataError(tail.path, "no such file (nothing appeared while waiting)")
    rest = tail.finish()
    for message in tail.notices:
        notice(message)
    if stream is None:
        stream = make_stream(tail.fs, tail.units)
    if len(rest):
        if on_samples is not None:
            on_samples(_ecg(rest), stream.fs)
        yield from shifted(stream.push(rest))
    yield from shifted(stream.flush())
