"""The passive node check: the board's training frames' node readings against the calibrated
twin, without a command. What it catches (the probe's threshold faults, at the training inputs),
what it is blind to, that a fault-free board stays within its floor, and its settings."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.shadow.test_probe import KNOWN_BOARD, board, pinned_edge
from twin.board.emulator import BoardEmulator
from twin.board.errors import BridgeConfigError
from twin.board.inprocess import Fault, InProcessBoard, NodeFault, fault_spec, parse_fault
from twin.documents import Collector, validate_document
from twin.shadow.shadow import Shadow, ShadowConfig


def watching_shadow(
    emu: BoardEmulator, faults: list[Fault] | None = None, every_s: float = 0.25
) -> tuple[Shadow, Collector]:
    """A shadow with the node check whose twin has the board's true hidden edges."""
    docs = Collector()
    sh = Shadow(
        InProcessBoard(emu, faults=faults or []),
        ShadowConfig(node_every_s=every_s),
        rng=np.random.default_rng(2),
        emit=docs,
        edges=emu.edges,
        spread=KNOWN_BOARD,
    )
    return sh, docs


def test_node_check_on_a_fault_free_board_is_within_its_floor() -> None:
    """With the board's true parameters the residual over a window of training frames is read
    noise: every node within the test's floor, no alarm, a test every 0.25 s, no command sent
    (the board trains throughout)."""
    emu = board(11)
    sh, _docs = watching_shadow(emu)
    summary = sh.run(3.0)
    sh.close()
    nodes = sh.nodes
    assert nodes is not None
    assert sh.probe is None
    assert 10 <= len(nodes.results) <= 13
    for r in nodes.results:
        floor = r.z_crit * r.sigma_v + r.bias_v
        assert np.all(np.abs(r.residual_v) <= floor), (r.t_s, r.residual_v, floor)
        assert np.max(np.abs(r.residual_v)) < 1e-3
        assert r.reads == 10  # free readings only: a training frame's clamped nodes are nudged
    assert [a for a in sh.alarms if a.source == "nodes"] == []
    assert summary["nodes"]["alarms"] == 0
    assert summary["nodes"]["evaluated"] == len(nodes.results)
    assert emu.mode == "training"


def test_threshold_fault_on_a_pinned_edge_is_caught_without_a_probe() -> None:
    """The probe's case (a threshold fault of an edge pinned at a rail, which the gates cannot
    show), caught from the training frames alone: the edge named, its shift estimated, the alarm
    a document with source ``nodes``."""
    emu = board(200)
    edge = pinned_edge(200, 2.0)
    fault = Fault(t_s=2.0, edge=edge, changes={"threshold_shift_v": 0.1})
    sh, docs = watching_shadow(emu, [fault])
    sh.run(3.0)
    sh.close()
    caught = [a for a in sh.alarms if a.source == "nodes"]
    assert [a for a in sh.alarms if a.source == "gates"] == []
    assert caught
    assert 2.0 <= caught[0].start_s <= 2.0 + 0.25 + 0.011
    assert caught[0].edges[0] == edge
    assert sh.nodes is not None
    first = next(r for r in sh.nodes.results if r.alarm)
    assert first.shifts_v[0] == pytest.approx(0.1, rel=0.3)
    assert caught[0].likely[0].startswith(f"nodes: edge {edge} conducts")
    alarm_docs = [d for d in docs.docs if d["doc"] == "alarm"]
    for d in alarm_docs:
        validate_document(d)
    assert '"source":"nodes"' in alarm_docs[0]["message"]


def test_the_node_check_is_blind_to_a_dead_gate_pinned_at_a_rail() -> None:
    emu = board(200)
    edge = pinned_edge(200, 2.0)
    fault = Fault(t_s=2.0, edge=edge, changes={"gain_factor": 0.0})
    sh, _docs = watching_shadow(emu, [fault])
    sh.run(3.0)
    sh.close()
    assert [a for a in sh.alarms if a.source == "nodes"] == []


def test_a_window_never_spans_a_probe_hold() -> None:
    """With the probe beside it, the node check tests training frames only: the probe's held
    inference frames (whose clamped copy is a second reading) restart its window."""
    emu = board(11)
    sh = Shadow(
        InProcessBoard(emu),
        ShadowConfig(node_every_s=0.05, probe_every_s=0.2, probe_hold_s=0.02),
        rng=np.random.default_rng(2),
        edges=emu.edges,
        spread=KNOWN_BOARD,
    )
    sh.run(1.0)
    sh.close()
    assert sh.nodes is not None
    assert sh.probe is not None
    holds = [(r.t_s, r.t_s + 0.02) for r in sh.probe.results]
    assert holds
    for r in sh.nodes.results:  # a window's first frame is at r.t_s, its last 9 ms later
        assert all(r.t_s + 0.009 < lo or r.t_s > hi for lo, hi in holds), (r.t_s, holds)
    assert sh.alarms == []


def test_an_uncalibrated_shadow_has_no_node_check_and_says_so() -> None:
    sh = Shadow(
        InProcessBoard(board(3)), ShadowConfig(node_every_s=0.5), rng=np.random.default_rng(0)
    )
    assert sh.nodes is None
    summary = sh.run(0.2)
    sh.close()
    assert "uncalibrated" in summary["nodes"]["off"]


@pytest.mark.parametrize(
    "kw",
    [
        {"node_every_s": 0.0},
        {"node_every_s": float("nan")},
        {"node_every_s": -1.0},
        {"node_every_s": 1.0, "node_window": 1},
        {"node_every_s": 1.0, "node_window": 2.5},
        {"node_every_s": 1.0, "node_window": True},
    ],
)
def test_bad_node_check_settings_are_refused(kw: dict[str, float]) -> None:
    with pytest.raises(BridgeConfigError, match="node_"):
        ShadowConfig(**kw)  # type: ignore[arg-type]


def test_the_cli_node_check_needs_a_calibrated_twin(capsys: pytest.CaptureFixture) -> None:
    from tests.helpers import run_cli

    code, out, err = run_cli(
        capsys, "shadow", "--emulate", "--no-db", "--duration", "0.2", "--node-every", "0.5",
        "--json",
    )  # fmt: skip
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert "uncalibrated" in summary["nodes"]["off"]
    code, _out, err = run_cli(capsys, "shadow", "--emulate", "--node-every", "0")
    assert code == 2
    assert "--node-every" in err


def test_a_node_adc_offset_is_caught_and_named_as_the_channel() -> None:
    """A node ADC fault changes no circuit, only a reading: the gates cannot show it, the node
    check names the node, says no edge explains it, and the offset's size."""
    emu = board(200)
    node = 6
    sh, _docs = watching_shadow(emu, [NodeFault(t_s=2.0, node=node, offset_v=0.02)])
    sh.run(3.0)
    sh.close()
    caught = [a for a in sh.alarms if a.source == "nodes"]
    assert [a for a in sh.alarms if a.source == "gates"] == []
    assert caught
    assert 2.0 <= caught[0].start_s <= 2.0 + 0.25 + 0.011
    assert caught[0].nodes[0] == node
    assert caught[0].likely[0].startswith(f"nodes: node {node} reads +20 mV off the twin")
    assert "ADC channel" in caught[0].likely[0]


def test_a_node_adc_offset_shifts_both_copies_of_the_reading() -> None:
    emu, twin = board(5), board(5)
    emu.inject_node_fault(3, 0.05)
    a, b = emu.advance(0.01)[-1], twin.advance(0.01)[-1]
    for got, want in ((a.v_free_v, b.v_free_v), (a.v_clamped_v, b.v_clamped_v)):
        diff = np.asarray(got) - np.asarray(want)
        assert abs(diff[3] - 0.05) < 0.01  # within the ADC's step and noise
        assert np.all(np.abs(np.delete(diff, 3)) < 0.01)
    np.testing.assert_array_equal(a.gate_v, b.gate_v)  # the circuit is unchanged


@pytest.mark.parametrize(
    ("spec", "want"),
    [
        ("n5:adc_offset=0.02@3", NodeFault(t_s=3.0, node=5, offset_v=0.02)),
        ("n0:adc_offset=-1.5@0", NodeFault(t_s=0.0, node=0, offset_v=-1.5)),
    ],
)
def test_node_faults_parse_and_print_back(spec: str, want: NodeFault) -> None:
    got = parse_fault(spec)
    assert got == want
    assert parse_fault(fault_spec(got)) == want


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("n5:adc_offset=9@3", "adc_offset: expected a number of volts"),
        ("n5:adc_offset=nan@3", "adc_offset"),
        ("n-1:adc_offset=0.1@3", "node: expected a node index >= 0"),
        ("n5:gain=2@3", "expected EDGE:KIND=VALUE@T_S"),
        ("5:adc_offset=0.1@3", "expected EDGE:KIND=VALUE@T_S"),
        ("n5:adc_offset=0.1@-1", "time: expected a finite number of seconds"),
    ],
)
def test_bad_node_faults_are_one_line_errors(spec: str, match: str) -> None:
    with pytest.raises(BridgeConfigError, match=match):
        parse_fault(spec)


def test_a_node_fault_on_a_node_the_board_lacks_is_refused() -> None:
    with pytest.raises(BridgeConfigError, match=r"fault node: expected 0\.\.15, got 16"):
        InProcessBoard(board(1), faults=[NodeFault(t_s=0.0, node=16, offset_v=0.1)])
