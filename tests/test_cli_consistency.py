"""The command line, consistently: help on every option, plain text in --help, --lead
matching repeated EDF-style labels, --device on predict, a progress line in logs."""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import pytest

from ecgemotion.cli import build_parser
from ecgemotion.cli.ui import UI

def _commands():
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


@pytest.mark.parametrize("name", sorted(_commands()))
def test_every_option_says_what_it_does(name):
    parser = _commands()[name]
    bare = [a.option_strings[0] for a in parser._actions
            if a.option_strings and a.help is None]
    assert not bare, f"ecgemotion {name}: options without help: {bare}"
    assert "``" not in parser.format_help()


def test_lead_matches_a_repeated_label(tmp_path):
    """EDF writers often label a channel 'ECG ECG' (type and name): --lead ECG finds it."""
    from ecgemotion.io.readers import read_signal
    from ecgemotion.synthetic import ecg

    x = ecg(20, 250, seed=1)
    path = tmp_path / "rec.csv"
    pd.DataFrame({"time": np.arange(len(x)) / 250, "EMG EMG": np.zeros(len(x)),
                  "ECG ECG": x}).to_csv(path, index=False)
    sf = read_signal(path, lead="ecg")
    assert sf.lead == "ECG ECG" and sf.provenance["chosen_because"] == "named by --lead"


def test_progress_prints_plain_lines_when_not_a_terminal(capsys):
    ui = UI()
    ui.log_every_s = 0.05
    bar = ui.progress(total=6, desc="training", unit="step")
    for _ in range(6):
        time.sleep(0.03)
        bar.update(1)
        bar.set_postfix(loss=0.5)
    bar.close()
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert "\r" not in err and 3 <= len(lines) <= 6
    assert lines[-1].startswith("training: 100%") and "6/6" in lines[-1]


def test_predict_runs_on_the_device_it_is_given(tmp_path, capsys):
    import torch

    from ecgemotion.cli import main
    from ecgemotion.synthetic import ecg
    from tests.inference.conftest import save_task

    model = save_task(tmp_path / "arousal", "arousal", seed=1)
    x = ecg(30, 250, seed=2)
    np.save(tmp_path / "x.npy", x)
    argv = ["predict", str(tmp_path / "x.npy"), "--fs", "250", "--model", str(model),
            "--out", str(tmp_path / "o.csv")]
    assert main([*argv, "--device", "cpu"]) == 0
    assert "engine torch on cpu" in capsys.readouterr().out
    if not torch.cuda.is_available():
        assert main([*argv, "--device", "cuda"]) == 2
        assert "CUDA is not available" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["pretrain", "finetune", "evaluate"])
def test_a_config_file_fills_options_and_flags_win(command, tmp_path):
    from ecgemotion.cli.config import parse_with_config

    cfg = tmp_path / "run.toml"
    cfg.write_text('store = "S"\ntask = "arousal"\nprotocol = "subject"\nout = "O"\n'
                   'batch-size = 8\nseed = 3\nset = {d_model = 32}\n'.replace(
                       'task = "arousal"\nprotocol = "subject"\n' if command == "pretrain" else
                       'protocol = "subject"\n' if command == "finetune" else "@", ""))
    args, said = parse_with_config(build_parser(), [command, "--config", str(cfg), "--seed", "5"])
    assert (args.store, args.batch_size, args.seed, args.set) == ("S", 8, 5, ["d_model=32"])
    assert said.startswith(f"options from {cfg}: ")


def test_serve_asks_for_follow(capsys):
    from ecgemotion.cli import main

    assert main(["predict", "rec.csv", "--model", "models/", "--serve"]) == 2
    assert "--serve shows a stream as it is predicted: add --follow" in capsys.readouterr().err
