"""The shadow: tracking, divergence alarms, restarts, energies of both sources, losses."""

from __future__ import annotations

import attrs
import numpy as np
import pytest

from tests.boards import DelegatingBoard
from twin.board.contract import Board, BoardState, LinkCounters, Resync, Update
from twin.board.emulator import BoardEmulator, EmulatorConfig
from twin.board.inprocess import Fault, InProcessBoard
from twin.board.variation import HiddenVariation
from twin.documents import Collector, validate_document
from twin.physics.solver import CircuitBatch, clamped_state, free_state, nudged_targets
from twin.shadow.alarms import Alarm, DivergenceMonitor
from twin.shadow.detector import SpreadModel
from twin.shadow.shadow import Shadow, ShadowConfig


def emulator(seed: int = 1, variation: HiddenVariation | None = None) -> BoardEmulator:
    config = EmulatorConfig(variation=variation or HiddenVariation())
    return BoardEmulator(config, rng=np.random.default_rng(seed))


def shadow(
    board: Board, spread: SpreadModel | None = None, **kw: object
) -> tuple[Shadow, Collector, list[Alarm]]:
    docs, alarms = Collector(), []
    config = ShadowConfig(**{"resync": "periodic", "resync_interval_s": 0.25, **kw})  # type: ignore[arg-type]
    sh = Shadow(
        board,
        config,
        rng=np.random.default_rng(2),
        emit=docs,
        on_alarm=alarms.append,
        spread=spread,
    )
    return sh, docs, alarms


#: The spread of a twin that knows the board exactly: the gate ADC (1 mV noise, 1.3 mV LSB) on
#: the reading and on the resync, a little drift and gain slack.
KNOWN_BOARD = SpreadModel(
    floor_v=np.full(32, 2.5e-3), slope_v_per_s=np.full(32, 5e-3), rel=np.full(32, 5e-3)
)


def test_twin_node_voltages_match_the_circuit_solver() -> None:
    emu = emulator()
    emu.advance(0.05)
    v_free, v_clamped = emu.track.node_voltages()
    task = emu.task
    batch = CircuitBatch.from_tasks([task])
    from twin.board.circuit import EdgeModel

    model = EdgeModel(emu.edges, 32)
    gates = emu.track.gates()
    k = model.conductance(gates, emu.circuit.midpoints(v_free))
    basis = batch.basis(k[None, :])
    free = free_state(batch, basis, task.train.inputs[None])
    nodes = batch.node_voltages(basis, free.currents)[0, :, 0]
    assert np.allclose(nodes, v_free, atol=2e-5)
    clamp = nudged_targets(free.outputs, task.train.outputs[None], 0.22)
    k_c = model.conductance(gates, emu.circuit.midpoints(v_clamped))
    basis_c = batch.basis(k_c[None, :])
    cl = clamped_state(batch, basis_c, task.train.inputs[None], clamp)
    nodes_c = batch.node_voltages(basis_c, cl.currents)[0, :, 0]
    assert np.allclose(nodes_c, v_clamped, atol=2e-5)
    assert np.allclose(model.conductance(gates, np.zeros(32)),
                       emu.edges.device.conductance(gates, np.zeros(32)), rtol=1e-12)  # fmt: skip


def test_nominal_board_is_tracked_within_the_adc_error() -> None:
    sh, _, alarms = shadow(InProcessBoard(emulator()))
    summary = sh.run(1.5)
    sh.close()
    assert summary["frames"] == 1500
    assert summary["undetected_loss"] == 0
    assert summary["residual_rms_v"] < 1e-3  # node ADC: 0.44 mV LSB + 0.2 mV noise
    assert summary["gate_residual_rms_v"] < 5e-3
    assert alarms == []
    assert summary["board_energy_j"] == pytest.approx(summary["twin_energy_j"], rel=0.01)
    assert sh.predicted is not None
    assert sh.predicted.t_s == sh.reported.t_s  # type: ignore[union-attr]


def test_energy_documents_for_board_and_twin() -> None:
    sh, docs, _ = shadow(InProcessBoard(emulator()), sample_interval_s=0.05)
    sh.run(0.3)
    sh.close()
    for doc in docs.docs:
        validate_document(doc)
    starts = docs.of("start")
    assert sorted(d["source"] for d in starts) == ["board", "twin"]
    assert {d["kind"] for d in starts} == {"shadow"}
    by_uid = {d["uid"]: d for d in starts}
    for d in starts:
        assert by_uid[d["params"]["peer_run"]]["source"] != d["source"]
    energy = docs.of("energy")
    for source, method in (("board", "estimate"), ("twin", "integral")):
        mine = [e for e in energy if e["source"] == source]
        assert {e["component"] for e in mine} == {
            "free_network",
            "clamped_network",
            "gate_charging",
        }
        assert {e["method"] for e in mine} == {method}
        assert all(e["run"] == sh.recorder.__getattribute__(source).uid for e in mine)
        seqs = [e["seq"] for e in mine]
        assert seqs == sorted(set(seqs))
    board_j = sum(e["energy_j"] for e in energy if e["source"] == "board")
    twin_j = sum(e["energy_j"] for e in energy if e["source"] == "twin")
    assert board_j == pytest.approx(twin_j, rel=0.02)
    assert len(docs.of("stop")) == 2


def test_fault_on_one_edge_raises_an_alarm_naming_it() -> None:
    emu = emulator(5, HiddenVariation.typical())
    board = InProcessBoard(emu, faults=[Fault(t_s=1.0, edge=7, changes={"free_gain_factor": 3.0})])
    sh, _, alarms = shadow(board, KNOWN_BOARD)
    sh.edges = emu.edges  # a twin that knows the board (calibrated), so only the fault shows
    sh.run(0.9)
    assert alarms == []
    sh.run(1.6)
    raised = [a for a in alarms if a.end_s is None]
    assert len(raised) == 1
    assert raised[0].edges[0] == 7
    assert raised[0].start_s >= 1.0
    assert raised[0].likely[0].startswith("edge 7: ")  # what its residual looks like
    assert '"likely":["edge 7: ' in raised[0].message()
    sh.close()
    assert sh.monitor.alarms[0].end_s is not None
    assert sh.summary()["alarm_edges"][0] == 7 or 7 in sh.summary()["alarm_edges"]


def test_uncalibrated_twin_says_so_instead_of_alarming_on_every_edge() -> None:
    sh, _, alarms = shadow(InProcessBoard(emulator(5, HiddenVariation.typical())), warmup_s=0.5)
    summary = sh.run(1.0)
    assert summary["gate_residual_rms_v"] > 0.01  # the nominal twin is not this board
    assert summary["calibrated"] is False
    assert "uncalibrated" in summary["detector"]["note"]
    assert summary["detector"]["spread"] == "warm-up"  # learned over the first 0.5 s
    assert len({e for a in alarms for e in a.edges}) < 8  # not every edge


def test_restart_mid_run_resyncs_to_the_new_epoch() -> None:
    emu = emulator()
    board = InProcessBoard(emu)
    sh, docs, _ = shadow(board)
    sh.run(0.5)
    old_epoch = sh.epoch
    t_before = sh.run_t_s
    board.restart()
    sh.step(1.0)
    assert sh.epoch == emu.epoch != old_epoch
    assert sh.run_t_s >= t_before  # run time stays monotonic across the restart
    summary = sh.run(1.0)
    assert summary["restarts"] == 1
    assert summary["resyncs"] == 2
    assert summary["undetected_loss"] == 0
    assert summary["residual_rms_v"] < 1e-3  # tracking again after the reboot
    sh.close()
    times = [d["t_s"] for d in docs.of("sample") if d["run"] == sh.recorder.twin.uid]
    assert times == sorted(times)


class LossyBoard(DelegatingBoard):
    """Drops every 10th frame without saying so (a broken link), to test the shadow's check."""

    def __init__(self, inner: InProcessBoard) -> None:
        super().__init__(inner)
        self.dropped: list[int] = []

    def poll(self, timeout_s: float) -> list[Update]:
        out: list[Update] = []
        for u in self.inner.poll(timeout_s):
            if isinstance(u, BoardState) and u.seq % 10 == 0:
                self.dropped.append(u.seq)
                continue
            out.append(u)
        return out


def test_silent_loss_is_counted_as_undetected() -> None:
    lossy = LossyBoard(InProcessBoard(emulator()))
    sh, _, _ = shadow(lossy)
    summary = sh.run(0.5)
    assert sh.reported is not None
    seen_gaps = [seq for seq in lossy.dropped if seq < sh.reported.seq]  # tail loss is invisible
    assert len(seen_gaps) >= 49
    assert summary["undetected_loss"] == len(seen_gaps)


def test_predict_ahead_leaves_the_twin_alone() -> None:
    sh, _, _ = shadow(InProcessBoard(emulator()), resync="off")
    sh.run(0.1)
    now = sh.predicted
    ahead = sh.predict(0.5)
    assert ahead.t_s == pytest.approx(now.t_s + 0.5)  # type: ignore[union-attr]
    assert np.max(np.abs(ahead.gate_v - now.gate_v)) > 1e-3  # type: ignore[union-attr]
    sh.run(0.6)
    assert np.allclose(sh.predicted.gate_v, ahead.gate_v, atol=0.01)  # type: ignore[union-attr]


def test_desired_state_is_versioned_and_stale_commands_refused() -> None:
    emu = emulator()
    sh, _, _ = shadow(InProcessBoard(emu))
    sh.run(0.05)
    ack = sh.command("set_params", {"ETA": 28})
    assert ack.ok
    assert sh.desired.version == 1
    assert sh.desired.params["ETA"] == 28
    emu.command(emu_cmd := __import__("twin.board.contract", fromlist=["Command"]).Command(
        name="stop_training", key="other-user"))  # fmt: skip
    assert emu_cmd.name == "stop_training"
    refused = sh.command("start_training")
    assert (refused.ok, refused.code) == (False, "stale")
    assert sh.desired.version == 1
    sh.run(0.1)
    assert sh.reported.eta == pytest.approx(28 / 129)  # type: ignore[union-attr]
    assert sh.track.eta == pytest.approx(28 / 129)  # type: ignore[union-attr]


def test_monitor_needs_the_hold_time_and_clears() -> None:
    mon = DivergenceMonitor(threshold=1.0, hold_s=0.1, clear_s=0.1)
    hi, lo = np.array([0.0, 3.0, 2.0]), np.zeros(3)
    kw = {"board_id": "b", "epoch": 1}
    assert mon.update(0.0, hi, lo, **kw) is None
    assert mon.update(0.05, hi, lo, **kw) is None
    raised = mon.update(0.1, hi, lo, **kw)
    assert raised is not None
    assert raised.edges == (1, 2)
    assert mon.update(0.15, lo, lo, **kw) is None
    done = mon.update(0.3, lo, lo, **kw)
    assert done is not None
    assert (done.start_s, done.end_s) == (0.0, 0.15)
    assert "edges" in done.message()


def test_batched_board_powers_equal_the_single_state_ones() -> None:
    from twin.board.circuit import EdgeModel

    emu = emulator(3, HiddenVariation.typical())
    frames = emu.advance(0.02)[::4]
    model = EdgeModel(emu.edges, 32)
    many = emu.circuit.powers_many(
        model,
        np.array([f.gate_v for f in frames]),
        np.array([f.v_free_v for f in frames]),
        np.array([f.v_clamped_v for f in frames]),
        lam=np.full(len(frames), 0.1),
        training=np.array([True, False, True, True, False]),
    )
    for row, f, training in zip(many, frames, (True, False, True, True, False), strict=True):
        one = emu.circuit.powers(model, f.gate_v, f.v_free_v, f.v_clamped_v, lam=0.1,
                                 training=training)  # fmt: skip
        assert np.allclose(row, [one.free_w, one.clamped_w, one.gate_w], rtol=1e-12, atol=0)
    assert many[0, 2] > 0


def test_energy_compare_sets_board_and_twin_side_by_side_per_component(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from twin.ledger import compare_runs, open_ledger, recording

    sh, docs, _ = shadow(InProcessBoard(emulator()))
    sh.run(0.3)
    summary = sh.close()
    with open_ledger(f"sqlite:///{tmp_path / 'l.db'}") as ledger:
        with recording(ledger) as writer:
            for doc in docs.docs:
                writer(doc)
        cmp = compare_runs(ledger, summary["board_run"], summary["twin_run"])
    rows = {r["component"]: r for r in cmp["energy"]}
    assert set(rows) == {"free_network", "clamped_network", "gate_charging"}
    for row in rows.values():
        assert row["source"] == "board / twin"
    for comp in ("free_network", "clamped_network"):  # the nominal board: twin = board
        assert rows[comp]["ratio"] == pytest.approx(1.0, rel=0.02)


class _LosesFrames(DelegatingBoard):
    """Loses every ``every``-th poll's frames and resyncs as a ZeroMQ client does after a gap."""

    def __init__(self, inner: Board, every: int) -> None:
        super().__init__(inner)
        self.every = every
        self.polls = 0
        self.lost = 0

    def poll(self, timeout_s: float) -> list[Update]:
        updates = self.inner.poll(timeout_s)
        self.polls += 1
        states = [u for u in updates if isinstance(u, BoardState)]
        if self.polls % self.every or len(states) != len(updates) or not states:
            return updates
        self.lost += len(states)
        return [Resync(snapshot=self.inner.snapshot(), reason="gap")]


def test_losses_and_a_restart_resync_the_twin_in_place() -> None:
    board = _LosesFrames(InProcessBoard(emulator()), every=7)
    sh, _, _ = shadow(board)
    sh.run(0.1)
    track = sh.track
    summary = sh.run(0.5)
    assert board.lost > 0
    assert summary["resyncs"] >= 1 + 5  # the join and the gaps
    assert sh.track is track  # updated in place, never rebuilt
    assert summary["gate_residual_rms_v"] < 5e-3  # still tracking the board
    costs = sh.stats.resync_cost_s
    assert len(costs["board"]) == summary["resyncs"] - 1  # in place; the join built the twin
    assert len(costs["build"]) == 1
    board.inner.restart()  # type: ignore[attr-defined]
    sh.step(1.0)
    assert sh.stats.restarts == 1
    assert sh.track is track  # a new epoch, the same task: the twin follows in place
    sq0, n0 = sh.stats.gate_sq_v2, sh.stats.compared
    sh.run(1.0)
    assert sh.stats.compared - n0 > 10
    rms_v = np.sqrt((sh.stats.gate_sq_v2 - sq0) / (sh.stats.compared - n0))
    assert rms_v < 5e-3  # still tracking, on the new epoch's time base
    assert len(costs["build"]) == 1


def test_a_board_resync_in_place_leaves_the_twin_as_a_build_from_the_snapshot_would() -> None:
    emu = emulator()
    sh, _, _ = shadow(InProcessBoard(emu), resync="off")
    sh.run(0.1)
    track = sh.track
    assert track is not None
    emu.advance(emu.t_s + 0.004)  # frames the shadow never sees: a loss
    snapshot = emu.snapshot()
    sh.ingest(Resync(snapshot=snapshot, reason="gap"))
    assert sh.track is track  # in place
    built, _, _ = shadow(DelegatingBoard(InProcessBoard(emu)), resync="off")
    built.ingest(Resync(snapshot=snapshot, reason="initial"))
    assert built.track is not None
    for twin in (track, built.track):
        twin.advance(snapshot.state.t_s + 0.05)
    np.testing.assert_allclose(track.gates(), built.track.gates(), rtol=0, atol=1e-9)
    assert not np.allclose(track.gates(), snapshot.state.gate_v, atol=1e-3)  # they did learn


class _ClockBehind(DelegatingBoard):
    """A board whose wall clock is ``behind_s`` behind this host's, as its link estimated it."""

    def __init__(self, inner: Board, behind_s: float) -> None:
        super().__init__(inner)
        self.behind_s = behind_s

    @property
    def counters(self) -> LinkCounters:
        return attrs.evolve(self.inner.counters, clock_offset_s=-self.behind_s)

    def poll(self, timeout_s: float) -> list[Update]:
        return [
            attrs.evolve(u, wall_unix=u.wall_unix - self.behind_s)
            if isinstance(u, BoardState)
            else u
            for u in self.inner.poll(timeout_s)
        ]


def test_lag_is_corrected_by_the_links_clock_offset_and_never_negative() -> None:
    sh, _, _ = shadow(_ClockBehind(InProcessBoard(emulator()), behind_s=0.5))
    summary = sh.run(0.3)
    lags = sh.stats.lags_s
    assert len(lags) == summary["frames"] > 0
    assert lags.quantile(0.0) >= 0.0
    assert summary["lag_p99_s"] < 0.1  # not the 0.5 s the board's clock is behind
