"""The opt-in soft gate wall (issue 23): charging toward a rail slows over the wall's width."""

from __future__ import annotations

import attrs
import numpy as np
import pytest
import simpy

from twin.board.emulator import BoardEmulator, EmulatorConfig, default_board_task
from twin.board.hinge import free_outputs_at_v
from twin.board.overclamp import lab_circle_task
from twin.board.stepwise import StepPolicy, step_train
from twin.board.variation import HiddenVariation, draw_hidden_edges
from twin.physics.network_io import network_from_spec
from twin.physics.task import Examples, Task
from twin.simulation.clocks import SyncClock
from twin.simulation.edge import EdgeParams, board_edge_params
from twin.simulation.errors import ModelError
from twin.simulation.twin import Twin, TwinConfig

NET = network_from_spec("lattice:4x4:periodic")


def test_a_wall_of_zero_width_is_the_board_of_before_bit_for_bit() -> None:
    """``soft_wall_v = 0`` (the default of every preset) runs exactly what the hard rails ran;
    a wall changes the same board's gates (so the comparison can fail)."""
    lab = HiddenVariation.lab()
    assert lab.soft_wall_v == 0.0

    def gates(variation: HiddenVariation) -> np.ndarray:
        emu = BoardEmulator(EmulatorConfig(variation=variation), rng=np.random.default_rng(3))
        emu.advance(0.2)
        return emu.track.gates()

    off = gates(lab)
    np.testing.assert_array_equal(gates(attrs.evolve(lab, soft_wall_v=0.0)), off)
    assert not np.array_equal(gates(attrs.evolve(lab, soft_wall_v=4.0)), off)


def _solved_at(task: Task, gates_v: float, edges: EdgeParams) -> Task:
    """The same task with desired outputs equal to the free outputs at uniform gates: solved."""
    twin = Twin(
        simpy.Environment(),
        task,
        TwinConfig(edges=edges.evolve(v_gate0_v=gates_v)),
        np.random.default_rng(0),
    )
    free, _ = twin.node_voltages(0)
    return task.evolve(
        train=Examples(inputs=task.train.inputs[:1], outputs=free[task.targets][None, :])
    )


@pytest.mark.parametrize("wall_v", [0.0, 0.5])
def test_the_event_kernel_slows_a_gate_charging_into_the_wall(wall_v: float) -> None:
    """At the solution the drive is the bias alone. At 5.2 V, 0.3 V below the 5.5 V rail, a wall
    of 0.5 V scales the upward drift to 0.6 of the bias; the downward one (away from the rail)
    keeps its rate. Without a wall both drift at the bias."""
    edges = board_edge_params("transistor")
    task = _solved_at(default_board_task(), 5.2, edges)
    bias = np.zeros(32)
    bias[5], bias[17] = 3.0, -3.0
    config = TwinConfig(
        clock=SyncClock(rate_hz=1e4),
        edges=edges.evolve(v_gate0_v=5.2, bias_v_per_s=bias, soft_wall_v=wall_v),
    )
    twin = Twin(simpy.Environment(), task, config, np.random.default_rng(1))
    t = 1e-3
    moved = twin.run(t).gate_v - 5.2
    up = 0.6 if wall_v else 1.0
    np.testing.assert_allclose(moved[[5, 17]], [up * 3.0 * t, -3.0 * t], rtol=0.05)


@pytest.mark.parametrize("wall_v", [0.0, 0.5])
def test_the_stepwise_kernel_slows_a_gate_charging_into_the_wall(wall_v: float) -> None:
    """The lab's per-step loop, every point right beyond a tiny margin: the gates drift at the
    bias alone (equal gains, no leak); at 5.2 V a 0.5 V wall scales the upward drift to 0.6."""
    variation = HiddenVariation(bias_mean_v_per_s=0.5, bias_sigma_v_per_s=0.5)
    edges, hidden = draw_hidden_edges(NET.n_edges, np.random.default_rng(5), variation)
    bias = hidden["bias_v_per_s"]
    assert (bias > 0).any()
    assert (bias < 0).any()
    edges = edges.evolve(soft_wall_v=wall_v)
    g0 = np.full(NET.n_edges, 5.2)
    task = lab_circle_task(NET, 0.417)
    out = free_outputs_at_v(edges.device, g0, task)
    labels = np.where(out[:, 0] - out[:, 1] > 0, 0, 1)
    task = attrs.evolve(task, train=attrs.evolve(task.train, labels=labels))
    gates, result = step_train(edges, task, g0, StepPolicy.lab_standard(margin_v=1e-9, max_s=0.01))
    assert result.learning_s == pytest.approx(0.01, rel=1e-9)
    # a gate moves ~5 mV in 10 ms: the factor changes by ~1 % on the way
    expected = bias * result.learning_s * np.where((bias > 0) & (wall_v > 0), 0.6, 1.0)
    np.testing.assert_allclose(gates - g0, expected, rtol=0.02, atol=1e-8)


def test_a_wall_must_not_be_negative() -> None:
    with pytest.raises(ModelError, match="soft_wall_v"):
        board_edge_params("transistor").evolve(soft_wall_v=-0.1)
