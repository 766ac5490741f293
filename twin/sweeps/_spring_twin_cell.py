"""Twin cells of spring networks: ``twin simulate --physics springs`` once per realization.

A twin cell with ``physics = "springs"`` runs the asynchronous spring agents of
:class:`twin.simulation.physics_twin.PhysicsTwin` (each stiffness, N/m, an agent on its own
clock) on realization ``r``'s rigid network and ``allostery-strain`` task, drawn as ``twin simulate
--physics springs --seed seeds[r]`` draws them (the twin's randomness from ``default_rng([s, 1])``
likewise). Its metrics (:data:`~twin.sweeps.metrics.SPRING_TWIN_METRICS`) are named by their unit:
errors are squared target strains, the free and clamped states' costs elastic energies (J).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import simpy

from ..physics.estimate import network_size
from ..physics.springs.task_spec import DEFAULT_SPRING_NETWORK
from ..physics.task_spec import TaskSpecError
from ..simulation.result import TwinResult
from ._twin_cell import TwinCell, TwinCellError
from ._twin_metrics import ratio, tail_mean, time_to_tolerance
from .metrics import SPRING_TWIN_METRICS

__all__ = ["CHECK_NODES", "check_spring_cell", "run_spring_cell", "spring_metrics_of"]

#: Networks whose rigidity is checked at submission have at most this many nodes.
CHECK_NODES = 5000


def _tasks(cell: TwinCell, seed: int) -> list[Any]:
    from ._trainer_cell import tasks_for  # cached small packings, shared with springs cells

    params = {"task": cell.task, "network": cell.network, "prune": None}
    return tasks_for(params, [int(seed)])


def check_spring_cell(cell: TwinCell) -> None:
    """Raise what the run would, in one line: the agents' settings, a malformed network spec or
    a floppy network (built once, seed 0, where that does not depend on the seed)."""
    cell.spring_config()
    spec = DEFAULT_SPRING_NETWORK if cell.network is None else cell.network
    size = network_size(spec)
    if size is not None and (size.jammed or size.nodes > CHECK_NODES):
        return  # a packing drawn per realization (rigidity checked as it is drawn), or too large
    try:
        _tasks(cell, 0)
    except TaskSpecError as exc:
        raise TwinCellError(str(exc)) from None


def spring_metrics_of(result: TwinResult, cell: TwinCell, n_edges: int, cpu_s: float
                      ) -> dict[str, float]:  # fmt: skip
    """The metrics of one spring realization (:data:`SPRING_TWIN_METRICS`) from its result."""
    st, h = result.stats, result.history
    t, err = h["t_s"], h["error"]
    t_tol, e_tol = time_to_tolerance(t, err, h["energy_j"], cell.tol)
    free, clamped = float(st["training_energy_j"]), float(st["clamped_energy_j"])
    e0, e1 = float(st["error_initial"]), float(st["error_final"])
    u0, u1 = float(st["free_energy_initial_j"]), float(st["free_energy_final_j"])
    out = {
        "error_initial": e0,
        "error_final": e1,
        "error_ratio": ratio(e1, e0),
        "error_tail": tail_mean(t, err, cell.tail_fraction),
        "free_energy_initial_j": u0,
        "free_energy_final_j": u1,
        "free_energy_ratio": ratio(u1, u0),
        "free_energy_tail_j": tail_mean(t, h["free_energy_j"], cell.tail_fraction),
        "clamped_energy_final_j": float(st["clamped_energy_final_j"]),
        "training_energy_j": free,
        "clamped_energy_j": clamped,
        "total_energy_j": free + clamped,
        "time_to_tol_s": t_tol,
        "energy_to_tol_j": e_tol,
        "mean_updates_per_edge": float(st["events"]) / n_edges,
        "events": float(st["events"]),
        "sim_time_s": float(st["sim_time_s"]),
        "cpu_s": cpu_s,
    }
    return {key: out[key] for key in SPRING_TWIN_METRICS}


def run_spring_cell(cell: TwinCell, seed: int) -> tuple[dict[str, float], TwinResult]:
    """Run one spring realization of ``cell``; returns its metrics and the raw twin result."""
    from ..physics.springs.physics import SpringPhysics
    from ..simulation.physics_twin import PhysicsTwin

    cpu0 = time.process_time()
    tasks = _tasks(cell, seed)
    physics = SpringPhysics(tasks, cell.spring_solver)
    twin = PhysicsTwin(simpy.Environment(), physics, cell.spring_config(),
                       np.random.default_rng([int(seed), 1]))  # fmt: skip
    result = twin.run(cell.board_time_s())
    n_edges = tasks[0].network.n_edges
    return spring_metrics_of(result, cell, n_edges, time.process_time() - cpu0), result
