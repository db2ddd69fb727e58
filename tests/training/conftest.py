"""Fixtures: a tiny window store in the real on-disk format."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.torch_threads import one_torch_thread  # noqa: F401
from tests.training.helpers import write_tiny_store


@pytest.fixture(scope="session")
def tiny_store_path(tmp_path_factory) -> Path:
    return write_tiny_store(tmp_path_factory.mktemp("store") / "tiny")
