"""The circuit solver against analytic circuits and conservation laws."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import examples, node_task
from tests.hypothesis_profiles import scaled
from twin.errors import SolverError, TaskError
from twin.physics.network import Network, lattice
from twin.physics.solver import CircuitBatch, clamped_state, free_state, nudged_targets
from twin.physics.task import Task
from twin.physics.task_generators import regression_task


def _free(task: Task, k: np.ndarray, inputs: np.ndarray | None = None):
    batch = CircuitBatch.from_tasks([task])
    basis = batch.basis(np.asarray(k, float)[None])
    x = task.train.inputs if inputs is None else inputs
    state = free_state(batch, basis, x[None])
    return batch, basis, state


def test_series_divider() -> None:
    k1, k2, v = 2.0, 3.0, 0.45
    task = node_task(3, [(0, 1), (1, 2)], ground=[0], sources=[2], targets=[1], inputs=[[v]])
    batch, basis, st_ = _free(task, [k1, k2])
    volts = batch.node_voltages(basis, st_.currents)[0, :, 0]
    current = v / (1 / k1 + 1 / k2)
    np.testing.assert_allclose(volts, [0.0, current / k1, v], rtol=1e-12)
    np.testing.assert_allclose(st_.outputs[0, 0, 0], current / k1, rtol=1e-12)
    np.testing.assert_allclose(st_.currents[0, 0, 0], current, rtol=1e-12)


def test_parallel_conductances_add() -> None:
    k1, k2, v = 0.7, 1.9, 1.3
    net = Network(n_nodes=3, edges=[[1, 0], [1, 0], [1, 2]])
    task = Task(
        kind="custom",
        network=net,
        ground=[0],
        source_kind="nodes",
        sources=[1],
        target_kind="nodes",
        targets=[2],
        train=examples([[v]], [[0.0]]),
    )
    _, _, s = _free(task, [k1, k2, 5.0])
    # node 2 hangs off node 1 with no path to ground: it carries no current
    np.testing.assert_allclose(s.currents[0, 0, 0], (k1 + k2) * v, rtol=1e-12)
    np.testing.assert_allclose(s.outputs[0, 0, 0], v, rtol=1e-12)
    np.testing.assert_allclose(s.drops[0, :, 0], [v, v, 0.0], atol=1e-14)


@pytest.mark.parametrize(
    "r", [(1.0, 2.0, 3.0, 4.0, 5.0), (2.0, 1.0, 4.0, 2.0, 7.0), (1.0, 1.0, 1.0, 1.0, 0.5)]
)
def test_wheatstone_bridge_matches_thevenin(r: tuple[float, ...]) -> None:
    r1, r2, r3, r4, r5 = r
    v = 1.0
    # nodes: A=1 (source), B=2, C=3, D=0 (ground); edges A-B, A-C, B-D, C-D, B-C
    edges = [(1, 2), (1, 3), (2, 0), (3, 0), (2, 3)]
    task = node_task(4, edges, ground=[0], sources=[1], targets=[2, 3], inputs=[[v]])
    _, _, s = _free(task, 1.0 / np.array(r))
    v_th = v * (r3 / (r1 + r3) - r4 / (r2 + r4))
    r_th = r1 * r3 / (r1 + r3) + r2 * r4 / (r2 + r4)
    i_bridge = v_th / (r_th + r5)
    np.testing.assert_allclose(s.drops[0, 4, 0] / r5, i_bridge, rtol=1e-12, atol=1e-15)
    if r1 / r3 == r2 / r4:
        assert abs(s.drops[0, 4, 0]) < 1e-14


def _random_task(seed: int) -> tuple[Task, np.ndarray]:
    rng = np.random.default_rng(seed)
    net = lattice(int(rng.integers(3, 7)), int(rng.integers(3, 7)), periodic=bool(rng.integers(2)))
    task = regression_task(net, rng=rng, n_train=5, n_test=3, n_out_of_range=0)
    k = np.exp(rng.uniform(-3, 3, net.n_edges))
    return task, k


@settings(max_examples=scaled(25))
@given(st.integers(0, 10_000))
def test_kirchhoff_and_power_balance_in_free_and_clamped_states(seed: int) -> None:
    task, k = _random_task(seed)
    batch, basis, free = _free(task, k)
    net = task.network
    d = net.incidence().toarray()
    lap = d.T @ np.diag(k) @ d
    constrained = set(task.ground.tolist()) | set(net.edges[task.sources].ravel().tolist())
    interior = np.array([a for a in range(net.n_nodes) if a not in constrained])

    volts = batch.node_voltages(basis, free.currents)[0]  # (N, m)
    residual = lap @ volts
    scale = np.abs(k).max() * np.abs(volts).max()
    assert np.abs(residual[interior]).max() < 1e-11 * scale  # KCL at unconstrained nodes
    np.testing.assert_allclose(d @ volts, free.drops[0], atol=1e-12)
    np.testing.assert_allclose(free.drops[0][task.sources], task.train.inputs.T, atol=1e-12)
    # dissipated power = sum over sources of injected current x imposed voltage
    p_edges = np.sum(k[:, None] * free.drops[0] ** 2, axis=0)
    p_sources = np.sum(free.currents[0] * task.train.inputs.T, axis=0)
    np.testing.assert_allclose(p_edges, p_sources, rtol=1e-10)

    clamp = nudged_targets(free.outputs, task.train.outputs[None], 0.3)
    cl = clamped_state(batch, basis, task.train.inputs[None], clamp)
    np.testing.assert_allclose(cl.drops[0][task.targets], clamp[0].T, atol=1e-12)
    b = np.concatenate([task.train.inputs.T, clamp[0].T])
    np.testing.assert_allclose(
        np.sum(k[:, None] * cl.drops[0] ** 2, axis=0),
        np.sum(cl.currents[0] * b, axis=0),
        rtol=1e-10,
    )
    # the free state minimises power: clamping can only cost more
    assert np.all(np.sum(k[:, None] * cl.drops[0] ** 2, axis=0) >= p_edges * (1 - 1e-12))


def test_sparse_backend_agrees_with_dense(monkeypatch) -> None:
    import twin.physics.solver as solver

    task, k = _random_task(7)
    _, _, dense = _free(task, k)
    monkeypatch.setattr(solver, "DENSE_MAX_NODES", 0)
    _, _, sparse = _free(task, k)
    np.testing.assert_allclose(sparse.drops, dense.drops, rtol=1e-10, atol=1e-13)


def test_batched_realizations_of_different_sizes_match_single_solves() -> None:
    tasks = [_random_task(s)[0] for s in (1, 2, 3)]
    ks = [_random_task(s)[1] for s in (1, 2, 3)]
    batch = CircuitBatch.from_tasks(tasks)
    kb = np.ones((3, batch.n_edges))
    for r, k in enumerate(ks):
        kb[r, : k.size] = k
    m = min(t.train.size for t in tasks)
    inputs = np.stack([t.train.inputs[:m] for t in tasks])
    together = free_state(batch, batch.basis(kb), inputs)
    for r, (task, k) in enumerate(zip(tasks, ks, strict=True)):
        _, _, alone = _free(task, k, task.train.inputs[:m])
        e = task.network.n_edges
        np.testing.assert_allclose(together.drops[r, :e], alone.drops[0], rtol=1e-11, atol=1e-14)
        assert np.all(together.drops[r, e:] == 0.0)  # padding edges carry nothing


def test_dependent_boundary_conditions_are_rejected() -> None:
    # source edges 0-1, 1-2 and target edge 0-2 on a triangle: the sources fix the target drop
    net = Network(n_nodes=4, edges=[[0, 1], [1, 2], [0, 2], [2, 3]])
    task = Task(
        kind="custom",
        network=net,
        ground=[3],
        source_kind="edges",
        sources=[0, 1],
        target_kind="edges",
        targets=[2],
        train=examples([[0.1, 0.2]], [[0.3]]),
    )
    with pytest.raises(SolverError, match="not independent"):
        CircuitBatch.from_tasks([task])


def test_wrong_conductance_shape_is_named() -> None:
    task, _ = _random_task(3)
    batch = CircuitBatch.from_tasks([task])
    with pytest.raises(TaskError, match="conductance"):
        batch.basis(np.ones((1, 3)))
