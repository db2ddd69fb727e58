"""Generic single-file sources: ``edf``, ``csv`` and ``npy``.

``--root`` is one file or a folder searched recursively. Each file is one
recording: subject = the file stem (or option ``subject``; when two files in
different folders share a stem, their relative paths tell them apart), trial =
the stem. Options: ``fs`` (required where the format has no rate), ``lead``
(channel/column name or 0-based index). These sources carry no labels; use
``manifest`` to attach ratings. With ``prepare --modalities ecg,eeg,...`` an EDF/BDF
file's other channels (a CSV file's other columns) come along when their labels announce
the modality (``EEG Fp1``, ``GSR``); option ``channels`` (``edf``, ``csv``) names the
modality of others: ``--set "channels=Frontal 1=eeg;Skin=eda"``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from ecgemotion.errors import DataError
from ecgemotion.io.readers import check_fs, read_signal
from ecgemotion.recording import Recording, parse_channel_map
from ecgemotion.sources import register_source
from ecgemotion.sources.base import Skip, Source, SourceItem, option


class SingleFileSource(Source):
    """One recording per file; subclasses only set ``name`` and ``extensions``."""

    extensions: ClassVar[tuple[str, ...]] = ()
    licence = "the user's own data"
    accepts = ("fs", "lead", "subject")

    def __init__(self, root=None, **options):
        super().__init__(root, **options)
        check_fs(option(self.options, "fs", None), f"source '{self.name}': --fs")
        self.channel_map = parse_channel_map(option(self.options, "channels", None))

    def _files(self) -> list[Path]:
        assert self.root is not None
        if self.root.is_file():
            if self.root.suffix.lower() not in self.extensions:
                raise DataError(self.root, f"source '{self.name}' reads {', '.join(self.extensions)} "
                                           f"files, not '{self.root.suffix or '(none)'}'")
            return [self.root]
        files = sorted(p for p in self.root.rglob("*")
                       if p.is_file() and p.suffix.lower() in self.extensions
                       and not any(part.startswith(".") for part in p.relative_to(self.root).parts))
        if not files:
            raise DataError(self.root, f"no {'/'.join(self.extensions)} files found (searched "
                                       "recursively)")
        return files

    def items(self) -> list[SourceItem]:
        files = self._files()
        base = self.root if self.root is not None and self.root.is_dir() else files[0].parent
        stems = Counter(p.stem for p in files)
        items = []
        for p in files:
            rel = p.relative_to(base)
            ident = p.stem if stems[p.stem] == 1 else rel.with_suffix("").as_posix()
            items.append(SourceItem(key=rel.as_posix(), files=(p,), params=(("id", ident),)))
        return items

    def load(self, item: SourceItem) -> Iterator[Recording | Skip]:
        path = item.files[0]
        sig = read_signal(path, fs=option(self.options, "fs", None),
                          lead=option(self.options, "lead", None), modalities=self.extra_modalities,
                          channel_map=self.channel_map)
        ident = item.param("id", path.stem)
        subject = option(self.options, "subject", None) or ident
        yield Recording(signal=sig.signal, fs=sig.fs, dataset=self.name, subject=subject,
                        trial=ident, lead=sig.lead, units=sig.units,
                        provenance={**sig.provenance, "licence": self.licence},
                        channels=sig.channels)


@register_source
class EdfSource(SingleFileSource):
    name = "edf"
    extensions = (".edf", ".bdf")
    accepts = (*SingleFileSource.accepts, "channels")


@register_source
class CsvSource(SingleFileSource):
    name = "csv"
    extensions = (".csv", ".tsv", ".txt")
    accepts = (*SingleFileSource.accepts, "channels")


@register_source
class NpySource(SingleFileSource):
    name = "npy"
    extensions = (".npy",)


__all__ = ["CsvSource", "EdfSource", "NpySource", "SingleFileSource"]
