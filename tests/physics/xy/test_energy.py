"""XY energy, forces, Hessian and cost against finite differences; symmetries; relaxation."""

from __future__ import annotations

import numpy as np
import pytest

from twin.physics.xy.energy import (
    XYParams,
    cost,
    cost_force,
    energy,
    energy_grads,
    force,
    hessian,
    init_params,
    loss,
)
from twin.physics.xy.graph import all_to_all, lattice, layered
from twin.physics.xy.relax import RelaxConfig, polish, relax, relax_reference

GRAPHS = [all_to_all(6, 2, 1), layered([2, 4, 1]), lattice(3, 4, 2, 1, triangular=True, skip=2)]


def _params(graph, rng) -> XYParams:
    p = init_params(graph, rng)
    return XYParams(w=p.w, h=rng.normal(size=graph.n_nodes), psi=p.psi)


@pytest.mark.parametrize("graph", GRAPHS, ids=lambda g: g.name)
def test_force_is_minus_energy_gradient(graph, rng):
    p = _params(graph, rng)
    phi = rng.uniform(-np.pi, np.pi, (3, graph.n_nodes))
    eps = 1e-6
    fd = np.empty_like(phi)
    for i in range(graph.n_nodes):
        d = np.zeros(graph.n_nodes)
        d[i] = eps
        fd[:, i] = -(energy(graph, p, phi + d) - energy(graph, p, phi - d)) / (2 * eps)
    np.testing.assert_allclose(force(graph, p, phi), fd, atol=1e-8)


@pytest.mark.parametrize("graph", GRAPHS, ids=lambda g: g.name)
def test_hessian_is_minus_force_jacobian(graph, rng):
    p = _params(graph, rng)
    phi = rng.uniform(-np.pi, np.pi, graph.n_nodes)
    target = rng.uniform(-1, 1, len(graph.outputs))
    beta, eps = 0.3, 1e-6

    def total_force(x):
        f = force(graph, p, x)
        f[graph.outputs] += beta * cost_force(x[graph.outputs], target)
        return f

    fd = np.column_stack([
        -(total_force(phi + eps * e) - total_force(phi - eps * e)) / (2 * eps)
        for e in np.eye(graph.n_nodes)
    ])  # fmt: skip
    np.testing.assert_allclose(hessian(graph, p, phi, beta, target), fd, atol=1e-7)


def test_parameter_derivatives_match_finite_differences(rng):
    graph = GRAPHS[2]
    p = _params(graph, rng)
    phi = rng.uniform(-np.pi, np.pi, (4, graph.n_nodes))
    grads = energy_grads(graph, p, phi).flat()
    base = p.flat()
    eps = 1e-6
    fd = np.empty_like(base)
    for k in range(base.size):
        d = np.zeros_like(base)
        d[k] = eps
        fd[k] = (energy(graph, p.unflat(base + d), phi) - energy(graph, p.unflat(base - d), phi)
                 ).mean() / (2 * eps)  # fmt: skip
    np.testing.assert_allclose(grads, fd, atol=1e-8)


def test_cost_force_matches_finite_differences(rng):
    phi = rng.uniform(-2, 2, (5, 3))
    target = rng.uniform(-1.5, 1.5, 3)
    eps = 1e-6
    for k in range(3):
        d = np.zeros(3)
        d[k] = eps
        fd = -(cost(phi + d, target) - cost(phi - d, target)) / (2 * eps)
        np.testing.assert_allclose(cost_force(phi, target)[:, k], fd, atol=1e-7)


def test_global_rotation_leaves_energy_cost_and_loss_unchanged(rng):
    graph = GRAPHS[0]
    p = _params(graph, rng)
    phi = rng.uniform(-np.pi, np.pi, (4, graph.n_nodes))
    target = rng.uniform(-1, 1, (4, 1))
    rot = 1.234
    p_rot = XYParams(w=p.w, h=p.h, psi=p.psi + rot)
    out = graph.outputs
    np.testing.assert_allclose(energy(graph, p_rot, phi + rot), energy(graph, p, phi), atol=1e-12)
    np.testing.assert_allclose(cost(phi[:, out] + rot, target + rot), cost(phi[:, out], target))
    np.testing.assert_allclose(loss(phi[:, out] + rot, target + rot), loss(phi[:, out], target))


def test_compiled_relaxation_agrees_with_reference_step_by_step(rng):
    graph = GRAPHS[2]
    p = _params(graph, rng)
    phi0 = rng.uniform(-np.pi, np.pi, (3, graph.n_nodes))
    target = rng.uniform(-1, 1, (3, 1))
    for steps in (1, 7, 40):
        cfg = RelaxConfig(dt=0.05, max_steps=steps, tol=1e-12)
        fast = relax(graph, p, phi0, targets=target, beta=0.5, config=cfg)
        ref = relax_reference(graph, p, phi0, targets=target, beta=0.5, config=cfg)
        np.testing.assert_allclose(fast.phi, ref.phi, rtol=0, atol=1e-12)
        np.testing.assert_allclose(fast.work, ref.work, rtol=1e-10)
        np.testing.assert_array_equal(fast.steps, ref.steps)
    np.testing.assert_array_equal(phi0[:, graph.inputs], fast.phi[:, graph.inputs])


@pytest.mark.parametrize("graph", GRAPHS[:2], ids=lambda g: g.name)
def test_compiled_nudging_agrees_with_reference_near_and_far_from_anti_target(graph, rng):
    # outputs from 1e-6 to 3 rad short of the anti-target (d = +-pi), where the kernel switches
    # from sin d / (1 + cos d) to tan(d / 2) (NEAR_PI), and at random: one step and ten
    p = _params(graph, rng)
    gaps = np.array([1e-6, 1e-3, 0.02, 0.044, 0.046, 0.1, 1.0, 3.0])
    phi0 = rng.uniform(-np.pi, np.pi, (2 * len(gaps), graph.n_nodes))
    target = rng.uniform(-1.5, 1.5, (len(phi0), 1))
    side = np.repeat([1.0, -1.0], len(gaps))
    phi0[:, graph.outputs[0]] = target[:, 0] + side * (np.pi - np.tile(gaps, 2))
    for steps in (1, 10):
        cfg = RelaxConfig(dt=0.01, max_steps=steps, tol=1e-300)
        fast = relax(graph, p, phi0, targets=target, beta=0.2, config=cfg)
        ref = relax_reference(graph, p, phi0, targets=target, beta=0.2, config=cfg)
        np.testing.assert_allclose(fast.phi, ref.phi, rtol=0, atol=1e-12)
        np.testing.assert_allclose(fast.work, ref.work, rtol=1e-10)


def test_relaxation_stops_by_force_norm_at_a_minimum(rng):
    graph = GRAPHS[0]
    p = _params(graph, rng)
    phi0 = rng.uniform(-np.pi, np.pi, (5, graph.n_nodes))
    out = relax(graph, p, phi0, config=RelaxConfig(dt=0.1, max_steps=100_000, tol=1e-9))
    assert out.converged.all()
    assert (out.steps < 100_000).all()
    free = graph.free
    assert np.abs(force(graph, p, out.phi)[:, free]).max() < 1e-9
    # a minimum: the free block of the Hessian is positive definite
    for x in out.phi:
        assert np.linalg.eigvalsh(hessian(graph, p, x)[np.ix_(free, free)]).min() > 0
    # the work dissipated equals the energy lost, to first order in dt
    drop = energy(graph, p, phi0) - energy(graph, p, out.phi)
    np.testing.assert_allclose(out.work, drop, rtol=0.1)
    # Newton polish moves a converged state by no more than its residual allows
    x = polish(graph, p, out.phi[0])
    assert np.abs(x - out.phi[0]).max() < 1e-6


def test_input_response_matches_finite_differences_of_equilibria(rng):
    from twin.physics.xy.response import hop_distance, input_response

    graph = lattice(3, 3, 2, 1, io="sides")
    p = _params(graph, rng)
    phi0 = rng.uniform(-np.pi, np.pi, (1, graph.n_nodes))
    x = polish(graph, p, relax(graph, p, phi0, config=RelaxConfig(max_steps=100_000)).phi[0])
    eps = 1e-6
    cols = []
    for i in graph.inputs:
        up, down = x.copy(), x.copy()
        up[i] += eps
        down[i] -= eps
        cols.append((polish(graph, p, up) - polish(graph, p, down)) / (2 * eps))
    fd = np.linalg.norm(np.column_stack(cols), axis=1)
    np.testing.assert_allclose(input_response(graph, p, x[None])[0], fd, atol=1e-6)
    assert graph.inputs.tolist() == [0, 6]
    assert hop_distance(graph).tolist() == [0, 1, 2, 1, 2, 3, 0, 1, 2]
