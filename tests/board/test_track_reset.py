"""A twin's gates reset in place follow the same trajectory as a twin restarted from them."""

from __future__ import annotations

import numpy as np
import pytest

from twin.board.contract import Command
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


def test_a_gate_write_books_the_charging_a_resync_does_not() -> None:
    """A board's gate write (``write_gates``: the ``reset_gates`` command) charges every
    capacitor through its resistor from a driver stepped to the new voltage: C dV^2 / 2 each,
    booked as gate energy; a shadow's resync (``reset_gates``) moves the model, not the board."""
    written, resynced, new_gates = _tracks()
    for track in (written, resynced):
        track.advance(0.05)
    old = written.gates().copy()
    before = written.readings()["gate_energy_j"], resynced.readings()["gate_energy_j"]
    write_j = written.write_gates(0.05, new_gates, mode="idle")
    resynced.reset_gates(0.05, new_gates)
    c_f = 2.2e-6  # the board's gate capacitor (PHYSICS.md section 8)
    expect_j = float(np.sum(0.5 * c_f * (new_gates - old) ** 2))
    assert write_j == pytest.approx(expect_j, rel=1e-12)
    assert expect_j > 1e-6  # gates moved ~1 V each: a write of a few microjoules
    after = written.readings()["gate_energy_j"], resynced.readings()["gate_energy_j"]
    assert after[0] - before[0] == pytest.approx(expect_j, rel=1e-9)
    assert after[1] - before[1] == pytest.approx(0.0, abs=1e-15)
    assert written.mode == "idle"
    np.testing.assert_allclose(written.gates(), new_gates, atol=1e-12)


def test_the_boards_reset_gates_command_books_its_charging() -> None:
    emu = BoardEmulator(EmulatorConfig(), rng=np.random.default_rng(0))
    emu.advance(0.02)
    old = emu.track.gates().copy()
    before = emu.track.readings()["gate_energy_j"]
    target = np.full(old.shape, 2.0)
    assert emu.command(Command(name="reset_gates", key="w", args={"gate_v": list(target)})).ok
    jump = emu.track.readings()["gate_energy_j"] - before
    assert jump == pytest.approx(float(np.sum(0.5 * 2.2e-6 * (target - old) ** 2)), rel=1e-9)


def test_held_gates_stay_put_while_the_rest_learn_and_the_next_reset_frees_them() -> None:
    held_track, free_track, new_gates = _tracks()
    for track in (held_track, free_track):
        track.advance(0.05)
    hold = np.zeros(new_gates.size, dtype=bool)
    hold[[0, 5, 9]] = True
    held_track.reset_gates(0.05, new_gates, hold=hold)
    free_track.reset_gates(0.05, new_gates)
    np.testing.assert_array_equal(held_track.gates_ahead(0.1)[hold], new_gates[hold])
    for track in (held_track, free_track):
        track.advance(0.15)
    held, free = held_track.gates(), free_track.gates()
    np.testing.assert_array_equal(held[hold], new_gates[hold])  # exactly where they were set
    assert np.all(np.abs(free[hold] - new_gates[hold]) > 1e-4)  # they would have moved
    assert np.all(np.abs(held[~hold] - new_gates[~hold]) > 1e-6)  # the others learn on
    held_track.reset_gates(0.15, held)  # no hold: every gate has its own rails again
    held_track.advance(0.25)
    assert np.all(np.abs(held_track.gates()[hold] - held[hold]) > 1e-6)


def test_gates_ahead_reads_without_advancing() -> None:
    track, _, _ = _tracks()
    track.advance(0.05)
    before = track.gates()
    ahead = track.gates_ahead(1e-3)
    assert track.t_s == 0.05
    np.testing.assert_array_equal(track.gates(), before)
    assert np.any(ahead != before)
