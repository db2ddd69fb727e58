"""Store identity and integrity through the CLI.

Every preprocessing flag of ``ecgemotion prepare``, every option every source accepts
(enumerated from ``Source.accepts``, so a new option cannot be forgotten) and every
source file goes into the store's identity (a new folder when any of them changes), and a damaged store
(truncated shard, one flipped byte, edited ``index.csv``, missing ``meta.json``) is
detected, refused by ``WindowStore.open`` and rebuilt by the next ``prepare``.
``tests/store/test_store.py`` covers the same through the Python API.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from ecgemotion.cli import main
from ecgemotion.errors import ConfigError, DataError
from ecgemotion.preprocess import PreprocessConfig
from ecgemotion.sources import available_sources, file_fingerprint, get_source, source_class
from ecgemotion.store import WindowStore, check_store
from ecgemotion.store.build import store_identity
from tests.fixtures.emotion_layouts import (write_amigos, write_ascertain, write_dreamer,
                                            write_pspm)
from tests.fixtures.other_layouts import (write_case, write_csv, write_edf, write_manifest,
                                          write_npy, write_swell, write_wesad, write_wfdb)


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("study")
    write_npy(data / "a.npy", seconds=30, fs=250, seed=1)
    write_npy(data / "b.npy", seconds=30, fs=250, seed=2)
    return write_manifest(data, [
        {"path": "a.npy", "fs": 250, "subject": "u1", "trial": "t1", "arousal": 7, "valence": 2},
        {"path": "b.npy", "fs": 250, "subject": "u2", "trial": "t1", "arousal": 3, "valence": 8},
    ])


def prepare(capsys, manifest: Path, out: Path, *flags: str) -> dict:
    capsys.readouterr()
    code = main(["prepare", "--json", "--quiet", "--workers", "1", "--dataset", "manifest",
                 "--root", str(manifest), "--out", str(out), *flags])
    lines = capsys.readouterr().out.strip().splitlines()
    assert code == 0, lines
    return json.loads(lines[-1])


FLAG_CHANGES = [
    ("--target-fs", "100"), ("--window", "5"), ("--step", "5"), ("--band", "1,30"),
    ("--notch", "50"), ("--max-gap", "0.25"), ("--normalize", "recording"), ("--dtype", "float16"),
    ("--label-rule", "threshold:5"),
]


def test_every_flag_and_every_file_changes_the_store_path(study, tmp_path, capsys):
    out = tmp_path / "stores"
    base = prepare(capsys, study, out)
    assert prepare(capsys, study, out)["reused"] is True
    paths = {base["store"]}
    for flag, value in FLAG_CHANGES:
        s = prepare(capsys, study, out, flag, value)
        assert s["reused"] is False, flag
        assert s["store"] not in paths, f"{flag} {value} reused another store's folder"
        paths.add(s["store"])
    assert prepare(capsys, study, out)["store"] == base["store"]  # the default is still reused

    # Each source file: the signal, then the manifest itself (a label edit).
    npy = study.parent / "b.npy"
    original_npy, original_manifest = npy.read_bytes(), study.read_bytes()
    try:
        x = np.load(npy)
        x[10] += 0.5
        np.save(npy, x)
        s = prepare(capsys, study, out)
        assert s["store"] not in paths and s["reused"] is False
        paths.add(s["store"])
        npy.write_bytes(original_npy)
        study.write_text(study.read_text().replace("u2,t1,,3,8", "u2,t1,,4,8"))
        s = prepare(capsys, study, out)
        assert s["store"] not in paths and s["reused"] is False
    finally:
        npy.write_bytes(original_npy)
        study.write_bytes(original_manifest)


def _wfdb(folder: Path) -> Path:
    write_wfdb(folder, "rec1")
    write_wfdb(folder, "rec2", seed=3)
    (folder / "labels.csv").write_text("rec1,A\nrec2,N\n")
    (folder / "other.csv").write_text("rec1,N\nrec2,A\n")
    return folder


def _manifest(folder: Path) -> Path:
    write_npy(folder / "a.npy")
    return write_manifest(folder, [{"path": "a.npy", "fs": 250, "subject": "u1", "arousal": 3}])


def _file(writer, name):
    return lambda folder: writer(folder / name)


def _in(writer, **kw):
    def write(folder: Path) -> Path:
        writer(folder, **kw)
        return folder
    return write


# Each source: a writer of a small dataset (folder -> root), and two valid values for every
# option it accepts. A source or option missing here fails the test below.
SOURCE_OPTIONS = {
    "amigos": (_in(write_amigos, subjects=(1, 2), n_trials=2),
               {"lead": ("right", "both"), "skip_subjects": ("2", "none")}),
    "ascertain": (_in(write_ascertain, subjects=(1, 2), n_clips=1), {"lead": ("right", "both")}),
    "case": (_in(write_case, subjects=(1,)), {"videos": ("1,2", "all")}),
    "dreamer": (_in(write_dreamer, subjects=1, n_videos=2),
                {"lead": ("1", "both"), "parts": ("baseline", "stimulus,baseline")}),
    "edf": (_file(write_edf, "a.edf"),
            {"fs": ("256", "512"), "lead": ("ECG I", "0"), "subject": ("p1", "p2"),
             "channels": ("Fz=eeg", "Fz=none")}),
    "csv": (_file(write_csv, "a.csv"),
            {"fs": ("250", "500"), "lead": ("ECG", "resp"), "subject": ("p1", "p2"),
             "channels": ("resp=resp", "resp=bvp")}),
    "npy": (_file(write_npy, "a.npy"),
            {"fs": ("250", "500"), "lead": ("0", "1"), "subject": ("p1", "p2")}),
    "manifest": (_manifest, {"allow_absolute": ("true", "false"), "channels": ("x=eeg", "x=eda")}),
    "open-ecg": (lambda folder: None, {"packages": ("peakdet", "pyhrv,peakdet"),
                                       "licence": ("permissive", "all"),
                                       "license": ("permissive", "all")}),
    "pspm": (_in(write_pspm, subjects=(1, 2)), {"pattern": ("*.mat", "tpspm_s01.mat")}),
    "swell": (_in(write_swell, participants=(1,)),
              {"fs": ("1024", "512"), "labels": ("none", "off"), "column": ("0", "1")}),
    "wesad": (_in(write_wesad, subjects=("S2",)), {"conditions": ("2", "labelled")}),
    "wfdb": (_wfdb, {"lead": ("V5", "0"), "records": ("rec1", "rec2"),
                     "keep_derived": ("true", "false"), "same_subject": ("rec2=rec1", "rec1=p9"),
                     "labels": ("labels.csv", "other.csv"), "channels": ("V5=eeg", "V5=none")}),
}


def test_every_builtin_source_is_covered():
    builtin = {n for n in available_sources() if source_class(n).__module__.startswith("ecgemotion.")}
    assert builtin == set(SOURCE_OPTIONS)


@pytest.mark.parametrize("name", sorted(SOURCE_OPTIONS))
def test_every_source_option_changes_the_store_identity(name, tmp_path):
    """Option values, not just their names: each of the two values gives its own store."""
    write, changes = SOURCE_OPTIONS[name]
    assert set(changes) == set(source_class(name).accepts), \
        f"{name}: give two values for each option it accepts, here"
    root = write(tmp_path)

    def identity(**options) -> str:
        source = get_source(name, root, **options)
        return store_identity([source], [source.items()], PreprocessConfig(), None)

    seen = {identity(): "the defaults"}
    for option, values in changes.items():
        for value in values:
            key = identity(**{option: value})
            assert key not in seen, f"{name}: {option}={value} gives the store of {seen[key]}"
            seen[key] = f"{option}={value}"


def test_another_lead_is_another_store(tmp_path, capsys):
    """The CLI end to end: ``--option lead=right`` must not reuse the left-lead store."""
    write_amigos(tmp_path / "amigos", subjects=(1,), n_trials=2, seconds=20)

    def prepare_amigos(*flags: str) -> dict:
        capsys.readouterr()
        assert main(["prepare", "--json", "--quiet", "--workers", "1", "--dataset", "amigos",
                     "--root", str(tmp_path / "amigos"), "--out", str(tmp_path / "s"), *flags]) == 0
        return json.loads(capsys.readouterr().out.strip().splitlines()[-1])

    left = prepare_amigos()
    right = prepare_amigos("--option", "lead=right")
    assert right["reused"] is False and right["store"] != left["store"]
    leads = {s["store"]: set(WindowStore.open(s["store"]).index["lead"]) for s in (left, right)}
    assert leads == {left["store"]: {"ECG Left"}, right["store"]: {"ECG Right"}}


def test_unknown_option_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="unknown option.*skip_subject.*lead, skip_subjects"):
        get_source("amigos", tmp_path, skip_subject="3")


def test_fingerprint_sees_an_edit_at_either_end_with_the_mtime_restored(tmp_path):
    """A 240 kB file: size and mtime unchanged, one sample edited in the first or the last
    64 KiB still changes the fingerprint (the middle is the documented blind spot)."""
    path = write_npy(tmp_path / "long.npy", seconds=120, fs=250)
    original, stat = path.read_bytes(), path.stat()
    before = file_fingerprint(path)
    for position in (3, -3):
        x = np.load(path)
        x[position] += 0.5
        np.save(path, x)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        assert path.stat().st_size == stat.st_size and file_fingerprint(path) != before, position
        path.write_bytes(original)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        assert file_fingerprint(path) == before


def _truncate_shard(store: Path) -> None:
    shard = sorted(store.glob("windows-*.bin"))[0]
    with open(shard, "r+b") as fh:
        fh.truncate(shard.stat().st_size - 7)


def _flip_one_byte(store: Path) -> None:
    shard = sorted(store.glob("windows-*.bin"))[0]
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0x01
    shard.write_bytes(bytes(data))


def _edit_index(store: Path) -> None:
    index = store / "index.csv"
    index.write_text(index.read_text().replace("u2", "u9", 1))


def _drop_meta(store: Path) -> None:
    (store / "meta.json").unlink()


@pytest.mark.parametrize("damage,reason", [
    (_truncate_shard, "truncated"),
    (_flip_one_byte, "checksum"),
    (_edit_index, "index.csv"),
    (_drop_meta, "incomplete"),
], ids=["truncated-shard", "one-byte-altered", "index-edited", "meta-missing"])
def test_damaged_store_is_refused_and_rebuilt(study, tmp_path, capsys, damage, reason):
    out = tmp_path / "stores"
    first = prepare(capsys, study, out)
    store = Path(first["store"])
    reference = WindowStore.open(store)
    shard_sums = [s["sha256"] for s in reference.meta["shards"]]
    windows = reference.windows(np.arange(len(reference)))
    del reference

    damage(store)
    assert reason in check_store(store)
    with pytest.raises(DataError, match=reason):
        WindowStore.open(store)

    again = prepare(capsys, study, out)
    assert again["reused"] is False and reason in again["rebuilt_because"]
    assert again["store"] == first["store"]
    rebuilt = WindowStore.open(again["store"])
    assert [s["sha256"] for s in rebuilt.meta["shards"]] == shard_sums
    assert np.array_equal(rebuilt.windows(np.arange(len(rebuilt))), windows)
    assert prepare(capsys, study, out)["reused"] is True
