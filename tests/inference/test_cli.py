"""``ecgemotion predict`` on every input format, --follow, bad input, and a real MIT-BIH record."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecgemotion.cli import main
from tests.inference.conftest import SHARED, synthetic

FS = 250.0


def _write(fmt: str, folder: Path, x: np.ndarray, fs: float = FS) -> tuple[Path, list[str]]:
    """Write ``x`` in ``fmt``; return the path and the extra CLI flags it needs."""
    if fmt == "csv":
        path = folder / "rec.csv"
        t = np.arange(len(x)) / fs
        path.write_text("time,ecg\n" + "\n".join(f"{a:.5f},{b:.5f}" for a, b in zip(t, x)) + "\n")
        return path, []
    if fmt == "npy":
        path = folder / "rec.npy"
        np.save(path, x)
        return path, ["--fs", str(fs)]
    if fmt == "mat":
        from scipy.io import savemat

        path = folder / "rec.mat"
        savemat(path, {"ecg": x, "fs": fs})
        return path, []
    if fmt == "edf":
        import pyedflib

        path = folder / "rec.edf"
        writer = pyedflib.EdfWriter(str(path), 1, file_type=pyedflib.FILETYPE_EDFPLUS)
        writer.setSignalHeader(0, {"label": "ECG", "dimension": "mV", "sample_frequency": fs,
                                   "physical_max": 5.0, "physical_min": -5.0,
                                   "digital_max": 32767, "digital_min": -32768})
        writer.writeSamples([x])
        writer.close()
        return path, []
    if fmt == "wfdb":
        import wfdb

        wfdb.wrsamp("rec", fs=fs, units=["mV"], sig_name=["ECG"], p_signal=x[:, None],
                    fmt=["16"], write_dir=str(folder))
        return folder / "rec.hea", []
    raise ValueError(fmt)


@pytest.mark.parametrize("fmt", ["csv", "edf", "wfdb", "npy", "mat"])
def test_predict_each_format_writes_csv_and_png(fmt, models_dir, tmp_path, capsys):
    x = synthetic(40, FS, seed=11)
    path, flags = _write(fmt, tmp_path, x)
    out = tmp_path / "out" / "pred.csv"
    rc = main(["predict", str(path), "--model", str(models_dir), "--out", str(out), "--json", *flags])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    summary = json.loads(captured.out.strip().splitlines()[-1])
    table = pd.read_csv(out)
    assert list(table["start_s"]) == [0.0, 10.0, 20.0, 30.0]
    assert {"p_arousal", "p_valence", "good", "heart_rate_bpm", "flag_flat"} <= set(table)
    assert table["good"].all() and table["p_arousal"].between(0, 1).all()
    png = out.with_suffix(".png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert summary["windows_predicted"] == 4 and summary["png"] == str(png)
    assert summary["arousal"]["mean_p"] == pytest.approx(table["p_arousal"].mean(), abs=1e-5)


def test_predict_greys_out_bad_windows_and_default_out(models_dir, tmp_path, capsys):
    x = synthetic(50, FS, seed=12)
    x[int(20 * FS):int(30 * FS)] = 0.0
    path, flags = _write("npy", tmp_path, x)
    assert main(["predict", str(path), "--model", str(models_dir / "arousal"), *flags]) == 0
    table = pd.read_csv(tmp_path / "rec-emotion.csv")
    assert list(table["good"]) == [True, True, False, True, True]
    assert np.isnan(table["p_arousal"][2])
    assert (tmp_path / "rec-emotion.png").is_file()
    assert "4 of 5 windows predicted" in capsys.readouterr().out


BAD = {
    "npy without fs": ("npy", lambda x: x, [], "pass --fs"),
    "too short": ("npy", lambda x: x[: int(6 * FS)], ["--fs", str(FS)], "shorter than one"),
    "all NaN": ("csv", lambda x: np.full_like(x, np.nan), [], "no finite samples"),
    "flat line": ("npy", lambda x: np.zeros_like(x), ["--fs", str(FS)], "low quality"),
    "zero fs": ("npy", lambda x: x, ["--fs", "0"], "positive"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_exits_2_with_one_line(case, models_dir, tmp_path, capsys):
    fmt, mangle, flags, message = BAD[case]
    path, _ = _write(fmt, tmp_path, mangle(synthetic(30, FS, seed=13)))
    rc = main(["predict", str(path), "--model", str(models_dir), *flags])
    err = capsys.readouterr().err
    assert rc == 2
    assert message in err and "Traceback" not in err
    assert err.startswith("error: ") and err.strip().count("\n") == 0


def test_unknown_format_and_missing_file(models_dir, tmp_path, capsys):
    bad = tmp_path / "rec.xyz"
    bad.write_text("hello")
    # a real process: the message is one line and nothing leaks a traceback
    done = subprocess.run([sys.executable, "-m", "ecgemotion", "predict", str(bad),
                           "--model", str(models_dir)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "unsupported file type" in done.stderr and str(bad) in done.stderr
    assert "Traceback" not in done.stderr and done.stderr.strip().count("\n") == 0
    missing = tmp_path / "nope.csv"
    assert main(["predict", str(missing), "--model", str(models_dir)]) == 2
    err = capsys.readouterr().err
    assert "no such file" in err and str(missing) in err


def test_follow_a_file_grown_by_a_thread(models_dir, tmp_path, capsys):
    x = synthetic(36, FS, seed=14)
    path = tmp_path / "live.csv"
    path.write_text("ecg\n")

    def grow():
        for i in range(0, len(x), 1000):  # 4 s of ECG per write, a partial last line included
            block = "".join(f"{v:.5f}\n" for v in x[i:i + 1000])
            with path.open("a") as fh:
                fh.write(block)
            time.sleep(0.05)

    writer = threading.Thread(target=grow)
    writer.start()
    out = tmp_path / "follow.csv"
    rc = main(["predict", str(path), "--model", str(models_dir), "--fs", str(FS), "--follow",
               "--hop", "4", "--idle-timeout", "1.0", "--max-seconds", "30", "--out", str(out),
               "--json"])
    writer.join()
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    lines = captured.out.strip().splitlines()
    rows = [json.loads(line) for line in lines[:-1]]
    summary = json.loads(lines[-1])
    assert [r["start_s"] for r in rows] == [0.0, 4.0, 8.0, 12.0, 16.0, 20.0, 24.0]
    assert all(r["good"] and 0 < r["p_arousal"] < 1 for r in rows)
    assert summary["windows_predicted"] == 7 and pd.read_csv(out).shape[0] == 7
    # same windows as the batch path on the whole file (within the streaming tolerance)
    from ecgemotion.inference import EmotionRecognizer

    batch = EmotionRecognizer.from_pretrained(models_dir, step_s=4.0).predict(x, FS)
    assert np.abs(batch["p_valence"].to_numpy() - [r["p_valence"] for r in rows]).max() < 1e-3


def test_follow_refuses_npy(models_dir, tmp_path, capsys):
    np.save(tmp_path / "a.npy", np.zeros(10))
    rc = main(["predict", str(tmp_path / "a.npy"), "--model", str(models_dir), "--fs", "250",
               "--follow"])
    assert rc == 2 and "--follow reads growing text files" in capsys.readouterr().err


def test_real_mitdb_record(models_dir, tmp_path, capsys):
    archive = SHARED / "data" / "mitdb.tar.gz"
    if not archive.is_file():
        pytest.skip(f"{archive} not available")
    wanted = {"100.hea", "100.dat", "100.atr"}
    with tarfile.open(archive) as tf:
        for member in tf:
            if Path(member.name).name in wanted and member.isfile():
                member.name = Path(member.name).name
                tf.extract(member, tmp_path, filter="data")
                wanted.discard(member.name)
            if not wanted:
                break
    out = tmp_path / "100-pred.csv"
    rc = main(["predict", str(tmp_path / "100"), "--lead", "MLII", "--model", str(models_dir),
               "--out", str(out), "--json"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    summary = json.loads(captured.out.strip().splitlines()[-1])
    table = pd.read_csv(out)
    assert summary["fs"] == 360 and summary["lead"] == "MLII"
    assert len(table) == 180                    # 30 min 5.6 s of ECG: 180 complete 10-s windows
    assert table["good"].mean() > 0.9
    good = table[table["good"]]
    assert good["heart_rate_bpm"].between(60, 95).all()    # record 100: sinus rhythm ~ 75 bpm
    assert good["p_arousal"].notna().all() and table.loc[~table["good"], "p_arousal"].isna().all()
    assert out.with_suffix(".png").is_file()
