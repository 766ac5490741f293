"""Plots (PNG) of training histories. Matplotlib is imported lazily with the Agg backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["plot_history"]


def plot_history(history: dict[str, Any], path: str | Path, *, title: str = "") -> Path:
    """Error (V^2) and free power (W) against time (s), one line per realization, saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.asarray(history["t_s"], dtype=float)
    err = np.atleast_2d(np.asarray(history["error"], dtype=float).T)
    power = np.atleast_2d(np.asarray(history["free_power_w"], dtype=float).T)
    tt = np.where(t > 0, t, np.nan)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for r in range(err.shape[0]):
        ax1.loglog(tt, err[r], lw=1, alpha=0.8)
        ax2.loglog(tt, power[r], lw=1, alpha=0.8)
    ax1.set(xlabel="time (s)", ylabel="training error L (V$^2$)", title="error")
    ax2.set(xlabel="time (s)", ylabel="free power $P_F$ (W)", title="free power")
    for ax in (ax1, ax2):
        ax.grid(True, which="both", alpha=0.3)
    if title:
        fig.suptitle(title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
