import json

import numpy as np
import pytest

from ecgemotion.errors import DataError
from ecgemotion.preprocess import PreprocessConfig, process_recording
from ecgemotion.store import WindowStore, build_store, check_store
from ecgemotion.store.dataset import WindowDataset
from tests.store.toy_source import ToySource, write_toy


@pytest.fixture()
def toy_root(tmp_path):
    return write_toy(tmp_path / "toy")


def build(root, out, workers=1, **cfg):
    return build_store([ToySource(root)], PreprocessConfig(**cfg), out_dir=out, workers=workers)


def test_round_trip_is_exact(toy_root, tmp_path):
    store, summary = build(toy_root, tmp_path / "stores")
    assert summary["recordings"] == 6 and summary["windows"] == 36 and not summary["reused"]
    assert summary["hours"] == pytest.approx(6 * 60 / 3600, abs=1e-3)
    # Every window equals what the preprocessing produced for its recording.
    src = ToySource(toy_root)
    row = 0
    for item in src.items():
        for rec in src.load(item):
            expected = process_recording(rec, PreprocessConfig()).data
            got = store.windows(np.arange(row, row + len(expected)))
            assert np.array_equal(got, expected)
            row += len(expected)
    idx = store.index
    assert list(idx["subject"].unique()) == ["s0", "s1", "s2"]
    assert set(idx["label_arousal"]) == {2.0, 7.0}
    assert (idx["row"].to_numpy() == np.arange(36)).all()
    # the subject key is derived on open, not written: the store's files stay as built
    assert (idx["subject_key"] == idx["dataset"] + "/" + idx["subject"]).all()
    assert "subject_key" not in (store.path / "index.csv").read_text().splitlines()[0]


def test_multi_shard_and_float16(toy_root, tmp_path, monkeypatch):
    import ecgemotion.store.build as build_mod

    monkeypatch.setattr(build_mod, "SHARD_BYTES", 1280 * 2 * 5)  # five windows a shard
    store, _ = build(toy_root, tmp_path / "s16", dtype="float16")
    assert len(store.meta["shards"]) == 8 and store.dtype == np.float16
    src = ToySource(toy_root)
    made = np.vstack([process_recording(rec, PreprocessConfig(dtype="float16")).data
                      for item in src.items() for rec in src.load(item)])   # in build order
    rows = np.array([35, 0, 7, 12, 12, 4, 5, 9, 10])                         # across shard edges
    got = store.windows(rows)
    assert np.array_equal(got, made[rows])    # float16 on disk, widened to float32 on read
    assert np.array_equal(store.windows(np.arange(len(store))), made)


def test_process_pool_gives_identical_store(toy_root, tmp_path):
    one, _ = build(toy_root, tmp_path / "a", workers=1)
    two, _ = build(toy_root, tmp_path / "b", workers=2)
    assert one.meta["identity"] == two.meta["identity"]
    assert [s["sha256"] for s in one.meta["shards"]] == [s["sha256"] for s in two.meta["shards"]]


def test_identity_changes_with_parameters_and_files(toy_root, tmp_path):
    out = tmp_path / "stores"
    base, _ = build(toy_root, out)
    again, summary = build(toy_root, out)
    assert summary["reused"] and again.path == base.path
    for change in ({"fs": 100.0}, {"step_s": 5.0}, {"band_hz": (1.0, 30.0)}, {"normalize": "none"}):
        other, _ = build(toy_root, out, **change)
        assert other.path != base.path, change
    path = sorted(toy_root.glob("*.npy"))[0]
    x = np.load(path)
    x[100] += 1.0
    np.save(path, x)
    edited, summary = build(toy_root, out)
    assert edited.path != base.path and not summary["reused"]


def test_damaged_store_is_detected_and_rebuilt(toy_root, tmp_path):
    store, _ = build(toy_root, tmp_path / "s")
    shard = store.path / store.meta["shards"][0]["file"]
    data = bytearray(shard.read_bytes())
    data[100] ^= 0xFF
    shard.write_bytes(bytes(data))
    assert "checksum" in check_store(store.path)
    with pytest.raises(DataError, match="checksum"):
        WindowStore.open(store.path)
    rebuilt, summary = build(toy_root, tmp_path / "s")
    assert not summary["reused"] and "checksum" in summary["rebuilt_because"]
    assert check_store(rebuilt.path) is None
    with open(shard, "r+b") as fh:
        fh.truncate(1000)
    assert "truncated" in check_store(store.path)


def test_partial_store_is_never_read(toy_root, tmp_path):
    store, _ = build(toy_root, tmp_path / "s")
    meta = json.loads((store.path / "meta.json").read_text())
    meta["complete"] = False
    (store.path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match="incomplete"):
        WindowStore.open(store.path)
    (store.path / "meta.json").unlink()
    with pytest.raises(DataError, match="incomplete"):
        WindowStore.open(store.path)
    _, summary = build(toy_root, tmp_path / "s")
    assert not summary["reused"]


def test_bad_file_is_skipped_and_counted(toy_root, tmp_path):
    (toy_root / "s9_t0_5.npy").write_bytes(b"garbage")
    (toy_root / "s8_t0_5.npy").write_bytes(b"")
    np.save(toy_root / "s7_t0_5.npy", np.full(5000, np.nan))
    store, summary = build(toy_root, tmp_path / "s")
    assert summary["skipped_count"] == 3 and summary["windows"] == 36
    reasons = " ".join(s["reason"] for s in summary["skipped"])
    assert "no finite samples" in reasons and "not a readable .npy" in reasons


def test_dataset_filters_and_batches(toy_root, tmp_path):
    store, _ = build(toy_root, tmp_path / "s")
    rows = store.select(subjects=["s1"])
    assert len(rows) == 12 and set(store.index.iloc[rows]["subject"]) == {"s1"}
    assert len(store.select(datasets=["other"])) == 0
    ds = WindowDataset(store, rows)
    x, y = ds[0]
    assert x.shape == (1, 1280) and int(y) == -1
    xb, yb = ds.batch(np.arange(4))
    assert xb.shape == (4, 1, 1280) and xb.dtype.is_floating_point
    with pytest.raises(DataError, match="no label"):
        store.select(labelled="valence")


def test_quality_levels(toy_root, tmp_path):
    store, _ = build(toy_root, tmp_path / "s")
    store.index.loc[0, ["q_clipped", "good"]] = [True, False]
    store.index.loc[1, ["q_flat", "good"]] = [True, False]
    assert 0 not in store.select() and 1 not in store.select()
    assert 0 in store.select(quality="usable") and 1 not in store.select(quality="usable")
    assert len(store.select(quality="all")) == len(store)
    with pytest.raises(ValueError, match="usable"):
        store.select(quality="best")
