"""``predict --follow --serve``: a real process tails a file that grows, and the page it serves,
opened in headless Chromium, shows the new windows arriving, their flags, and nothing else
than loopback by default."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import numpy as np
import pandas as pd

from tests.browser import headless_chromium
from tests.inference.conftest import synthetic

FS = 250.0


def _append(path, x):
    with path.open("a") as fh:
        fh.write("".join(f"{v:.5f}\n" for v in x))


def _windows(driver) -> int:
    return int(driver.find_element("id", "windows").text or 0)


def test_the_live_page_shows_windows_arrive_with_their_flags(models_dir, tmp_path):
    live, out = tmp_path / "live.csv", tmp_path / "rows.csv"
    x = synthetic(60, FS, seed=8)
    live.write_text("ecg\n")
    _append(live, x[:int(24 * FS)])
    proc = subprocess.Popen(
        [sys.executable, "-m", "ecgemotion", "predict", str(live), "--model", str(models_dir),
         "--fs", str(FS), "--follow", "--delay", "0", "--idle-timeout", "0", "--serve", "0",
         "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = ""
        while "live view:" not in line:
            line = proc.stdout.readline()
            assert line or proc.poll() is None, proc.stderr.read()
        url = re.search(r"http://\S+/", line).group(0)
        assert url.startswith("http://127.0.0.1:") and "this computer only" in line
        with headless_chromium(tmp_path / "profile", size="1100,1000") as driver:
            from selenium.webdriver.support.ui import WebDriverWait

            driver.get(url)
            wait = WebDriverWait(driver, 60, poll_frequency=0.2)
            wait.until(lambda d: _windows(d) >= 3)
            first = _windows(driver)
            assert driver.find_element("id", "latest-flags").text == "good"
            assert re.fullmatch(r"0\.\d\d|1\.00", driver.find_element(
                "css selector", "#probs .v").text)                 # P(high arousal), shown
            _append(live, np.zeros(int(14 * FS)))                  # the electrode falls off
            wait.until(lambda d: _windows(d) > first and "flat" in d.find_element(
                "id", "latest-flags").text)
            assert "flat" in driver.find_element("id", "recent").text
            drawn = driver.execute_script(  # the ECG canvas has ink on it
                "const c = document.getElementById('ecg'); const d = c.getContext('2d')"
                ".getImageData(0, 0, c.width, c.height).data; let n = 0;"
                "for (let i = 3; i < d.length; i += 4) n += d[i] > 0; return n")
            assert drawn > 2000
            errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
            assert not errors, errors
    finally:
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    rows = pd.read_csv(out)            # --out is written as before, the page beside it
    assert len(rows) >= first and not rows["good"].all()
