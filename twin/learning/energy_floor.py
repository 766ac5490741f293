"""Each realization's training energy beside the Landauer floor of its conductance updates.

:func:`energy_floors` applies :func:`twin.physics.energy_floor.landauer_floor_j` to a
:class:`~twin.learning.trainer.TrainResult` (every realization started at ``kappa`` clipped to its
bounds, as :class:`~twin.learning.trainer.TrainConfig` does); :func:`floor_summary` adds the
floor and the ratio ``training_energy_j / energy_floor_j`` to a run summary.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..physics.energy_floor import landauer_floor_j
from ..physics.task import Task
from .trainer import TrainResult

__all__ = ["energy_floors", "floor_summary"]


def energy_floors(
    result: TrainResult, tasks: Sequence[Task], kappa: float | np.ndarray
) -> np.ndarray:
    """``(R,)`` Landauer floor of each realization's updates, joules (NaN: bounds unknown).

    ``kappa``: the initial conductance, one for all or ``(R,)`` one per realization.
    """
    rr = result.k.shape[0]
    kappas = np.broadcast_to(np.asarray(kappa, dtype=float), (rr,))
    kmin = result.k_min_siemens if result.k_min_siemens is not None else np.full(rr, np.nan)
    kmax = result.k_max_siemens if result.k_max_siemens is not None else np.full(rr, np.nan)
    out = np.full(rr, math.nan)
    for r, task in enumerate(tasks):
        e = task.network.n_edges
        lo, hi = float(kmin[r]), float(kmax[r])
        if not (math.isfinite(lo) and math.isfinite(hi)):
            continue
        k0 = np.full(e, min(max(float(kappas[r]), lo), hi))
        out[r] = landauer_floor_j(k0, result.k[r, :e], int(result.steps_done[r]), lo, hi)
    return out


def floor_summary(result: TrainResult, tasks: Sequence[Task], kappa: float) -> dict[str, Any]:
    """``energy_floor_j`` and ``energy_above_floor`` (training energy / floor) for a summary:
    numbers for one realization, lists (and ``*_mean``) for several, as the summary's.

    ``None`` (JSON null) where a number is undefined: a floor with unknown bounds, a ratio over
    a floor of 0 (no update changed anything).
    """
    floor = energy_floors(result, tasks, kappa)
    floors = [float(x) if math.isfinite(x) else None for x in floor]
    ratios = [float(e / f) if f is not None and f > 0 else None
              for e, f in zip(result.training_energy_j, floors, strict=True)]  # fmt: skip
    if len(floors) == 1:
        return {"energy_floor_j": floors[0], "energy_above_floor": ratios[0]}
    known = [r for r in ratios if r is not None]
    return {
        "energy_floor_j": floors,
        "energy_above_floor": ratios,
        "energy_above_floor_median": float(np.median(known)) if known else None,
    }
