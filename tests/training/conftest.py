"""Fixtures: a tiny window store in the real on-disk format."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.training.helpers import write_tiny_store


@pytest.fixture(scope="session")
def tiny_store_path(tmp_path_factory) -> Path:
    return write_tiny_store(tmp_path_factory.mktemp("store") / "tiny")


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models gain nothing from threads; one avoids oversubscribing a busy machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
