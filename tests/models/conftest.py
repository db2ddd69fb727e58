from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models gain nothing from threads; one avoids oversubscribing a busy machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
