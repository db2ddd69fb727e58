"""Source ``wfdb``: a folder of PhysioNet WFDB records (``.hea`` + signal files).

The format clinical and research users have on disk (MIT-BIH, CinC 2017, most of
PhysioNet). One item per record; the signal itself is read with ``wfdb.rdrecord``.

Options:
    lead: channel name (``MLII``, case-insensitive) or index (``0``). Default: ``MLII``
        or ``II`` when present (so one database yields one consistent lead), else the
        first channel whose name looks like an ECG lead, else channel 0. A record
        without the requested lead raises DataError (skipped and counted by the builder).
    records: subset of record names (list or comma string; ``100`` or ``x_mitdb/x_108``).
    labels: CSV of ``record,class`` (CinC 2017's ``REFERENCE.csv``; a header row is
        allowed). Adds ``meta["rhythm"]`` = the class and ``labels["af"]`` = 1.0 for
        ``A``, 0.0 for ``N`` and NaN for anything else (store labels are floats).
    keep_derived: keep records made by ``xform`` from another record in the folder
        (MIT-BIH's ``x_mitdb/x_108`` re-digitises the first 10 minutes of ``108``).
        Default False: the same minutes would otherwise count twice.
    same_subject: extra ``record=subject`` pairs (dict or ``"202=201,x=y"``).
    channels: the modality of signals whose names the recogniser does not know
        (``"Fpz-Cz=eeg;Resp (sum)=resp"``; :func:`~ecgemotion.recording.parse_channel_map`).

With ``prepare --modalities ecg,eeg,...`` the record's other signals whose names announce
an asked-for modality (``EEG Fpz-Cz``, ``Resp``, ``EMG``) come along as channels, at the
record's rate; an ECG-only read reads the ECG signal alone, as before.

Subjects: the record name, except where the header says otherwise: a record
"taken from the same analog tape as record 201" (MIT-BIH 202) and a record
"produced by xform from record 108" belong to that record's person.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ecgemotion.errors import ConfigError, DataError
from ecgemotion.recording import Channel, Recording, modality_of, parse_channel_map
from ecgemotion.sources import register_source
from ecgemotion.sources.base import as_list, Skip, Source, SourceItem, option

_ECG_NAME = re.compile(
    r"^(ml(i{1,3})?|i{1,3}|a?v[rlf]|v\d+r?|cm\d?|mv\d?|d\d|ecg.*|ekg.*|lead.*)$", re.I)
_PREFERRED = ("MLII", "II")
_SAME_TAPE = re.compile(r"same\s+analog\s+tape\s+as\s+record\s+([\w/.-]+?)[.,;\s]*$", re.I)
_XFORM = re.compile(r"produced\s+by\s+xform\s+from\s+record\s+([\w/.-]+?)[,;\s]", re.I)
_UNITS = {"mv": "mV", "uv": "uV", "µv": "uV", "v": "V"}


# ----------------------------------------------------------------- header (cheap)


@dataclass(frozen=True)
class HeaderInfo:
    """What ``items()`` needs from a header without importing wfdb: files and comments."""

    name: str
    signal_files: tuple[str, ...]  # names relative to the header's folder
    segments: tuple[str, ...]  # multi-segment records: the segment record names
    comments: tuple[str, ...]


def read_header_info(hea: Path) -> HeaderInfo:
    """Parse the record line, signal-file names and ``#`` comments of a WFDB header."""
    try:
        text = hea.read_text(encoding="latin-1")
    except OSError as exc:
        raise DataError(hea, f"cannot read header ({exc.strerror or exc})") from None
    comments, rows = [], []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#"):
            comments.append(line.lstrip("#").strip())
        elif line:
            rows.append(line.split())
    if not rows:
        raise DataError(hea, "expected a WFDB record line ('name nsig fs nsamp'), found none")
    name = rows[0][0]
    files: list[str] = []
    segments: list[str] = []
    if "/" in name:  # multi-segment: 'name/nseg nsig fs nsamp', then 'segname nsamp' lines
        segments = [r[0] for r in rows[1:] if r[0] != "~"]
        files = [f"{s}.hea" for s in segments]
        name = name.split("/")[0]
    else:
        for row in rows[1:]:
            if row[0] != "~" and row[0] not in files:
                files.append(row[0])
    return HeaderInfo(name, tuple(files), tuple(segments), tuple(comments))


def subject_of(name: str, comments: tuple[str, ...], aliases: dict[str, str]) -> str:
    """The person behind a record, from explicit aliases or what its header comments say."""
    if name in aliases:
        return aliases[name]
    text = " ".join(comments)
    for pattern in (_XFORM, _SAME_TAPE):
        match = pattern.search(text + " ")
        if match:
            other = match.group(1)
            return aliases.get(other, other)
    return name


def derived_from(comments: tuple[str, ...]) -> str | None:
    match = _XFORM.search(" ".join(comments) + " ")
    return match.group(1) if match else None


# ------------------------------------------------------------------- lead choice


def choose_channel(names: list[str], lead: Any, where: Path | str) -> int:
    """Index of the channel to use; see the module docstring for the default rule."""
    if lead is None or lead == "":
        upper = [n.strip().upper() for n in names]
        for preferred in _PREFERRED:
            if preferred in upper:
                return upper.index(preferred)
        for i, n in enumerate(names):
            if _ECG_NAME.match(n.strip()):
                return i
        return 0
    if isinstance(lead, int) or (isinstance(lead, str) and lead.strip().isdigit()
                                 and lead.strip() not in names):
        index = int(lead)
        if not 0 <= index < len(names):
            raise DataError(where, f"expected channel index 0..{len(names) - 1}, found {index} "
                                   f"(channels {names})")
        return index
    wanted = str(lead).strip().upper()
    for i, n in enumerate(names):
        if n.strip().upper() == wanted:
            return i
    raise DataError(where, f"expected a channel named {lead!r}, found {names}")


# ------------------------------------------------------------------------ labels


def read_labels(path: Path) -> dict[str, str]:
    """``record,class`` rows; a first row naming the columns (``...,class``) is skipped."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = [r for r in csv.reader(fh) if r and any(c.strip() for c in r)]
    except OSError as exc:
        raise DataError(path, f"cannot read labels ({exc.strerror or exc})") from None
    if rows and len(rows[0]) >= 2 and rows[0][1].strip().lower() in ("class", "label",
                                                                      "rhythm", "type"):
        rows = rows[1:]
    labels: dict[str, str] = {}
    for i, row in enumerate(rows, 1):
        if len(row) < 2 or not row[0].strip():
            raise DataError(path, f"expected 'record,class' rows, found {row!r} (row {i})")
        labels[row[0].strip()] = row[1].strip()
    if not labels:
        raise DataError(path, "expected 'record,class' rows, found none")
    return labels


def af_label(rhythm: str | None) -> float:
    """CinC 2017 classes as a float: AF 1, normal 0, other rhythm / noisy / unknown NaN."""
    return {"A": 1.0, "N": 0.0}.get(rhythm or "", math.nan)


def _aliases(value: Any) -> dict[str, str]:
    if not value:
        return {}
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    pairs = value.split(",") if isinstance(value, str) else list(value)
    out = {}
    for pair in pairs:
        if "=" not in str(pair):
            raise ConfigError(f"wfdb: same_subject expects 'record=subject' pairs, found {pair!r}")
        k, v = str(pair).split("=", 1)
        out[k.strip()] = v.strip()
    return out




# ------------------------------------------------------------------------ source


@register_source
class WfdbSource(Source):
    """A folder (searched recursively) or a single ``.hea`` of WFDB records."""

    name = "wfdb"
    accepts = ("lead", "records", "keep_derived", "same_subject", "labels", "channels")
    licence = "per database (MIT-BIH and CinC 2017: ODC-By 1.0)"

    def __init__(self, root: Any = None, **options: Any):
        super().__init__(root, **options)
        self.lead = option(self.options, "lead", None)
        self.records = set(as_list(option(self.options, "records", None)))
        self.keep_derived = str(option(self.options, "keep_derived", False)).lower() in (
            "1", "true", "yes")
        self.aliases = _aliases(option(self.options, "same_subject", None))
        self.channel_map = parse_channel_map(option(self.options, "channels", None))
        labels = option(self.options, "labels", None)
        self.labels_path: Path | None = None
        self.labels: dict[str, str] | None = None
        if labels:
            path = Path(labels).expanduser()
            if not path.exists() and not path.is_absolute() and self.root is not None:
                base = self.root if self.root.is_dir() else self.root.parent
                path = base / path
            if not path.exists():
                raise ConfigError(f"wfdb: labels file {labels} does not exist")
            self.labels_path = path
            self.labels = read_labels(path)

    def _headers(self) -> tuple[Path, list[Path]]:
        assert self.root is not None
        if self.root.is_file():
            if self.root.suffix != ".hea":
                raise DataError(self.root, "expected a folder or a .hea file, found another file")
            return self.root.parent, [self.root]
        return self.root, sorted(self.root.rglob("*.hea"))

    def items(self) -> list[SourceItem]:
        base, headers = self._headers()
        if not headers:
            raise DataError(self.root, "expected WFDB records (.hea files), found none")
        infos: dict[Path, HeaderInfo | None] = {}
        for hea in headers:
            try:
                infos[hea] = read_header_info(hea)
            except DataError:
                infos[hea] = None  # load() reports it; one bad header must not stop listing
        segment_heads = {hea.parent / f"{s}.hea" for hea, info in infos.items() if info
                         for s in info.segments}
        names = {hea.stem for hea in headers}
        out = []
        for hea, info in infos.items():
            rel = hea.relative_to(base).with_suffix("").as_posix()
            if hea in segment_heads:
                continue
            if self.records and hea.stem not in self.records and rel not in self.records:
                continue
            comments = info.comments if info else ()
            source = derived_from(comments)
            if source and source in names and not self.keep_derived:
                continue
            files = [hea] + ([hea.parent / f for f in info.signal_files] if info else [])
            if self.labels_path is not None:
                files.append(self.labels_path)
            out.append(SourceItem(
                key=f"wfdb/{rel}", files=tuple(f for f in files if f.exists()),
                params=(("header", str(hea)), ("record", rel),
                        ("subject", subject_of(hea.stem, comments, self.aliases)))))
        if self.records and not out:
            raise DataError(self.root, f"expected records {sorted(self.records)}, found none "
                                       "of them")
        return out

    def load(self, item: SourceItem) -> Iterator[Recording | Skip]:
        import wfdb

        hea = Path(item.param("header"))
        info = read_header_info(hea)
        for name in info.signal_files:
            if not (hea.parent / name).exists():
                raise DataError(hea, f"expected signal file {name} beside the header, "
                                     "found none")
        stem = str(hea.with_suffix(""))
        try:
            header = wfdb.rdheader(stem)
            names = [str(n) for n in (header.sig_name or [])]
            if not names:
                raise DataError(hea, "expected at least one signal, found none")
            index = choose_channel(names, self.lead, hea)
            record = wfdb.rdrecord(stem, channels=[index], physical=True)
            others = [i for i, n in enumerate(names)
                      if i != index and modality_of(n, self.channel_map) in self.extra_modalities]
            extra = wfdb.rdrecord(stem, channels=others, physical=True).p_signal if others else None
        except DataError:
            raise
        except Exception as exc:  # wfdb raises bare ValueError/IndexError on damaged files
            raise DataError(hea, f"expected a readable WFDB record, found "
                                 f"{type(exc).__name__}: {exc}") from None
        signal = record.p_signal
        if signal is None or signal.size == 0:
            raise DataError(hea, "expected samples, found an empty record")
        fs = float(record.fs)
        if not fs > 0:
            raise DataError(hea, f"expected a positive sampling rate, found {record.fs}")
        unit = str((record.units or [""])[0] or "")
        labels: dict[str, float] = {}
        meta: dict[str, Any] = {"comments": list(info.comments)}
        if self.labels is not None:
            rhythm = self.labels.get(hea.stem)
            labels["af"] = af_label(rhythm)
            if rhythm is not None:
                meta["rhythm"] = rhythm
        yield Recording(
            signal=np.asarray(signal[:, 0], dtype=float), fs=fs, dataset=self.name,
            subject=item.param("subject"), trial=hea.stem, lead=names[index],
            labels=labels, units=_UNITS.get(unit.lower(), unit),
            provenance={"file": str(hea), "record": item.param("record"),
                        "channel": names[index], "channel_index": index},
            meta=meta, channels=[Channel(modality_of(names[i], self.channel_map), names[i],
                                         np.asarray(extra[:, j], dtype=float), fs)
                                 for j, i in enumerate(others)])
