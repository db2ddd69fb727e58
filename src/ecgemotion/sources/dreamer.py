"""DREAMER: one ``DREAMER.mat`` holding 23 participants × 18 film clips.

Layout, and where each fact was confirmed:

- a single struct variable ``DREAMER`` with fields ``Data`` (1×23 cell),
  ``EEG_SamplingRate`` (128), ``ECG_SamplingRate`` (256), ``EEG_Electrodes``,
  ``noOfSubjects`` (23), ``noOfVideoSequences`` (18), ``Disclaimer``, ``Provider``…
  (a public notebook prints the struct as MATLAB shows it: "Data: {1×23 cell},
  EEG_SamplingRate: 128, ECG_SamplingRate: 256, …"; torcheeg ``DREAMERDataset``
  and other public loaders read ``DREAMER['Data'][0, s]``).
- each ``Data{s}`` is a struct with ``Age, Gender, EEG, ECG, ScoreValence,
  ScoreArousal, ScoreDominance``; ``ECG.stimuli`` and ``ECG.baseline`` are 18×1
  cells of (T × 2) matrices, the two ECG channels of the Shimmer sensor; scores are
  18×1, integers 1–5 (DREAMER paper, Katsigiannis & Ramzan, IEEE JBHI 2018, and
  the public loaders that index ``ECG.stimuli[v]`` / ``ScoreArousal[v]``).

- ``EEG.stimuli`` / ``EEG.baseline``: the same clips as (T × 14) matrices at
  ``EEG_SamplingRate`` = 128 Hz, columns in the order of ``EEG_Electrodes`` (the Emotiv
  EPOC's AF3 … AF4; DREAMER paper; torcheeg reads ``EEG.stimuli[v]`` as (T × 14)). Both
  are cut to the same clip (an EEG clip lasts as long as its ECG clip), so we take their
  first samples as the same instant; the file holds no timestamps to check it with.

Output: subjects ``"S01"``…``"S23"``; trials ``"stim01"``…``"stim18"`` for the film
clips (labels ``valence, arousal, dominance``, raw 1–5) and ``"base01"``… for the
neutral baseline clip shown before each film (no labels; useful unlabelled
pre-training data); ``meta["part"]`` is ``"stimulus"`` or ``"baseline"``. Every
recording also carries the clip's 14 EEG channels (named by ``EEG_Electrodes``) and the
other ECG column as channels, for multimodal stores.

Options: ``lead`` = 0 (default) or 1, the column of the T × 2 matrices (``both``
gives both, leads ``"ECG 0"``/``"ECG 1"``); ``parts`` = ``stimulus,baseline``
(default both), ``stimulus`` or ``baseline``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np

from ecgemotion.errors import ConfigError, DataError
from ecgemotion.io.matfile import as_cells, load_mat, scalar
from ecgemotion.recording import EMOTIV_EEG, Channel, Recording
from ecgemotion.sources import register_source
from ecgemotion.sources.base import Skip, Source, SourceItem, option
from ecgemotion.sources.checks import check_heart_rate

SUBJECT_FIELDS = ("ECG", "ScoreValence", "ScoreArousal", "ScoreDominance")
SCORES = (("valence", "ScoreValence"), ("arousal", "ScoreArousal"), ("dominance", "ScoreDominance"))
PARTS = {"stimulus": ("stimuli", "stim"), "baseline": ("baseline", "base")}


def _parse_parts(value: Any) -> tuple[str, ...]:
    if value is None:
        return ("stimulus", "baseline")
    items = value.split(",") if isinstance(value, str) else list(value)
    parts = []
    for p in items:
        p = str(p).strip().lower()
        p = {"stimuli": "stimulus", "stim": "stimulus", "base": "baseline", "baselines": "baseline"}.get(p, p)
        if p not in PARTS:
            raise ConfigError(f"source 'dreamer': option parts takes stimulus and/or baseline, found {p!r}")
        if p not in parts:
            parts.append(p)
    if not parts:
        raise ConfigError("source 'dreamer': option parts is empty")
    return tuple(parts)


def _parse_lead(value: Any) -> tuple[int, ...]:
    text = str(value).strip().lower()
    if text == "both":
        return (0, 1)
    if text in ("0", "1"):
        return (int(text),)
    raise ConfigError(f"source 'dreamer': option lead must be 0, 1 or both, found {value!r}")


@register_source
class DreamerSource(Source):
    name = "dreamer"
    accepts = ("lead", "parts")
    licence = "DREAMER EULA (Zenodo restricted access): academic research only"

    def __init__(self, root: Any = None, **options: Any):
        super().__init__(root, **options)
        self.leads = _parse_lead(option(self.options, "lead", 0))
        self.parts = _parse_parts(option(self.options, "parts", None))

    def items(self) -> list[SourceItem]:
        root = self.root
        assert root is not None
        if root.is_file():
            path = root
        else:
            found = sorted(p for p in root.rglob("*.mat") if p.name.lower() == "dreamer.mat")
            if not found:
                raise DataError(root, "expected DREAMER.mat (searched recursively), found none")
            if len(found) > 1:
                raise DataError(root, f"expected one DREAMER.mat, found {len(found)}: "
                                      + ", ".join(str(p) for p in found))
            path = found[0]
        # One item: the whole file is read once (loading it per subject would read it 23 times).
        return [SourceItem(key="dreamer/DREAMER", files=(path,))]

    def load(self, item: SourceItem) -> Iterator[Recording | Skip]:
        path = item.files[0]
        dreamer = load_mat(path, ["DREAMER"])["DREAMER"]
        if not isinstance(dreamer, dict):
            raise DataError(path, f"expected DREAMER to be a struct, found {type(dreamer).__name__}")
        for field in ("Data", "ECG_SamplingRate"):
            if field not in dreamer:
                raise DataError(path, f"expected field 'DREAMER.{field}', found: {', '.join(dreamer)}")
        fs = scalar(dreamer["ECG_SamplingRate"])
        if not fs > 0:
            raise DataError(path, f"expected DREAMER.ECG_SamplingRate to be a positive number, "
                                  f"found {dreamer['ECG_SamplingRate']!r}")
        eeg = _EegLayout(scalar(dreamer.get("EEG_SamplingRate")),
                         tuple(str(n).strip() for n in as_cells(dreamer.get("EEG_Electrodes", [])))
                         or EMOTIV_EEG)
        subjects = as_cells(dreamer["Data"])
        if not subjects or not all(isinstance(s, dict) for s in subjects):
            raise DataError(path, "expected DREAMER.Data to be a 1×23 cell of structs, found "
                                  f"{len(subjects)} entries of type "
                                  f"{', '.join(sorted({type(s).__name__ for s in subjects}))}")
        by_subject: list[tuple[str, list[Recording | Skip], list[np.ndarray]]] = []
        for s, entry in enumerate(subjects, start=1):
            by_subject.append(self._subject(path, s, entry, fs, eeg))
        all_checks = [sig for _sid, _out, sigs in by_subject for sig in sigs]
        check_heart_rate(all_checks, fs, path, f"ECG column {self.leads[0]} (DREAMER.Data{{s}}.ECG)")
        for _sid, out, _sigs in by_subject:
            yield from out

    def _subject(self, path: Any, s: int, entry: dict[str, Any], fs: float, eeg: "_EegLayout"
                 ) -> tuple[str, list[Recording | Skip], list[np.ndarray]]:
        sid = f"S{s:02d}"
        out: list[Recording | Skip] = []
        checks: list[np.ndarray] = []
        missing = [f for f in SUBJECT_FIELDS if f not in entry]
        if missing:
            out.append(Skip(f"{path} Data{{{s}}}", f"expected fields {', '.join(SUBJECT_FIELDS)}, "
                                                  f"missing: {', '.join(missing)}; found: {', '.join(entry)}"))
            return sid, out, checks
        ecg = entry["ECG"]
        if not isinstance(ecg, dict):
            out.append(Skip(f"{path} Data{{{s}}}.ECG", f"expected a struct with stimuli and baseline, "
                                                       f"found {type(ecg).__name__}"))
            return sid, out, checks
        scores = {}
        for label, field in SCORES:
            vals = np.asarray(entry[field], dtype=np.float64).ravel()
            scores[label] = vals
        for part in self.parts:
            field, prefix = PARTS[part]
            if field not in ecg:
                out.append(Skip(f"{path} Data{{{s}}}.ECG", f"expected field '{field}', found: {', '.join(ecg)}"))
                continue
            clips = as_cells(ecg[field])
            eeg_clips = as_cells(entry["EEG"][field]) if isinstance(entry.get("EEG"), dict) \
                and field in entry["EEG"] else []
            for v, raw in enumerate(clips, start=1):
                where = f"{path} Data{{{s}}}.ECG.{field}{{{v}}}"
                trial = f"{prefix}{v:02d}"
                x = np.asarray(raw)
                if x.size == 0:
                    out.append(Skip(where, "empty recording"))
                    continue
                if x.dtype.kind not in "biuf" or x.ndim != 2 or x.shape[1] != 2:
                    out.append(Skip(where, f"expected a (samples × 2) matrix, found shape {x.shape}"))
                    continue
                x = x.astype(np.float64, copy=False)
                labels: dict[str, float] = {}
                if part == "stimulus":
                    for label, vals in scores.items():
                        labels[label] = float(vals[v - 1]) if v - 1 < vals.size else float("nan")
                if np.isfinite(x[:, self.leads[0]]).any():
                    checks.append(x[:, self.leads[0]])
                brain = self._eeg_channels(eeg, eeg_clips[v - 1] if v <= len(eeg_clips) else None,
                                           f"{path} Data{{{s}}}.EEG.{field}{{{v}}}")
                for lead in self.leads:
                    sig = np.ascontiguousarray(x[:, lead])
                    if not np.isfinite(sig).any():
                        out.append(Skip(f"{where} column {lead}", "all samples are NaN"))
                        continue
                    out.append(Recording(
                        signal=sig, fs=fs, dataset=self.name, subject=sid, trial=trial,
                        lead=f"ECG {lead}", labels=dict(labels), units="",
                        channels=brain + [Channel("ecg", f"ECG {k}", x[:, k], fs) for k in (0, 1) if k != lead],
                        provenance={"file": str(path), "variable": f"DREAMER.Data{{{s}}}.ECG.{field}{{{v}}}",
                                    "column": lead, "licence": self.licence},
                        meta={"part": part, "clip": v, "mains_hz": 50,
                              "age": entry.get("Age"), "gender": entry.get("Gender")}))
        return sid, out, checks

    def _eeg_channels(self, layout: "_EegLayout", raw: Any, where: str) -> list[Channel]:
        """The clip's EEG as one channel per electrode; none (with a warning when the store
        asks for EEG) when it is not a (samples × electrodes) matrix at a known rate."""
        x = np.asarray(raw) if raw is not None else np.zeros((0, 0))
        if x.dtype.kind in "biuf" and x.ndim == 2 and x.shape[0] and x.shape[1] == len(layout.names) \
                and layout.fs > 0:
            x = x.astype(np.float64, copy=False)
            return [Channel("eeg", name, x[:, j], layout.fs) for j, name in enumerate(layout.names)]
        if "eeg" in self.extra_modalities:
            warnings.warn(f"{where}: expected EEG as a (samples × {len(layout.names)}) matrix at "
                          f"DREAMER.EEG_SamplingRate, found shape {x.shape} at {layout.fs:g} Hz; "
                          "this clip is stored without EEG", stacklevel=2)
        return []


class _EegLayout(NamedTuple):
    fs: float
    names: tuple[str, ...]
