"""The linearised biased-learning model: exact cycle vs direct integration, the paper's numbers."""

from __future__ import annotations

import numpy as np
import pytest

from twin.errors import ConfigError
from twin.learning.clln_small import measured_curve, small_network_model
from twin.learning.limit_cycle import (
    BiasedTask,
    cycle_trajectory,
    short_period_floor,
    span_rate,
    steady_cycle,
)


def _rk4(tasks: tuple[BiasedTask, BiasedTask], bias: np.ndarray, tau: float, g0, periods: int):
    """Direct integration of dG/dt = -M_i (G - G_i*) + B, 2000 RK4 steps per half period."""
    n_half = 2000
    h = tau / 2 / n_half
    g = np.array(g0, dtype=float)
    for k in range(2 * periods):
        task = tasks[k % 2]
        for _ in range(n_half):
            k1 = task.rate_v_per_s(g, bias)
            k2 = task.rate_v_per_s(g + h / 2 * k1, bias)
            k3 = task.rate_v_per_s(g + h / 2 * k2, bias)
            k4 = task.rate_v_per_s(g + h * k3, bias)
            g = g + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return g


def _random_pair(rng: np.random.Generator, n: int) -> tuple[BiasedTask, BiasedTask]:
    """Two tasks of rank n - 1 (one free direction each, different), M eigenvalues 20-100 1/s."""
    tasks = []
    for _ in range(2):
        q = np.linalg.qr(rng.standard_normal((n, n)))[0]
        lam = np.concatenate([[0.0], rng.uniform(20, 100, n - 1)])
        m = (q * lam) @ q.T
        tasks.append(
            BiasedTask(
                m_per_s=(m + m.T) / 2,
                solution_v=rng.uniform(2, 4, n),
                jacobian=rng.standard_normal((1, n)) * 0.05,
            )
        )
    return tasks[0], tasks[1]


@pytest.mark.parametrize("tau_s", [2e-3, 0.05, 0.4])
def test_steady_cycle_is_the_fixed_point_of_direct_integration(tau_s: float) -> None:
    rng = np.random.default_rng([23, int(tau_s * 1e4)])
    a, b = _random_pair(rng, 3)
    bias = rng.normal(0, 3, 3)
    cycle = steady_cycle(a, b, bias, tau_s)
    after = _rk4((a, b), bias, tau_s, cycle.start_v, periods=1)
    np.testing.assert_allclose(after, cycle.start_v, rtol=0, atol=1e-9)
    half = _rk4((a, b), bias, tau_s, cycle.start_v, periods=0)  # zero periods: unchanged
    np.testing.assert_array_equal(half, cycle.start_v)
    traj = cycle_trajectory(a, b, bias, tau_s, cycle.start_v, np.array([tau_s / 2, tau_s]))
    np.testing.assert_allclose(traj[0], cycle.half_v, atol=1e-12)
    np.testing.assert_allclose(traj[1], cycle.start_v, atol=1e-9)


def test_cycle_is_reached_from_anywhere() -> None:
    rng = np.random.default_rng(5)
    a, b = _random_pair(rng, 2)
    bias = np.array([2.0, -1.0])
    tau = 0.02
    cycle = steady_cycle(a, b, bias, tau)
    # exact phase maps (checked against direct integration above) over 3000 periods
    end = cycle_trajectory(a, b, bias, tau, [3.0, 3.0], np.array([3000 * tau]))[0]
    np.testing.assert_allclose(end, cycle.start_v, atol=1e-6)


def test_without_bias_floor_and_span_vanish_at_a_common_solution() -> None:
    rng = np.random.default_rng(7)
    a, b = _random_pair(rng, 2)
    # make both tasks' solutions one point: no cycle, no error
    b = BiasedTask(m_per_s=b.m_per_s, solution_v=a.solution_v, jacobian=b.jacobian)
    for tau in (1e-3, 0.1, 2.0):
        cycle = steady_cycle(a, b, np.zeros(2), tau)
        assert cycle.span_v < 1e-12
        assert cycle.floor_v2 < 1e-24
    assert span_rate(a, b, np.zeros(2)) < 1e-12


def test_span_grows_in_proportion_to_tau_and_floor_is_flat_at_short_tau() -> None:
    model = small_network_model("exp1")
    a, b, bias = model.alpha, model.beta, model.bias_v_per_s
    rate = span_rate(a, b, bias)
    floor0 = short_period_floor(a, b, bias, model.error_v2)
    for tau in (6e-4, 2e-3, 5e-3):
        cycle = steady_cycle(a, b, bias, tau, model.error_v2)
        assert cycle.span_v / tau == pytest.approx(rate, rel=1e-3)
        assert cycle.floor_v2 == pytest.approx(floor0, rel=0.02)  # O(tau^2) rise
    long = steady_cycle(a, b, bias, 0.2, model.error_v2)
    assert long.floor_v2 > 10 * floor0  # forgetting: the floor rises at long periods


def test_drift_along_a_direction_no_task_constrains() -> None:
    m = np.diag([50.0, 0.0, 0.0])
    m2 = np.diag([0.0, 80.0, 0.0])
    a = BiasedTask(m_per_s=m, solution_v=[3.0, 3.0, 3.0])
    b = BiasedTask(m_per_s=m2, solution_v=[3.0, 3.0, 3.0])
    cycle = steady_cycle(a, b, np.array([1.0, 1.0, 0.5]), 0.01)
    np.testing.assert_allclose(cycle.drift_v_per_s, [0.0, 0.0, 0.5], atol=1e-12)


@pytest.mark.parametrize(
    ("experiment", "floor_v2", "rate_v_per_s"),
    [("exp1", 8e-5, 6.3), ("exp2", 1.1e-5, 2.5)],
)
def test_paper_predictions_of_the_small_network(
    experiment: str, floor_v2: float, rate_v_per_s: float
) -> None:
    """arXiv 2505.22887: predicted floors 8e-5 / 1.1e-5 V^2, span rates 6.3 / 2.5 V/s."""
    model = small_network_model(experiment)
    lam = [np.linalg.eigvalsh(t.m_per_s)[-1] for t in (model.alpha, model.beta)]
    assert all(55 <= x <= 85 for x in lam)  # "M's nonzero eigenvalue about 59-81 1/s"
    floor = short_period_floor(model.alpha, model.beta, model.bias_v_per_s, model.error_v2)
    assert floor == pytest.approx(floor_v2, rel=0.05)
    rate = span_rate(model.alpha, model.beta, model.bias_v_per_s)
    assert rate == pytest.approx(rate_v_per_s, rel=0.02)
    # and within a factor 2 of the measured short-period floor and span
    mse = measured_curve(experiment, "mse")
    d2 = measured_curve(experiment, "d2")
    short = (mse[:, 0] >= 1e-3) & (mse[:, 0] <= 0.02)
    assert 0.5 < floor / np.median(mse[short, 1]) < 2.0
    measured_rate = np.sqrt(d2[(d2[:, 0] >= 1e-3) & (d2[:, 0] <= 0.02), 1]) / d2[short, 0]
    assert 0.5 < rate / np.median(measured_rate) < 2.0


def test_bad_inputs_name_the_field() -> None:
    with pytest.raises(ConfigError, match="m_per_s"):
        BiasedTask(m_per_s=[[1.0, 2.0], [0.0, 1.0]], solution_v=[0.0, 0.0])
    with pytest.raises(ConfigError, match="m_per_s"):
        BiasedTask(m_per_s=[[-1.0, 0.0], [0.0, 1.0]], solution_v=[0.0, 0.0])
    a = BiasedTask(m_per_s=np.eye(2), solution_v=[0.0, 0.0])
    with pytest.raises(ConfigError, match="bias_v_per_s"):
        steady_cycle(a, a, np.zeros(3), 0.1)
    with pytest.raises(ConfigError, match="tau_s"):
        steady_cycle(a, a, np.zeros(2), 0.0)
    with pytest.raises(ConfigError, match="experiment"):
        small_network_model("exp9")
