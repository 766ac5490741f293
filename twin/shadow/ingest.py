"""Frame ingestion: the board's states checked, booked, mirrored and compared (:class:`Ingest`).

Consecutive states are taken as runs of one setting (mode, eta, lambda, inputs, targets):
every frame counts (sequence checks, lag, the board's energy), the twin is advanced to the
run's last frame and compared once there, so a shadow that falls behind compares less often
instead of lagging more. An epoch nobody announced or a changed task asks the board for a
snapshot and rebuilds the twin (:class:`~twin.shadow.sync.TwinSync`). Volts, seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from twin.board.contract import Board, BoardState
from twin.shadow.alarms import Alarm
from twin.shadow.config import ShadowConfig
from twin.shadow.drive_margin import edge_drive_sd_v_per_s
from twin.shadow.output import ShadowOutput
from twin.shadow.state import PredictedState, ShadowHistory, ShadowStats, TwinState
from twin.shadow.sync import TwinSync, track_mode
from twin.shadow.watch import Watch

__all__ = ["Ingest"]


class Ingest:
    """Takes the board's states into the shadow.

    Parameters
    ----------
    board
        The board (asked for a snapshot when its epoch or task changed unannounced).
    config
        The shadow's settings (resync policy, node comparison, sampling).
    state, stats, history
        The shadow's state, tallies and plot history (changed here).
    watch
        Corrects the twin's prediction and scores the residuals.
    sync
        Builds and resyncs the twin.
    output
        Books energies and flushes the sample documents.
    alarm
        Called with each alarm the monitor raises or ends.
    """

    def __init__(
        self,
        *,
        board: Board,
        config: ShadowConfig,
        state: TwinState,
        stats: ShadowStats,
        history: ShadowHistory,
        watch: Watch,
        sync: TwinSync,
        output: ShadowOutput,
        alarm: Callable[[Alarm], None],
    ) -> None:
        self.board = board
        self.config = config
        self.state = state
        self.stats = stats
        self.history = history
        self.watch = watch
        self.sync = sync
        self.output = output
        self.alarm = alarm

    def on_states(self, states: Sequence[BoardState]) -> None:
        """Take consecutive board states (no Resync among them) in order."""
        run: list[BoardState] = []
        for state in states:
            prev = run[-1] if run else self.state.reported
            if self.state.track is None or prev is None or state.epoch != self.state.epoch:
                self._process(run)
                run = []
                if self.state.track is not None:
                    self.stats.undetected_loss += 1  # an epoch change nobody announced
                self.sync.on_resync(self.board.snapshot(), "restart")
                continue
            if state.seq <= prev.seq:
                self.stats.out_of_order += 1
                continue
            if state.seq > prev.seq + 1:
                self.stats.undetected_loss += state.seq - prev.seq - 1
            if run and not _same_setting(run[-1], state):
                self._process(run)
                run = []
            run.append(state)
        self._process(run)

    def _process(self, run: Sequence[BoardState]) -> None:
        """Frames of one setting (mode, eta, lambda, task): book, advance, compare once."""
        if not run:
            return
        prev, first, last = self.state.reported, run[0], run[-1]
        assert prev is not None
        assert self.state.track is not None
        self.stats.frames += len(run)
        # Receipt minus the stamp on this host's clock (the board's stamp minus the link's
        # estimated clock offset); what is left of the estimate's error is not a negative delay.
        now = time.time() + self.state.clock_offset_s
        self.stats.lags_s.extend(max(now - s.wall_unix, 0.0) for s in run)
        if self._config_changed(prev, first):
            self.stats.config_changes += 1
            self.sync.on_resync(self.board.snapshot(), "config")
            return
        self.output.book_board_energy([prev, *run])
        self._mirror(prev, first)
        self.state.track.advance(last.t_s)
        readings = self.state.track.readings()
        self.output.book_twin_energy(first.mode, readings)
        self.sync.accept(last)
        if first.mode != "training":
            self.watch.interval_clean = False
        raw = np.asarray(readings["gate_v"], dtype=float)
        gates = self.watch.corrected(raw, last.t_s)
        self._compare(last, readings, raw, gates)
        self.sync.estimator.add(run, last.t_s, gates)
        if self.config.resync == "periodic" and (
            last.t_s - self.state.last_resync_s >= self.config.resync_interval_s
        ):
            self.sync.resync_state()
        if self.state.run_t_s >= self.state.next_sample_s + self.config.sample_interval_s - 1e-12:
            self.output.flush(self.state.run_t_s)

    def _config_changed(self, prev: BoardState, state: BoardState) -> bool:
        """Whether the board's task changed (targets, or training inputs, differ from ours)."""
        same = np.array_equal(state.targets_v, prev.targets_v) and (
            state.mode == "inference" or np.array_equal(state.inputs_v, prev.inputs_v)
        )
        if same and not self.state.check_task:
            return False
        task = self.state.task
        assert task is not None
        self.state.check_task = False
        if state.targets_v.shape != (task.n_targets,) or state.gate_v.shape != (
            task.network.n_edges,
        ):
            return True
        if not np.allclose(state.targets_v, task.train.outputs[0]):
            return True
        return state.mode != "inference" and not np.allclose(state.inputs_v, task.train.inputs[0])

    def _mirror(self, prev: BoardState, state: BoardState) -> None:
        track = self.state.track
        assert track is not None
        mode = track_mode(state.mode)
        if mode != track.mode or state.eta != track.eta or state.lam != track.lam:
            track.restart(prev.t_s, mode=mode, eta=state.eta, lam=state.lam)
            self.sync.estimator.reset()
            self.watch.interval_clean = False

    def _compare(
        self,
        state: BoardState,
        readings: Mapping[str, Any],
        raw_gates_v: np.ndarray,
        gates: np.ndarray,
    ) -> None:
        """Compare the board's state with the prediction ``gates`` (the twin's ``raw_gates_v``
        corrected by the tracker)."""
        track = self.state.track
        assert track is not None
        gate_res = np.asarray(state.gate_v) - gates
        self.stats.add_gate(gate_res)
        self.state.gate_res_v = gate_res
        v_free, v_clamped = track.node_voltages()
        every = max(self.config.compare_nodes_every, 1)
        if state.mode != "inference" and self.stats.compared % every == 0:
            res = np.maximum(
                np.abs(np.asarray(state.v_free_v) - v_free),
                np.abs(np.asarray(state.v_clamped_v) - v_clamped),
            )
            self.state.node_res_v = res
            self.stats.add_nodes(res)
        tau_s = state.t_s - self.state.last_resync_s
        edge_scores = None
        if state.mode == "training":  # idle and inference gates hold: nothing to learn from
            circuit, model = self.state.circuit, self.state.model
            gross = drive_sd = None
            if circuit is not None and model is not None:
                gross = circuit.gross_drive_v_per_s(model, v_free, v_clamped, lam=track.lam)
                drive_sd = edge_drive_sd_v_per_s(
                    circuit, model, self.watch.gain_cov, v_free, v_clamped, lam=track.lam
                )
            edge_scores = self.watch.edge_scores(
                self.state.run_t_s,
                tau_s,
                np.asarray(state.gate_v),
                raw_gates_v,
                gates,
                gate_res,
                gross,
                drive_sd,
            )
        if edge_scores is not None:
            self.state.score = float(np.max(edge_scores, initial=0.0))
        self.state.predicted = PredictedState(
            epoch=state.epoch,
            version=self.state.version,
            t_s=state.t_s,
            mode=state.mode,
            gate_v=gates,
            v_free_v=v_free,
            v_clamped_v=v_clamped,
            eta=track.eta,
            lam=track.lam,
        )
        if edge_scores is not None:
            alarm = self.watch.monitor.update(
                self.state.run_t_s,
                edge_scores,
                np.zeros(0),
                board_id=state.board_id,
                epoch=state.epoch,
            )
            monitor = self.watch.monitor
            if monitor.active is not None:  # what it looks like, refined while it lasts
                found = self.watch.recent.diagnose(monitor.active.edges[:3])
                monitor.annotate(tuple(d.text() for d in found))
                if alarm is not None and alarm.end_s is None:
                    alarm = monitor.active
            if alarm is not None:
                self.alarm(alarm)
        if self.history.due():
            self.history.add(self.output.row(state, readings), gate_res)


def _same_setting(a: BoardState, b: BoardState) -> bool:
    """Whether two consecutive states share mode, eta, lambda, inputs and targets."""
    return (
        a.mode == b.mode
        and a.eta == b.eta
        and a.lam == b.lam
        and (a.targets_v is b.targets_v or a.targets_v.tobytes() == b.targets_v.tobytes())
        and (a.inputs_v is b.inputs_v or a.inputs_v.tobytes() == b.inputs_v.tobytes())
    )
