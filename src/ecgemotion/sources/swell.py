"""SWELL-KW (Koldijk et al., ICMI 2014): office work under stressors, ECG at 2048 Hz.

Where the layout facts come from:

- The raw ECG was recorded with a TMSi Mobi at 2048 Hz and exported per
  participant and block as text, ``pp<N>_c<k>.txt``, in the DANS archive folder
  ``0 - Raw data/D - Physiology - raw data/Mobi signals text/`` (path used by a
  public SWELL loader that reads each file with ``np.loadtxt`` as one column of
  samples and resamples from 2048 Hz; the participant id is the part before the
  first ``_``). The WildECG loader (Avramidis et al.) reads a CSV re-export
  with all samples on one comma-separated line. Both shapes are accepted here;
  for a multi-column export pick the ECG with option ``column``.
- ``c<k>`` is the block (1-3). In the per-minute feature files (e.g. ``D -
  Physiology features (HR_HRV_SCL - final).csv``, columns ``PP, C, Condition``;
  published with github.com/ggerardlatek/STREDWES-SWELL) every block starts
  with a relaxation period (``R``) followed by one task condition: block 1 is
  ``N`` (neutral), blocks 2 and 3 are ``T`` (time pressure) and ``I`` (email
  interruptions) in counterbalanced order (PP1: T then I; PP2: I then T). So
  the block's condition is read from the sheet, never assumed. ``999`` marks
  a missing value in those sheets.
- Labels: ``Behavioral-features - per minute.xlsx`` (first sheet), one row per
  minute with ``PP`` (``PP1``...), ``Blok`` (block), ``Condition`` and the
  block's questionnaire ratings ``Valence_rc, Arousal_rc, Dominance, Stress,
  MentalEffort, MentalDemand, PhysicalDemand, TemporalDemand, Effort,
  Performance_rc, Frustration`` (column names as used by the public loaders;
  ``_rc`` = recoded so that high means high). The ratings are per block, so we
  take each rating's median over the block's task-condition minutes.

Reading ``.xlsx`` needs ``openpyxl`` (not installed by default): without it,
export the sheet to CSV next to it (same name, ``.csv``) or pass
``labels=PATH.csv``; ``labels=none`` loads the ECG unlabelled (pre-training).

Recordings: subject ``PP<N>``, trial ``c<k>``; labels are the ratings
(lower-case, ``_rc`` dropped: ``valence``, ``arousal``, ``stress``...) plus
``stressor`` (0 for N, 1 for T or I) and ``condition`` (0 = N, 1 = T, 2 = I);
``meta['condition']`` holds the letter.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ecgemotion.errors import ConfigError, DataError
from ecgemotion.io.readers import check_fs, read_table
from ecgemotion.recording import Recording
from ecgemotion.sources import register_source
from ecgemotion.sources.base import Skip, Source, SourceItem, option

FS = 2048.0
LABEL_FILE = "Behavioral-features - per minute"
CONDITION_CODES = {"N": 0.0, "T": 1.0, "I": 2.0}
CONDITION_NAMES = {"N": "neutral", "T": "time pressure", "I": "interruption", "R": "relax"}
RATINGS = ("Valence_rc", "Arousal_rc", "Dominance", "Stress", "MentalEffort", "MentalDemand",
           "PhysicalDemand", "TemporalDemand", "Effort", "Performance_rc", "Frustration")
MISSING = 999.0
_FILE = re.compile(r"^pp(?P<pp>\d+)_(?:.*_)?c(?P<block>\d+)$", re.IGNORECASE)


def _label_name(column: str) -> str:
    name = column[:-3] if column.lower().endswith("_rc") else column
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()  # MentalEffort -> mental_effort


def read_label_sheet(path: Path) -> dict[tuple[str, int], dict]:
    """Per (participant, block): ratings and condition letter, from xlsx or csv."""
    import pandas as pd

    if path.suffix.lower() in (".xlsx", ".xlsm", ".xls"):
        try:
            import openpyxl  # noqa: F401
        except ImportError:
            raise ConfigError(
                f"{path}: reading .xlsx needs openpyxl (pip install openpyxl); or export the first "
                f"sheet to CSV as '{path.with_suffix('.csv').name}' next to it, or pass "
                "labels=PATH.csv") from None
        try:
            table = pd.read_excel(path, sheet_name=0)
        except Exception as exc:
            raise DataError(path, f"cannot read the label sheet ({exc})") from None
    else:
        try:
            table = pd.read_csv(path, encoding="utf-8-sig", sep=None, engine="python")
        except UnicodeDecodeError:
            raise DataError(path, "not UTF-8 text; export the sheet as UTF-8 CSV") from None
        except Exception as exc:
            raise DataError(path, f"cannot read the label sheet ({exc})") from None
    table.columns = [str(c).strip() for c in table.columns]
    lower = {c.lower(): c for c in table.columns}
    block_col = lower.get("blok") or lower.get("block") or lower.get("c")
    missing = [n for n, c in (("PP", lower.get("pp")), ("Blok", block_col)) if c is None]
    if missing:
        raise DataError(path, f"label sheet lacks column(s) {', '.join(missing)}; found: "
                              + ", ".join(table.columns))
    ratings = [lower[r.lower()] for r in RATINGS if r.lower() in lower]
    if not ratings:
        raise DataError(path, "label sheet has none of the rating columns " + ", ".join(RATINGS))
    cond_col = lower.get("condition")
    out: dict[tuple[str, int], dict] = {}
    pp = table[lower["pp"]].astype(str).str.strip().str.upper()
    pp = pp.where(pp.str.startswith("PP"), "PP" + pp)
    block = pd.to_numeric(table[block_col], errors="coerce")
    for (p, b), rows in table.groupby([pp, block]):
        if pd.isna(b) or float(b) != int(b):
            continue
        task = rows
        condition = None
        if cond_col is not None:
            letters = rows[cond_col].astype(str).str.strip().str.upper()
            task_letters = letters[letters.isin(list(CONDITION_CODES))]
            if len(task_letters):
                condition = task_letters.mode().iloc[0]
                task = rows[letters == condition]
        values = {}
        for col in ratings:
            v = pd.to_numeric(task[col], errors="coerce").replace(MISSING, np.nan)
            values[_label_name(col)] = float(v.median()) if v.notna().any() else math.nan
        out[(p, int(b))] = {"ratings": values, "condition": condition}
    return out


def _single_line(path: Path) -> np.ndarray | None:
    """The samples of a file holding one line of many delimited numbers, else None."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(1 << 16)
    except OSError as exc:
        raise DataError(path, f"cannot read file ({exc.strerror or exc})") from None
    if b"\n" in head.rstrip():
        return None
    if head.count(b",") + head.count(b"\t") + head.count(b";") < 2:
        return None
    raw = path.read_bytes()
    if raw.rstrip().count(b"\n"):
        return None
    try:
        text = raw.decode("utf-8-sig").strip()
    except UnicodeDecodeError:
        raise DataError(path, "line 1: not UTF-8 text") from None
    delimiter = next(d for d in (",", "\t", ";") if d in text)
    try:
        return np.array([float(v) if v.strip() else np.nan for v in text.split(delimiter)])
    except ValueError as exc:
        raise DataError(path, f"line 1: non-numeric value ({exc})") from None


@register_source
class SwellSource(Source):
    name = "swell"
    accepts = ("fs", "labels", "column")
    licence = "SWELL-KW: CC BY 4.0 (DANS, doi:10.17026/dans-x55-69zp)"

    def __init__(self, root=None, **options):
        super().__init__(root, **options)
        self.fs = check_fs(option(self.options, "fs", FS), "swell: fs") or FS

    def _label_path(self) -> Path | None:
        assert self.root is not None
        given = option(self.options, "labels", None)
        if isinstance(given, str) and given.strip().lower() in ("none", "off", "false", ""):
            return None
        if given is False:
            return None
        if given is not None:
            path = Path(given).expanduser()
            if not path.is_absolute():
                path = (self.root if self.root.is_dir() else self.root.parent) / path
            if not path.is_file():
                raise ConfigError(f"swell: label file {path} does not exist")
            return path
        base = self.root if self.root.is_dir() else self.root.parent
        candidates = sorted(base.rglob(f"{LABEL_FILE}*"))
        csv = [p for p in candidates if p.suffix.lower() == ".csv"]
        xlsx = [p for p in candidates if p.suffix.lower() in (".xlsx", ".xlsm")]
        if csv:
            return csv[0]
        if xlsx:
            return xlsx[0]
        raise DataError(base, f"no '{LABEL_FILE}.xlsx' (or .csv export) found under the root; "
                              "pass labels=PATH, or labels=none to load the ECG unlabelled")

    def items(self) -> list[SourceItem]:
        assert self.root is not None
        files = [self.root] if self.root.is_file() else sorted(
            p for p in self.root.rglob("*") if p.is_file() and p.suffix.lower() in (".txt", ".csv")
            and _FILE.match(p.stem))
        files = [p for p in files if _FILE.match(p.stem)]
        if not files:
            raise DataError(self.root, "no SWELL ECG exports found; expected files named "
                                       "pp<N>_c<k>.txt (e.g. pp1_c1.txt) under the root")
        label_path = self._label_path()
        sheet = read_label_sheet(label_path) if label_path is not None else None
        items = []
        for p in files:
            m = _FILE.match(p.stem)
            assert m is not None
            pp, block = f"PP{int(m.group('pp'))}", int(m.group("block"))
            params: list[tuple] = [("pp", pp), ("block", block)]
            if sheet is not None:
                entry = sheet.get((pp, block))
                params.append(("labelled", entry is not None))
                if entry is not None:
                    params.append(("ratings", tuple(sorted(entry["ratings"].items()))))
                    params.append(("condition", entry["condition"]))
            files_ = (p,) if label_path is None else (p, label_path)
            items.append(SourceItem(key=f"{pp}/c{block}", files=files_, params=tuple(params)))
        return items

    def _read_ecg(self, path: Path) -> tuple[np.ndarray, str]:
        one_line = _single_line(path)
        if one_line is not None:  # all samples on one line (the WildECG CSV re-export)
            return one_line, "row0"
        names, data, _ = read_table(path)
        column = option(self.options, "column", None)
        if data.shape[1] == 1:
            return data[:, 0], names[0]
        if column is None:
            ecg = [i for i, n in enumerate(names) if re.search(r"ecg|ekg", n, re.IGNORECASE)]
            if len(ecg) != 1:
                raise DataError(path, f"{data.shape[1]} columns ({', '.join(names)}); pass "
                                      "column=NAME|INDEX to choose the ECG")
            return data[:, ecg[0]], names[ecg[0]]
        lowered = [n.lower() for n in names]
        if str(column).lower() in lowered:
            i = lowered.index(str(column).lower())
        else:
            try:
                i = int(column)
            except (TypeError, ValueError):
                raise ConfigError(f"swell: no column {column!r} in {path}; found "
                                  + ", ".join(names)) from None
            if not 0 <= i < len(names):
                raise ConfigError(f"swell: column index {i} out of range for {path}")
        return data[:, i], names[i]

    def load(self, item: SourceItem) -> Iterator[Recording | Skip]:
        path = item.files[0]
        pp, block = item.param("pp"), item.param("block")
        signal, column = self._read_ecg(path)
        where = f"{path}"
        if item.param("labelled") is False:
            yield Skip(where, f"no rows for {pp} block {block} in the label sheet")
            return
        if not np.isfinite(signal).any():
            yield Skip(where, "ECG has no finite samples")
            return
        labels: dict[str, float] = {}
        meta: dict = {"block": block}
        condition = item.param("condition")
        if item.param("ratings") is not None:
            labels.update(dict(item.param("ratings")))
            if condition in CONDITION_CODES:
                labels["condition"] = CONDITION_CODES[condition]
                labels["stressor"] = 0.0 if condition == "N" else 1.0
                meta["condition"] = condition
                meta["condition_name"] = CONDITION_NAMES[condition]
        yield Recording(signal=np.asarray(signal, dtype=np.float64), fs=self.fs, dataset=self.name,
                        subject=pp, trial=f"c{block}", lead="ECG", labels=labels,
                        provenance={"file": str(path), "column": column,
                                    "labels_file": str(item.files[1]) if len(item.files) > 1 else None,
                                    "licence": self.licence},
                        meta=meta)


__all__ = ["CONDITION_CODES", "FS", "RATINGS", "SwellSource", "read_label_sheet"]
