"""The active probe: its statistics, its prediction on a fault-free board, what it catches and
what it is blind to, its alarms as documents, and its settings."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest

from twin.board.circuit import BoardCircuit
from twin.board.contract import Command
from twin.board.emulator import BoardEmulator, EmulatorConfig
from twin.board.errors import BridgeConfigError
from twin.board.inprocess import Fault, InProcessBoard
from twin.board.variation import HiddenVariation
from twin.documents import Collector, validate_document
from twin.shadow.alarms import Alarm
from twin.shadow.detector import SpreadModel
from twin.shadow.node_test import free_nodes
from twin.shadow.probe_stats import (
    critical_z,
    gate_sensitivity,
    quantisation_bias,
    read_spread,
    threshold_fit,
)
from twin.shadow.shadow import Shadow, ShadowConfig

#: The spread of a twin that knows the board exactly (as in test_shadow).
KNOWN_BOARD = SpreadModel(
    floor_v=np.full(32, 2.5e-3), slope_v_per_s=np.full(32, 5e-3), rel=np.full(32, 5e-3)
)


def board(seed: int) -> BoardEmulator:
    config = EmulatorConfig(variation=HiddenVariation.typical())
    return BoardEmulator(config, rng=np.random.default_rng([seed, 7]))


def probing_shadow(
    emu: BoardEmulator, faults: list[Fault] | None = None, every_s: float = 0.25
) -> tuple[Shadow, Collector, list[Alarm]]:
    """A shadow whose twin has the board's true hidden edges (a perfect calibration)."""
    docs, alarms = Collector(), []
    sh = Shadow(
        InProcessBoard(emu, faults=faults or []),
        ShadowConfig(probe_every_s=every_s),
        rng=np.random.default_rng(2),
        emit=docs,
        on_alarm=alarms.append,
        edges=emu.edges,
        spread=KNOWN_BOARD,
    )
    return sh, docs, alarms


# ---------------------------------------------------------------------- statistics


def test_gate_sensitivity_matches_finite_differences() -> None:
    emu = board(200)
    emu.advance(2.0)
    circuit, dev = BoardCircuit(emu.task), emu.edges.device
    gates, inputs = emu.track.gates(), np.asarray(emu.task.train.inputs[0])
    free = free_nodes(emu.task)
    base, _ = circuit.free_response(dev, gates, inputs)
    sens = gate_sensitivity(circuit, dev, gates, base, free)
    h = 1e-5
    for e in range(gates.size):
        moved = gates.copy()
        moved[e] += h
        out, _ = circuit.free_response(dev, moved, inputs)
        fd = (out[free] - base[free]) / h
        np.testing.assert_allclose(sens[:, e], fd, atol=2e-4 * np.max(np.abs(sens)) + 1e-9)


def test_an_operating_point_started_near_the_answer_is_the_same_fixed_point() -> None:
    """The node test starts each prediction from its last one: the same answer as from 0 V."""
    emu = board(201)
    emu.advance(1.0)
    circuit, dev = BoardCircuit(emu.task), emu.edges.device
    inputs = np.asarray(emu.task.train.inputs[0])
    before, _ = circuit.free_response(dev, emu.track.gates(), inputs)
    emu.advance(1.25)
    gates = emu.track.gates()
    cold, p_cold = circuit.free_response(dev, gates, inputs)
    warm, p_warm = circuit.free_response(dev, gates, inputs, start_nodes_v=before)
    assert np.max(np.abs(cold - before)) > 1e-3  # the gates moved: a different answer
    np.testing.assert_allclose(warm, cold, rtol=0, atol=1e-10)
    assert p_warm == pytest.approx(p_cold, rel=1e-9)


def test_threshold_fit_recovers_a_single_edge_shift() -> None:
    rng = np.random.default_rng(0)
    sens = rng.normal(size=(14, 32))
    residual = -sens[:, 5] * 0.07  # a threshold +70 mV acts as a gate -70 mV
    shifts, explained = threshold_fit(sens, residual)
    assert int(np.argmax(explained)) == 5
    assert explained[5] == pytest.approx(1.0)
    assert shifts[5] == pytest.approx(0.07)


@pytest.mark.parametrize("ratio", [0.05, 0.2, 0.35, 0.6])
def test_quantisation_bias_bounds_the_mean_of_quantised_reads(ratio: float) -> None:
    """The mean of many quantised noisy readings sits within the stated bias of the truth."""
    rng = np.random.default_rng(1)
    lsb, n = 1.0, 20000
    sigma = ratio * lsb
    bound = quantisation_bias(sigma, lsb)
    worst = 0.0
    for offset in np.linspace(0.0, 1.0, 21):
        reads = np.rint(offset + sigma * rng.standard_normal(n))
        worst = max(worst, abs(reads.mean() - offset) - 4 * reads.std() / math.sqrt(n))
    assert worst <= bound
    assert bound <= 0.5 * lsb


def test_read_spread_is_the_pooled_standard_deviation() -> None:
    rng = np.random.default_rng(3)
    reads = rng.normal(size=(50, 20)) * 0.2 + np.arange(20)
    assert read_spread(reads) == pytest.approx(0.2, rel=0.05)
    assert read_spread(reads[:1]) == 0.0


def test_critical_z_gives_the_target_false_alarm_rate() -> None:
    every_s, hours, tests = 0.5, 10.0, 28
    z = critical_z(every_s, hours, tests)
    per_probe = tests * 2 * (1 - NormalDist().cdf(z))
    assert per_probe == pytest.approx(every_s / (3600 * hours), rel=1e-6)


# ---------------------------------------------------------------------- on an emulated board


def test_probe_prediction_on_a_fault_free_board_is_within_the_floor() -> None:
    """With the board's true parameters the probe's node residual is read noise only: every
    node within the test's floor (z_crit standard errors plus the quantisation bias), no alarm,
    and the board's training goes on between probes."""
    emu = board(11)
    sh, _docs, alarms = probing_shadow(emu)
    summary = sh.run(3.0)
    sh.close()
    probe = sh.probe
    assert probe is not None
    assert len(probe.results) >= 8
    for r in probe.results:
        floor = r.z_crit * r.sigma_v + r.bias_v
        assert np.all(np.abs(r.residual_v) <= floor), (r.t_s, r.residual_v, floor)
        assert np.max(np.abs(r.residual_v)) < 1e-3
    assert [a for a in alarms if a.source == "probe"] == []
    assert summary["probe"]["alarms"] == 0
    assert summary["probe"]["evaluated"] == len(probe.results)
    assert summary["probe"]["missed"] == 0


def test_a_probe_is_a_pause_of_learning_and_nothing_else() -> None:
    """A board probed for 5 ms at 1 s ends, half a second later, with the gates of the same board
    whose learning was stopped for those 5 ms and started again: the probe changes no gate and
    no setting (its command is read-only), it only delays the learning by its hold, which the
    twin mirrors (the board reports ``inference`` while it holds)."""
    probed, paused = board(12), board(12)
    for emu in (probed, paused):
        emu.advance(1.0)
    ack = probed.command(
        Command(name="run_inference", key="p", args={"inputs_v": [0.45], "hold_s": 0.005})
    )
    assert ack.ok
    frames = probed.advance(1.0045)
    assert frames
    assert {f.mode for f in frames} == {"inference"}
    assert paused.command(Command(name="stop_training", key="s")).ok
    paused.advance(1.005)
    assert paused.command(Command(name="start_training", key="t")).ok
    after = probed.advance(1.5)
    paused.advance(1.5)
    assert after[-1].mode == "training"
    np.testing.assert_allclose(probed.track.gates(), paused.track.gates(), atol=1e-9)
    assert probed.version == 0  # read-only: the desired state is untouched


def pinned_edge(seed: int, t_s: float) -> int:
    """The edge of board ``seed`` pinned at the low rail at ``t_s`` whose threshold the free
    nodes feel most."""
    probe = board(seed)
    probe.advance(t_s)
    gates = probe.track.gates()
    circuit, dev = BoardCircuit(probe.task), probe.edges.device
    inputs = np.asarray(probe.task.train.inputs[0])
    nodes, _ = circuit.free_response(dev, gates, inputs)
    sens = np.max(np.abs(gate_sensitivity(circuit, dev, gates, nodes, free_nodes(probe.task))), 0)
    pinned = np.flatnonzero(gates < 1.0 + 1e-3)
    assert pinned.size
    return int(pinned[np.argmax(sens[pinned])])


def test_threshold_fault_on_a_pinned_edge_is_caught_by_the_probe_not_the_gates() -> None:
    emu = board(200)
    edge = pinned_edge(200, 2.0)
    fault = Fault(t_s=2.0, edge=edge, changes={"threshold_shift_v": 0.1})
    sh, docs, _alarms = probing_shadow(emu, [fault])
    sh.run(3.0)
    sh.close()
    probed = [a for a in sh.alarms if a.source == "probe"]
    gates = [a for a in sh.alarms if a.source == "gates"]
    assert gates == []  # the passive detector cannot see a pinned gate's threshold
    assert probed
    assert probed[0].start_s >= 2.0
    assert probed[0].start_s <= 2.0 + 0.25 + 0.02
    assert probed[0].edges[0] == edge
    first = next(r for r in sh.probe.results if r.alarm)  # type: ignore[union-attr]
    assert first.shifts_v[0] == pytest.approx(0.1, rel=0.3)
    assert "probe: edge" in probed[0].likely[0]
    # the alarm reached the run's documents, raised and ended under one episode number
    alarm_docs = [d for d in docs.docs if d["doc"] == "alarm"]
    for d in alarm_docs:
        validate_document(d)
    assert alarm_docs
    assert '"source":"probe"' in alarm_docs[0]["message"]
    raised = [d for d in alarm_docs if d.get("end_s") is None]
    ended = [d for d in alarm_docs if d.get("end_s") is not None]
    assert {d["seq"] for d in raised} == {d["seq"] for d in ended}


def test_the_probe_is_blind_to_a_dead_gate_pinned_at_a_rail() -> None:
    """A dead gate (gains x0) holds the conductance the twin predicts: an inference cannot see
    it (the documented blind spot; it shows only when the twin's rule would move the gate)."""
    emu = board(200)
    edge = pinned_edge(200, 2.0)
    fault = Fault(t_s=2.0, edge=edge, changes={"gain_factor": 0.0})
    sh, _docs, _alarms = probing_shadow(emu, [fault])
    sh.run(3.0)
    sh.close()
    assert [a for a in sh.alarms if a.source == "probe"] == []


# ---------------------------------------------------------------------- settings


def test_an_uncalibrated_shadow_does_not_probe_and_says_so() -> None:
    emu = board(3)
    sh = Shadow(InProcessBoard(emu), ShadowConfig(probe_every_s=0.5), rng=np.random.default_rng(0))
    assert sh.probe is None
    summary = sh.run(0.2)
    sh.close()
    assert "uncalibrated" in summary["probe"]["off"]


@pytest.mark.parametrize(
    "kw",
    [
        {"probe_every_s": 0.0},
        {"probe_every_s": float("nan")},
        {"probe_every_s": -1.0},
        {"probe_every_s": 0.05},  # under 10 x the 10 ms hold
        {"probe_every_s": 1.0, "probe_hold_s": 61.0},
        {"probe_every_s": 1.0, "probe_hold_s": 0.0},
    ],
)
def test_bad_probe_settings_are_refused(kw: dict[str, float]) -> None:
    with pytest.raises(BridgeConfigError, match="probe"):
        ShadowConfig(**kw)  # type: ignore[arg-type]


def test_the_cli_probe_needs_a_calibrated_twin_and_says_so(capsys: pytest.CaptureFixture) -> None:
    import json

    from tests.helpers import run_cli

    code, out, err = run_cli(
        capsys, "shadow", "--emulate", "--no-db", "--duration", "0.2", "--probe-every", "0.5",
        "--json",
    )  # fmt: skip
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert "uncalibrated" in summary["probe"]["off"]
