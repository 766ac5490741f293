"""Spring cells: the synchronous trainer on harmonic spring networks (seed App. D), every
realization of a cell in one batched call.

Realization ``r`` is ``twin train --physics springs --seed seeds[r]`` with the cell's parameters
(its rigid network, pruning and allostery-strain task drawn from that seed). Metrics are those of
a trainer cell in the springs' units: errors are squared strains, the free-state cost an elastic
energy (``free_energy_*_j``), energies in joules (:data:`SPRING_METRICS`).

Work is bounded before a cell starts as ``twin train`` bounds it (steps x realizations x edges at
most :data:`~twin.physics.estimate.MAX_EDGE_STEPS`); the network spec, the stiffness bounds and
the pruning target are checked at submission, and so is the rigidity of a network that does not
depend on the seed (lattices, reference and file networks).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import ConfigError
from ..physics.estimate import NetworkSize, network_size
from ..physics.springs.physics import SpringPhysics
from ..physics.springs.task_spec import DEFAULT_SPRING_NETWORK
from ..physics.task_spec import TaskSpecError
from ._trainer_cell import tasks_for, train_config, trainer_rows
from .metrics import SPRING_METRICS as METRICS

__all__ = [
    "METRICS",
    "check_params",
    "evaluate_springs",
    "nonlinear_seconds",
    "spring_cell_size",
    "spring_edge_steps",
]

#: Networks whose rigidity is checked at submission have at most this many nodes.
CHECK_NODES = 5000
#: CPU seconds per update and realization of the nonlinear reference at N = 27 (57 bonds),
#: measured on the default task (3.7-3.8 ms, twin.physics.springs.physics.rule_terms); scaled
#: with the bond count.
NONLINEAR_S_PER_UPDATE_27 = 0.004


def _network(params: Mapping[str, Any]) -> str:
    network = params.get("network")
    return DEFAULT_SPRING_NETWORK if network is None else str(network)


def spring_cell_size(params: Mapping[str, Any]) -> NetworkSize | None:
    """Size of the cell's network (``None``: a file or reference network, read when built)."""
    return network_size(_network(params))


def spring_edge_steps(params: Mapping[str, Any], realizations: int) -> float | None:
    """Steps x realizations x edges of a cell (``None``: size known only once read)."""
    size = spring_cell_size(params)
    return None if size is None else float(params["steps"]) * realizations * size.edges


def check_params(params: Mapping[str, Any]) -> None:
    """Raise what the run would, in one line: stiffness bounds, a malformed network spec, a
    network that is floppy or cannot be pruned to ``prune`` (built once, seed 0, where that
    does not depend on the seed)."""
    train_config(params)
    kmin, kmax = params.get("kmin"), params.get("kmax")
    if kmin is not None and kmax is not None and kmin >= kmax:
        raise ConfigError(f"kmin/kmax: need kmin < kmax (N/m), got {kmin} and {kmax}")
    spec = _network(params)
    size = network_size(spec)
    seed_free = not spec.startswith("jammed:")
    if size is not None and size.nodes > CHECK_NODES:
        return
    if seed_free or params.get("prune") is not None:
        try:
            tasks_for(params, [0])  # small jammed packings are kept for the cells' realizations
        except TaskSpecError as exc:
            raise ConfigError(str(exc)) from None


def evaluate_springs(params: Mapping[str, Any], seeds: Sequence[int]) -> list[dict[str, float]]:
    """One row of :data:`METRICS` per realization (``twin train --physics springs --json``'s
    quantities, with the trainer cell's ratios and times to tolerance)."""
    tasks = tasks_for(params, seeds)
    rows = trainer_rows(params, tasks, SpringPhysics(tasks, params["spring_solver"]))
    return [{name: row[name] for name in METRICS} for row in rows]


def nonlinear_seconds(params: Mapping[str, Any], realizations: int) -> float:
    """CPU seconds of the nonlinear reference's updates (0 on the linear path)."""
    size = spring_cell_size(params)
    if params.get("spring_solver") != "nonlinear" or size is None:
        return 0.0
    return float(params["steps"]) * realizations * NONLINEAR_S_PER_UPDATE_27 * size.edges / 57
