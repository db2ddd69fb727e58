"""Parsers for the ECG files found inside the open-ecg wheels: bytes in, samples out.

Each parser takes a member's bytes and a ``where`` for errors, and returns what the file
itself says (:class:`Parsed`); what it does not say is in the catalogue
(:mod:`ecgemotion.sources.wheel_catalogue`).
"""

from __future__ import annotations

import bz2
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ecgemotion.errors import DataError
from ecgemotion.io.safe_pickle import safe_loads


@dataclass
class Parsed:
    """What a parser found in one member: the samples and whatever the file itself says."""

    signal: np.ndarray
    fs: float | None = None  # None: the file does not say, use the table's fs
    info: dict[str, Any] = field(default_factory=dict)  # column, sensor, adc_range...
    others: dict[str, np.ndarray] = field(default_factory=dict)  # name -> the file's other columns


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def parse_opensignals_text(data: bytes, where: str) -> Parsed:
    """OpenSignals (r)evolution text export: ``#`` header, JSON on line 2, tab-separated rows.

    The ECG column is the one whose sensor name starts with ``ECG`` (``ECG``, ``ECGBIT``);
    its ``label`` (``A3``) names the column. The ADC resolution gives the clipping range.
    """
    lines = _text(data[:1 << 16]).splitlines()[:3]  # the header; rows go to pandas
    if len(lines) < 3 or not lines[0].startswith("#") or not lines[1].startswith("#"):
        first = repr(lines[0][:60]) if lines else "an empty file"
        raise DataError(where, "expected an OpenSignals text file ('#' header lines, JSON on "
                               f"line 2), found {first}")
    try:
        header = json.loads(lines[1].lstrip("#").strip())
    except json.JSONDecodeError:
        raise DataError(where, "expected JSON with the device description on line 2, found "
                               f"{lines[1][:60]!r}") from None
    if not isinstance(header, dict) or not header:
        raise DataError(where, "expected a JSON object of devices on line 2, found "
                               f"{type(header).__name__}")
    offset, found = 0, []
    for device in header.values():
        try:
            sensors, labels, columns = device["sensor"], device["label"], device["column"]
            fs = float(device["sampling rate"])
        except (KeyError, TypeError, ValueError):
            raise DataError(where, "expected 'sensor', 'label', 'column' and 'sampling rate' "
                                   "in the JSON header, found keys "
                                   f"{sorted(device) if isinstance(device, dict) else device}"
                            ) from None
        found += list(sensors)
        for sensor, label in zip(sensors, labels):
            if str(sensor).upper().startswith("ECG"):
                if label not in columns:
                    raise DataError(where, f"expected ECG label {label!r} among the columns, "
                                           f"found {columns}")
                col = columns.index(label)
                res = device.get("resolution")
                bits = int(res[col]) if isinstance(res, list) and len(res) > col else None
                signal = _text_column(data, offset + col, where,
                                      f"{offset + len(columns)} numeric columns per row")
                info: dict[str, Any] = {"column": label, "sensor": sensor,
                                        "device": device.get("device", "")}
                if bits:
                    info["adc_range"] = (0, 2 ** bits - 1)
                return Parsed(signal, fs, info)
        offset += len(columns)
    raise DataError(where, f"expected a sensor whose name starts with 'ECG', found {found}")


def _text_column(data: bytes, index: int, where: str, what: str) -> np.ndarray:
    """Column ``index`` of whitespace-separated rows, skipping ``#`` lines (C parser: 5M rows)."""
    import pandas as pd

    try:
        frame = pd.read_csv(io.BytesIO(data), sep=r"\s+", comment="#", header=None,
                            usecols=[index], dtype=float)
    except pd.errors.EmptyDataError:
        raise DataError(where, f"expected {what}, found no data rows") from None
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataError(where, f"expected {what}, found unparsable rows "
                               f"({str(exc).splitlines()[0][:80]})") from None
    signal = frame.to_numpy(dtype=float).ravel()
    if signal.size == 0:
        raise DataError(where, f"expected {what}, found no data rows")
    if np.isnan(signal).any():
        row = int(np.flatnonzero(np.isnan(signal))[0])
        raise DataError(where, f"expected {what}, found a short row (data row {row + 1})")
    return signal


def parse_opensignals_h5(data: bytes, where: str) -> Parsed:
    """OpenSignals HDF5: first group (one per device), ``raw/channel_N``, ``sampling rate``.

    Takes the first channel whose ``sensor`` attribute starts with ``ECG``, else
    ``raw/channel_1`` when no channel names its sensor.
    """
    import h5py

    try:
        h5 = h5py.File(io.BytesIO(data), "r")
    except OSError:
        raise DataError(where, "expected an HDF5 file, found something else") from None
    with h5:
        groups = [k for k in h5 if isinstance(h5[k], h5py.Group)]
        if not groups:
            raise DataError(where, "expected a device group at the top level, found none")
        dev = h5[groups[0]]
        raw = dev.get("raw")
        if not isinstance(raw, h5py.Group):
            raise DataError(where, f"expected a 'raw' group in {groups[0]!r}, found "
                                   f"{sorted(dev)}")
        channels = sorted((k for k in raw if k.startswith("channel_")),
                          key=lambda k: int(k.split("_")[1]) if k.split("_")[1].isdigit() else 0)
        sensors = {k: str(raw[k].attrs.get("sensor", "")) for k in channels}
        ecg = [k for k in channels if sensors[k].upper().startswith("ECG")]
        if ecg:
            name = ecg[0]
        elif "channel_1" in channels and not any(sensors.values()):
            name = "channel_1"
        else:
            raise DataError(where, "expected a raw/channel_N whose sensor starts with 'ECG', "
                                   f"found {sensors or 'no channels'}")
        if "sampling rate" not in dev.attrs:
            raise DataError(where, f"expected attribute 'sampling rate' on {groups[0]!r}, "
                                   f"found {sorted(dev.attrs)}")
        fs = float(np.asarray(dev.attrs["sampling rate"]).ravel()[0])
        signal = np.asarray(raw[name][()], dtype=float).ravel()
        index = int(name.split("_")[1]) - 1 if name.split("_")[1].isdigit() else 0
        res = np.asarray(dev.attrs.get("resolution", [])).ravel()
        info: dict[str, Any] = {"column": f"raw/{name}", "sensor": sensors[name],
                                "device": str(dev.attrs.get("device", ""))}
        if res.size:
            info["adc_range"] = (0, 2 ** int(res[min(index, res.size - 1)]) - 1)
    if signal.size == 0:
        raise DataError(where, f"expected samples in raw/{name}, found none")
    return Parsed(signal, fs, info)


def parse_pickle_list(data: bytes, where: str) -> Parsed:
    """A pickled flat list of numbers, read with the restricted unpickler (no code runs)."""
    obj = safe_loads(data, where)
    if not isinstance(obj, (list, tuple, np.ndarray)):
        raise DataError(where, f"expected a pickled list of numbers, found {type(obj).__name__}")
    try:
        signal = np.asarray(obj, dtype=float)
    except (TypeError, ValueError):
        raise DataError(where, "expected a pickled list of numbers, found non-numeric items"
                        ) from None
    if signal.ndim != 1 or signal.size == 0:
        raise DataError(where, f"expected a non-empty flat list, found shape {signal.shape}")
    return Parsed(signal)


def parse_npz_ecg(data: bytes, where: str) -> Parsed:
    """scipy's ``ecg.dat``: an npz with integer key ``ecg``; mV = (x - 1024) / 200 (MIT-BIH gain)."""
    try:
        npz = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile):
        raise DataError(where, "expected an npz archive, found something else") from None
    if not isinstance(npz, np.lib.npyio.NpzFile) or "ecg" not in npz.files:
        found = npz.files if isinstance(npz, np.lib.npyio.NpzFile) else type(npz).__name__
        raise DataError(where, f"expected an npz with key 'ecg', found {found}")
    raw = npz["ecg"]
    if raw.ndim != 1 or not np.issubdtype(raw.dtype, np.integer):
        raise DataError(where, f"expected 1-D integer 'ecg', found {raw.dtype} {raw.shape}")
    return Parsed((raw.astype(float) - 1024.0) / 200.0)


PYPHYSIO_COLUMNS = ("ECG", "EDA", "BVP", "RESP")


def parse_bz2_columns(data: bytes, where: str, columns: int = 4, column: int = 0,
                      names: tuple[str, ...] = PYPHYSIO_COLUMNS) -> Parsed:
    """bz2-compressed whitespace text with ``columns`` columns (pyphysio: ECG, EDA, BVP, RESP);
    the ECG column is the signal, the others ride along by name for multimodal stores."""
    try:
        text = bz2.decompress(data).decode("ascii")
    except (OSError, ValueError):
        raise DataError(where, "expected bz2-compressed text, found something else") from None
    table = _rows(text, where, f"{columns} numeric columns")
    if table.shape[1] != columns:
        raise DataError(where, f"expected {columns} columns, found {table.shape[1]}")
    others = {n: table[:, i].copy() for i, n in enumerate(names[:columns]) if i != column}
    return Parsed(table[:, column].copy(), others=others)


def parse_csv_column(data: bytes, where: str) -> Parsed:
    """One number per line (peakdet, ecg-noise-detector)."""
    table = _rows(_text(data), where, "one numeric column")
    if table.shape[1] != 1:
        raise DataError(where, f"expected one column, found {table.shape[1]}")
    return Parsed(table[:, 0].copy())


_COMMENT_LINE = re.compile(r"^[ \t]*#.*$", re.MULTILINE)


def _rows(text: str, where: str, what: str) -> np.ndarray:
    """Parse rows of numbers separated by whitespace or commas into a 2-D array."""
    # one regex pass drops the comment lines: a per-line strip/startswith took a second on
    # pyphysio's 245,760 rows
    lines = [ln for ln in _COMMENT_LINE.sub("", text).splitlines() if ln and not ln.isspace()]
    if not lines:
        raise DataError(where, f"expected {what}, found no data rows")
    width = len(lines[0].replace(",", " ").split())
    flat = " ".join(lines).replace(",", " ").split()
    if len(flat) != width * len(lines):
        raise DataError(where, f"expected {what} ({width} per row), found ragged rows")
    try:
        values = np.array(flat, dtype=float)
    except ValueError:
        bad = next(v for v in flat if not _is_float(v))
        raise DataError(where, f"expected {what}, found {bad[:30]!r}") from None
    return values.reshape(len(lines), width)


def _is_float(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


PARSERS: dict[str, Callable[[bytes, str], Parsed]] = {
    "opensignals-text": parse_opensignals_text,
    "opensignals-h5": parse_opensignals_h5,
    "pickle-list": parse_pickle_list,
    "npz-ecg": parse_npz_ecg,
    "bz2-4col": parse_bz2_columns,
    "csv-column": parse_csv_column,
}
