"""SIGKILL pre-training mid-epoch, resume, and get the uninterrupted run's weights exactly.

Also watches the run folder while it trains: every checkpoint folder that exists under
its final name must be complete and loadable at every instant (writes go to a hidden
temporary folder and are renamed into place).
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file

from ecgemotion.training.checkpoint import STATE_FILE
from tests.training.helpers import write_tiny_store

TINY = ["--set", "d_model=32", "--set", "n_heads=4", "--set", "n_layers=1", "--set", "d_ff=64",
        "--set", "conv_channels=[8,16,32]", "--set", "conv_kernels=[7,5,3]",
        "--batch-size", "8", "--val-fraction", "0.34", "--val-max-windows", "24",
        "--mask-span-s", "0.25", "--epochs", "3", "--quiet", "--seed", "3"]


def pretrain(store: Path, out: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "ecgemotion", "pretrain", "--store", str(store),
                             "--model", "fast", "--out", str(out), *TINY, *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def checkpoint_step(folder: Path) -> int:
    import json

    try:
        return json.loads((folder / "last" / STATE_FILE).read_text())["step"]
    except (OSError, ValueError, KeyError):
        return -1


def assert_complete(folder: Path) -> None:
    """Every visible checkpoint folder is whole: weights load, state parses.

    A folder renamed away (replaced by a newer checkpoint) while it is being read is not a
    broken one: the check is repeated on whatever folder holds the name then.
    """
    import json

    def check(ckpt: Path, name: str) -> None:
        load_file(str(ckpt / "model.safetensors"))
        json.loads((ckpt / "config.json").read_text())
        if name == "last":
            json.loads((ckpt / STATE_FILE).read_text())

    for name in ("last", "best"):
        ckpt = folder / name
        for _ in range(20):
            try:
                inode = ckpt.stat().st_ino
            except FileNotFoundError:
                break                               # no checkpoint under this name right now
            try:
                check(ckpt, name)
                break
            except (OSError, RuntimeError, ValueError):
                try:
                    replaced = ckpt.stat().st_ino != inode
                except FileNotFoundError:
                    replaced = True
                if not replaced:
                    raise                           # the same folder, and it is incomplete


def test_sigkill_mid_epoch_then_resume_equals_uninterrupted(tmp_path):
    store = write_tiny_store(tmp_path / "tiny", per_subject=16)
    full = pretrain(store, tmp_path / "full")
    assert full.wait(timeout=300) == 0, full.stderr.read().decode()

    run = tmp_path / "killed"
    proc = pretrain(store, run, "--checkpoint-every", "0")
    killed_at, checks = -1, 0
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        assert_complete(run)
        checks += 1
        step = checkpoint_step(run)
        if step >= 5:  # mid-way through the first or second epoch
            proc.send_signal(signal.SIGKILL)
            killed_at = step
            break
        time.sleep(0.01)
    proc.wait(timeout=60)
    assert killed_at >= 5, "the run ended before it could be killed"
    assert proc.returncode == -signal.SIGKILL
    assert_complete(run)

    resumed = pretrain(store, run, "--resume")
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read().decode()
    a = load_file(str(tmp_path / "full" / "last" / "model.safetensors"))
    b = load_file(str(run / "last" / "model.safetensors"))
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), "resumed weights differ from uninterrupted run"
    assert checks > 1
