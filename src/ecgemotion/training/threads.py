"""How many CPU threads torch uses: chosen once, robustly, and said out loud.

On a small shared machine, torch's default (one thread per core) can be ~10x slower than a
single thread when other processes hold the cores (docs/results.md). The default here is
one thread per *idle* core: the cores minus the 1-minute load average, at least 1.
"""

from __future__ import annotations

import os

import torch


def choose_threads() -> tuple[int, str]:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = 0.0
    n = max(1, min(cores, int(cores - load + 0.5)))
    return n, f"{cores} cores, load {load:.1f}"


def configure_threads(threads: int | None = None, device: str = "auto") -> str:
    """Set torch's intra-op threads (``threads`` or the idle cores) and return the message."""
    if threads is not None and threads < 1:
        from ecgemotion.errors import ConfigError

        raise ConfigError(f"--threads must be >= 1, found {threads}")
    if threads is None and os.environ.get("OMP_NUM_THREADS"):
        threads, why = int(os.environ["OMP_NUM_THREADS"]), "OMP_NUM_THREADS"
    elif threads is None:
        threads, why = choose_threads()
    else:
        why = "--threads"
    torch.set_num_threads(threads)
    return f"torch CPU threads: {threads} ({why}; override with --threads)"
