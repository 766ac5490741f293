"""Training decided at every learning step (the lab's control loop, arXiv 2505.22887)."""

from __future__ import annotations

import attrs
import numpy as np
import pytest

from twin.board.emulator import BoardEmulator, EmulatorConfig, default_board_task
from twin.board.errors import BridgeConfigError
from twin.board.hinge import free_outputs_at_v
from twin.board.overclamp import lab_circle_task
from twin.board.stepwise import StepPolicy, StepResult, plain_steps, step_train
from twin.board.stepwise_board import start_stepwise, train_stepwise
from twin.board.track import TwinTrack
from twin.board.variation import HiddenVariation, draw_hidden_edges
from twin.physics.network_io import network_from_spec
from twin.physics.task import Task
from twin.simulation.edge import EdgeParams

NET = network_from_spec("lattice:4x4:periodic")


def test_plain_steps_follow_the_event_driven_twin_step_by_step() -> None:
    """On a lab board (leaks, offsets, gain spread, bias), learning every example at every step
    is the twin's synchronous scheme: the compiled loop and the event-driven twin agree to
    rounding after every step (the lagged operating point, the held drive, the leak's closed
    form and the bias are the same)."""
    task = default_board_task()
    edges, _ = draw_hidden_edges(task.network.n_edges, np.random.default_rng(3),
                                 HiddenVariation.lab())  # fmt: skip
    g0 = np.full(task.network.n_edges, 3.0)
    step = 1e-4
    track = TwinTrack(task, edges, t_s=0.0, gates_v=g0, mode="training", eta=0.22, lam=0.0,
                      step_s=step, rng=np.random.default_rng(0))  # fmt: skip
    for n in (1, 2, 5, 20):
        track.advance(n * step)
        twin = track.gates()
        ours = plain_steps(edges, task, g0, eta=0.22, step_s=step, n_steps=n)
        moved = np.max(np.abs(twin - g0))
        assert moved > n * 5e-4  # the gates really move
        np.testing.assert_allclose(ours, twin, rtol=0, atol=1e-12)


def _labelled_by_board(task: Task, edges: EdgeParams, gates: np.ndarray) -> Task:
    """``task`` with every point labelled as the board classifies it at ``gates`` (all right)."""
    out = free_outputs_at_v(edges.device, gates, task)
    labels = np.where(out[:, 0] - out[:, 1] > 0, 0, 1)
    return attrs.evolve(task, train=attrs.evolve(task.train, labels=labels))


def _bias_only_edges() -> tuple[EdgeParams, np.ndarray]:
    variation = HiddenVariation(bias_mean_v_per_s=0.5, bias_sigma_v_per_s=0.5)
    edges, hidden = draw_hidden_edges(NET.n_edges, np.random.default_rng(5), variation)
    return edges, hidden["bias_v_per_s"]


def test_standard_clamping_beyond_the_margin_leaves_only_the_bias() -> None:
    """Every point right and beyond a tiny margin: the hinge switches the targets off, so the
    clamped state is the free one and the contrast vanishes, but learning stays engaged: the
    gates drift at exactly the bias (equal gains, no leak)."""
    edges, bias = _bias_only_edges()
    g0 = np.full(NET.n_edges, 3.0)
    task = _labelled_by_board(lab_circle_task(NET, 0.417), edges, g0)
    policy = StepPolicy.lab_standard(margin_v=1e-9, max_s=0.01)
    gates, result = step_train(edges, task, g0, policy)
    assert result.error_fraction == 0.0
    assert not result.perfect
    assert result.learning_s == pytest.approx(0.01, rel=1e-9)
    # the operating points settle to 1e-10 V: a contrast below 2 a |dV| 1e-10 ~ 2e-10 V, which
    # moves a gate less than 1e-9 V in 10 ms (RC 2.2 ms); the bias moves it by ~5 mV
    np.testing.assert_allclose(gates - g0, bias * result.learning_s, rtol=0, atol=1e-8)


def test_overclamping_a_right_board_learns_nothing_and_stops() -> None:
    """The same board under overclamping: no point is misclassified, so nothing is learnt (no
    bias drift either) and training stops after one perfect epoch."""
    edges, _ = _bias_only_edges()
    g0 = np.full(NET.n_edges, 3.0)
    task = _labelled_by_board(lab_circle_task(NET, 0.417), edges, g0)
    gates, result = step_train(edges, task, g0, StepPolicy.lab_overclamp())
    assert result.perfect
    assert result.epochs == 1
    assert result.learning_s == 0.0
    assert result.board_s == pytest.approx(8 * 25e-6)
    np.testing.assert_array_equal(gates, g0)


def test_overclamping_learns_the_lab_circle_with_normalised_steps() -> None:
    """The lab's circle at 417 mV on a lab board: overclamping reaches 0 % and stops; each
    misclassified presentation learnt ``step_s`` over the previous epoch's misclassified count
    (the lab's NOR), so the learning time is that sum over the epochs."""
    task = lab_circle_task(NET, 0.417)
    config = EmulatorConfig(variation=HiddenVariation.lab(), autostart=False, step_s=25e-6)
    emu = BoardEmulator(config, rng=np.random.default_rng(0), task=task)
    result = train_stepwise(emu, task, StepPolicy.lab_overclamp())
    assert result.perfect
    assert result.error_fraction == 0.0
    wrong = result.wrong_per_epoch
    assert wrong[0] > 0
    assert wrong[-1] == 0
    previous = np.concatenate([[8], wrong[:-1]])
    expected = 25e-6 * np.sum(wrong / np.maximum(previous, 1))
    assert result.learning_s == pytest.approx(expected, rel=1e-9)
    assert result.board_s == pytest.approx(8 * 25e-6 * result.epochs, rel=1e-9)
    # the board is left idle on the task at the gates reached, its time moved on
    assert emu.mode == "idle"
    assert emu.task is task
    assert emu.t_s == pytest.approx(result.board_s)
    out = free_outputs_at_v(emu.edges.device, emu.track.gates(), task)
    signs = np.where(task.train.labels == 0, 1.0, -1.0)
    assert np.all(signs * (out[:, 0] - out[:, 1]) > 0)
    emu.advance(emu.t_s + 0.01)  # and it runs on from there
    np.testing.assert_allclose(emu.track.gates(), emu.track.gates(), rtol=0)


def test_per_step_training_needs_a_classifier() -> None:
    task = default_board_task()
    edges, _ = draw_hidden_edges(task.network.n_edges, np.random.default_rng(0), HiddenVariation())
    with pytest.raises(BridgeConfigError, match="classifier"):
        step_train(edges, task, np.full(task.network.n_edges, 3.0), StepPolicy())
    with pytest.raises(BridgeConfigError, match="rails_v"):
        StepPolicy(rails_v=(0.4, 0.1))


def test_deciding_by_the_adc_is_seeded_and_can_stop_on_a_misread() -> None:
    """Decisions read through the node ADC (0.2 mV noise, 0.44 mV codes): the same generator
    gives the same run, and overclamping stops on the first epoch the ADC reads all right, which
    at 417 mV leaves a point microvolts on the wrong side (decided 0 %, true 12.5 %; the true
    voltages: 0 %)."""
    task = lab_circle_task(NET, 0.417)
    config = EmulatorConfig(variation=HiddenVariation.lab(), autostart=False, step_s=25e-6)
    policy = StepPolicy.lab_overclamp(decide_by_adc=True)
    runs = []
    for _ in range(2):
        emu = BoardEmulator(config, rng=np.random.default_rng(0), task=task)
        result = train_stepwise(emu, task, policy, rng=np.random.default_rng(7))
        runs.append((emu.track.gates(), result))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    result = runs[0][1]
    assert result.perfect
    assert result.decided_error == 0.0
    assert result.error_fraction > 0.0  # 0.125 on this board
    emu = BoardEmulator(config, rng=np.random.default_rng(0), task=task)
    with pytest.raises(BridgeConfigError, match="rng"):
        train_stepwise(emu, task, policy)


def _lab_board(task: Task, seed: int = 0) -> BoardEmulator:
    config = EmulatorConfig(variation=HiddenVariation.lab(), autostart=False, step_s=25e-6)
    return BoardEmulator(config, rng=np.random.default_rng(seed), task=task)


def test_the_training_mode_runs_with_board_time_as_the_block_does() -> None:
    """As the board's training mode the run advances with board time, whole epochs per frame,
    publishing the gates as they move; it resumes exactly where it left off, so it ends where
    the block ends, bit for bit, and the board goes idle then."""
    task = lab_circle_task(NET, 0.417)
    block = _lab_board(task)
    expected = train_stepwise(block, task, StepPolicy.lab_overclamp())
    emu = _lab_board(task)
    run = start_stepwise(emu, task, StepPolicy.lab_overclamp())
    frames = []
    while emu.rounds is not None:
        frames += emu.advance(emu.t_s + 0.05)
    assert emu.mode == "idle"
    result = emu.rounds_result
    assert isinstance(result, type(expected))
    np.testing.assert_array_equal(run.gates, block.track.gates())  # where training ended
    assert run.t0_s + result.board_s <= emu.t_s  # (then idle: the leak alone since)
    np.testing.assert_array_equal(result.wrong_per_epoch, expected.wrong_per_epoch)
    assert result.learning_s == expected.learning_s
    training = [f for f in frames if f.mode == "training"]
    assert len(training) >= int(expected.board_s / 1e-3) - 1  # one frame per ms while training
    moved = np.abs(training[-1].gate_v - training[0].gate_v).max()
    assert moved > 0.01
    assert frames[-1].mode == "idle"


STEP_OVERCLAMP = {"rounds": {"mode": "overclamp", "decide": "step"}}


def test_the_training_mode_on_the_wire() -> None:
    """``start_training`` with ``rounds: {decide: step}`` starts it (at the board's eta and
    step); an inference hold is refused while it runs; ``stop_training`` abandons it; arguments
    of the rounds that do not apply are refused."""
    from twin.board.contract import Command

    task = lab_circle_task(NET, 0.417)
    emu = _lab_board(task)

    emu.command(Command(key="eta", name="set_params", args={"eta": 32 / 129}))
    ack = emu.command(Command(key="a", name="start_training", args=STEP_OVERCLAMP))
    assert ack.ok
    assert 0.0 < ack.result["error_fraction"] <= 1.0
    assert emu.mode == "training"
    ack = emu.command(Command(key="b", name="run_inference", args={"inputs_v": [0.2] * 4}))
    assert not ack.ok
    assert "point by point" in ack.message
    emu.advance(emu.t_s + 0.01)
    ack = emu.command(Command(key="c", name="stop_training", args={}))
    assert ack.ok
    assert emu.rounds is None
    assert emu.mode == "idle"
    for bad in ({"round_s_per_point": 0.01}, {"max_rounds": 5}, {"decide": "epoch"}):
        rounds = {"mode": "standard", "decide": "step", **bad}
        ack = emu.command(Command(key=f"x{bad}", name="start_training", args={"rounds": rounds}))
        assert not ack.ok
        assert ack.code == "invalid"
    ack = emu.command(Command(key="d", name="start_training", args=STEP_OVERCLAMP))
    assert ack.ok
    while emu.rounds is not None:
        emu.advance(emu.t_s + 0.05)
    result = emu.rounds_result
    assert result is not None
    assert result.perfect


def test_a_fault_injected_during_the_training_mode_applies_from_then_on() -> None:
    """An edge whose amplifier dies mid-training stops learning (and drifting with its bias):
    from then on its gate moves by its leak alone, while the others go on learning."""
    task = lab_circle_task(NET, 0.083)
    emu = _lab_board(task)
    start_stepwise(emu, task, StepPolicy.lab_standard(max_s=0.2))
    emu.advance(0.05)
    emu.inject_fault(5, gain_factor=0.0)
    g0 = emu.track.gates()
    emu.advance(0.1)
    moved = np.abs(emu.track.gates() - g0)
    cols = emu.edges.columns(NET.n_edges)
    leak = np.abs(g0[5] - cols["v_rest_v"][5]) * 0.05 / cols["tau_leak_s"][5]
    assert moved[5] <= 1.01 * leak + 1e-12
    assert np.median(np.delete(moved, 5)) > 20 * leak


def _wire_run(task: Task, rounds: dict, seed: int = 0) -> tuple[np.ndarray, StepResult]:
    from twin.board.contract import Command

    emu = _lab_board(task, seed)
    emu.command(Command(key="eta", name="set_params", args={"eta": 32 / 129}))
    ack = emu.command(Command(key="go", name="start_training", args={"rounds": rounds}))
    assert ack.ok, ack.message
    while emu.rounds is not None:
        emu.advance(emu.t_s + 0.05)
    assert emu.rounds_result is not None
    return emu.track.gates(), emu.rounds_result


def test_the_wire_decides_by_the_adc_when_asked() -> None:
    """``rounds: {decide: step, adc: true}``: decisions from the node ADC's readings, their noise
    from the board's own seeded stream (the same board runs the same), and not the decisions
    from the true voltages; ``adc`` without ``decide: step`` or not a boolean is refused."""
    from twin.board.contract import Command

    task = lab_circle_task(NET, 0.083)
    rounds = {"mode": "overclamp", "decide": "step", "max_s": 0.5}
    by_adc = [_wire_run(task, rounds | {"adc": True}) for _ in range(2)]
    np.testing.assert_array_equal(by_adc[0][0], by_adc[1][0])
    np.testing.assert_array_equal(by_adc[0][1].wrong_per_epoch, by_adc[1][1].wrong_per_epoch)
    true_v = _wire_run(task, rounds | {"adc": False})
    plain = _wire_run(task, rounds)
    np.testing.assert_array_equal(true_v[0], plain[0])  # adc false is the default
    assert not np.array_equal(by_adc[0][0], true_v[0])
    emu = _lab_board(task)
    for bad in ({"mode": "overclamp", "adc": True}, {**rounds, "adc": "yes"}):
        ack = emu.command(Command(key=f"x{bad}", name="start_training", args={"rounds": bad}))
        assert not ack.ok
        assert ack.code == "invalid"
        assert "rounds.adc" in ack.message
