"""Subject-held-out splits and a data order that is a pure function of (seed, epoch).

Because the order of every epoch can be recomputed, a run resumed at step ``s`` skips
exactly the batches it had already seen: kill + resume gives the same batches, in the
same order, as an uninterrupted run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecgemotion.errors import ConfigError
from ecgemotion.subjects import subject_keys


def split_subjects(index: pd.DataFrame, val_fraction: float = 0.2, seed: int = 0
                   ) -> tuple[list[str], list[str]]:
    """Split the subjects of ``index`` into (train, validation) ``dataset/subject`` keys.

    Validation aims at ``val_fraction`` of the *windows*, not of the subjects: corpora
    like open-ecg have one subject holding most of the data and a dozen with a few
    windows each, where a subject count gives a validation set of a handful of windows.
    Subjects are visited in an order shuffled by ``numpy.random.default_rng(seed)`` and
    taken while each brings the validation size closer to the target; at least one
    subject goes to each side.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ConfigError(f"val_fraction must be in (0, 1), found {val_fraction}")
    per_subject = pd.Series(subject_keys(index)).value_counts()
    keys = sorted(per_subject.index)
    if len(keys) < 2:
        raise ConfigError(f"a subject-held-out validation split needs at least 2 subjects, "
                          f"found {len(keys)} ({keys})")
    order = np.random.default_rng(seed).permutation(len(keys))
    target = val_fraction * int(per_subject.sum())
    val: list[str] = []
    taken = 0
    for i in order:
        key = keys[i]
        if taken >= target or len(val) == len(keys) - 1:
            break
        if abs(taken + per_subject[key] - target) < abs(taken - target):  # brings us closer
            val.append(key)
            taken += int(per_subject[key])
    if not val:
        val = [min(keys, key=lambda k: (per_subject[k], k))]
    train = sorted(set(keys) - set(val))
    return train, sorted(val)


def split_rows(index: pd.DataFrame, rows: np.ndarray, val_fraction: float = 0.2, seed: int = 0
               ) -> tuple[np.ndarray, np.ndarray, dict[str, list[str]]]:
    """Rows -> (train rows, validation rows, {"train": subjects, "val": subjects})."""
    rows = np.asarray(rows, dtype=np.int64)
    keys = subject_keys(index, rows)
    train, val = split_subjects(index.iloc[rows], val_fraction, seed)
    is_val = np.isin(keys, val)
    return rows[~is_val], rows[is_val], {"train": train, "val": val}


def steps_per_epoch(n: int, batch_size: int, world_size: int = 1) -> int:
    """Optimizer steps per epoch: every rank sees ``n // world_size`` items, full batches only
    (one short batch when a rank has fewer items than ``batch_size``)."""
    per_rank = n // world_size
    if per_rank == 0:
        raise ConfigError(f"{n} training windows cannot be shared by {world_size} processes")
    return max(1, per_rank // batch_size)


def epoch_batches(n: int, batch_size: int, seed: int, epoch: int, rank: int = 0,
                  world_size: int = 1) -> np.ndarray:
    """Positions (steps_per_epoch, batch) this rank trains on in ``epoch``.

    The permutation depends only on (seed, epoch); rank ``r`` takes every
    ``world_size``-th item from ``r`` on (like ``DistributedSampler``).
    """
    perm = np.random.default_rng([seed, epoch]).permutation(n)
    per_rank = n // world_size
    mine = perm[rank::world_size][:per_rank]
    spe = steps_per_epoch(n, batch_size, world_size)
    size = min(batch_size, per_rank)
    return mine[: spe * size].reshape(spe, size)


def derived_seed(*parts: int) -> int:
    """A 63-bit seed from integers (seed, step, rank, ...), stable across runs and platforms."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(2, np.uint64)[0] >> 1)
