"""The ``manifest`` source: a CSV the user writes, one row per recording.

Required columns: ``path, fs, subject, trial, lead``. ``fs`` and ``lead`` may be
blank (inferred where the format allows: EDF, WFDB, a CSV time column, a .mat
``fs`` variable); a blank ``trial`` becomes the file stem. Every other column is
a numeric label (``arousal``, ``valence``...) and becomes ``Recording.labels``;
a blank cell is a NaN label, which the label rule later drops.

Paths are relative to the manifest's folder. A path that escapes that folder
(absolute, or climbing out with ``..``) is refused with
:class:`~ecgemotion.errors.SecurityError` unless ``allow_absolute=True``: a
manifest from someone else must not make us read arbitrary files. The check is
lexical, so symbolic links the user placed inside the folder are followed.

A row whose file is missing or unreadable is skipped with its reason, the rest
of the manifest still loads. With ``prepare --modalities`` the files' other channels come
along as the ``edf``/``csv`` sources bring them (option ``channels`` as there).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path, PurePosixPath, PureWindowsPath

from ecgemotion.errors import ConfigError, DataError, SecurityError
from ecgemotion.io.readers import check_fs, read_signal
from ecgemotion.recording import Recording, parse_channel_map
from ecgemotion.sources import register_source
from ecgemotion.sources.base import Skip, Source, SourceItem, option

REQUIRED = ("path", "fs", "subject", "trial", "lead")


def _truthy(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


@register_source
class ManifestSource(Source):
    name = "manifest"
    accepts = ("allow_absolute", "channels")
    licence = "the user's own data"

    def __init__(self, root=None, **options):
        super().__init__(root, **options)
        self.channel_map = parse_channel_map(option(self.options, "channels", None))

    def _read(self):
        import pandas as pd

        assert self.root is not None
        if self.root.is_dir():
            raise ConfigError(f"source 'manifest': --root must be the manifest CSV file, "
                              f"not the folder {self.root}")
        try:
            table = pd.read_csv(self.root, dtype=str, keep_default_na=False, skipinitialspace=True,
                                encoding="utf-8-sig", comment=None)
        except UnicodeDecodeError:
            raise DataError(self.root, "not UTF-8 text; re-save the manifest as UTF-8") from None
        except Exception as exc:
            raise DataError(self.root, f"not a readable CSV manifest ({exc})") from None
        table.columns = [str(c).strip() for c in table.columns]
        lower = {c.lower(): c for c in table.columns}
        missing = [c for c in REQUIRED if c not in lower]
        if missing:
            raise DataError(self.root, f"manifest is missing column(s) {', '.join(missing)}; "
                                       f"required: {', '.join(REQUIRED)}; found: "
                                       f"{', '.join(table.columns) or '(none)'}")
        table = table.rename(columns={lower[c]: c for c in REQUIRED})
        label_cols = [c for c in table.columns if c not in REQUIRED]
        return table, label_cols

    def _resolve(self, raw: str, line: int) -> Path:
        assert self.root is not None
        base = self.root.parent
        allow = _truthy(option(self.options, "allow_absolute", False))
        if raw.startswith("~") or PurePosixPath(raw).is_absolute() or PureWindowsPath(raw).drive:
            if not allow:
                raise SecurityError(f"{self.root}: line {line}: absolute path '{raw}' refused; "
                                    "paths must be relative to the manifest's folder "
                                    "(pass allow_absolute=True to permit)")
            return Path(raw).expanduser()
        normal = os.path.normpath(raw)
        if normal == ".." or normal.startswith((".." + os.sep, "../", "..\\")):
            if not allow:
                raise SecurityError(f"{self.root}: line {line}: path '{raw}' escapes the manifest's "
                                    "folder; refused (pass allow_absolute=True to permit)")
        return base / normal

    def items(self) -> list[SourceItem]:
        table, label_cols = self._read()
        items = []
        for i, row in enumerate(table.to_dict("records")):
            line = i + 2  # 1-based, after the header
            raw_path = str(row["path"]).strip()
            if not raw_path:
                raise DataError(self.root, f"line {line}: empty path")
            path = self._resolve(raw_path, line)
            labels = []
            for col in label_cols:
                cell = str(row[col]).strip()
                if cell == "" or cell.lower() in ("nan", "na", "n/a"):
                    labels.append((col, math.nan))
                    continue
                try:
                    labels.append((col, float(cell)))
                except ValueError:
                    raise DataError(self.root, f"line {line}: label column '{col}' must be numeric, "
                                               f"found {cell!r}") from None
            fs_cell = str(row["fs"]).strip()
            try:
                fs = check_fs(fs_cell, "fs")
            except ConfigError:
                raise DataError(self.root, f"line {line}: fs must be blank or a positive number of "
                                           f"Hz, found {fs_cell!r}") from None
            params = (("line", line), ("path", raw_path), ("fs", fs),
                      ("subject", str(row["subject"]).strip()), ("trial", str(row["trial"]).strip()),
                      ("lead", str(row["lead"]).strip() or None), ("labels", tuple(labels)))
            files = (self.root, path) if path.is_file() else (self.root,)
            items.append(SourceItem(key=f"line{line}:{raw_path}", files=files, params=params))
        if not items:
            raise DataError(self.root, "manifest has no rows")
        return items

    def load(self, item: SourceItem) -> Iterator[Recording | Skip]:
        line, raw_path = item.param("line"), item.param("path")
        where = f"{self.root}:{line} ({raw_path})"
        if len(item.files) < 2:
            yield Skip(where, "file not found")
            return
        path = item.files[1]
        subject = item.param("subject")
        if not subject:
            yield Skip(where, "empty subject")
            return
        try:
            sig = read_signal(path, fs=item.param("fs"), lead=item.param("lead"),
                              modalities=self.extra_modalities, channel_map=self.channel_map)
        except (DataError, ConfigError) as exc:
            yield Skip(where, str(exc))
            return
        yield Recording(signal=sig.signal, fs=sig.fs, dataset=self.name, subject=subject,
                        trial=item.param("trial") or path.stem, lead=sig.lead, units=sig.units,
                        labels=dict(item.param("labels", ())),
                        provenance={**sig.provenance, "manifest": str(self.root),
                                    "manifest_line": line, "licence": self.licence},
                        channels=sig.channels)


__all__ = ["ManifestSource", "REQUIRED"]
