"""``predict`` says what it did and never loses output (issue 13, part 1): the CSV of a
``--follow`` run survives Ctrl-C and SIGTERM, the ECG column is found and named, a rate
that contradicts the file is refused, and each model's origin is printed."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecgemotion.cli import main
from ecgemotion.models import save_pretrained
from ecgemotion.preprocess import PreprocessConfig
from tests.inference.conftest import save_task, synthetic, tiny_model

FS = 250.0


def _csv(path: Path, columns: dict[str, np.ndarray], fs: float = FS) -> Path:
    n = len(next(iter(columns.values())))
    table = {"time": np.arange(n) / fs, **columns}
    pd.DataFrame(table).to_csv(path, index=False, float_format="%.5f")
    return path


def _sine_and_noise(n: int, seed: int = 0) -> np.ndarray:
    t = np.arange(n) / FS
    return np.sin(2 * np.pi * 1.3 * t) + 0.3 * np.random.default_rng(seed).standard_normal(n)


class _LiveFollow:
    """A real ``predict --follow`` process on a file that a thread keeps appending to."""

    def __init__(self, folder: Path, model: Path, x: np.ndarray):
        folder.mkdir()
        self.live, self.out, self.x = folder / "live.csv", folder / "rows.csv", x
        self.live.write_text("ecg\n")
        self.done = threading.Event()
        self.writer = threading.Thread(target=self._grow)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ecgemotion", "predict", str(self.live), "--model", str(model),
             "--fs", str(FS), "--follow", "--hop", "2", "--idle-timeout", "0", "--out", str(self.out)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.writer.start()

    def _grow(self):  # 2 s of ECG every 0.1 s: faster than real time, never finished
        for i in range(0, len(self.x), 500):
            if self.done.is_set():
                return
            with self.live.open("a") as fh:
                fh.write("".join(f"{v:.5f}\n" for v in self.x[i:i + 500]))
            time.sleep(0.1)

    def rows_written(self) -> int:
        return len(self.out.read_text().splitlines()) - 1 if self.out.is_file() else 0

    def stop(self, signum: int) -> tuple[int, str, str]:
        self.proc.send_signal(signum)
        try:
            stdout, stderr = self.proc.communicate(timeout=30)
        finally:
            self.done.set()
            self.writer.join()
            if self.proc.poll() is None:
                self.proc.kill()
        return self.proc.returncode, stdout, stderr


def test_follow_keeps_every_row_when_stopped_by_a_signal(models_dir, tmp_path):
    """Real ``predict --follow`` processes, stopped as a user (Ctrl-C) and a service manager
    (SIGTERM) stop them: the CSV holds every prediction printed so far, and nothing else."""
    x = synthetic(120, FS, seed=21)
    runs = {signum: _LiveFollow(tmp_path / signum.name, models_dir / "arousal", x)
            for signum in (signal.SIGINT, signal.SIGTERM)}   # side by side: one start-up wait
    try:
        deadline = time.time() + 90
        while time.time() < deadline and min(r.rows_written() for r in runs.values()) < 3:
            time.sleep(0.1)
    finally:
        results = {signum: run.stop(signum) for signum, run in runs.items()}
    for signum, (code, stdout, stderr) in results.items():
        assert code == 128 + signum, stderr
        assert "Traceback" not in stderr
        rows = pd.read_csv(runs[signum].out)
        printed = [line for line in stdout.splitlines() if " s  hr " in line]
        assert len(rows) >= 3 and len(rows) == len(printed)
        assert list(rows["start_s"]) == [2.0 * i for i in range(len(rows))]
        assert rows["p_arousal"].between(0, 1).all()
        assert f"stopped by {signum.name}" in stdout


def test_the_ecg_column_is_found_by_its_shape_and_named(models_dir, tmp_path, capsys):
    """``time,ch1,ch2`` with a sine in ch1 and the ECG in ch2: ch2 is used, and said."""
    n = int(40 * FS)
    path = _csv(tmp_path / "rec.csv", {"ch1": _sine_and_noise(n), "ch2": synthetic(40, FS, seed=5)})
    rc = main(["predict", str(path), "--model", str(models_dir), "--out", str(tmp_path / "o.csv"),
               "--json"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    summary = json.loads(captured.out.strip().splitlines()[-1])
    assert summary["lead"] == "ch2" and summary["ecg_likeness"] > 0.8
    assert "channel 'ch2' (the most ECG-like of 2 columns: " in captured.err
    assert "250 Hz (from time column 'time')" in captured.err
    assert "warning" not in captured.err
    heart = pd.read_csv(tmp_path / "o.csv")["heart_rate_bpm"]
    assert heart.between(65, 80).all()            # synthetic(..., hr 72); the sine said 150-180


def test_a_signal_that_is_not_ecg_is_named_as_such(models_dir, tmp_path, capsys):
    """A lone sine column: every window fails the quality checks, and the one-line error
    says that the column is not ECG and how to choose another."""
    path = _csv(tmp_path / "sine.csv", {"ch1": _sine_and_noise(int(40 * FS))})
    assert main(["predict", str(path), "--model", str(models_dir)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err
    assert "'ch1' does not look like ECG (ECG-likeness 0.00 < 0.5); pick the ECG with --lead" in err


def test_ecg_likeness_tells_ecg_from_what_sits_beside_it():
    from ecgemotion.signal import ecg_likeness

    rng = np.random.default_rng(1)
    n = int(30 * FS)
    for seed in range(3):
        assert ecg_likeness(synthetic(30, FS, seed=seed), FS) > 0.8
        assert ecg_likeness(_sine_and_noise(n, seed), FS) < 0.2
    assert ecg_likeness(rng.standard_normal(n), FS) < 0.2                    # noise, EEG
    assert ecg_likeness(2 + np.cumsum(rng.standard_normal(n)) * 0.002, FS) < 0.2   # GSR drift
    assert np.isnan(ecg_likeness(synthetic(2, FS), FS))                      # too short to say


def test_fs_contradicting_the_time_column_is_refused_unless_forced(models_dir, tmp_path, capsys):
    path = _csv(tmp_path / "rec.csv", {"ecg": synthetic(40, FS, seed=6)})
    rc = main(["predict", str(path), "--model", str(models_dir), "--fs", "500"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1
    assert str(path) in err and "--fs 500 Hz" in err and "own rate 250 Hz" in err
    rc = main(["predict", str(path), "--model", str(models_dir), "--fs", "500", "--force",
               "--out", str(tmp_path / "o.csv")])
    captured = capsys.readouterr()
    assert rc == 0
    assert "500 Hz (from --fs, OVERRIDING the file's own 250 Hz" in captured.out
    assert "warning:" in captured.err and "--force" in captured.err
    # an agreeing --fs is fine and quiet
    assert main(["predict", str(path), "--model", str(models_dir), "--fs", "250",
                 "--out", str(tmp_path / "o.csv")]) == 0
    assert "warning" not in capsys.readouterr().err


def test_model_origin_is_printed_and_synthetic_labels_are_shouted(tmp_path, capsys):
    folder = tmp_path / "arousal"
    save_pretrained(tiny_model(3), folder, extra={
        "task": "arousal", "classes": ["low", "high"], "label_rule": "threshold:5",
        "preprocess": PreprocessConfig().to_dict(),
        "init": "ecgemotion-base", "val_subjects": ["P01", "P02"],
        "val_metrics": {"balanced_accuracy": 0.5, "accuracy": 0.61, "predicted_high_share": 1.0},
        "training_data": {"datasets": ["amigos"], "subjects": 9, "windows": 400,
                          "synthetic": ["SYNTHETIC data made by ecgemotion.demo"]}})
    path = _csv(tmp_path / "rec.csv", {"ecg": synthetic(30, FS, seed=7)})
    assert main(["predict", str(path), "--model", str(folder), "--out", str(tmp_path / "o.csv")]) == 0
    captured = capsys.readouterr()
    line = next(s for s in captured.out.splitlines() if s.startswith("model arousal"))
    for fact in ("P(high arousal)", "threshold:5", "amigos (9 subjects, 400 windows, SYNTHETIC labels)",
                 "from ecgemotion-base", "balanced accuracy 0.500", "2 held-out subjects"):
        assert fact in line, fact
    assert "trained on SYNTHETIC labels" in captured.err
    assert "predicted one class for every validation window" in captured.err


def test_a_model_without_provenance_says_so(models_dir, tmp_path, capsys):
    save_task(tmp_path / "old", "arousal", seed=1)
    path = _csv(tmp_path / "rec.csv", {"ecg": synthetic(30, FS, seed=8)})
    assert main(["predict", str(path), "--model", str(tmp_path / "old"),
                 "--out", str(tmp_path / "o.csv")]) == 0
    assert "training data not recorded; no validation figures" in capsys.readouterr().out


def test_the_shipped_encoder_is_not_a_recogniser_and_says_how_to_make_one():
    from ecgemotion.errors import ConfigError
    from ecgemotion.inference import EmotionRecognizer

    with pytest.raises(ConfigError, match="shipped pre-trained encoder.*ecgemotion finetune"):
        EmotionRecognizer.from_pretrained("ecgemotion-base")
