"""Store identity and integrity through the CLI.

Every preprocessing flag of ``ecgemotion prepare`` and every source file goes into
the store's identity (a new folder when any of them changes), and a damaged store
(truncated shard, one flipped byte, edited ``index.csv``, missing ``meta.json``) is
detected, refused by ``WindowStore.open`` and rebuilt by the next ``prepare``.
``tests/store/test_store.py`` covers the same through the Python API.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ecgemotion.cli import main
from ecgemotion.errors import DataError
from ecgemotion.store import WindowStore, check_store
from tests.fixtures.other_layouts import write_manifest, write_npy


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
