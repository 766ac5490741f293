"""Incremental solves: rank-1 updates agree with fresh solves; drift is bounded by refactoring."""

from __future__ import annotations

import numpy as np
import pytest
import simpy

from twin.errors import SolverError
from twin.kernels.events import circuit as KC
from twin.physics.solver import CircuitBatch
from twin.simulation import SolverSettings, Twin, TwinConfig, board_edge_params

from .conftest import run_rng


def _linear_twin(task, solver: SolverSettings) -> Twin:
    cfg = TwinConfig(clock="poisson:10000", edges=board_edge_params("linear"), solver=solver)
    return Twin(simpy.Environment(), task, cfg, run_rng())


def test_rank1_updates_match_a_fresh_solve(board_task) -> None:
    twin = _linear_twin(board_task, SolverSettings(refactor_every=10**9, check_every=10**9))
    rng = np.random.default_rng(0)
    for _ in range(5000):
        edge = int(rng.integers(32))
        twin.network.set_conductance([edge], rng.uniform(3e-4, 4e-3))
    assert twin.network.stats["rank1_updates"] == 5000
    assert twin.network.stats["refactorisations"] == 0
    x, s = twin.network.basis()
    fresh = CircuitBatch.from_tasks([board_task]).basis(twin.network.conductance)
    assert np.max(np.abs(x - fresh.x[0])) < 1e-9 * np.max(np.abs(fresh.x[0]))
    assert np.max(np.abs(s - fresh.s[0])) < 1e-9 * np.max(np.abs(fresh.s[0]))
    assert twin.network.drift() < 1e-9


def test_drift_check_triggers_refactorisation(board_task) -> None:
    twin = _linear_twin(board_task, SolverSettings(check_every=10, drift_tol=1e-300))
    rng = np.random.default_rng(1)
    for _ in range(100):
        twin.network.set_conductance([int(rng.integers(32))], rng.uniform(3e-4, 4e-3))
    stats = twin.network.stats
    assert stats["refactorisations"] == 10
    assert 0 < stats["drift_max"] < 1e-12


def test_periodic_refactorisation_bounds_drift_in_a_long_run(board_task) -> None:
    cfg = TwinConfig(clock="poisson:10000", solver=SolverSettings(refactor_every=1000))
    twin = Twin(simpy.Environment(), board_task, cfg, run_rng())
    result = twin.run(0.5)
    assert result.stats["refactorisations"] == result.stats["rank1_updates"] // 1000
    assert result.stats["drift_max"] < 1e-12
    assert twin.network.drift() < 1e-12


def test_large_groups_refactorise_instead(board_task) -> None:
    twin = _linear_twin(board_task, SolverSettings())
    twin.network.set_conductance(np.arange(32), np.linspace(1e-3, 3e-3, 32))
    assert twin.network.stats["refactorisations"] == 1
    fresh = CircuitBatch.from_tasks([board_task]).basis(twin.network.conductance)
    assert np.allclose(twin.network.basis()[1], fresh.s[0], rtol=1e-12)


@pytest.mark.parametrize("sparse_above", [None, 4])
def test_a_singular_circuit_raises_solver_error(board_task, sparse_above) -> None:
    """A failed factorisation (dense or sparse path) is a SolverError in Python, not NaNs."""
    cfg = TwinConfig(edges=board_edge_params("linear"),
                     solver=SolverSettings(sparse_above=sparse_above))  # fmt: skip
    twin = Twin(simpy.Environment(), board_task, cfg, run_rng())
    assert bool(twin.state.solver.sparse) == (sparse_above is not None)
    twin.state.circuit.k_new[:] = -1e-3  # bypasses set_conductance's validation on purpose
    twin.state.circuit.staged[:] = True
    KC.commit(twin.kernel)
    with pytest.raises(SolverError, match="singular"):
        twin.network.check()
