"""``predict --follow --serve``: the command tails a file that a writer keeps appending to, and
the page it serves, opened in headless Chromium, shows new windows arriving, a flat stretch
flagged, and is bound to loopback by default. (The command runs in a thread of this process:
a second interpreter would spend most of the test importing torch.)"""

from __future__ import annotations

import re
import threading
import time

import numpy as np
import pandas as pd

from ecgemotion.cli import main
from tests.browser import headless_chromium
from tests.inference.conftest import synthetic

FS = 250.0


class _Writer(threading.Thread):
    """Appends 1 s of ECG every 0.2 s (zeros while ``flat`` is set) until ``done``."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path, self.x = path, synthetic(400, FS, seed=8)
        self.flat, self.done = threading.Event(), threading.Event()

    def run(self):
        for i in range(0, len(self.x), int(FS)):
            if self.done.is_set():
                return
            chunk = np.zeros(int(FS)) if self.flat.is_set() else self.x[i:i + int(FS)]
            with self.path.open("a") as fh:
                fh.write("".join(f"{v:.5f}\n" for v in chunk))
            time.sleep(0.2)


def _windows(driver) -> int:
    return int(driver.find_element("id", "windows").text or 0)


def test_the_live_page_shows_windows_arrive_with_their_flags(models_dir, tmp_path, capsys):
    live, out = tmp_path / "live.csv", tmp_path / "rows.csv"
    live.write_text("ecg\n")
    writer = _Writer(live)
    writer.start()
    codes = []
    # --idle-timeout 4, not 1: on a loaded machine the command's start (imports, model load)
    # can hold the writer thread back for over a second, and the run then ended before the page
    # was opened (CI-style flake: "fewer than one 10-s window of samples arrived")
    run = threading.Thread(target=lambda: codes.append(main(
        ["predict", str(live), "--model", str(models_dir), "--fs", str(FS), "--follow",
         "--delay", "0", "--idle-timeout", "4", "--serve", "0", "--out", str(out)])))
    run.start()
    try:
        said, deadline = "", time.time() + 60
        while "live view:" not in said and time.time() < deadline and run.is_alive():
            said += capsys.readouterr().out
            time.sleep(0.05)
        line = next(ln for ln in said.splitlines() if "live view:" in ln)
        assert "http://127.0.0.1:" in line and "this computer only" in line
        url = re.search(r"http://\S+/", line).group(0)
        with headless_chromium(tmp_path / "profile", size="1100,1000") as driver:
            from selenium.webdriver.support.ui import WebDriverWait

            driver.get(url)
            wait = WebDriverWait(driver, 60, poll_frequency=0.2)
            wait.until(lambda d: _windows(d) >= 3)
            first = _windows(driver)
            wait.until(lambda d: _windows(d) > first)             # new windows arrive
            assert driver.find_element("id", "latest-flags").text == "good"
            assert re.fullmatch(r"0\.\d\d|1\.00", driver.find_element(
                "css selector", "#probs .v").text)                 # P(high arousal), shown
            writer.flat.set()                                      # the electrode falls off
            wait.until(lambda d: "flat" in d.find_element("id", "latest-flags").text)
            assert "flat" in driver.find_element("id", "recent").text
            drawn = driver.execute_script(  # the ECG canvas has ink on it
                "const c = document.getElementById('ecg'); const d = c.getContext('2d')"
                ".getImageData(0, 0, c.width, c.height).data; let n = 0;"
                "for (let i = 3; i < d.length; i += 4) n += d[i] > 0; return n")
            assert drawn > 2000
            errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
            assert not errors, errors
    finally:
        writer.done.set()
        run.join(timeout=60)
    assert codes == [0]
    rows = pd.read_csv(out)            # --out is written as before, the page beside it
    assert len(rows) > first and not rows["good"].all()
