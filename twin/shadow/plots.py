"""The shadow's figure: board vs twin error and power over time, residuals, per-edge residuals.

Matplotlib's object-oriented API only (:class:`matplotlib.figure.Figure` with the Agg canvas;
no pyplot global state), imported lazily.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from twin.shadow.alarms import Alarm

__all__ = ["plot_shadow"]


def plot_shadow(
    history: Mapping[str, np.ndarray],
    path: str | Path,
    *,
    alarms: Sequence[Alarm] = (),
    title: str = "",
) -> Path:
    """Save a 2 x 2 PNG: error, free power, residuals (with alarms) and per-edge residuals."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    t = np.asarray(history["t_s"], dtype=float)
    fig = Figure(figsize=(12, 8), constrained_layout=True)
    FigureCanvasAgg(fig)
    (ax_err, ax_pow), (ax_res, ax_edge) = fig.subplots(2, 2)
    ax_err.semilogy(t, np.maximum(history["board_error"], 1e-16), label="board (reported)")
    ax_err.semilogy(t, np.maximum(history["twin_error"], 1e-16), "--", label="twin (predicted)")
    ax_err.set(xlabel="run time (s)", ylabel="error L (V$^2$)", title="training error")
    ax_pow.plot(t, history["board_free_power_w"] * 1e3, label="board (reported voltages)")
    ax_pow.plot(t, history["twin_free_power_w"] * 1e3, "--", label="twin (predicted)")
    ax_pow.set(xlabel="run time (s)", ylabel="free power $P_F$ (mW)", title="free power")
    ax_res.semilogy(t, np.maximum(history["gate_residual_rms_v"], 1e-6), label="gate RMS (V)")
    ax_res.semilogy(t, np.maximum(history["node_residual_rms_v"], 1e-6), label="node RMS (V)")
    for alarm in alarms:
        end = alarm.end_s if alarm.end_s is not None else (t[-1] if t.size else alarm.start_s)
        ax_res.axvspan(alarm.start_s, end, color="red", alpha=0.15)
    ax_res.set(xlabel="run time (s)", ylabel="residual (V)", title="board - twin (alarms shaded)")
    edges = np.asarray(history["edge_residual_v"], dtype=float)
    if edges.size:
        lim = float(np.quantile(np.abs(edges), 0.99)) or 1.0  # robust to a start-up spike
        image = ax_edge.imshow(
            edges.T,
            aspect="auto",
            origin="lower",
            cmap="RdBu_r",
            vmin=-lim,
            vmax=lim,
            extent=(float(t[0]), float(t[-1]), -0.5, edges.shape[1] - 0.5),
        )
        fig.colorbar(image, ax=ax_edge, label="gate residual (V)")
    ax_edge.set(xlabel="run time (s)", ylabel="edge", title="per-edge gate residual")
    for ax in (ax_err, ax_pow, ax_res):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    return out
