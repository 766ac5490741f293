"""Edge capacitor: closed-form charging and leak against their analytic curves; rails hold."""

from __future__ import annotations

import numpy as np
import pytest

from twin.simulation import (
    EdgeParams,
    ModelError,
    TwinConfig,
    board_edge_params,
    gate_voltage,
    simulate,
)
from twin.simulation.noise import gate_noise_std

from .conftest import run_rng

BOARD = board_edge_params("transistor")


def test_charging_without_leak_is_linear_in_time() -> None:
    t = np.linspace(0, 5e-3, 11)
    v = gate_voltage(BOARD, np.full(t.size, 2.0), t, 0.1)
    # dV/dt = u / (R C) = 0.1 V / 2.2 ms
    assert np.allclose(v, 2.0 + 0.1 * t / 2.2e-3, rtol=0, atol=1e-12)


def test_leak_relaxes_exponentially_towards_its_fixed_point() -> None:
    params = BOARD.evolve(tau_leak_s=0.01, v_rest_v=2.0)
    t = np.linspace(0, 0.05, 26)
    u = 0.02
    v = gate_voltage(params, np.full(t.size, 4.0), t, u)
    v_inf = 2.0 + 0.01 * u / 2.2e-3
    analytic = v_inf + (4.0 - v_inf) * np.exp(-t / 0.01)
    assert np.allclose(v, analytic, rtol=0, atol=1e-12)


def test_closed_form_matches_a_numerical_integration() -> None:
    params = BOARD.evolve(tau_leak_s=3e-3, v_rest_v=1.5)
    v, dt, u = 3.0, 1e-6, -0.05

    def rate(x: float) -> float:
        return u / 2.2e-3 - (x - 1.5) / 3e-3

    for _ in range(2000):  # 2 ms of classical Runge-Kutta
        k1 = rate(v)
        k2 = rate(v + dt / 2 * k1)
        k3 = rate(v + dt / 2 * k2)
        k4 = rate(v + dt * k3)
        v += dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    exact = gate_voltage(params, np.array([3.0]), 2e-3, u)[0]
    assert exact == pytest.approx(v, abs=1e-12)


def test_rails_clip_the_gate() -> None:
    v = gate_voltage(BOARD, np.array([5.0, 1.2, 3.0]), 1.0, np.array([1.0, -1.0, 0.0]))
    assert np.array_equal(v, [5.5, 1.0, 3.0])


def test_rails_hold_in_a_run_with_a_violent_drive(board_task) -> None:
    edges = BOARD.evolve(a_free_per_v=1e4, a_clamp_per_v=1e4)
    result = simulate(board_task, TwinConfig(edges=edges), 0.05, rng=run_rng())
    gates = result.history["gate_v"]
    assert gates.min() >= 1.0
    assert gates.max() <= 5.5
    # it really drove gates onto the rails: the drive fades as a gate closes in on a rail, so
    # whether one lands exactly on it within 50 ms is a matter of rounding (one did in earlier
    # runs; with numba 0.68.1 / numpy 2.4.6 the closest stops 4.6e-9 V short of 5.5 V)
    assert np.any(gates - 1.0 < 1e-6) or np.any(5.5 - gates < 1e-6)


def test_noise_increment_scales_with_the_square_root_of_the_interval() -> None:
    assert gate_noise_std(4e-3, 2.0) == pytest.approx(2 * gate_noise_std(1e-3, 2.0))
    # with leak: Ornstein-Uhlenbeck, stationary std sig * sqrt(tau / 2)
    assert gate_noise_std(10.0, 2.0, 0.01) == pytest.approx(2.0 * np.sqrt(0.005))
    assert gate_noise_std(1e-9, 2.0, 0.01) == pytest.approx(2.0 * np.sqrt(1e-9), rel=1e-6)


def test_per_edge_parameters_broadcast_and_validate() -> None:
    params = BOARD.evolve(c_gate_f=np.linspace(1e-6, 3e-6, 32))
    cols = params.columns(32)
    assert cols["c_gate_f"][-1] == 3e-6
    assert cols["r_charge_ohm"].shape == (32,)
    with pytest.raises(ModelError, match="c_gate_f"):
        params.columns(16)
    with pytest.raises(ModelError, match="r_charge_ohm"):
        BOARD.evolve(r_charge_ohm=-1.0)
    with pytest.raises(ModelError, match="v_min_v"):
        BOARD.evolve(v_min_v=6.0)
    varied = BOARD.varied(32, np.random.default_rng(0), 0.1)
    assert np.std(varied.columns(32)["c_gate_f"]) > 0


def test_edge_params_need_a_device() -> None:
    with pytest.raises(TypeError):
        EdgeParams()  # type: ignore[call-arg]
