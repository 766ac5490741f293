"""``twin steer --policy overclamp``: a classifier board trained by overclamping to a perfect
pass, verified by inference, left idle at its own eta."""

from __future__ import annotations

import time

import numpy as np
import pytest

from twin.board.emulator import BoardEmulator, EmulatorConfig
from twin.board.inprocess import InProcessBoard
from twin.board.overclamp import lab_circle_task
from twin.board.variation import HiddenVariation
from twin.physics.network_io import network_from_spec
from twin.steer import PolicySpec, SteerConfig, SteerConfigError, SteerTwin, steer_board
from twin.steer.overclamp import LAB_ETA

from .conftest import Misbehaving, emulated

NET = network_from_spec("lattice:4x4:periodic")


def _lab_board(epsilon_v: float, seed: int = 0) -> InProcessBoard:
    """A lab-like board (its bias and gain spread) holding the lab's 8-point circle."""
    config = EmulatorConfig(variation=HiddenVariation.lab(), step_s=25e-6)
    emu = BoardEmulator(
        config, rng=np.random.default_rng(seed), task=lab_circle_task(NET, epsilon_v)
    )
    return InProcessBoard(emu)


def test_overclamp_trains_a_classifier_to_a_verified_perfect_pass() -> None:
    inner = _lab_board(0.417, seed=1)
    board = Misbehaving(inner)
    twin = SteerTwin(edges=inner.emulator.edges, trusted=True)
    res = steer_board(
        board,
        policy=PolicySpec(name="overclamp"),
        config=SteerConfig(perfect=True, max_time_s=3.0),
        twin=twin,
    )
    s = res.summary
    assert s["reached"], s
    assert s["error_initial"] > 0  # there was something to learn
    assert s["error_final"] == 0.0
    assert s["predicted_error_final"] == 0.0  # the twin (the board's own circuits) agrees
    # (the board's own classification is not asserted after the stop: overclamping ends with
    # a point at the boundary, and the held board's leak can move it back across in ms)
    assert s["training_energy_j"] > 0
    assert s["steps"] > 0
    names = [c.name for c in board.received]
    start = next(c for c in board.received if c.name == "start_training")
    assert start.args["rounds"]["mode"] == "overclamp"
    assert start.args["rounds"]["decide"] == "step"
    etas = [c.args["eta"] for c in board.received if c.name == "set_params" and "eta" in c.args]
    assert etas[0] == pytest.approx(LAB_ETA)
    assert etas[-1] == pytest.approx(s["eta_board"])  # set back
    assert names[-1] in ("set_params", "stop_training")
    assert inner.emulator.mode == "idle"
    assert inner.emulator.eta == pytest.approx(s["eta_board"])
    board.close()


def test_overclamp_needs_a_classifier_and_no_tolerance() -> None:
    with pytest.raises(SteerConfigError, match="perfect pass"):
        SteerConfig(perfect=True, tolerance_rel=1e-2)
    board = emulated()  # a regression task
    with pytest.raises(SteerConfigError, match="not a classifier"):
        steer_board(board, policy=PolicySpec(name="overclamp"), config=SteerConfig(perfect=True))
    assert board.emulator.mode == "idle"  # held at the join: left safe
    board.close()


def test_an_overclamp_dry_run_sends_nothing() -> None:
    """... and does not wait for an inference it never sent (it used to sit out the join
    timeout, 10 s, for the board to report the idle that follows one)."""
    inner = _lab_board(0.417)
    board = Misbehaving(inner)
    t0 = time.monotonic()
    res = steer_board(
        board,
        policy=PolicySpec(name="overclamp"),
        config=SteerConfig(perfect=True, max_time_s=1.0),
        dry_run=True,
    )
    assert board.received == []
    assert res.summary["commands"]["dry_run"] >= 2  # eta and the overclamped training
    assert not res.summary["reached"]
    assert time.monotonic() - t0 < SteerConfig(perfect=True).join_timeout_s
    board.close()


def test_a_pass_the_board_reads_perfect_but_inference_does_not_ends_the_run_at_once() -> None:
    """Seed 0's lab board ends its overclamping with points a few mV from the boundary: its own
    pass is perfect, inference reads a point on the wrong side, and each new training ends
    within a frame (nothing to learn on the board's side). The run says so and ends then, not
    at the time limit (it used to wait for a training frame that never came)."""
    inner = _lab_board(0.417, seed=0)
    res = steer_board(
        inner,
        policy=PolicySpec(name="overclamp"),
        config=SteerConfig(perfect=True, max_time_s=5.0),
        twin=SteerTwin(edges=inner.emulator.edges, trusted=True),
    )
    s = res.summary
    assert not s["reached"]
    assert s["reason"] == "the board stopped without a pass inference confirms"
    assert s["error_final"] > 0
    assert s["trainings_started"] == 5
    assert s["board_time_s"] < 2.0
    assert inner.emulator.mode == "idle"
    inner.close()
