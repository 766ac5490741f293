"""Windowed commits of per-edge clocks (``TwinConfig.window_s``) against the exact per-event path.

The windowed path draws the same clock times and gate noise as the exact one (counter-based
streams), so runs compare event for event at equal times. What differs: an edge's new drive also
sees the changes committed later in its window. A window holding one event is the exact path bit
for bit; as the window shrinks the difference falls, measured here on the board (4 x 4, Poisson
clocks at 10 kHz per edge, noise-free, 0.05 s): rms gate difference 1.9e-6 V at 1 us, 1.1e-5 V
at 10 us, 6.2e-5 V at 100 us (linear; transistor within 20 %): order 0.75. The order's floor is
1/2: coincidences within a window occur at a rate proportional to the window and perturb the
drives by random signs, which add up like a random walk.
"""

from __future__ import annotations

import numpy as np
import pytest
import simpy

from twin.physics.network_io import network_from_spec
from twin.physics.task import Task
from twin.physics.task_generators import allostery_task
from twin.simulation import (
    NoiseConfig,
    SolverSettings,
    Twin,
    TwinConfig,
    TwinResult,
    board_edge_params,
    simulate,
)
from twin.simulation.errors import ModelError

from .conftest import run_rng

DURATION_S = 0.05
NOISE = NoiseConfig(delta_v2=1e-3, meas_sigma_v=1e-4, offset_sigma_v2=1e-4)


def _run(
    task: Task,
    window_s: float,
    model: str = "linear",
    duration_s: float = DURATION_S,
    **changes: object,
) -> TwinResult:
    cfg = TwinConfig(clock="poisson:10000", edges=board_edge_params(model),
                     sample_interval_s=duration_s / 10, window_s=window_s)  # fmt: skip
    return simulate(task, cfg.evolve(**changes), duration_s, rng=run_rng(1))


def _rms(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)))


@pytest.mark.parametrize("noise", [NoiseConfig(), NOISE], ids=["noise-free", "noisy"])
@pytest.mark.parametrize("model", ["linear", "transistor"])
def test_windows_of_one_event_are_the_exact_path(board_task: Task, model: str, noise) -> None:
    """A window shorter than any gap between events commits each event alone: bit for bit."""
    exact = _run(board_task, 0.0, model, noise=noise, tau_feedback_s=2e-4)
    tiny = _run(board_task, 1e-13, model, noise=noise, tau_feedback_s=2e-4)
    assert tiny.stats["event_groups"] == tiny.stats["events"] == exact.stats["events"] > 10_000
    for key in exact.history:
        np.testing.assert_array_equal(tiny.history[key], exact.history[key])
    np.testing.assert_array_equal(tiny.k, exact.k)
    np.testing.assert_array_equal(tiny.gate_v, exact.gate_v)
    assert tiny.stats["training_energy_j"] == exact.stats["training_energy_j"]


@pytest.mark.parametrize("model", ["linear", "transistor"])
def test_windowed_result_converges_to_the_exact_path(board_task: Task, model: str) -> None:
    """Gate voltages and the error at equal times approach the exact run as the window shrinks.

    Measured order between 1 us and 100 us windows: 0.75 (both models); asserted: every 10x
    smaller window is closer, and the fitted order is at least 0.4 (the random-sign floor is
    1/2).
    """
    exact = _run(board_task, 0.0, model)
    windows = np.array([1e-4, 1e-5, 1e-6])
    gate_rms, err_max = [], []
    for w in windows:
        r = _run(board_task, float(w), model)
        assert r.stats["events"] == exact.stats["events"]  # the same clock draws
        assert r.stats["event_groups"] < exact.stats["events"]  # and windows did merge events
        gate_rms.append(_rms(r.gate_v, exact.gate_v))
        err_max.append(float(np.max(np.abs(r.history["error"] - exact.history["error"]))))
    assert gate_rms[0] > gate_rms[1] > gate_rms[2] > 0.0
    assert err_max[0] > err_max[2]
    order = np.polyfit(np.log(windows), np.log(gate_rms), 1)[0]
    assert order > 0.4, (order, gate_rms)
    assert gate_rms[0] < 1e-3  # 100 us window: below a millivolt (gates span 1.0-5.5 V)


def test_window_error_is_below_the_learning_rule_noise(board_task: Task) -> None:
    """At a 100 us window (the board's learning step) the windowed run is closer to the exact
    noise-free run than the exact run with the seed's learning-rule noise (delta = 1e-3 V^2) is:
    measured 6.2e-5 V against 1.3e-2 V rms on the gates after 0.05 s."""
    exact = _run(board_task, 0.0)
    windowed = _run(board_task, 1e-4)
    noisy = _run(board_task, 0.0, noise=NoiseConfig(delta_v2=1e-3))
    assert _rms(windowed.gate_v, exact.gate_v) < 0.1 * _rms(noisy.gate_v, exact.gate_v)


@pytest.fixture(scope="module")
def jammed_task() -> Task:
    """A 128-node jammed network (127 reduced nodes, 288 edges)."""
    return allostery_task(network_from_spec("jammed:128:seed=1"), rng=np.random.default_rng(0))


@pytest.mark.parametrize("model", ["linear", "transistor"])
def test_windowed_sparse_and_dense_paths_agree(jammed_task: Task, model: str) -> None:
    """The same windows (~58 events each) committed by a sparse refactorisation or by dense
    rank-1 updates: equal to rounding."""
    sparse = _run(jammed_task, 2e-5, model, 0.01, noise=NOISE)
    dense = _run(jammed_task, 2e-5, model, 0.01, noise=NOISE,
                 solver=SolverSettings(sparse_above=None, sparse_events_above=None))  # fmt: skip
    assert sparse.stats["events"] == dense.stats["events"] > 0
    assert sparse.stats["rank1_updates"] == 0 < dense.stats["rank1_updates"]
    for key in ("error", "free_power_w", "energy_j"):
        np.testing.assert_allclose(sparse.history[key], dense.history[key], rtol=1e-9, atol=0)
    np.testing.assert_allclose(sparse.gate_v, dense.gate_v, rtol=1e-9, atol=0)


def _state_bytes(twin: Twin) -> tuple[int, int]:
    """Total bytes of the twin's state arrays and the largest array's element count."""
    total, largest = 0, 0
    for group in twin.state:
        for value in group if isinstance(group, tuple) else ():
            if isinstance(value, np.ndarray):
                total += value.nbytes
                largest = max(largest, value.size)
    return total, largest


@pytest.mark.parametrize("window_s", [0.0, 1e-4])
def test_state_of_a_sparse_network_grows_linearly(window_s: float) -> None:
    """4x the edges (12x12 -> 24x24 periodic lattice): the state grows ~4x, not 16x.

    Measured: 389 and 455 bytes per edge (the factor's fill grows ~ n log n); a dense inverse
    alone would be 8 n^2 = 2.6 MB at 575 reduced nodes.
    """
    per_edge, sizes = [], []
    for spec in ("lattice:12x12:periodic", "lattice:24x24:periodic"):
        task = allostery_task(network_from_spec(spec), rng=np.random.default_rng(0))
        cfg = TwinConfig(clock="poisson:10000", edges=board_edge_params("transistor"),
                         window_s=window_s)  # fmt: skip
        twin = Twin(simpy.Environment(), task, cfg, run_rng())
        total, largest = _state_bytes(twin)
        n = twin.state.circuit.x.shape[1] - 1
        assert twin.state.solver.sparse
        assert largest < n * n / 8  # nothing of size n^2 (or E^2) is kept
        per_edge.append(total / task.network.n_edges)
        sizes.append(n)
    assert sizes[1] > 3.5 * sizes[0]
    assert per_edge[1] < 1.5 * per_edge[0]


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"clock": "sync:10000"}, "poisson and periodic"),
        ({"clock": "continuous:0.001"}, "poisson and periodic"),
        ({"engine": "agents"}, "batched engine"),
        ({"window_s": -1e-4}, ">= 0"),
        ({"window_s": float("inf")}, ">= 0"),
    ],
)
def test_window_settings_are_validated(changes: dict[str, object], needle: str) -> None:
    cfg = {"clock": "poisson:10000", "window_s": 1e-4} | changes
    with pytest.raises(ModelError, match=needle):
        TwinConfig(**cfg)  # type: ignore[arg-type]


def test_periodic_clocks_window_too(board_task: Task) -> None:
    cfg = TwinConfig(clock="periodic:10000:0.01", edges=board_edge_params("linear"),
                     sample_interval_s=DURATION_S / 10)  # fmt: skip
    exact = simulate(board_task, cfg, DURATION_S, rng=run_rng(1))
    windowed = simulate(board_task, cfg.evolve(window_s=1e-5), DURATION_S, rng=run_rng(1))
    assert windowed.stats["events"] == exact.stats["events"]
    assert windowed.stats["event_groups"] < exact.stats["events"]
    assert _rms(windowed.gate_v, exact.gate_v) < 1e-3
