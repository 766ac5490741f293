"""Shadow mode: a nominal twin mirrors a board, says when and where the hardware departs.

:class:`Shadow` takes any :class:`~twin.board.contract.Board` (it only uses the Protocol), builds
its own twin from the snapshot's configuration (network, task, eta, lambda, learning step) with
the *nominal* device model (or calibrated edges, :mod:`twin.shadow.calibrate`), and for every
reported state:

1. advances the twin to the board's time (board time only; the wall clock never enters the
   model) and mirrors the board's mode, eta and lambda;
2. computes residuals: per edge (reported minus predicted gate voltage) and per node (free and
   clamped node voltages);
3. normalises the gate residuals by their fault-free spread at the time since the last resync
   and runs a per-edge CUSUM (:class:`~twin.shadow.detector.CusumDetector`) whose decision
   level gives ``false_alarm_hours`` between false alarms; the divergence score is the largest
   CUSUM over its level, fed to a :class:`~twin.shadow.alarms.DivergenceMonitor` (alarm above
   ``threshold``, naming the divergent edges). Without a learned spread (an uncalibrated twin)
   the spread is learned over the first ``warmup_s`` and the summary says so;
4. optionally resyncs the twin's gates to the board's (``resync``: ``off``, ``periodic`` every
   ``resync_interval_s`` of board time, or ``on_alarm``); at every resync the per-edge
   :class:`~twin.shadow.tracker.DriftTracker` learns from the interval's board and twin gate
   travel (``track_drift``), and the prediction of the next interval is corrected with its
   gain factors and extra drifts, their uncertainty added to the detector's spread: slow drift
   and persistent model error are absorbed and reported apart (``summary()["tracked_drift"]``),
   an abrupt fault is not absorbed and still alarms;
5. books energies for both sources and emits run documents (:mod:`twin.shadow.docs`).

A :class:`~twin.board.contract.Resync` from the board (late join, gap, silence, restart) rebuilds
the twin from the new snapshot; a new epoch counts as a restart. Run time (``t_s`` of the
documents) is board time made continuous across restarts. Losses no board counter announced
(a sequence jump without a Resync) are counted as ``undetected_loss``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from twin.board.circuit import BoardCircuit, EdgeModel
from twin.board.contract import Ack, Board, BoardState, Resync, Snapshot, Update
from twin.board.errors import BridgeTimeout
from twin.board.track import ENERGY_KEYS, TwinTrack
from twin.physics.task import Task, task_from_dict
from twin.shadow.ahead import predict_ahead
from twin.shadow.alarms import Alarm, AlarmSink, DivergenceMonitor
from twin.shadow.commands import Commander
from twin.shadow.config import ShadowConfig
from twin.shadow.detector import (
    CusumDetector,
    FalseAlarmCurve,
    SpreadModel,
    default_false_alarm_curve,
)
from twin.shadow.docs import ShadowRecorder
from twin.shadow.output import ShadowOutput
from twin.shadow.resync import RAIL_MARGIN_V, ResyncEstimator
from twin.shadow.state import DesiredState, PredictedState, ShadowHistory, ShadowStats, TwinState
from twin.shadow.tracker import DriftTracker
from twin.shadow.watch import Watch
from twin.simulation.edge import EdgeParams, board_edge_params

__all__ = ["RAIL_MARGIN_V", "Shadow", "ShadowConfig"]

log = logging.getLogger("twin.shadow.shadow")

Progress = Callable[[Mapping[str, Any]], None]


class Shadow:
    """A twin shadowing a board.

    Parameters
    ----------
    board
        Any implementation of the board contract.
    config
        Shadow settings.
    rng
        Source of the twin's random keys.
    emit
        Subscriber for the run documents (board and twin runs).
    on_alarm
        Called when an alarm is raised (``end_s`` None) and when it ends.
    edges
        Edge circuits of the twin (default: the nominal transistor board; calibrated edges from
        :func:`twin.shadow.calibrate.calibrate`).
    params
        Extra provenance for the start documents.
    spread
        Fault-free residual spread learned at calibration (``None``: learned over a warm-up).
    curve
        False-alarm rate against decision level (default: the emulated board's).
    """

    def __init__(
        self,
        board: Board,
        config: ShadowConfig | None = None,
        *,
        rng: np.random.Generator,
        emit: Callable[[Mapping[str, Any]], None] | None = None,
        on_alarm: AlarmSink | None = None,
        edges: EdgeParams | None = None,
        params: Mapping[str, Any] | None = None,
        spread: SpreadModel | None = None,
        curve: FalseAlarmCurve | None = None,
    ) -> None:
        self.board = board
        self.config = config if config is not None else ShadowConfig()
        self.rng = rng
        self.edges = edges if edges is not None else board_edge_params("transistor")
        self.on_alarm = on_alarm
        self.params = dict(params or {})
        self.recorder = ShadowRecorder(emit)
        cfg = self.config
        rails_v = (float(np.max(self.edges.v_min_v)), float(np.min(self.edges.v_max_v)))
        self.state = TwinState()
        self.watch = Watch(
            cfg,
            self.state,
            rails_v=rails_v,
            spread=spread,
            curve=curve if curve is not None else default_false_alarm_curve(),
        )
        self.stats = ShadowStats()
        self.history = ShadowHistory(cfg.history_every)
        self.commander = Commander(board)
        self.config_of_board: Mapping[str, Any] = {}
        self.resync_estimator = ResyncEstimator()
        self.output = ShadowOutput(
            board=board,
            recorder=self.recorder,
            stats=self.stats,
            monitor=self.watch.monitor,
            state=self.state,
        )
        self._started = False
        self._closed = False

    # ------------------------------------------------------------------ life cycle

    def open(self) -> None:
        """Emit the start documents (the first poll's Resync then builds the twin)."""
        if self._started:
            return
        self._started = True
        params = {**self.params, "shadow": attrs.asdict(self.config)}
        self.recorder.start(board=self.board.board_id, params=params)

    def close(self, *, status: str = "complete", reason: str = "") -> dict[str, Any]:
        """End the active alarm, flush the last documents and emit the stops; the summary."""
        if self._closed:
            return self.summary()
        self._closed = True
        self._finish_alarm(self.state.run_t_s)
        if self.state.reported is not None:
            self.output.flush(self.state.run_t_s)
        summary = self.summary()
        self.recorder.stop(status=status, summary=summary, reason=reason)
        return summary

    @property
    def run_t_s(self) -> float:
        """Run time of the last ingested state (board time made continuous), s."""
        return self.state.run_t_s

    @property
    def reported(self) -> BoardState | None:
        """The board's last state."""
        return self.state.reported

    @property
    def predicted(self) -> PredictedState | None:
        """The twin's state at the last compared board time."""
        return self.state.predicted

    @property
    def track(self) -> TwinTrack | None:
        """The twin (``None`` before the first snapshot)."""
        return self.state.track

    @property
    def task(self) -> Task | None:
        """The board's task as the twin knows it."""
        return self.state.task

    @property
    def epoch(self) -> int | None:
        """The board epoch followed."""
        return self.state.epoch

    @property
    def score(self) -> float:
        """The last divergence score."""
        return self.state.score

    @property
    def alarms(self) -> list[Alarm]:
        """Finished alarms, oldest first (plus the active one, if any)."""
        return self.output.alarms

    def progress_info(self, duration_s: float | None = None) -> dict[str, Any]:
        """A live view: run time, frames, residuals, score, alarms, energies, lag."""
        return self.output.progress_info(duration_s)

    @property
    def monitor(self) -> DivergenceMonitor:
        """The alarm monitor."""
        return self.watch.monitor

    @property
    def detector(self) -> CusumDetector:
        """The per-edge CUSUM detector."""
        return self.watch.detector

    @property
    def tracker(self) -> DriftTracker | None:
        """The per-edge drift tracker (``None`` before the first snapshot or untracked)."""
        return self.watch.tracker

    @property
    def calibrated(self) -> bool:
        """Whether the detector's spread was learned at calibration."""
        return self.watch.calibrated

    def summary(self) -> dict[str, Any]:
        """The session's figures (the CLI's ``--json`` object), with the detector's settings."""
        tracker = self.watch.tracker
        return self.output.summary() | {
            "calibrated": self.watch.calibrated,
            "detector": self.watch.info(),
            "tracked_drift": tracker.summary() if tracker is not None else None,
        }

    # ------------------------------------------------------------------ driving

    def step(self, timeout_s: float) -> int:
        """Poll the board once and ingest what arrived; returns the number of updates."""
        updates = self.board.poll(timeout_s)
        self.ingest_many(updates)
        return len(updates)

    def run(self, duration_s: float, *, progress: Progress | None = None) -> dict[str, Any]:
        """Shadow for ``duration_s`` seconds of run time; returns :meth:`summary`.

        Raises :class:`~twin.board.errors.BridgeTimeout` when the board is silent for
        ``silence_s`` (wall clock: that is a property of the link, not of the model).
        """
        self.open()
        quiet_since = time.monotonic()
        next_progress = 0.0
        while (
            self.state.t_start_s is None or self.state.run_t_s - self.state.t_start_s < duration_s
        ):
            if self.step(min(0.2, self.config.silence_s)):
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > self.config.silence_s:
                raise BridgeTimeout(
                    f"board {self.board.board_id}: no frame for {self.config.silence_s:g} s"
                )
            if progress is not None and self.state.run_t_s >= next_progress:
                progress(self.progress_info(duration_s))
                next_progress = self.state.run_t_s + 0.1
        return self.summary()

    def ingest(self, update: Update) -> None:
        """Take one update from the board (a state or a Resync)."""
        self.ingest_many([update])

    def ingest_many(self, updates: Sequence[Update]) -> None:
        """Take updates in order. Consecutive states are processed as runs: every frame counts
        (sequence checks, lag, the board's energy), the twin is compared at each run's last
        frame, so a shadow that falls behind compares less often instead of lagging more."""
        batch: list[BoardState] = []
        for update in updates:
            if isinstance(update, Resync):
                self._on_states(batch)
                batch = []
                self._on_resync(update.snapshot, update.reason)
            else:
                batch.append(update)
        self._on_states(batch)

    # ------------------------------------------------------------------ resync

    def _on_resync(self, snapshot: Snapshot, reason: str) -> None:
        self.stats.resyncs += 1
        state, cfg = snapshot.state, snapshot.config
        new_epoch = self.state.epoch is not None and state.epoch != self.state.epoch
        if new_epoch:
            self.stats.restarts += 1
            self._finish_alarm(self.state.run_t_s)
            self.watch.detector.reset()
            self.state.offset_s = self.state.run_t_s - state.t_s
            log.info("board %s restarted (epoch %d)", cfg.board_id, state.epoch)
        elif self.state.epoch is None:
            self.state.offset_s = -state.t_s
        self.state.epoch = state.epoch
        self.config_of_board = {"network": cfg.network, "task": cfg.task, "params": cfg.params}
        self.commander.on_snapshot(cfg.version, cfg.params)
        self._build(task_from_dict(cfg.task), state, cfg.params)
        log.debug("resync (%s) at board t=%.4f s, seq %d", reason, state.t_s, state.seq)

    def _build(self, task: Task, state: BoardState, params: Mapping[str, Any]) -> None:
        self.state.task = task
        self.state.circuit = BoardCircuit(task)
        self.state.model = EdgeModel(self.edges, task.network.n_edges)
        self.state.check_task = True
        self.watch.on_build(task.network.n_edges)
        self.state.track = TwinTrack(
            task,
            self.edges,
            t_s=state.t_s,
            gates_v=np.asarray(state.gate_v),
            mode=_track_mode(state.mode),
            eta=state.eta,
            lam=state.lam,
            step_s=float(params.get("step_s", 1e-4)),
            rng=self.rng,
        )
        self.state.version += 1
        self.state.last_resync_s = state.t_s
        self.state.resync_gates_v = np.array(state.gate_v, dtype=float)
        self.resync_estimator.reset(state.t_s, self.state.resync_gates_v)
        self.state.twin_energy = dict.fromkeys(ENERGY_KEYS, 0.0)
        self._accept(state)
        if self.state.t_start_s is None:
            self.state.t_start_s = self.state.run_t_s
            self.state.next_sample_s = self.state.run_t_s

    def _accept(self, state: BoardState) -> None:
        self.state.reported = state
        self.state.run_t_s = state.t_s + self.state.offset_s
        self.stats.board_time_s = self.state.run_t_s - (self.state.t_start_s or 0.0)

    def resync_state(self) -> None:
        """Reset the twin's gate voltages to the board's: to the twin's own gates plus the
        residual fitted over the last frames (:class:`~twin.shadow.resync.ResyncEstimator`;
        one reading's noise would offset every prediction until the next resync), or to the
        last reported ones at a rail and when no frame is held."""
        track, reported = self.state.track, self.state.reported
        if track is None or reported is None:
            return
        raw = track.gates()
        gates = self.resync_estimator.gates(
            reported.t_s,
            self.watch.corrected(raw, reported.t_s),
            reported.gate_v,
            self.watch.rails_v,
            RAIL_MARGIN_V,
        )
        self.watch.learn_interval(reported.t_s, raw, gates)
        track.restart(reported.t_s, gates_v=gates)
        self.watch.interval_clean = True
        self.state.version += 1
        self.state.last_resync_s = reported.t_s
        self.state.resync_gates_v = gates
        self.resync_estimator.reset(reported.t_s, gates)
        self.stats.state_resyncs += 1

    # ------------------------------------------------------------------ states

    def _on_states(self, states: Sequence[BoardState]) -> None:
        run: list[BoardState] = []
        for state in states:
            prev = run[-1] if run else self.state.reported
            if self.state.track is None or prev is None or state.epoch != self.state.epoch:
                self._process(run)
                run = []
                if self.state.track is not None:
                    self.stats.undetected_loss += 1  # an epoch change nobody announced
                self._on_resync(self.board.snapshot(), "restart")
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
        now = time.time()
        # Receipt minus stamp; a stamp ahead of this host's clock (an uncorrected offset) is
        # not a negative delay: the link's offset-corrected figures are preferred when it has them.
        self.stats.lags_s.extend(max(now - s.wall_unix, 0.0) for s in run)
        if self._config_changed(prev, first):
            self.stats.config_changes += 1
            self._on_resync(self.board.snapshot(), "config")
            return
        self.output.book_board_energy([prev, *run])
        self._mirror(prev, first)
        self.state.track.advance(last.t_s)
        readings = self.state.track.readings()
        self.output.book_twin_energy(first.mode, readings)
        self._accept(last)
        if first.mode != "training":
            self.watch.interval_clean = False
        raw = np.asarray(readings["gate_v"], dtype=float)
        gates = self.watch.corrected(raw, last.t_s)
        self._compare(last, readings, raw, gates)
        self.resync_estimator.add(run, last.t_s, gates)
        if self.config.resync == "periodic" and (
            last.t_s - self.state.last_resync_s >= self.config.resync_interval_s
        ):
            self.resync_state()
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
        mode = _track_mode(state.mode)
        if mode != track.mode or state.eta != track.eta or state.lam != track.lam:
            track.restart(prev.t_s, mode=mode, eta=state.eta, lam=state.lam)
            self.resync_estimator.reset()
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
            edge_scores = self.watch.edge_scores(
                self.state.run_t_s, tau_s, np.asarray(state.gate_v), raw_gates_v, gates, gate_res
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
            if alarm is not None:
                self._alarm(alarm)
        if self.history.due():
            self.history.add(self.output.row(state, readings), gate_res)

    def _alarm(self, alarm: Alarm) -> None:
        if alarm.end_s is None:
            log.warning("divergence alarm: edges %s nodes %s", list(alarm.edges), list(alarm.nodes))
            if self.config.resync == "on_alarm":
                self.resync_state()
        if self.on_alarm is not None:
            self.on_alarm(alarm)

    def _finish_alarm(self, t_s: float) -> None:
        done = self.watch.monitor.finish(t_s)
        if done is not None and self.on_alarm is not None:
            self.on_alarm(done)

    # ------------------------------------------------------------------ reading

    def predict(self, horizon_s: float) -> PredictedState:
        """The twin's state ``horizon_s`` seconds of board time ahead (the twin is untouched;
        :func:`~twin.shadow.ahead.predict_ahead`)."""
        return predict_ahead(self.state, self.watch, self.edges, horizon_s, rng=self.rng)

    @property
    def desired(self) -> DesiredState:
        """What users asked the board for (:class:`~twin.shadow.commands.Commander`)."""
        return self.commander.desired

    def command(
        self,
        name: str,
        args: Mapping[str, Any] | None = None,
        *,
        key: str | None = None,
        timeout_s: float = 5.0,
    ) -> Ack:
        """Send a command carrying the desired version last seen; track the desired state."""
        return self.commander.send(name, args, key=key, timeout_s=timeout_s)


def _same_setting(a: BoardState, b: BoardState) -> bool:
    """Whether two consecutive states share mode, eta, lambda, inputs and targets."""
    return (
        a.mode == b.mode
        and a.eta == b.eta
        and a.lam == b.lam
        and a.targets_v.tobytes() == b.targets_v.tobytes()
        and a.inputs_v.tobytes() == b.inputs_v.tobytes()
    )


def _track_mode(mode: str) -> str:
    return "training" if mode == "training" else "idle"
