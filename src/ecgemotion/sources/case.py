"""CASE (Sharma et al., Sci. Data 2019): ECG while watching videos, continuous V/A.

Layout facts, from the dataset's own READMEs (``CASE_dataset/data/interpolated/
README``, ``.../interpolated/physiological/README``, ``CASE_dataset/metadata/
README``; copies found in public repositories):

- ``data/interpolated/physiological/sub_N.csv`` (N = 1..30), comma-separated,
  columns ``daqtime, ecg, bvp, gsr, rsp, skt, emg_zygo, emg_coru, emg_trap,
  video``; ``daqtime`` is the LabVIEW time in **milliseconds**, ``ecg`` is in
  **mV**, the DAQ runs at 1000 Hz (linearly interpolated onto a regular grid).
- ``data/interpolated/annotations/sub_N.csv``: ``jstime, valence, arousal,
  video``; the joystick is logged at 20 Hz and mapped to 0.5–9.5.
- ``video`` holds video ids repeated over each video's duration. The eight
  emotional videos are ids 1–8 (metadata README: "a unique ordering of the 8
  emotional videos (e.g., video IDs: 1 to 8)"), interleaved with 2-minute blue
  screens; a start and an end video also exist. The ids of those non-emotional
  videos are listed in ``metadata/videos.xlsx`` (not confirmed here), so we keep
  ids 1–8 by default; option ``videos`` changes the set.

Labels: one Recording per (subject, video) with ``valence`` and ``arousal`` =
the mean of that video's continuous annotation samples (``nanmean``). This is
our choice: CASE has no per-video self-report; the mean of the trace is the
common summary (others use the last 60 s, or a per-window label). A video with
no annotation samples gets NaN labels, which the label rule drops. ``fs`` is
inferred from ``daqtime`` (nominally 1000 Hz).

Multimodal stores: the other physiological columns come along as channels of the same
recording, at the same rate and samples as the ECG (``bvp``; ``gsr`` as eda; ``rsp`` as
resp; ``skt`` as temp; ``emg_zygo``, ``emg_coru``, ``emg_trap`` as emg), read only for the
modalities the store asks for.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ecgemotion.errors import ConfigError, DataError
from ecgemotion.io.readers import fs_from_time
from ecgemotion.recording import Channel, Recording, modality_of
from ecgemotion.sources import register_source
from ecgemotion.sources.base import Skip, Source, SourceItem, option

EMOTIONAL_VIDEOS = tuple(range(1, 9))
PHYSIO_COLUMNS = ("daqtime", "ecg", "bvp", "gsr", "rsp", "skt", "emg_zygo", "emg_coru",
                  "emg_trap", "video")
ANNOTATION_COLUMNS = ("jstime", "valence", "arousal", "video")
NOMINAL_FS = 1000.0
_SUB = re.compile(r"^sub_?(\d+)$", re.IGNORECASE)


def _parse_videos(value) -> tuple[int, ...] | None:
    if value is None or value == "":
        return EMOTIONAL_VIDEOS
    if isinstance(value, str) and value.strip().lower() == "all":
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    try:
        return tuple(sorted({int(str(v).strip()) for v in items if str(v).strip()}))
    except ValueError:
        raise ConfigError(f"case: videos must be integer ids or 'all', got {value!r}") from None


def _read_csv(path: Path, wanted: tuple[str, ...], optional: tuple[str, ...] = ()):
    """The ``wanted`` columns (DataError naming the missing ones) and those of ``optional``
    that the file has, as numbers."""
    import pandas as pd

    try:
        header = pd.read_csv(path, nrows=0, encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(path, "not UTF-8 text") from None
    except Exception as exc:
        raise DataError(path, f"not a readable CSV file ({exc})") from None
    columns = [str(c).strip() for c in header.columns]
    missing = [c for c in wanted if c not in columns]
    if missing:
        raise DataError(path, f"missing column(s) {', '.join(missing)}; found: "
                              f"{', '.join(columns) or '(none)'}")
    wanted = wanted + tuple(c for c in optional if c in columns)
    try:
        frame = pd.read_csv(path, usecols=lambda c: str(c).strip() in wanted, encoding="utf-8-sig")
    except Exception as exc:
        raise DataError(path, f"cannot parse ({exc})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    for c in wanted:
        frame[c] = pd.to_numeric(frame[c], errors="coerce")
    return frame


def _find_interpolated(root: Path) -> Path:
    for cand in (root, root / "interpolated", root / "data" / "interpolated",
                 root / "CASE_dataset" / "data" / "interpolated"):
        if (cand / "physiological").is_dir():
            return cand
    raise DataError(root, "not the CASE layout: expected interpolated/physiological/sub_N.csv "
                          "(and interpolated/annotations/sub_N.csv) under the root, e.g. "
                          "CASE_dataset/data/interpolated/physiological/sub_1.csv")


@register_source
class CaseSource(Source):
    name = "case"
    accepts = ("videos",)
    licence = "CASE: CC BY 4.0 (Sharma et al., Sci. Data 2019)"

    def __init__(self, root=None, **options):
        super().__init__(root, **options)
        self.videos = _parse_videos(option(self.options, "videos", None))

    def items(self) -> list[SourceItem]:
        assert self.root is not None
        base = _find_interpolated(self.root)
        physio = base / "physiological"
        annotations = base / "annotations"
        files = sorted((p for p in physio.glob("*.csv") if _SUB.match(p.stem)),
                       key=lambda p: int(_SUB.match(p.stem).group(1)))  # type: ignore[union-attr]
        if not files:
            raise DataError(physio, "no sub_N.csv files found")
        items = []
        for p in files:
            ann = annotations / p.name
            files_ = (p, ann) if ann.is_file() else (p,)
            items.append(SourceItem(key=p.stem, files=files_))
        return items

    def load(self, item: SourceItem) -> Iterator[Recording | Skip]:
        phys_path = item.files[0]
        subject = str(int(_SUB.match(phys_path.stem).group(1)))  # type: ignore[union-attr]
        others = tuple(c for c in PHYSIO_COLUMNS if modality_of(c) in self.extra_modalities)
        frame = _read_csv(phys_path, ("daqtime", "ecg", "video"), others)
        if len(frame) < 2:
            raise DataError(phys_path, "fewer than two rows")
        fs, _ = fs_from_time(phys_path, frame["daqtime"].to_numpy(dtype=float), "ms", "daqtime")
        ann = None
        if len(item.files) > 1:
            ann = _read_csv(item.files[1], ("valence", "arousal", "video"))
        video = frame["video"].to_numpy(dtype=float)
        ecg = frame["ecg"].to_numpy(dtype=float)
        channels = [Channel(modality_of(c), c, frame[c].to_numpy(dtype=float), fs)
                    for c in others if c in frame.columns]
        finite = np.isfinite(video)
        ids = np.where(finite, np.round(video), -1).astype(np.int64)
        edges = np.flatnonzero(np.diff(ids)) + 1
        starts = np.concatenate(([0], edges))
        stops = np.concatenate((edges, [ids.size]))
        runs = [(int(ids[a]), int(a), int(b)) for a, b in zip(starts, stops) if ids[a] >= 0]
        if self.videos is not None:
            runs = [r for r in runs if r[0] in self.videos]
        if not runs:
            yield Skip(str(phys_path), f"no samples of video(s) {list(self.videos or [])}")
            return
        per_video = {}
        for vid, _, _ in runs:
            per_video[vid] = per_video.get(vid, 0) + 1
        seen: dict[int, int] = {}
        for vid, start, stop in runs:
            seen[vid] = seen.get(vid, 0) + 1
            trial = f"video{vid}" if per_video[vid] == 1 else f"video{vid}-{seen[vid]}"
            where = f"{phys_path} video {vid}"
            signal = ecg[start:stop]
            if not np.isfinite(signal).any():
                yield Skip(where, "ECG has no finite samples")
                continue
            labels = {"valence": math.nan, "arousal": math.nan}
            if ann is not None:
                rows = ann[np.round(ann["video"]) == vid]
                for name in ("valence", "arousal"):
                    values = rows[name].to_numpy(dtype=float)
                    values = values[np.isfinite(values)]
                    labels[name] = float(values.mean()) if values.size else math.nan
            yield Recording(signal=signal.copy(), fs=fs, dataset=self.name, subject=subject,
                            trial=trial, lead="ECG", units="mV", labels=labels,
                            channels=[Channel(c.modality, c.name, c.signal[start:stop].copy(), fs)
                                      for c in channels],
                            provenance={"file": str(phys_path), "column": "ecg",
                                        "annotations": str(item.files[1]) if ann is not None else None,
                                        "label_summary": "mean of continuous annotation per video",
                                        "samples": [start, stop], "licence": self.licence},
                            meta={"video": vid, "nominal_fs": NOMINAL_FS})


__all__ = ["CaseSource", "EMOTIONAL_VIDEOS"]
