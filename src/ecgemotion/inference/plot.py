"""The prediction timeline PNG: ECG on top, one probability panel per task below."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def timeline_png(path: str | Path, signal: np.ndarray, fs: float, table: pd.DataFrame,
                 tasks: list[str], title: str = "", max_points: int = 40_000,
                 units: str = "") -> Path:
    """Write the timeline; low-quality windows are greyed out and have no probability.
    Every axis says what it shows and in which unit (``units``: the signal's, when known)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    path = Path(path)
    x = np.asarray(signal, dtype=float)
    t = np.arange(len(x)) / fs
    if len(x) > max_points:  # min/max envelope per bin keeps the QRS peaks visible
        bins = max_points // 2
        edges = np.linspace(0, len(x), bins + 1).astype(int)
        lo = np.minimum.reduceat(np.nan_to_num(x, nan=np.nanmedian(x)), edges[:-1])
        hi = np.maximum.reduceat(np.nan_to_num(x, nan=np.nanmedian(x)), edges[:-1])
        t = np.repeat(t[edges[:-1]], 2)
        x = np.column_stack((lo, hi)).reshape(-1)
    n = 1 + len(tasks)
    fig = Figure(figsize=(12, 2.2 + 1.6 * len(tasks)), dpi=100, layout="constrained")
    axes = fig.subplots(n, 1, sharex=True, gridspec_kw={"height_ratios": [1.6] + [1] * len(tasks)})
    axes = np.atleast_1d(axes)
    axes[0].plot(t, x, lw=0.5, color="black")
    axes[0].set_ylabel(f"ECG ({units or 'file units'})")
    if title:
        axes[0].set_title(title, fontsize=10)
    bad = table.loc[~table["good"].astype(bool), ["start_s", "end_s"]].to_numpy()
    mid = ((table["start_s"] + table["end_s"]) / 2).to_numpy()
    for ax in axes:
        for start, end in bad:
            ax.axvspan(start, end, color="0.85", lw=0, zorder=0)
    for ax, task in zip(axes[1:], tasks):
        p = table[f"p_{task}"].to_numpy(dtype=float)
        ax.plot(mid, p, marker="o", ms=3, lw=1)
        ax.axhline(0.5, color="0.5", lw=0.5, ls="--")
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel(f"P(high {task})")
    axes[-1].set_xlabel("time (s); grey: low-quality windows, not predicted")
    fig.align_ylabels(axes)
    fig.savefig(path)
    return path
