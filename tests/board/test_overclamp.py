"""Overclamping (arXiv 2505.22887): rail targets, learning only misclassified points, stop rule."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np
import pytest

from hw_bridge.desk import normalize_command
from twin.board.contract import Command
from twin.board.emulator import BoardEmulator, EmulatorConfig
from twin.board.errors import BridgeConfigError, CommandRefused
from twin.board.overclamp import (
    ClampPolicy,
    circle_task,
    free_outputs_v,
    lab_circle_task,
    learning_targets_v,
    output_differences_v,
    train_rounds,
)
from twin.board.variation import HiddenVariation
from twin.physics.network_io import network_from_spec
from twin.physics.task import Examples, Task, task_to_dict
from twin.simulation.schedule import EtaRamp, Schedule

NET = network_from_spec("lattice:4x4:periodic")


def _board(task: Task, variation: HiddenVariation, seed: int = 3, **kw: float) -> BoardEmulator:
    config = EmulatorConfig(variation=variation, autostart=False, **kw)
    return BoardEmulator(config, rng=np.random.default_rng(seed), task=task)


def _one_point_round(task: Task, targets_v: np.ndarray, eta: float) -> np.ndarray:
    """Gate change (V) of a nominal board learning point 0 towards ``targets_v`` for 2 ms."""
    emu = _board(task, HiddenVariation())
    g0 = emu.track.gates()
    sub = attrs.evolve(
        task,
        train=Examples(
            inputs=task.train.inputs[:1], outputs=targets_v, labels=task.train.labels[:1]
        ),
    )
    emu.follow_schedule(Schedule(tasks=[sub], eta=EtaRamp.constant(eta), duration_s=2e-3))
    emu.advance(2e-3)
    return emu.track.gates() - g0


def test_rail_targets_drive_the_gates_in_proportion_to_their_distance() -> None:
    """Coupled learning's drive is linear in eta (D - V_F) to first order: targets at the rails,
    25x farther from the free outputs than targets 1/25 of the way, move the gates 25x as fast,
    with a second-order correction that shrinks in proportion to eta."""
    task = circle_task(NET, 0.167)
    emu = _board(task, HiddenVariation())
    assert output_differences_v(emu, task)[0] < 0
    assert task.train.labels[0] == 0
    v_f = free_outputs_v(emu, task)[:1]
    rails = learning_targets_v(ClampPolicy(), task.train.labels[:1], v_f)
    np.testing.assert_array_equal(rails, [[0.4532, 0.0]])  # class 0: output 0 high
    excess = []
    for eta in (0.05, 0.01):
        far = _one_point_round(task, rails, eta)
        near = _one_point_round(task, v_f + (rails - v_f) / 25.0, eta)
        ratio = float(far @ near / (near @ near))
        excess.append(ratio / 25.0 - 1.0)
    assert abs(excess[0]) < 0.01
    assert 3.0 < excess[0] / excess[1] < 7.5  # the correction is O(eta): 5x smaller eta, ~5x


def test_a_perfect_round_stops_training_and_the_bias_never_acts() -> None:
    """Learning only while points are misclassified: labels the board already gets right end
    training at once, and the gates stay put although the board carries the lab's bias (the bias
    drives a gate only while it learns). Standard clamping still learns the points inside its
    margin, and the bias moves the gates."""
    task = circle_task(NET, 0.167)
    emu = _board(task, HiddenVariation.lab())
    right = np.where(output_differences_v(emu, task) > 0, 0, 1)
    task = attrs.evolve(task, train=attrs.evolve(task.train, labels=right))
    g0 = emu.track.gates()
    result = train_rounds(emu, task, ClampPolicy())
    assert result.perfect
    assert result.rounds == 0
    assert result.learning_s == 0.0
    assert result.error_fraction == [0.0]
    np.testing.assert_array_equal(emu.track.gates(), g0)
    policy = ClampPolicy(overclamp=False, margin_v=1.0, round_s_per_point=1e-3, max_rounds=2)
    standard = train_rounds(emu, task, policy)
    assert standard.learnt == [8, 8]
    assert not standard.perfect
    assert standard.learning_s == pytest.approx(16e-3)  # scaled by the points learnt
    assert np.max(np.abs(emu.track.gates() - g0)) > 1e-3


def test_a_classifier_needs_two_labelled_targets() -> None:
    task = circle_task(NET, 0.167)
    emu = _board(task, HiddenVariation())
    with pytest.raises(BridgeConfigError, match="labels"):
        train_rounds(
            emu, attrs.evolve(task, train=attrs.evolve(task.train, labels=None)), ClampPolicy()
        )
    with pytest.raises(BridgeConfigError, match="epsilon"):
        circle_task(NET, 1.0)


def _wire(emu: BoardEmulator, name: str, key: str, **args: object) -> Mapping[str, Any]:
    """Send one command as it arrives from the wire: schema-checked, then applied."""
    ack = emu.command(normalize_command(Command(name=name, key=key, args=args)))
    assert ack.ok, ack.message
    return ack.result or {}


def test_training_in_rounds_is_a_wire_command_equal_to_train_rounds() -> None:
    """``start_training`` with ``rounds`` on a board that was sent the classifier task (and the
    lab's ETA 32) trains exactly as :func:`train_rounds`: same rounds, same gates at the end; the
    board goes idle by itself after the last round, its task the full one again."""
    task = circle_task(NET, 0.167)
    policy = ClampPolicy(round_s_per_point=5e-3, max_rounds=6)
    ref = _board(task, HiddenVariation.lab(), seed=4)
    expected = train_rounds(ref, task, policy)
    assert expected.rounds >= 2  # the comparison covers rounds after the first
    emu = _board(_regression_on(task), HiddenVariation.lab(), seed=4)
    _wire(emu, "load_task", "k1", task=task_to_dict(task))
    _wire(emu, "set_params", "k2", ETA=32)
    first = _wire(
        emu,
        "start_training",
        "k3",
        rounds={"mode": "overclamp", "round_s_per_point": 5e-3, "max_rounds": 6},
    )
    assert first == {"error_fraction": expected.error_fraction[0], "perfect": False}
    assert emu.mode == "training"
    emu.advance(ref.t_s)  # the rounds end when the reference's did
    assert emu.mode == "idle"
    assert emu.rounds is None
    assert emu.rounds_result == expected
    assert task_to_dict(emu.task) == task_to_dict(task)
    np.testing.assert_array_equal(emu.track.gates(), ref.track.gates())


def _regression_on(task: Task) -> Task:
    """A regression task on ``task``'s network and sources (what a board runs before a load)."""
    return attrs.evolve(
        task, train=Examples(inputs=task.train.inputs[:1], outputs=task.train.outputs[:1])
    )


def test_rounds_on_the_wire_are_checked_and_abandoned_by_stop_training() -> None:
    task = circle_task(NET, 0.167)
    emu = _board(task, HiddenVariation(), seed=4)  # no leak: an idle board's gates hold
    for rounds, match in (
        ({"mode": "sideways"}, "mode"),
        ({"mode": "overclamp", "max_rounds": 0}, "max_rounds"),
        ({"mode": "overclamp", "eta": 0.5}, "eta"),
        ({}, "mode"),
    ):
        with pytest.raises(CommandRefused, match=match):
            normalize_command(Command(name="start_training", key="x", args={"rounds": rounds}))
        ack = emu.command(
            Command(name="start_training", key=f"r{match}{len(rounds)}", args={"rounds": rounds})
        )
        assert not ack.ok
        assert ack.code == "invalid"
    ack = emu.command(
        Command(
            name="start_training",
            key="both",
            args={"duration_s": 1.0, "rounds": {"mode": "overclamp"}},
        )
    )
    assert not ack.ok
    assert "not both" in (ack.message or "")
    unlabelled = attrs.evolve(task, train=attrs.evolve(task.train, labels=None))
    _wire(emu, "load_task", "u", task=task_to_dict(unlabelled))
    ack = emu.command(
        Command(name="start_training", key="u2", args={"rounds": {"mode": "standard"}})
    )
    assert not ack.ok
    assert "labels" in (ack.message or "")
    _wire(emu, "load_task", "l", task=task_to_dict(task))
    _wire(emu, "start_training", "go", rounds={"mode": "standard", "max_rounds": 50})
    assert emu.rounds is not None
    assert emu.mode == "training"
    emu.advance(emu.t_s + 0.01)
    _wire(emu, "stop_training", "stop")
    assert emu.rounds is None
    assert emu.mode == "idle"
    assert task_to_dict(emu.task) == task_to_dict(task)  # the full task, not a round's points
    g = emu.track.gates()
    emu.advance(emu.t_s + 0.5)
    np.testing.assert_array_equal(emu.track.gates(), g)


@pytest.mark.slow
def test_overclamping_trains_a_biased_board_where_standard_clamping_stalls() -> None:
    """Over 12 lab boards (seeds 0-11), 8 points on a circle of diameter 417 mV trained in rounds
    (the lab: standard clamping 12.5 % training error, overclamping 0 %): overclamping ends with
    every point right on every board (measured 12/12 at 0 %, median 0.17 s of learning) where
    standard clamping leaves one point of eight wrong on most (8/12 at 12.5 %, Wilson 95 % [0.39,
    0.86]; mean 8.3 %; median 0.52 s). On the former lab() (0.5 +- 0.5 V/s, 1 % gain spread) it
    was 5 of seeds 0-5 (mean 10.4 %); on this lab() seeds 0-5 alone give 3/6. At 167 and 83 mV
    the rounds protocol did NOT reproduce the lab's advantage on the former lab()
    (``benchmarks/overclamp_table.py``: overclamping 18.8 % vs standard 12.5 % at 167 mV, 52 % vs
    35 % at 83 mV; the lab 0 % vs 12.5 %, 25 % vs 50 %; not re-measured in rounds), so no claim
    is made there; the lab's per-step protocol is ``--decide step``."""
    task = circle_task(NET, 0.417)
    over, std, t_over, t_std = [], [], [], []
    for seed in range(12):
        a = _board(task, HiddenVariation.lab(), seed=seed, step_s=25e-6)
        r = train_rounds(a, task, ClampPolicy(max_rounds=40))
        b = _board(task, HiddenVariation.lab(), seed=seed, step_s=25e-6)
        s = train_rounds(b, task, ClampPolicy(overclamp=False, eta=128 / 129, max_rounds=40))
        over.append(r.error_fraction[-1])
        std.append(s.error_fraction[-1])
        t_over.append(r.learning_s)
        t_std.append(s.learning_s)
    assert max(over) == 0.0
    assert sum(e > 0 for e in std) >= len(std) / 2, std
    assert np.median(t_over) < 0.5 * np.median(t_std)


def test_the_labs_circle_is_single_ended_with_two_fixed_sources() -> None:
    """The lab's own circle: two inputs on a circle of diameter epsilon about mid-range, two fixed
    sources (0.04 and 0.5 of the node range), points 0-3 class 1, at the lab's nodes."""
    task = lab_circle_task(NET, 0.083)
    x = task.train.inputs / 0.4532
    np.testing.assert_allclose(np.hypot(x[:, 0] - 0.5, x[:, 1] - 0.5), 0.083 / 2 / 0.4532)
    np.testing.assert_allclose(x[:, 2:], np.tile([0.04, 0.5], (8, 1)))
    np.testing.assert_array_equal(task.train.labels, [1, 1, 1, 1, 0, 0, 0, 0])
    assert task.sources.tolist() == [15, 13, 7, 5]
    assert task.targets.tolist() == [10, 8]
    with pytest.raises(BridgeConfigError, match="epsilon"):
        lab_circle_task(NET, 0.5)
