"""PsPM data sets (PsPM-FR, -HRM, -RRM, -VIS… on Zenodo): the PsPM toolbox file format.

Layout, and where each fact was confirmed:

- a ``.mat`` file with two variables, ``infos`` (struct: duration, source, import
  date…) and ``data``, a cell with one struct per channel, each having ``header``
  (``chantype``, ``sr`` in Hz, ``units``) and ``data``, a column vector (PsPM
  manual / developer's guide "PsPM data file format"; public analysis scripts read
  ``data{1,1}.data`` and ``data{1,1}.header.sr``). Event channels (``marker``)
  store time stamps instead of samples; we only read channels whose ``chantype`` is
  ``'ecg'`` (case-insensitive); derived ``hb``/``hp`` heart channels are ignored.
- imported files are named ``tpspm_<name>.mat`` (PsPM prefixes a "t" to trimmed
  ``pspm_`` files; public scripts load e.g. ``tpspm_<SUBJ>_ofl.mat`` and
  ``tpspm_REW2_acq_0005_sn02.mat``); the Zenodo data sets' READMEs describe ECG
  recorded alongside SCR and respiration (PsPM-FR ``README_pp.txt``). The exact
  per-data-set file names could not be confirmed, so the subject is parsed
  permissively (below).

Output: one recording per ECG channel; subject from the file name: the number after
``sn``/``sub``/``subj``/``s``/``vp``/``p`` (e.g. ``tpspm_s01.mat`` → ``"s01"``), else
the last number in the name, else the stem; prefixed with the first sub-folder under
the root (``PsPM-FR/tpspm_s01.mat`` → ``"PsPM-FR-s01"``) so different studies do not
collide. Trial ``"<stem>_ch<k>"`` with k the 1-based channel index; fs is the
channel's own ``header.sr``; units from ``header.units``. Unlabelled (pre-training).

When any file under the root is named ``tpspm_*.mat`` only those are read (other
``.mat`` files in PsPM data sets hold events or artefact epochs); otherwise all
``.mat`` files are. Option ``pattern`` overrides the glob.

Every ECG recording also carries the file's other signal channels whose ``chantype``
names a modality (``scr`` → eda, ``resp``, ``ppg`` → bvp, ``emg``…) at their own
``header.sr``: all channels of a PsPM file start at the file's time 0.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ecgemotion.errors import DataError
from ecgemotion.io.matfile import as_cells, load_mat, scalar
from ecgemotion.recording import Channel, Recording, modality_of
from ecgemotion.sources import register_source
from ecgemotion.sources.base import Skip, Source, SourceItem, option
from ecgemotion.sources.checks import check_heart_rate

_SUBJECT_RE = re.compile(r"(?:^|[_\-\s])(?:sn|sub|subj|subject|vp|s|p)[_\-]?(\d+)(?=$|[_\-\s.])",
                         re.IGNORECASE)


def subject_from_name(stem: str) -> str:
    """``tpspm_s01`` → ``s01``; ``tpspm_REW2_acq_0005_sn02`` → ``s02``; ``tpspm_HRM_07`` → ``s07``."""
    matches = _SUBJECT_RE.findall(stem)
    if matches:
        return f"s{int(matches[-1]):02d}"
    numbers = re.findall(r"\d+", stem)
    if numbers:
        return f"s{int(numbers[-1]):02d}"
    return stem


@register_source
class PspmSource(Source):
    name = "pspm"
    accepts = ("pattern",)
    licence = "see each PsPM data set's Zenodo record (mostly CC-BY 4.0)"

    def items(self) -> list[SourceItem]:
        root = self.root
        assert root is not None
        pattern = option(self.options, "pattern", None)
        if root.is_file():
            files = [root]
        elif pattern:
            files = sorted(root.rglob(str(pattern)))
        else:
            files = sorted(root.rglob("tpspm_*.mat")) or sorted(root.rglob("*.mat"))
        if not files:
            raise DataError(root, "expected PsPM files (tpspm_*.mat or *.mat, searched recursively), found none")
        items = []
        for path in files:
            rel = path.relative_to(root) if root.is_dir() else Path(path.name)
            study = rel.parts[0] if len(rel.parts) > 1 else ""
            subject = subject_from_name(path.stem)
            if study:
                subject = f"{study}-{subject}"
            items.append(SourceItem(key=f"pspm/{rel.as_posix()}", files=(path,),
                                    params=(("subject", subject),)))
        return items

    def load(self, item: SourceItem) -> Iterator[Recording | Skip]:
        path = item.files[0]
        subject = str(item.param("subject"))
        content = load_mat(path, ["infos", "data"])
        channels = as_cells(content["data"])
        if not channels:
            raise DataError(path, "expected data to be a cell of channels, found an empty cell")
        out: list[Recording | Skip] = []
        checks: list[np.ndarray] = []
        rates: list[float] = []
        chantypes: list[str] = []
        others: list[Channel] = []
        for k, chan in enumerate(channels, start=1):
            where = f"{path} data{{{k}}}"
            if not isinstance(chan, dict) or "header" not in chan or "data" not in chan:
                found = ", ".join(chan) if isinstance(chan, dict) else type(chan).__name__
                out.append(Skip(where, f"expected a struct with header and data, found: {found}"))
                continue
            header = chan["header"]
            if not isinstance(header, dict) or "chantype" not in header:
                out.append(Skip(where, "expected header.chantype, found none"))
                continue
            chantype = str(header["chantype"]).strip()
            chantypes.append(chantype)
            if chantype.lower() != "ecg":
                others += _other_channel(chantype, header, chan["data"], k)
                continue
            sr = scalar(header.get("sr"))
            if not np.isfinite(sr) or sr <= 0:
                out.append(Skip(where, f"expected header.sr to be a positive rate in Hz, found {header.get('sr')!r}"))
                continue
            x = np.asarray(chan["data"])
            if x.dtype.kind not in "biuf":
                out.append(Skip(where, f"expected numeric data, found {x.dtype}"))
                continue
            if x.ndim > 1 and sum(d > 1 for d in x.shape) > 1:
                out.append(Skip(where, f"expected data to be a column vector, found shape {x.shape}"))
                continue
            sig = np.ascontiguousarray(x.astype(np.float64).ravel())
            if sig.size == 0:
                out.append(Skip(where, "empty ECG channel"))
                continue
            if not np.isfinite(sig).any():
                out.append(Skip(where, "all samples are NaN"))
                continue
            units = header.get("units", "")
            checks.append(sig)
            rates.append(sr)
            out.append(Recording(
                signal=sig, fs=sr, dataset=self.name, subject=subject, trial=f"{path.stem}_ch{k}",
                lead=f"ECG ch{k}", labels={}, units=str(units) if isinstance(units, str) else "",
                provenance={"file": str(path), "variable": f"data{{{k}}}.data", "column": 0,
                            "licence": self.licence},
                meta={"channel": k, "chantype": chantype}))
        if not any(isinstance(r, Recording) for r in out) and not any(
                isinstance(r, Skip) for r in out):
            out.append(Skip(str(path), f"no ECG channel (chantypes: {', '.join(chantypes) or 'none'})"))
        if checks:
            check_heart_rate(checks, rates, path, "chantype 'ecg'")
        for rec in out:
            if isinstance(rec, Recording):
                rec.channels = list(others)
        yield from out


def _other_channel(chantype: str, header: dict, data, k: int) -> list[Channel]:
    """A non-ECG signal channel whose chantype names a modality, as ``[Channel]``; ``[]`` for
    events (markers), derived heart channels and anything not a numeric vector at a rate."""
    modality, x, sr = modality_of(chantype), np.asarray(data), scalar(header.get("sr"))
    if modality in (None, "ecg") or x.dtype.kind not in "biuf" or sum(d > 1 for d in x.shape) > 1 \
            or not sr > 0:
        return []
    return [Channel(modality, f"{chantype} ch{k}", x.astype(np.float64).ravel(), sr,
                    str(header.get("units", "")) if isinstance(header.get("units"), str) else "")]
