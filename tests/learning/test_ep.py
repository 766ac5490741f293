"""Equilibrium propagation on XY networks: the estimator against finite differences of the cost."""

from __future__ import annotations

import numpy as np
import pytest

from twin.learning.ep import EPBatch, EPConfig, ep_step, free_phase, random_starts
from twin.physics.xy.energy import XYParams, cost, init_params
from twin.physics.xy.graph import all_to_all, layered
from twin.physics.xy.relax import RelaxConfig, polish

X = np.array([[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]]) * np.pi / 2
Y = np.array([[-1.0], [1.0], [1.0], [-1.0]]) * np.pi / 2
LABELS = np.array([0, 1, 1, 0])
TIGHT = RelaxConfig(dt=0.1, max_steps=200_000, tol=1e-12)


def _params(graph, rng) -> XYParams:
    p = init_params(graph, rng)
    return XYParams(w=2 * p.w / p.w.std(), h=rng.normal(size=graph.n_nodes), psi=p.psi)


def _mean_cost(graph, p, states, targets) -> float:
    """Mean cost at the free equilibria continued (Newton) from ``states`` to parameters ``p``."""
    out = graph.outputs
    phis = np.array([polish(graph, p, s) for s in states])
    return float(cost(phis[:, out], targets).mean())


def _true_gradient(graph, p, states, targets, eps=1e-6) -> np.ndarray:
    base = p.flat()
    grad = np.empty_like(base)
    for k in range(base.size):
        d = np.zeros_like(base)
        d[k] = eps
        up = _mean_cost(graph, p.unflat(base + d), states, targets)
        down = _mean_cost(graph, p.unflat(base - d), states, targets)
        grad[k] = (up - down) / (2 * eps)
    return grad


def _batch(graph, p, seed) -> EPBatch:
    """Two random starts of each XOR input, with targets within 1 rad of the free outputs.

    Near the anti-target (|phi - t| -> pi) the cost -log(1 + cos) diverges and the nudged phase
    is linear in beta only for beta << (pi - |phi - t|)^2: EP's small-beta regime shrinks there.
    """
    rng = np.random.default_rng(seed)
    batch = random_starts(graph, X, Y, LABELS, 2, rng)
    free = free_phase(graph, p, batch.phi0, EPConfig(relax=TIGHT))
    targets = free.phi[:, graph.outputs] + rng.uniform(-1, 1, batch.targets.shape)
    return EPBatch(phi0=batch.phi0, targets=targets, labels=batch.labels)


def _errors(graph, p, symmetric, betas, seed=7):
    batch = _batch(graph, p, seed)
    errors, truth = [], None
    for beta in betas:
        cfg = EPConfig(beta=beta, symmetric=symmetric, relax=TIGHT)
        step = ep_step(graph, p, batch, cfg)
        assert step.free.converged.all()
        assert step.nudged.converged.all()
        if truth is None:  # the free phase does not depend on beta: one finite-difference truth
            truth = _true_gradient(graph, p, step.free.phi, batch.targets)
        errors.append(np.linalg.norm(step.grad.flat() - truth) / np.linalg.norm(truth))
    return np.array(errors)


@pytest.mark.parametrize("graph", [all_to_all(6, 2, 1), layered([2, 4, 1])], ids=lambda g: g.name)
def test_ep_gradient_approaches_cost_gradient_as_beta_vanishes(graph):
    p = _params(graph, np.random.default_rng(3))
    betas = np.array([1e-1, 3e-2, 1e-2, 3e-3, 1e-3])
    one_sided = _errors(graph, p, False, betas)
    slope = np.polyfit(np.log(betas), np.log(one_sided), 1)[0]
    assert 0.8 < slope < 1.2, one_sided  # bias O(beta)
    assert one_sided[-1] < 1e-2
    symmetric = _errors(graph, p, True, betas)
    slope = np.polyfit(np.log(betas), np.log(symmetric), 1)[0]
    assert 1.8 < slope < 2.2, symmetric  # first-order bias removed: O(beta^2)
    assert (symmetric < one_sided).all()


def test_global_rotation_leaves_ep_step_unchanged():
    """Rotating every phase (starts, inputs, targets) and every psi together changes nothing but
    the equilibria, which rotate with them."""
    graph = all_to_all(6, 2, 1)
    p = _params(graph, np.random.default_rng(4))
    cfg = EPConfig(beta=0.05, starts=3, relax=TIGHT)
    batch = random_starts(graph, X, Y, LABELS, 3, np.random.default_rng(1))
    ref = ep_step(graph, p, batch, cfg)
    rot = 0.9
    turned = EPBatch(phi0=batch.phi0 + rot, targets=batch.targets + rot, labels=batch.labels)
    p_rot = XYParams(w=p.w, h=p.h, psi=p.psi + rot)
    step = ep_step(graph, p_rot, turned, cfg)
    np.testing.assert_allclose(step.free.phi, ref.free.phi + rot, atol=1e-9)
    np.testing.assert_allclose(step.grad.flat(), ref.grad.flat(), atol=1e-7)
    assert step.loss == pytest.approx(ref.loss, abs=1e-12)
    assert step.energy_free == pytest.approx(ref.energy_free, abs=1e-9)


def test_train_xy_learns_xor_on_all_to_all_and_handles_zero_epochs():
    from twin.learning.ep_train import XYTrainConfig, train_xy
    from twin.physics.xy.tasks import xor

    graph = all_to_all(6, 2, 1)
    result = train_xy(graph, xor(), XYTrainConfig(epochs=300), np.random.default_rng(0))
    assert result.test.accuracy == 1.0  # all 4 examples from all 8 random starts
    assert result.history["loss"][-1] < 0.01 < result.history["loss"][0]
    empty = train_xy(graph, xor(), XYTrainConfig(epochs=0), np.random.default_rng(0))
    assert empty.summary()["epochs"] == 0


def test_train_xy_shows_its_watch_the_sampled_epochs_without_changing_the_run():
    from twin.learning.ep_train import XYTrainConfig, train_xy
    from twin.physics.xy.tasks import xor

    graph = layered([2, 4, 1])
    config = XYTrainConfig(epochs=23, sample_every=5)
    seen: list[tuple[int, np.ndarray, np.ndarray]] = []

    def watch(epoch: int, params: XYParams, phi: np.ndarray) -> None:
        seen.append((epoch, params.w.copy(), phi.copy()))

    plain = train_xy(graph, xor(), config, np.random.default_rng(3))
    watched = train_xy(graph, xor(), config, np.random.default_rng(3), watch=watch)
    assert [e for e, *_ in seen] == [0, 5, 10, 15, 20, 22]  # every sampled epoch and the last
    for _, w, phi in seen:
        assert w.shape == (graph.n_edges,)
        assert phi.shape == (graph.n_nodes,)
        # a free state of an XOR example: its inputs clamped at the encoded bits, +-pi/2
        np.testing.assert_allclose(np.abs(phi[graph.inputs]), np.pi / 2)
    np.testing.assert_array_equal(seen[-1][1], watched.params.w)  # the parameters after the update
    np.testing.assert_array_equal(watched.params.w, plain.params.w)  # watching changes nothing
