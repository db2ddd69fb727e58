"""Crash and resume for store building: SIGKILL ``prepare`` mid-build, then build again.

The killed build must leave only its ``.<name>.partial`` folder (never a store that
looks complete), that folder must refuse to open as a store, and the next
``prepare`` must discard it, say so, and produce exactly the store an
uninterrupted build produces (same identity, same shard checksums).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ecgemotion.cli import main
from ecgemotion.errors import DataError
from ecgemotion.store import WindowStore
from ecgemotion.synthetic import ecg

N_FILES = 80
FS = 2000


def _corpus(root: Path) -> Path:
    root.mkdir(parents=True)
    x = ecg(120, FS, seed=1).astype(np.float32)
    for i in range(N_FILES):
        np.save(root / f"r{i:03d}.npy", np.roll(x, 997 * i))
    return root


def _args(root: Path, out: Path) -> list[str]:
    return ["prepare", "--dataset", "npy", "--root", str(root), "--fs", str(FS), "--workers", "1",
            "--target-fs", "500", "--out", str(out), "--quiet", "--json"]


def _prepare(argv, capsys) -> dict:
    capsys.readouterr()
    code = main(argv)
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0, out
    return json.loads(out[-1])


def test_killed_build_leaves_partial_and_next_build_recovers(tmp_path, capsys):
    root = _corpus(tmp_path / "corpus")
    out = tmp_path / "stores"
    proc = subprocess.Popen([sys.executable, "-m", "ecgemotion", *_args(root, out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    sizes: list[int] = []
    deadline = time.time() + 60
    try:
        while time.time() < deadline and proc.poll() is None:
            shards = sorted(out.glob(".*.partial/windows-*.bin"))
            if shards:
                size = shards[-1].stat().st_size
                if size > 0 and (not sizes or size > sizes[-1]):
                    sizes.append(size)
                if len(sizes) >= 2:  # the shard exists and is growing: kill now
                    os.kill(proc.pid, signal.SIGKILL)
                    break
            time.sleep(0.005)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode == 0:
        pytest.fail("the build finished before it could be killed; enlarge the corpus")
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]

    partials = list(out.glob(".*.partial"))
    assert len(partials) == 1
    complete = [p for p in out.iterdir() if not p.name.startswith(".")]
    assert complete == [], f"a killed build left {complete}"
    with pytest.raises(DataError, match="incomplete"):
        WindowStore.open(partials[0])

    resumed = _prepare(_args(root, out), capsys)
    assert resumed["reused"] is False
    assert "interrupted" in resumed["rebuilt_because"]
    assert not partials[0].exists()
    assert Path(resumed["store"]).name == partials[0].name[1:-len(".partial")]

    reference = _prepare(_args(root, tmp_path / "reference"), capsys)
    a, b = WindowStore.open(resumed["store"]), WindowStore.open(reference["store"])
    assert a.meta["identity"] == b.meta["identity"]
    assert [s["sha256"] for s in a.meta["shards"]] == [s["sha256"] for s in b.meta["shards"]]
    assert a.meta["index_sha256"] == b.meta["index_sha256"]
    assert len(a) == N_FILES * 12
    # Record what was measured, for docs/reliability.md.
    print(f"\nkill/resume: killed after shard reached {sizes[-1]} bytes; resumed store "
          f"{len(a)} windows, {len(a.meta['shards'])} shard(s), sha256 equal to the reference")
