"""A twin's gates reset in place follow the same trajectory as a twin restarted from them."""

from __future__ import annotations

import numpy as np

from twin.board.emulator import BoardEmulator, EmulatorConfig
from twin.board.track import ENERGY_KEYS, TwinTrack
from twin.simulation.edge import board_edge_params


def _tracks() -> tuple[TwinTrack, TwinTrack, np.ndarray]:
    task = BoardEmulator(EmulatorConfig(), rng=np.random.default_rng(0)).task
    edges = board_edge_params("transistor")
    made = [
        TwinTrack(
            task,
            edges,
            t_s=0.0,
            gates_v=None,
            mode="training",
            eta=0.22,
            lam=0.0,
            step_s=1e-4,
            rng=np.random.default_rng(3),
        )
        for _ in range(2)
    ]
    new_gates = np.random.default_rng(4).uniform(1.5, 4.5, task.network.n_edges)
    return made[0], made[1], new_gates


def test_reset_in_place_matches_a_restart() -> None:
    in_place, restarted, new_gates = _tracks()
    for track in (in_place, restarted):
        track.advance(0.05)
    in_place.reset_gates(0.05, new_gates)
    restarted.restart(0.05, gates_v=new_gates)
    assert in_place.segments == 1  # no new twin in place
    assert restarted.segments == 2
    np.testing.assert_allclose(in_place.gates(), restarted.gates(), atol=1e-12)
    np.testing.assert_allclose(in_place.node_voltages()[0], restarted.node_voltages()[0])
    for track in (in_place, restarted):
        track.advance(0.15)
    a, b = in_place.readings(), restarted.readings()
    np.testing.assert_allclose(a["gate_v"], b["gate_v"], rtol=0, atol=1e-9)
    assert not np.allclose(a["gate_v"], new_gates, atol=1e-3)  # the gates did learn since
    for key in ENERGY_KEYS:  # the books carry over: old state to 0.05 s, new state after
        assert a[key] > 0
        np.testing.assert_allclose(a[key], b[key], rtol=1e-9)


def test_energy_up_to_the_reset_is_the_old_state_s() -> None:
    in_place, untouched, new_gates = _tracks()
    for track in (in_place, untouched):
        track.advance(0.05)
    in_place.advance(0.05045)  # between events: the books hold energy not booked yet
    untouched.advance(0.05045)
    in_place.reset_gates(0.05045, new_gates)
    a, b = in_place.readings(), untouched.readings()
    for key in ENERGY_KEYS:
        np.testing.assert_allclose(a[key], b[key], rtol=1e-12)


def test_a_reset_later_in_board_time_maps_it_onto_the_twins_clock() -> None:
    in_place, restarted, new_gates = _tracks()
    for track in (in_place, restarted):
        track.advance(0.05)
    in_place.reset_gates(0.08, new_gates)  # 30 ms the board ran unseen: not simulated
    restarted.restart(0.08, gates_v=new_gates)
    assert in_place.t_s == 0.08
    for track in (in_place, restarted):
        track.advance(0.18)
    np.testing.assert_allclose(in_place.gates(), restarted.gates(), rtol=0, atol=1e-9)
    in_place.reset_gates(0.01, new_gates)  # a reboot: board time starts again
    in_place.advance(0.11)
    np.testing.assert_allclose(in_place.gates(), restarted.gates(), rtol=0, atol=1e-9)
