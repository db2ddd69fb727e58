"""AMIGOS, pre-processed release: one ``Data_Preprocessed_PNN.mat`` per participant.

Layout, and where each fact was confirmed:

- ``Data_Preprocessed_P01.mat`` … ``P40.mat``, each possibly inside its own
  ``Data_Preprocessed_P01/`` folder (AMIGOS readme file listing; public loaders glob
  ``**/Data_Preprocessed_P*.mat``, e.g. torcheeg ``AMIGOSDataset`` and several
  GitHub AMIGOS loaders).
- ``joined_data``: 1×20 cell, trial i a (samples × 17) matrix at 128 Hz (torcheeg
  ``AMIGOSDataset`` comments "trail (20), timestep(n*128), channel(17) (14 channels
  are EEGs)"; pyAffeCT's AMIGOS loader uses 128 Hz). Columns 0–13 EEG, 14 ECG right,
  15 ECG left, 16 GSR, 0-based (public loaders read ECG from columns 14/15 and GSR
  from 16; the channel names are those of the AMIGOS readme's pre-processed data
  description; not confirmed from the readme text itself, hence the heart-rate
  plausibility check on every file).
- ``labels_selfassessment``: 1×20 cell of 1×12: arousal, valence, dominance,
  liking, familiarity, then seven 0/1 basic emotions (AMIGOS readme: "rated each
  video in valence, arousal, dominance, familiarity and liking, and selected basic
  emotions (Neutral, Happiness, Sadness, Surprise, Fear, Anger, and Disgust)";
  public loaders read arousal at index 0 and valence at 1, torcheeg "(1, 12)").
- ``VideoIDs``: 1×20 cell of video identifiers (public loaders index trials with
  ``np.where(VideoIDs == id)``); we use them as trial ids.
- Participants 8, 24 and 28 did not take part in the long-video experiment, their
  trials 16–19 are empty (AMIGOS readme: 37 of the 40 participants did the long
  videos; public loaders skip those trials for 8, 24, 28). Participants
  9, 12, 21, 22, 23, 24, 33 are commonly skipped for invalid/NaN data (pyAffeCT and
  torcheeg defaults).

Output: subjects are spelled ``"P01"``…``"P40"``; trials are the ``VideoIDs``
strings (``"10"``, ``"N1"``…), or ``"trial01"``… when the file has no ``VideoIDs``.
Every recording also carries the trial's other columns as channels (14 EEG named
``AF3``…``AF4``, the other ECG lead, ``GSR`` as eda) for multimodal stores.
Labels are the raw 1–9 floats ``arousal, valence, dominance, liking, familiarity``
(NaN stays NaN). NaN stretches inside a trial are kept as NaN (the preprocessing
repairs short gaps and rejects windows with long ones); an all-NaN or empty trial is
skipped with a reason.

Options: ``lead`` = ``left`` (default, the paper's choice) | ``right`` | ``both``
(two recordings per trial, leads ``"ECG Left"``/``"ECG Right"``);
``skip_subjects`` = list or comma string of participant numbers, ``"none"`` for none
(default: 9, 12, 21, 22, 23, 24, 33); skipped participants are reported as skips.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import numpy as np

from ecgemotion.errors import ConfigError, DataError
from ecgemotion.io.matfile import as_cells, load_mat
from ecgemotion.recording import EMOTIV_EEG, Channel, Recording
from ecgemotion.sources import register_source
from ecgemotion.sources.base import Skip, Source, SourceItem, option, option_choice
from ecgemotion.sources.checks import check_heart_rate

FS = 128.0
N_COLUMNS = 17
# Columns 0-13 are the Emotiv EPOC's electrodes (recording.EMOTIV_EEG), then the two ECG leads
# and GSR: every column travels as a channel.
GSR_COLUMN = 16
LEAD_COLUMNS = {"right": (14, "ECG Right"), "left": (15, "ECG Left")}
RATING_NAMES = ("arousal", "valence", "dominance", "liking", "familiarity")
DEFAULT_SKIP = (9, 12, 21, 22, 23, 24, 33)
_FILE_RE = re.compile(r"^Data_Preprocessed_P(\d+)\.mat$", re.IGNORECASE)


def parse_subject_list(value: Any, default: tuple[int, ...], name: str) -> tuple[int, ...]:
    """``None`` → default; ``"none"``/``""``/``[]`` → (); ``"9,12"`` or ``[9, 12]`` → (9, 12)."""
    if value is None:
        return default
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("", "none", "no", "false"):
            return ()
        if text == "default":
            return default
        parts = [p for p in re.split(r"[,\s]+", text) if p]
    elif isinstance(value, (int, np.integer)):
        parts = [value]
    else:
        parts = list(value)
    try:
        return tuple(sorted({int(str(p).lstrip("pP")) for p in parts}))
    except ValueError:
        raise ConfigError(f"option {name}: expected participant numbers like '9,12' or 'none', "
                          f"found {value!r}") from None


def _video_id(value: Any) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, np.ndarray):
        value = value.item() if value.size == 1 else "".join(map(str, value.ravel()))
        return _video_id(value)
    return str(value).strip()


@register_source
class AmigosSource(Source):
    name = "amigos"
    accepts = ("lead", "skip_subjects")
    licence = "AMIGOS EULA: academic research only, no redistribution"

    def __init__(self, root: Any = None, **options: Any):
        super().__init__(root, **options)
        self.lead = option_choice("amigos", self.options, "lead", "left", ("left", "right", "both"))
        self.skip_subjects = parse_subject_list(option(self.options, "skip_subjects", None),
                                                DEFAULT_SKIP, "skip_subjects")

    def items(self) -> list[SourceItem]:
        root = self.root
        assert root is not None
        paths = [root] if root.is_file() else sorted(root.rglob("*.mat"))
        found: dict[int, Any] = {}
        for path in paths:
            m = _FILE_RE.match(path.name)
            if not m:
                continue
            number = int(m.group(1))
            if number in found:
                raise DataError(path, f"participant {number} appears twice (also {found[number]})")
            found[number] = path
        if not found:
            raise DataError(root, "expected AMIGOS files Data_Preprocessed_P01.mat ... "
                                  "Data_Preprocessed_P40.mat (searched recursively), found none")
        return [SourceItem(key=f"amigos/P{n:02d}", files=(found[n],),
                           params=(("participant", n),)) for n in sorted(found)]

    def load(self, item: SourceItem) -> Iterator[Recording | Skip]:
        path = item.files[0]
        participant = int(item.param("participant"))
        subject = f"P{participant:02d}"
        if participant in self.skip_subjects:
            yield Skip(str(path), f"participant {participant} in skip list")
            return
        present = _peek(path)
        content = load_mat(path, ["joined_data", "labels_selfassessment"]
                           + [v for v in ("VideoIDs", "synthetic") if v in present])
        # the demo's files say they are invented (a 'synthetic' variable); so must the store
        synthetic = str(content["synthetic"]) if "synthetic" in content else None
        trials = as_cells(content["joined_data"])
        labels = as_cells(content["labels_selfassessment"])
        if len(trials) < 1 or any(isinstance(t, (dict, list, str)) for t in trials):
            raise DataError(path, f"expected joined_data to be a 1×20 cell of (samples × {N_COLUMNS}) "
                                  f"matrices, found {_describe(content['joined_data'])}")
        if len(labels) != len(trials):
            raise DataError(path, f"expected labels_selfassessment to have one entry per trial "
                                  f"({len(trials)}), found {len(labels)}")
        if "VideoIDs" in content:
            ids = [_video_id(v) for v in as_cells(content["VideoIDs"])]
            if len(ids) != len(trials):
                raise DataError(path, f"expected VideoIDs to have one entry per trial ({len(trials)}), "
                                      f"found {len(ids)}: trial order cannot be checked")
            if len(set(ids)) != len(ids):
                raise DataError(path, f"expected distinct VideoIDs, found duplicates in {ids}")
            id_variable = "VideoIDs"
        else:
            ids = [f"trial{i + 1:02d}" for i in range(len(trials))]
            id_variable = ""

        leads = ["left", "right"] if self.lead == "both" else [self.lead]
        main_col, main_name = LEAD_COLUMNS["left" if self.lead == "both" else self.lead]
        out: list[Recording | Skip] = []
        check_signals: list[np.ndarray] = []
        for i, (raw, lab, vid) in enumerate(zip(trials, labels, ids)):
            where = f"{path} trial {i + 1} (video {vid})"
            x = np.asarray(raw) if not isinstance(raw, (int, float)) else np.asarray([[raw]])
            if x.size == 0:
                reason = "empty trial"
                if i >= 16:
                    reason += " (long video; this participant did not do the long-video experiment)"
                out.append(Skip(where, reason))
                continue
            if x.dtype.kind not in "biuf" or x.ndim != 2 or x.shape[1] != N_COLUMNS:
                out.append(Skip(where, f"expected a (samples × {N_COLUMNS}) matrix, "
                                       f"found shape {x.shape} dtype {x.dtype}"))
                continue
            x = x.astype(np.float64, copy=False)
            values = np.asarray(lab, dtype=np.float64).ravel() if np.size(lab) else np.zeros(0)
            if values.size and values.size < len(RATING_NAMES):
                out.append(Skip(where, f"expected labels_selfassessment entry of 12 values, "
                                       f"found {values.size}"))
                continue
            ratings = ({n: float(v) for n, v in zip(RATING_NAMES, values[:len(RATING_NAMES)])}
                       if values.size else {})
            if np.isfinite(x[:, main_col]).any():
                check_signals.append(x[:, main_col])
            for lead in leads:
                col, lead_name = LEAD_COLUMNS[lead]
                sig = np.ascontiguousarray(x[:, col])
                if not np.isfinite(sig).any():
                    out.append(Skip(f"{where} {lead_name}", "all samples are NaN"))
                    continue
                meta: dict[str, Any] = {"part": "stimulus", "trial_index": i, "video_id": vid,
                                        "long_video": i >= 16, "mains_hz": 50}
                if not ratings:
                    meta["labels_missing"] = True
                out.append(Recording(
                    signal=sig, fs=FS, dataset=self.name, subject=subject, trial=vid,
                    lead=lead_name, labels=dict(ratings), units="", channels=_channels(x, col),
                    provenance={"file": str(path), "variable": f"joined_data{{{i + 1}}}",
                                "column": col, "labels_variable": f"labels_selfassessment{{{i + 1}}}",
                                "trial_id_variable": id_variable, "licence": self.licence,
                                "synthetic": synthetic},
                    meta=meta))
        check_heart_rate(check_signals, FS, path, f"{main_name} (column {main_col})")
        yield from out


def _channels(x: np.ndarray, ecg_column: int) -> list[Channel]:
    """Every column but the recording's own ECG lead, as a channel with its modality."""
    eeg = [Channel("eeg", name, x[:, j], FS) for j, name in enumerate(EMOTIV_EEG)]
    other = [Channel("ecg", name, x[:, col], FS) for col, name in LEAD_COLUMNS.values()
             if col != ecg_column]
    return eeg + other + [Channel("eda", "GSR", x[:, GSR_COLUMN], FS)]


def _peek(path: Any) -> list[str]:
    from ecgemotion.io.matfile import list_variables
    return list_variables(path)


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"{value.dtype} array of shape {value.shape}"
    return type(value).__name__
