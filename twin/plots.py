"""Plots (PNG) of training histories, drawn with matplotlib's object-oriented API.

Each plot is its own :class:`matplotlib.figure.Figure` on an Agg canvas: no pyplot, no global
backend switch, nothing left registered after the call (safe in threads and in a host program
that uses another backend). Matplotlib is imported on first use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["plot_history"]


def plot_history(history: dict[str, Any], path: str | Path, *, title: str = "") -> Path:
    """Error (V^2) and free power (W) against time (s), one line per realization, saved as PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    t = np.asarray(history["t_s"], dtype=float)
    err = np.atleast_2d(np.asarray(history["error"], dtype=float).T)
    springs = "free_energy_j" in history  # an elastic substrate: energy (J) and strain^2
    power = np.atleast_2d(
        np.asarray(history["free_energy_j" if springs else "free_power_w"], dtype=float).T
    )
    tt = np.where(t > 0, t, np.nan)
    fig = Figure(figsize=(10, 4), layout="constrained")
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(1, 2)
    for r in range(err.shape[0]):
        ax1.loglog(tt, err[r], lw=1, alpha=0.8)
        ax2.loglog(tt, power[r], lw=1, alpha=0.8)
    if springs:
        ax1.set(xlabel="time (s)", ylabel="training error L (strain$^2$)", title="error")
        ax2.set(xlabel="time (s)", ylabel="free elastic energy $E_F$ (J)", title="free energy")
    else:
        ax1.set(xlabel="time (s)", ylabel="training error L (V$^2$)", title="error")
        ax2.set(xlabel="time (s)", ylabel="free power $P_F$ (W)", title="free power")
    for ax in (ax1, ax2):
        ax.grid(True, which="both", alpha=0.3)
    if title:
        fig.suptitle(title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path
