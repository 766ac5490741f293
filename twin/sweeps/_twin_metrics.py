"""The metrics of one twin-cell realization, reduced from a twin result (names in
:data:`twin.sweeps.metrics.TWIN_METRICS`; meanings in :mod:`twin.sweeps.twin_cells`)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ..simulation.twin import TwinResult
from .metrics import TWIN_METRICS

if TYPE_CHECKING:
    from ._twin_cell import TwinCell

__all__ = ["METRICS", "metrics_of", "ratio", "tail_mean", "time_to_tolerance"]

#: Metric names of one realization, in order (:data:`twin.sweeps.metrics.TWIN_METRICS`).
METRICS = TWIN_METRICS


def time_to_tolerance(
    t_s: np.ndarray, error: np.ndarray, energy_j: np.ndarray, tol: float
) -> tuple[float, float]:
    """First time (s) the sampled error reaches ``tol`` and the energy (J) spent until then.

    Between the last sample above and the first at or below ``tol`` the time is interpolated
    in log error, the energy linearly in time. ``(nan, nan)`` if the error never reaches ``tol``.
    """
    below = np.flatnonzero(error <= tol)
    if below.size == 0:
        return math.nan, math.nan
    j = int(below[0])
    if j == 0:
        return float(t_s[0]), float(energy_j[0])
    e0, e1 = max(float(error[j - 1]), 1e-300), max(float(error[j]), 1e-300)
    frac = 1.0 if e0 <= e1 else (math.log(e0) - math.log(tol)) / (math.log(e0) - math.log(e1))
    frac = min(max(frac, 0.0), 1.0)
    t = float(t_s[j - 1] + frac * (t_s[j] - t_s[j - 1]))
    energy = float(energy_j[j - 1] + frac * (energy_j[j] - energy_j[j - 1]))
    return t, energy


def ratio(a: float, b: float) -> float:
    """``a / b`` (NaN unless ``b > 0``)."""
    return a / b if b > 0 else math.nan


def tail_mean(t_s: np.ndarray, values: np.ndarray, fraction: float) -> float:
    """Mean of the samples in the last ``fraction`` of the run (at least one sample)."""
    start = t_s[-1] - fraction * (t_s[-1] - t_s[0])
    sel = t_s >= start
    return float(np.mean(values[sel])) if np.any(sel) else float(values[-1])


def metrics_of(
    result: TwinResult, cell: TwinCell, n_edges: int, error_measured: float, cpu_s: float
) -> dict[str, float]:
    """The metrics of one realization from a twin result (see the module docstring)."""
    st, h = result.stats, result.history
    t, err, power = h["t_s"], h["error"], h["free_power_w"]
    t_tol, e_tol = time_to_tolerance(t, err, h["energy_j"], cell.tol)
    free, clamped, gate = (
        float(st["training_energy_j"]),
        float(st["clamped_energy_j"]),
        float(st["gate_charging_energy_j"]),
    )
    out = {
        "error_initial": float(st["error_initial"]),
        "error_final": float(st["error_final"]),
        "error_ratio": ratio(float(st["error_final"]), float(st["error_initial"])),
        "error_tail": tail_mean(t, err, cell.tail_fraction),
        "error_measured": error_measured,
        "free_power_initial_w": float(st["free_power_initial_w"]),
        "free_power_final_w": float(st["free_power_final_w"]),
        "power_ratio": ratio(float(st["free_power_final_w"]), float(st["free_power_initial_w"])),
        "free_power_tail_w": tail_mean(t, power, cell.tail_fraction),
        "clamped_power_final_w": float(st["clamped_power_final_w"]),
        "training_energy_j": free,
        "clamped_energy_j": clamped,
        "gate_charging_energy_j": gate,
        "total_energy_j": free + clamped + gate,
        "time_to_tol_s": t_tol,
        "energy_to_tol_j": e_tol,
        "mean_updates_per_edge": float(st["events"]) / n_edges,
        "events": float(st["events"]),
        "sim_time_s": float(st["sim_time_s"]),
        "cpu_s": cpu_s,
    }
    return {key: out[key] for key in METRICS}
