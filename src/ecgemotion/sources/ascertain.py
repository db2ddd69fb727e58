"""ASCERTAIN: 58 participants × 36 film clips, one ``.mat`` per clip.

Layout, and where each fact was confirmed:

- ``ECGData/Movie_P<NN>/ECG_Clip<k>.mat`` (k = 1…36), usually under
  ``ASCERTAIN_Raw/`` (public loaders: pyAffeCT ``ASCERTAIN`` reads
  ``ASCERTAIN_Raw/ECGData/Movie_P01/ECG_Clip1.mat``; several GitHub notebooks read
  ``ECGData/Movie_P<i>/ECG_Clip<j>``).
- ``Data_ECG``: column 0 a timestamp in milliseconds, then the two arm leads in
  columns 1–2; later participants' files have more columns and the arm leads in
  columns 4–5 (pyAffeCT: ``ecg_data[:, [0, 4, 5]]`` for participants ≥ 9 and
  ``[:, [0, 1, 2]]`` before, naming them TIMESTAMP, ECG_R, ECG_L, with the
  timestamp converted with ``timedelta(milliseconds=x)``). We choose the layout by
  column count (≥ 6 → 4–5, else 1–2), not by participant number.
- 256 Hz (pyAffeCT ``sampling_rate = 256``); we also measure the rate from the
  timestamps and use it (with a warning) when it disagrees by more than 2 %.
- ``Dt_SelfReports.mat`` (usually ``ASCERTAIN_Features/``) holds ``Ratings`` of
  shape (5 × 58 × 36) = (rating type × participant × clip), rating types
  ``Arousal, Valence, Engagement, Liking, Familiarity`` (pyAffeCT
  ``Ratings[:, subject-1, clip-1]`` with that order; other public loaders read
  ``Ratings[0][i]`` as arousal and ``Ratings[1][i]`` as valence). Arousal 0–6,
  valence −3…3 (ASCERTAIN paper, Subramanian et al., IEEE TAC 2018).

- EEG and GSR (multimodal stores only, when asked): ``EEGData/Movie_P<NN>/EEG_Clip<k>.mat``
  and ``GSRData/Movie_P<NN>/GSR_Clip<k>.mat`` beside ``ECGData`` (the dataset page shares
  "the raw data from each clip and each modality"; the folder naming follows ``ECGData``'s
  and is not confirmed from the dataset's docs). Each file's one numeric matrix holds
  millisecond timestamps in column 0 and the signal in column 1 (the single-electrode
  NeuroSky headset's forehead EEG, stored as channel ``Fp1``; ``GSR``). Their rates are
  measured from the timestamps, and they are placed on the ECG's clock by the timestamps
  too: a sensor that started later is missing (NaN) until its first sample. A file that
  does not fit is left out with a warning naming it; the clip keeps its ECG.

Output: subjects ``"P01"``…; trials ``"clip01"``…``"clip36"``; labels ``arousal,
valence, engagement, liking, familiarity`` (raw; NaN stays NaN; none when
``Dt_SelfReports.mat`` is absent). One item per participant folder, so a clip file
with too few columns or no data becomes a Skip naming the file, and the participant's
other clips are kept.

Options: ``lead`` = ``left`` (default) | ``right`` | ``both`` (the second/first arm
lead column, as named by pyAffeCT; naming not confirmed from the dataset's docs).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ecgemotion.errors import DataError
from ecgemotion.io.matfile import load_mat, numeric_matrix
from ecgemotion.recording import Channel, Recording
from ecgemotion.sources import register_source
from ecgemotion.sources.base import Skip, Source, SourceItem, option_choice
from ecgemotion.sources.checks import check_heart_rate

FS = 256.0
RATING_NAMES = ("arousal", "valence", "engagement", "liking", "familiarity")
N_CLIPS = 36
# lead name -> index among the two arm-lead columns (pyAffeCT: ECG_R first, ECG_L second)
LEADS = {"right": 0, "left": 1}
# modality -> (folder beside ECGData, clip file prefix, channel name)
OTHER_CLIPS = {"eeg": ("EEGData", "EEG_Clip", "Fp1"), "eda": ("GSRData", "GSR_Clip", "GSR")}
_FOLDER_RE = re.compile(r"^Movie_P(\d+)$", re.IGNORECASE)
_CLIP_RE = re.compile(r"^ECG_Clip(\d+)\.mat$", re.IGNORECASE)


class TimestampRateWarning(UserWarning):
    """The timestamps of an ASCERTAIN clip disagree with the nominal 256 Hz."""


def lead_columns(n_columns: int) -> tuple[int, int]:
    """The two arm-lead columns for a ``Data_ECG`` with ``n_columns`` columns."""
    return (4, 5) if n_columns >= 6 else (1, 2)


def read_clip(path: str | Path) -> tuple[np.ndarray, tuple[int, int]]:
    """``Data_ECG`` of one clip and its lead columns; DataError on a wrong layout."""
    x = numeric_matrix(load_mat(path, ["Data_ECG"])["Data_ECG"], path, "Data_ECG")
    if x.ndim != 2:
        raise DataError(path, f"expected Data_ECG to be a (samples × columns) matrix, found shape {x.shape}")
    if x.shape[1] < 3:
        raise DataError(path, f"expected Data_ECG with at least 3 columns (timestamp, 2 arm leads), "
                              f"found {x.shape[1]} columns")
    return x, lead_columns(x.shape[1])


def rate_from_timestamps(ts: np.ndarray) -> float:
    """Sampling rate implied by millisecond timestamps (median step), NaN when unusable."""
    ts = np.asarray(ts, dtype=np.float64)
    ts = ts[np.isfinite(ts)]
    if ts.size < 10:
        return float("nan")
    step = np.median(np.diff(ts))
    if not np.isfinite(step) or step <= 0:
        return float("nan")
    return 1000.0 / step


def read_other_clip(path: str | Path, modality: str, ecg_start_ms: float) -> Channel:
    """An EEG or GSR clip file as a channel on the ECG's clock (see the module docstring)."""
    numeric = {k: v for k, v in load_mat(path).items() if isinstance(v, np.ndarray) and v.dtype.kind in "biuf"}
    x = next(iter(numeric.values())) if len(numeric) == 1 else np.zeros(0)
    if x.ndim != 2 or x.shape[1] < 2:
        raise DataError(path, "expected one numeric (samples × columns) matrix with millisecond "
                              "timestamps in column 0 and the signal in column 1, found "
                              + (", ".join(f"{k} of shape {v.shape}" for k, v in numeric.items()) or "none"))
    x = x.astype(np.float64)
    fs = rate_from_timestamps(x[:, 0])
    if not (np.isfinite(fs) and 1 <= fs <= 5000 and np.isfinite(x[0, 0])):
        raise DataError(path, f"expected increasing millisecond timestamps in column 0, found "
                              f"{x[:3, 0].tolist()}…")
    if not np.isfinite(ecg_start_ms):
        raise DataError(path, f"cannot be placed on the ECG's clock: the ECG clip's first timestamp is "
                              f"{ecg_start_ms}")
    lag = int(round((x[0, 0] - ecg_start_ms) / 1000.0 * fs))
    signal = np.concatenate([np.full(lag, np.nan), x[:, 1]]) if lag > 0 else x[-lag:, 1]
    return Channel(modality, OTHER_CLIPS[modality][2], signal, fs)


@register_source
class AscertainSource(Source):
    name = "ascertain"
    accepts = ("lead",)
    licence = "ASCERTAIN EULA: academic research only"

    def __init__(self, root: Any = None, **options: Any):
        super().__init__(root, **options)
        self.lead = option_choice("ascertain", self.options, "lead", "left", ("left", "right", "both"))

    def _ratings_file(self) -> Path | None:
        assert self.root is not None
        found = sorted(p for p in self.root.rglob("*.mat") if p.name.lower() == "dt_selfreports.mat")
        return found[0] if found else None

    def items(self) -> list[SourceItem]:
        root = self.root
        assert root is not None
        folders: dict[int, list[Path]] = {}
        for path in sorted(root.rglob("ECG_Clip*.mat")):
            m_clip, m_dir = _CLIP_RE.match(path.name), _FOLDER_RE.match(path.parent.name)
            if not (m_clip and m_dir):
                continue
            folders.setdefault(int(m_dir.group(1)), []).append(path)
        if not folders:
            raise DataError(root, "expected ASCERTAIN clips ECGData/Movie_P<NN>/ECG_Clip<k>.mat "
                                  "(searched recursively), found none")
        ratings = self._ratings_file()
        if ratings is None:
            warnings.warn(f"{root}: Dt_SelfReports.mat not found; ASCERTAIN recordings will have no labels",
                          stacklevel=2)
        items = []
        for number in sorted(folders):
            clips = sorted(folders[number], key=lambda p: int(_CLIP_RE.match(p.name).group(1)))  # type: ignore[union-attr]
            others = self._other_clips(clips)
            files = tuple(clips) + ((ratings,) if ratings else ()) + tuple(p for _k, _m, p in others)
            items.append(SourceItem(key=f"ascertain/P{number:02d}", files=files,
                                    params=(("participant", number), ("n_clips", len(clips)),
                                            ("ratings", str(ratings) if ratings else ""),
                                            *((("others", others),) if others else ()))))
        return items

    def _other_clips(self, clips: list[Path]) -> tuple[tuple[int, str, Path], ...]:
        """(clip, modality, file) of the EEG/GSR files beside ``clips`` that the store asks for."""
        found = []
        for path in clips:
            k = int(_CLIP_RE.match(path.name).group(1))  # type: ignore[union-attr]
            for modality in (m for m in OTHER_CLIPS if m in self.extra_modalities):
                folder, prefix, _name = OTHER_CLIPS[modality]
                other = path.parents[1].parent / folder / path.parent.name / f"{prefix}{k}.mat"
                if other.is_file():
                    found.append((k, modality, other))
        return tuple(found)

    def _load_ratings(self, path: Path, participant: int) -> np.ndarray:
        ratings = numeric_matrix(load_mat(path, ["Ratings"])["Ratings"], path, "Ratings", ndim=0)
        if ratings.ndim != 3 or ratings.shape[0] < 2 or ratings.shape[2] < N_CLIPS:
            raise DataError(path, f"expected Ratings of shape (rating types ≥ 2 × participants × "
                                  f"{N_CLIPS} clips), e.g. (5, 58, 36), found shape {ratings.shape}")
        if participant > ratings.shape[1]:
            raise DataError(path, f"expected Ratings to cover participant {participant}, "
                                  f"found {ratings.shape[1]} participants")
        return ratings[:, participant - 1, :]

    def load(self, item: SourceItem) -> Iterator[Recording | Skip]:
        participant = int(item.param("participant"))
        n_clips = int(item.param("n_clips"))
        clips = item.files[:n_clips]
        ratings_path = item.param("ratings") or ""
        ratings = self._load_ratings(Path(ratings_path), participant) if ratings_path else None
        subject = f"P{participant:02d}"
        lead_names = ["left", "right"] if self.lead == "both" else [self.lead]
        out: list[Recording | Skip] = []
        checks: list[np.ndarray] = []
        check_rates: list[float] = []
        for path in clips:
            k = int(_CLIP_RE.match(path.name).group(1))  # type: ignore[union-attr]
            try:
                x, cols = read_clip(path)
            except DataError as exc:
                out.append(Skip(str(path), exc.reason))
                continue
            fs, fs_ts = FS, rate_from_timestamps(x[:, 0])
            if np.isfinite(fs_ts) and 50 <= fs_ts <= 5000 and abs(fs_ts / FS - 1) > 0.02:
                warnings.warn(f"{path}: timestamps imply {fs_ts:.1f} Hz, not the nominal {FS:.0f} Hz; "
                              "using the timestamp rate", TimestampRateWarning, stacklevel=2)
                fs = fs_ts
            labels: dict[str, float] = {}
            if ratings is not None:
                if k <= ratings.shape[1]:
                    labels = {n: float(v) for n, v in zip(RATING_NAMES, ratings[:, k - 1])}
            channels = [self._other_channel(other, modality, x[0, 0])
                        for clip, modality, other in item.param("others", ()) if clip == k]
            channels = [c for c in channels if c is not None]
            check_col = cols[LEADS["left" if self.lead == "both" else self.lead]]
            if np.isfinite(x[:, check_col]).any():
                checks.append(x[:, check_col])
                check_rates.append(fs)
            for lead in lead_names:
                col = cols[LEADS[lead]]
                sig = np.ascontiguousarray(x[:, col])
                if not np.isfinite(sig).any():
                    out.append(Skip(f"{path} column {col}", "all samples are NaN"))
                    continue
                out.append(Recording(
                    signal=sig, fs=fs, dataset=self.name, subject=subject, trial=f"clip{k:02d}",
                    lead=f"ECG {lead.capitalize()}", labels=dict(labels), units="",
                    channels=channels + [Channel("ecg", f"ECG {o.capitalize()}", x[:, cols[LEADS[o]]], fs)
                                         for o in LEADS if o != lead],
                    provenance={"file": str(path), "variable": "Data_ECG", "column": col,
                                "labels_file": ratings_path, "licence": self.licence},
                    meta={"part": "stimulus", "clip": k, "n_columns": int(x.shape[1]),
                          "fs_nominal": FS, "fs_from_timestamps": fs_ts}))
        if checks:
            name = "left" if self.lead == "both" else self.lead
            check_heart_rate(checks, check_rates, clips[0].parent,
                             f"ECG {name} (Data_ECG column {lead_columns(3)[LEADS[name]]} or "
                             f"{lead_columns(6)[LEADS[name]]})")
        yield from out

    @staticmethod
    def _other_channel(path: Path, modality: str, ecg_start_ms: float) -> Channel | None:
        try:
            return read_other_clip(path, modality, ecg_start_ms)
        except DataError as exc:
            warnings.warn(f"{exc}; this clip is stored without {modality}", stacklevel=2)
            return None
