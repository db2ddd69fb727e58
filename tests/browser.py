"""Headless Chromium for the tests that look at a page (the demo report, the live view).

Under ``CI=true`` a missing browser fails the run (``CI_SKIP_BROWSER=1`` opts out,
deliberately); elsewhere the test is skipped and says why.
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest

CI = os.environ.get("CI", "").lower() == "true"


def _browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    try:
        import selenium  # noqa: F401
    except ImportError:
        return None
    return (chromium, driver) if chromium and driver else None


@contextmanager
def headless_chromium(profile: Path, size: str = "1100,2400"):
    """A selenium driver on a fresh profile; skips (fails under CI) without a browser."""
    if _browser() is None:
        why = "no chromium + chromedriver + selenium installed"
        if CI and os.environ.get("CI_SKIP_BROWSER") != "1":
            pytest.fail(f"CI=true: {why} (.ci/run installs them; CI_SKIP_BROWSER=1 opts out)")
        pytest.skip(why)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver_path = _browser()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", f"--window-size={size}", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()
