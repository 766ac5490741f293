"""The spring rule's terms are finite-difference gradients of the coupled cost."""

from __future__ import annotations

import numpy as np
import pytest

from twin.physics.contract import Physics
from twin.physics.springs.physics import SpringPhysics
from twin.physics.springs.task import SpringTask


@pytest.mark.parametrize("mode", ["linear", "nonlinear"])
def test_rule_terms_are_gradients_of_the_energies(task27: SpringTask, mode: str) -> None:
    """contrast_i = d(E_C - E_F)/dk_i with the clamped strains held, free_i = dE_F/dk_i."""
    physics = SpringPhysics([task27], mode)  # type: ignore[arg-type]
    assert isinstance(physics, Physics)
    rng = np.random.default_rng(4)
    k = rng.uniform(0.5, 2.0, physics.shape)
    scale = 0.05 if mode == "nonlinear" else 1.0  # small strains keep the reference fast
    inputs, desired = physics.examples()
    inputs, desired = inputs * scale, desired * scale
    eta = 0.2
    terms = physics.rule_terms(k, inputs, desired, eta)
    clamp = terms.free.outputs + eta * (desired - terms.free.outputs)

    def costs(kk: np.ndarray) -> tuple[float, float]:
        free = physics.solve(kk, inputs, None).cost[0]
        return float(physics.solve(kk, inputs, clamp).cost[0] - free), float(free)

    step = 1e-5
    for i in rng.choice(task27.network.n_edges, 5, replace=False):
        dk = np.zeros_like(k)
        dk[0, i] = step
        (c_plus, f_plus), (c_minus, f_minus) = costs(k + dk), costs(k - dk)
        assert terms.free_term[0, i] == pytest.approx((f_plus - f_minus) / (2 * step), rel=1e-5)
        fd = (c_plus - c_minus) / (2 * step)
        assert terms.contrast[0, i] == pytest.approx(fd, rel=1e-3, abs=1e-6 * abs(fd) + 1e-14)


def test_linear_rule_terms_match_two_independent_solves(task27: SpringTask) -> None:
    physics = SpringPhysics([task27])
    k = np.random.default_rng(5).uniform(0.5, 2.0, physics.shape)
    inputs, desired = physics.examples()
    terms = physics.rule_terms(k, inputs, desired, 1e-3)
    free = physics.solve(k, inputs, None)
    clamped = physics.solve(k, inputs, free.outputs + 1e-3 * (desired - free.outputs))
    np.testing.assert_allclose(terms.clamped.drops, clamped.drops, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(terms.clamped.cost, clamped.cost, rtol=1e-12)
    expected = 0.5 * np.mean(clamped.drops**2 - free.drops**2, axis=-1)
    np.testing.assert_allclose(terms.contrast, expected, rtol=1e-6, atol=1e-13)
