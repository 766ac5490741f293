"""Conductance curves: linear map, transistor ohmic region and subthreshold floor, KCL."""

from __future__ import annotations

import numpy as np
import pytest
import simpy

from twin.simulation import (
    LinearDevice,
    ModelError,
    TransistorDevice,
    Twin,
    TwinConfig,
    linear_for_bounds,
)

from .conftest import run_rng


def test_linear_device_is_linear() -> None:
    dev = LinearDevice(slope_siemens_per_v=2e-3, v_zero_v=0.5)
    assert np.allclose(dev.conductance(np.array([1.0, 3.0])), [1e-3, 5e-3])


def test_linear_for_bounds_maps_rails_onto_bounds() -> None:
    dev = linear_for_bounds(1e-3, 10.0, 1.0, 5.5)
    assert np.allclose(dev.conductance(np.array([1.0, 5.5])), [1e-3, 10.0])
    with pytest.raises(ModelError):
        linear_for_bounds(1.0, 0.5, 1.0, 5.5)


def test_transistor_above_threshold_is_the_ohmic_square_law() -> None:
    dev = TransistorDevice()
    vg = np.array([2.0, 3.0, 5.5])
    vmid = np.array([0.1, 0.2, 0.4])
    expected = 8.5e-4 * (vg - 0.65 - vmid)
    assert np.allclose(dev.conductance(vg, vmid), expected, rtol=1e-6)


def test_transistor_subthreshold_falls_a_decade_per_tenth_of_a_volt() -> None:
    dev = TransistorDevice()
    k = dev.conductance(np.array([0.2, 0.3]), np.zeros(2))  # 0.45 and 0.35 V below threshold
    assert k[1] / k[0] == pytest.approx(10.0, rel=1e-3)
    assert np.all(k > 0)


def test_transistor_network_satisfies_the_nonlinear_kirchhoff_law(board_task) -> None:
    """At the converged operating point, the transistor currents balance at every free node."""
    twin = Twin(simpy.Environment(), board_task, TwinConfig(), run_rng())
    st = twin.state
    net = board_task.network
    dev = TransistorDevice()
    for q, mu in ((0, st.examples.mu_f[0]), (1, st.examples.mu_c[0])):
        volts = np.zeros(net.n_nodes)
        free = np.ones(net.n_nodes, dtype=bool)
        free[board_task.ground] = False
        volts[free] = st.circuit.x[q, :-1] @ mu
        a, b = net.edges[:, 0], net.edges[:, 1]
        vmid = 0.5 * (volts[a] + volts[b])
        current = dev.conductance(st.edges.v_gate, vmid) * (volts[a] - volts[b])
        net_in = np.zeros(net.n_nodes)
        np.add.at(net_in, a, -current)
        np.add.at(net_in, b, current)
        held = set(board_task.ground.tolist()) | set(board_task.sources.tolist())
        if q == 1:
            held |= set(board_task.targets.tolist())
        interior = [i for i in range(net.n_nodes) if i not in held]
        assert np.max(np.abs(net_in[interior])) < 1e-15
        assert np.max(np.abs(current)) > 1e-5
