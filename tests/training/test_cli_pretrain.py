"""``ecgemotion pretrain`` end to end: single process, kill + --resume, 2-process torchrun."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from ecgemotion.cli import main

TINY = ["--set", "d_model=32", "--set", "n_heads=4", "--set", "n_layers=1", "--set", "d_ff=64",
        "--set", "conv_channels=[8,16,32]", "--set", "conv_kernels=[7,5,3]",
        "--batch-size", "16", "--val-fraction", "0.34", "--val-max-windows", "48",
        "--mask-span-s", "0.25", "--quiet", "--json"]


def _summary(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_cli_pretrain_and_resume(tiny_store_path, tmp_path, capsys):
    base = ["pretrain", "--store", str(tiny_store_path), "--model", "fast", "--epochs", "2", *TINY]
    assert main(base + ["--out", str(tmp_path / "a")]) == 0
    full = _summary(capsys)
    assert full["ok"] and full["steps"] == 2 * -(-full["train_windows"] // 16)
    assert "val_mse_zeros" in full
    assert main(base + ["--out", str(tmp_path / "b"), "--stop-after-steps", "5"]) == 0
    assert _summary(capsys)["steps"] == 5
    assert main(base + ["--out", str(tmp_path / "b")]) == 2          # refuses to overwrite
    assert "already holds a training run" in capsys.readouterr().err
    assert main(base + ["--out", str(tmp_path / "b"), "--resume"]) == 0
    assert _summary(capsys)["steps"] == 12
    a = load_file(str(tmp_path / "a" / "last" / "model.safetensors"))
    b = load_file(str(tmp_path / "b" / "last" / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_cli_rejects_bad_model(tiny_store_path, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:   # an argparse choice: usage error, status 2
        main(["pretrain", "--store", str(tiny_store_path), "--model", "sarkar",
              "--out", str(tmp_path / "x"), "--epochs", "1", "--quiet"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "invalid choice" in err and "cnn" in err


def test_torchrun_two_processes(tiny_store_path, tmp_path):
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "ecgemotion", "pretrain", "--store", str(tiny_store_path), "--model", "fast",
           "--epochs", "2", "--out", str(out), *TINY]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # two ranks on two cores
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1, proc.stdout          # only rank 0 prints its summary
    summary = lines[0]
    assert summary["world_size"] == 2 and summary["complete"]
    # 96 training windows, 48 per rank, batches of 16: 3 steps per epoch
    assert summary["steps"] == 6
    run = json.loads((out / "run.json").read_text())
    assert run["world_size"] == 2
    with open(out / "log.csv") as fh:
        assert [r["step"] for r in csv.DictReader(fh)] == ["3", "6"]
    assert (out / "best" / "model.safetensors").is_file()
