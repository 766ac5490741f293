"""The sparse path (large networks; every clock) agrees with the dense path.

Agreement is to a relative 1e-9 (measured: ~1e-14): the two paths solve the same equations with
different factorisations, so they differ by rounding only.
"""

from __future__ import annotations

import numpy as np
import pytest
import simpy

from twin.physics.network_io import network_from_spec
from twin.physics.solver import CircuitBatch
from twin.physics.task import Task
from twin.physics.task_generators import allostery_task
from twin.simulation import (
    NoiseConfig,
    SolverSettings,
    Twin,
    TwinConfig,
    board_edge_params,
    simulate,
)

from .conftest import run_rng

RTOL = 1e-9
DENSE = SolverSettings(sparse_above=None, sparse_events_above=None)
#: The sparse path for per-edge clocks on the 127-node jammed network (default: above 128).
SPARSE_EVENTS = SolverSettings(sparse_events_above=64)
NOISE = NoiseConfig(delta_v2=1e-3, meas_sigma_v=1e-4, offset_sigma_v2=1e-4)


@pytest.fixture(scope="module")
def jammed_task() -> Task:
    """A 128-node jammed network (127 reduced nodes, 288 edges)."""
    net = network_from_spec("jammed:128:seed=1")
    return allostery_task(net, rng=np.random.default_rng(0))


def _config(clock: str, model: str, **changes: object) -> TwinConfig:
    cfg = TwinConfig(clock=clock, edges=board_edge_params(model), noise=NOISE)
    return cfg.evolve(sample_interval_s=1e-3, **changes)


def _close(a: np.ndarray | float, b: np.ndarray | float) -> None:
    np.testing.assert_allclose(a, b, rtol=RTOL, atol=0.0)


def test_path_selection(board_task: Task, jammed_task: Task) -> None:
    def sparse(task: Task, clock: str, **changes: object) -> bool:
        twin = Twin(simpy.Environment(), task, _config(clock, "linear", **changes), run_rng())
        return bool(twin.state.solver.sparse)

    assert not sparse(board_task, "sync:10000")
    assert sparse(jammed_task, "sync:10000")
    assert sparse(jammed_task, "bernoulli:10000:0.5")
    # per-edge clocks, one event at a time: dense up to 128 reduced nodes (faster there)
    assert not sparse(jammed_task, "poisson:10000")
    assert sparse(jammed_task, "poisson:10000", solver=SPARSE_EVENTS)
    assert sparse(jammed_task, "periodic:10000:0.01", solver=SPARSE_EVENTS)
    # ... and committed in windows: grouped, like the ticks
    assert sparse(jammed_task, "poisson:10000", window_s=1e-4)
    assert not sparse(jammed_task, "sync:10000", solver=DENSE)
    assert not sparse(jammed_task, "poisson:10000", solver=DENSE, window_s=1e-4)


@pytest.mark.parametrize("model", ["linear", "transistor"])
@pytest.mark.parametrize("clock", ["sync:10000", "bernoulli:10000:0.5"])
def test_sparse_agrees_with_dense(jammed_task: Task, clock: str, model: str) -> None:
    cfg = _config(clock, model)
    sparse = simulate(jammed_task, cfg, 0.02, rng=run_rng(3))
    dense = simulate(jammed_task, cfg.evolve(solver=DENSE), 0.02, rng=run_rng(3))
    assert sparse.stats["events"] == dense.stats["events"] > 0
    assert sparse.stats["rank1_updates"] == 0
    assert sparse.stats["error_final"] != sparse.stats["error_initial"]  # it did learn
    for key in ("error_final", "free_power_final_w", "clamped_power_final_w",
                "training_energy_j", "clamped_energy_j", "gate_charging_energy_j"):  # fmt: skip
        _close(sparse.stats[key], dense.stats[key])
    for key in ("error", "free_power_w", "clamped_power_w", "energy_j"):
        _close(sparse.history[key], dense.history[key])
    _close(sparse.k, dense.k)
    _close(sparse.gate_v, dense.gate_v)


@pytest.mark.parametrize("model", ["linear", "transistor"])
def test_sparse_agrees_with_dense_event_by_event(jammed_task: Task, model: str) -> None:
    """Poisson clocks, every event committed alone: a sparse refactorisation per event against
    the dense path's rank-1 updates."""
    cfg = _config("poisson:10000", model)
    sparse = simulate(jammed_task, cfg.evolve(solver=SPARSE_EVENTS), 2e-3, rng=run_rng(3))
    dense = simulate(jammed_task, cfg.evolve(solver=DENSE), 2e-3, rng=run_rng(3))
    assert sparse.stats["events"] == sparse.stats["event_groups"] == dense.stats["events"] > 0
    assert sparse.stats["rank1_updates"] == 0 < dense.stats["rank1_updates"]
    for key in ("error", "free_power_w", "clamped_power_w", "energy_j"):
        _close(sparse.history[key], dense.history[key])
    _close(sparse.k, dense.k)
    _close(sparse.gate_v, dense.gate_v)


def test_sparse_runs_are_reproducible(jammed_task: Task) -> None:
    cfg = _config("bernoulli:10000:0.5", "transistor", log_events=10_000)
    a = simulate(jammed_task, cfg, 3e-3, rng=run_rng(5))
    b = simulate(jammed_task, cfg, 3e-3, rng=run_rng(5))
    for key in a.history:
        np.testing.assert_array_equal(a.history[key], b.history[key])
    np.testing.assert_array_equal(a.k, b.k)
    np.testing.assert_array_equal(a.gate_v, b.gate_v)


def test_sparse_network_state_matches_a_fresh_solve(jammed_task: Task) -> None:
    twin = Twin(simpy.Environment(), jammed_task, _config("sync:10000", "linear"), run_rng())
    rng = np.random.default_rng(0)
    n_edges = jammed_task.network.n_edges
    # a single change is refactorised too (no inverse is kept)
    twin.network.set_conductance(np.array([3]), np.array(2e-3))
    twin.network.set_conductance(np.arange(n_edges), rng.uniform(3e-4, 4e-3, n_edges))
    assert twin.network.stats["refactorisations"] == 2
    assert twin.network.stats["rank1_updates"] == 0
    x, s = twin.network.basis()
    fresh = CircuitBatch.from_tasks([jammed_task]).basis(twin.network.conductance)
    assert np.max(np.abs(x - fresh.x[0])) < RTOL * np.max(np.abs(fresh.x[0]))
    assert np.max(np.abs(s - fresh.s[0])) < RTOL * np.max(np.abs(fresh.s[0]))
    assert twin.network.drift() < 1e-9
