"""Spring mechanics: known answers, force balance, the solver's path, linear vs nonlinear."""

from __future__ import annotations

import numpy as np
import pytest

from twin.physics.springs.mechanics import (
    ENERGY_RESOLUTION_RTOL,
    SpringSet,
    energy,
    gradient,
    hessian,
    relax,
)
from twin.physics.springs.network import SpringNetwork, fixed_coordinates
from twin.physics.springs.physics import SpringPhysics, _with_pins
from twin.physics.springs.task import SpringTask

TRIANGLE = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, np.sqrt(3) / 2]])


def test_three_spring_chain_shares_the_pinned_stretch_in_series() -> None:
    """Springs k1, k2, k3 in series, stretched end to end by a pin K of rest length L (1 + eps):
    the tension is F = K L eps / (1 + K sum 1/k) and spring i extends by F / k_i."""
    k = np.array([1.0, 2.0, 4.0])
    pin, eps = 50.0, 0.2
    x0 = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [3.0, 0.0]])
    springs = SpringSet(
        edges=np.array([[0, 1], [1, 2], [2, 3], [0, 3]]),
        k=np.append(k, pin),
        rest=np.array([1.0, 1.0, 1.0, 3.0 * (1 + eps)]),
        box=None,
        n_nodes=4,
    )
    fixed = np.array([0, 1, 3, 5, 7])  # node 0, and every y (the chain is floppy sideways)
    out = relax(x0, springs, fixed, force_tol_n=1e-12)
    tension = pin * 3.0 * eps / (1 + pin * np.sum(1 / k))
    ext = np.diff(out.x[:, 0]) - 1.0
    np.testing.assert_allclose(ext, tension / k, rtol=1e-12)


def test_triangle_pinned_bond_leaves_the_others_unstressed() -> None:
    """An isostatic triangle has no self-stress: straining one bond through a pin changes its
    length to K l eps / (K + k) and leaves the other two at rest, in both paths."""
    net = SpringNetwork(positions=TRIANGLE, edges=[[0, 1], [1, 2], [2, 0]], rest_lengths=[1, 1, 1])
    task = SpringTask(
        network=net,
        sources=[0],
        targets=[1],
        source_strains=[[0.2]],
        target_strains=[[0.0]],
        pin_stiffness=100.0,
    )
    k = np.array([[3.0, 1.0, 2.0]])
    for mode in ("linear", "nonlinear"):
        state = SpringPhysics([task], mode).solve(k, np.array([[[0.2]]]), None)  # type: ignore[arg-type]
        expected = 100.0 * 0.2 / (100.0 + 3.0)
        np.testing.assert_allclose(state.drops[0, :, 0], [expected, 0, 0], atol=1e-12)
        np.testing.assert_allclose(state.cost, 0.5 * 3.0 * 100.0 / 103.0 * 0.2**2, rtol=1e-10)


def test_gradient_and_hessian_match_finite_differences(jammed27: SpringNetwork) -> None:
    rng = np.random.default_rng(3)
    springs = SpringSet(
        edges=jammed27.edges,
        k=rng.uniform(0.5, 2, jammed27.n_edges),
        rest=jammed27.rest_lengths * rng.uniform(0.9, 1.1, jammed27.n_edges),
        box=jammed27.box,
        n_nodes=jammed27.n_nodes,
    )
    x = jammed27.positions + rng.normal(scale=0.01, size=jammed27.positions.shape)
    g, h = gradient(x, springs).ravel(), hessian(x, springs).toarray()
    step = 1e-6
    for j in rng.choice(x.size, 6, replace=False):
        dx = np.zeros(x.size)
        dx[j] = step
        e_plus, e_minus = (energy(x + s * dx.reshape(-1, 2), springs) for s in (1, -1))
        g_plus, g_minus = (gradient(x + s * dx.reshape(-1, 2), springs).ravel() for s in (1, -1))
        assert (e_plus - e_minus) / (2 * step) == pytest.approx(g[j], rel=1e-6, abs=1e-9)
        np.testing.assert_allclose((g_plus - g_minus) / (2 * step), h[:, j], rtol=1e-5, atol=1e-7)


@pytest.fixture(scope="module")
def relaxed(task27: SpringTask) -> tuple[np.ndarray, SpringSet, np.ndarray]:
    net = task27.network
    k = np.random.default_rng(1).uniform(0.2, 5.0, net.n_edges)
    pins = [(task27.sources, net.rest_lengths[task27.sources] * (1 + task27.source_strains[0]))]
    springs = _with_pins(task27, k, pins)
    out = relax(net.positions, springs, fixed_coordinates(net), force_tol_n=1e-8)
    return out.x, springs, out.energies


def test_zero_net_force_at_the_minimum(relaxed: tuple[np.ndarray, SpringSet, np.ndarray]) -> None:
    """Every node, the held one included (the network is periodic: forces sum to zero)."""
    x, springs, _ = relaxed
    d = x[springs.edges[:, 1]] - x[springs.edges[:, 0]]
    d -= springs.box * np.round(d / springs.box)  # type: ignore[operator]
    tensions = springs.k * np.abs(np.linalg.norm(d, axis=1) - springs.rest)
    assert tensions.max() > 1e-2  # the balance is between real forces
    assert np.max(np.abs(gradient(x, springs))) <= 1e-8


def test_energy_decreases_along_the_solver_path(
    relaxed: tuple[np.ndarray, SpringSet, np.ndarray],
) -> None:
    """The solver's contract (``twin.physics.springs.mechanics``): the energy falls wherever it
    resolves the step, and changes by less than its resolution (``ENERGY_RESOLUTION_RTOL`` of the
    energy) where the force norm judges the step. At the minimum the last change is rounding:
    +1.4e-17 J on an energy of 5.6e-2 J on one machine (OpenBLAS Haswell kernels), where a test
    of ``<= 0`` failed though it passed on the machines before."""
    _, _, energies = relaxed
    assert energies.size > 3  # a real path, from the unstrained state
    change = np.diff(energies)
    resolution = ENERGY_RESOLUTION_RTOL * np.abs(energies[:-1])
    assert np.all(change <= resolution)
    resolved = np.abs(change) > resolution
    assert resolved.sum() >= energies.size // 2  # most of the path is a resolved fall
    assert np.all(change[resolved] < 0.0)
    assert energies[-1] < 1e-2 * energies[0]


def test_linear_and_nonlinear_agree_to_second_order_in_strain(task27: SpringTask) -> None:
    """The difference of the two paths' extensions scales as strain^2 (ratio 100 per decade)."""
    k = np.exp(np.random.default_rng(1).uniform(-1, 1, (1, task27.network.n_edges)))
    linear, exact = SpringPhysics([task27]), SpringPhysics([task27], "nonlinear")
    inputs, _ = linear.examples()
    diffs = []
    for h in (0.1, 0.01):
        a, b = linear.solve(k, inputs * h, None), exact.solve(k, inputs * h, None)
        diffs.append(np.max(np.abs(a.drops - b.drops)))
        assert np.max(np.abs(a.drops)) > 10 * diffs[-1]  # first order dominates
    assert diffs[0] / diffs[1] == pytest.approx(100.0, rel=0.1)
