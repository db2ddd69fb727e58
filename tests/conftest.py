"""Shared test settings: a private cache so tests never touch the user's."""

import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    # Wheels downloaded by network tests are kept across tests in one session.
    if "ECGEMOTION_CACHE" not in os.environ or not os.environ.get("ECGEMOTION_TEST_KEEP_CACHE"):
        monkeypatch.setenv("ECGEMOTION_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
