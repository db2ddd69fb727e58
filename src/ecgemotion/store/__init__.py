"""The on-disk window store: build it once, open it zero-copy, feed it to torch.

``WindowDataset`` is imported lazily so that store-building worker processes do
not pay for importing torch.
"""

from ecgemotion.store.build import build_store, default_workers, store_identity
from ecgemotion.store.window_store import WindowStore, check_store

__all__ = ["WindowDataset", "WindowStore", "build_store", "check_store", "default_workers",
           "store_identity"]


def __getattr__(name: str):
    if name == "WindowDataset":
        from ecgemotion.store.dataset import WindowDataset

        return WindowDataset
    raise AttributeError(name)
