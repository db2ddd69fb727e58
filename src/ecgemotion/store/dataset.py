"""A torch ``Dataset`` over a window store, with the filters training needs."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from ecgemotion.store.window_store import WindowStore


class WindowDataset(Dataset):
    """Windows of ``store`` at ``rows`` (default: every good window).

    Items are ``(x, y)``: ``x`` a float32 tensor ``(1, window_len)``; ``y`` the
    binary label ``y_<target>`` as a long tensor, or ``-1`` when there is no target.
    For throughput, training code may call :meth:`batch` with many rows at once
    instead of collating single items.
    """

    def __init__(self, store: WindowStore, rows: np.ndarray | None = None, target: str | None = None):
        self.store = store
        self.rows = store.select() if rows is None else np.asarray(rows, dtype=np.int64)
        self.target = target
        index = store.index.iloc[self.rows]
        self.subjects = index["subject"].to_numpy()
        if target is None:
            self.labels = np.full(len(self.rows), -1, dtype=np.int64)
        else:
            values = index[f"y_{target}"].to_numpy(dtype=float)
            if np.isnan(values).any():
                raise ValueError(f"{np.isnan(values).sum()} selected windows have no '{target}' "
                                 "label; select with store.select(labelled=target)")
            self.labels = values.astype(np.int64)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.store.windows(self.rows[i:i + 1])
        return torch.from_numpy(x), torch.tensor(self.labels[i])

    def batch(self, positions: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Items at ``positions`` (0..len-1) as one ``(B, 1, T)`` tensor and ``(B,)`` labels."""
        positions = np.asarray(positions, dtype=np.int64)
        x = self.store.windows(self.rows[positions])
        return torch.from_numpy(x).unsqueeze(1), torch.from_numpy(self.labels[positions])
