"""One torch thread for tiny-model tests: they gain nothing from threads, and one avoids
oversubscribing a 2-core machine. Imported as an autouse fixture by the conftests that need it."""

import pytest


@pytest.fixture(autouse=True)
def one_torch_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
