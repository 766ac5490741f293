"""Overclamping (arXiv 2505.22887): rail targets, learning only misclassified points, stop rule."""

from __future__ import annotations

import attrs
import numpy as np
import pytest

from twin.board.emulator import BoardEmulator, EmulatorConfig
from twin.board.errors import BridgeConfigError
from twin.board.overclamp import (
    ClampPolicy,
    circle_task,
    free_outputs_v,
    learning_targets_v,
    output_differences_v,
    train_rounds,
)
from twin.board.variation import HiddenVariation
from twin.physics.network_io import network_from_spec
from twin.physics.task import Examples, Task
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


@pytest.mark.slow
def test_overclamping_trains_a_biased_board_where_standard_clamping_stalls() -> None:
    """Over 6 lab-biased boards, 8 points on a circle of diameter 167 mV (the lab: overclamping
    0 % training error, standard 12.5 %): overclamping ends with no more errors on average (measured
    8.3 % vs 10.4 %, one board of six apart) in less than half the learning time (median 0.49 s vs
    1.18 s). At 83 mV this emulator does NOT reproduce the lab (overclamping 40 % vs standard 21 %
    after 40 rounds), so no claim is made there."""
    task = circle_task(NET, 0.167)
    over, std, t_over, t_std = [], [], [], []
    for seed in range(6):
        a = _board(task, HiddenVariation.lab(), seed=seed, step_s=25e-6)
        r = train_rounds(a, task, ClampPolicy(max_rounds=40))
        b = _board(task, HiddenVariation.lab(), seed=seed, step_s=25e-6)
        s = train_rounds(b, task, ClampPolicy(overclamp=False, eta=128 / 129, max_rounds=40))
        over.append(r.error_fraction[-1])
        std.append(s.error_fraction[-1])
        t_over.append(r.learning_s)
        t_std.append(s.learning_s)
    assert np.mean(over) <= np.mean(std)
    assert np.median(t_over) < 0.5 * np.median(t_std)
