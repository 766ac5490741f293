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
5. books energies for both sources and emits run documents (:mod:`twin.shadow.docs`), alarms
   among them as they are raised and end.

A :class:`~twin.board.contract.Resync` from the board (late join, gap, silence, restart) brings
the twin to the new snapshot, in place after a loss, rebuilt otherwise
(:class:`~twin.shadow.sync.TwinSync`); a new epoch counts as a restart. Frames are taken in runs
of one setting (:class:`~twin.shadow.ingest.Ingest`). Run time (``t_s`` of the documents) is
board time made continuous across restarts. Losses no board counter announced (a sequence jump
without a Resync) are counted as ``undetected_loss``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from twin.board.contract import Ack, Board, BoardState, Resync, Update
from twin.board.errors import BridgeTimeout
from twin.board.track import TwinTrack
from twin.physics.task import Task
from twin.shadow.ahead import predict_ahead
from twin.shadow.alarms import Alarm, AlarmSink, DivergenceMonitor
from twin.shadow.checks import build_checks, check_summaries
from twin.shadow.commands import Commander
from twin.shadow.config import ShadowConfig
from twin.shadow.detector import (
    CusumDetector,
    FalseAlarmCurve,
    SpreadModel,
    default_false_alarm_curve,
)
from twin.shadow.docs import ShadowRecorder
from twin.shadow.ingest import Ingest
from twin.shadow.node_watch import NodeWatch
from twin.shadow.output import ShadowOutput
from twin.shadow.probe import InferenceProbe
from twin.shadow.resync import RAIL_MARGIN_V
from twin.shadow.state import DesiredState, PredictedState, ShadowHistory, ShadowStats, TwinState
from twin.shadow.sync import TwinSync
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
        edges = edges if edges is not None else board_edge_params("transistor")
        self.on_alarm = on_alarm
        self.params = dict(params or {})
        self.recorder = ShadowRecorder(emit)
        cfg = self.config
        rails_v = (float(np.max(edges.v_min_v)), float(np.min(edges.v_max_v)))
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
        self.output = ShadowOutput(
            board=board,
            recorder=self.recorder,
            stats=self.stats,
            monitor=self.watch.monitor,
            state=self.state,
        )
        self.sync = TwinSync(
            state=self.state,
            stats=self.stats,
            watch=self.watch,
            commander=self.commander,
            edges=edges,
            rng=rng,
            finish_alarm=self._finish_alarm,
            clock_offset=lambda: float(board.counters.clock_offset_s),
        )
        self.frames = Ingest(
            board=board,
            config=cfg,
            state=self.state,
            stats=self.stats,
            history=self.history,
            watch=self.watch,
            sync=self.sync,
            output=self.output,
            alarm=self._alarm,
        )
        #: The active probe and the passive node check (``config.probe_every_s``,
        #: ``node_every_s``; only for a calibrated twin, whose conductance model is established).
        self.probe, self.nodes = build_checks(
            cfg, calibrated=spread is not None, state=self.state, commander=self.commander
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
        for check in self._checks:
            done = check.monitor.finish(self.state.run_t_s)
            if done is not None:
                self._alarm(done)
        if self.state.reported is not None:
            self.output.flush(self.state.run_t_s)
        summary = self.summary()
        self.recorder.stop(status=status, summary=summary, reason=reason)
        return summary

    @property
    def edges(self) -> EdgeParams:
        """Edge circuits of the twin (taken at the next build)."""
        return self.sync.edges

    @edges.setter
    def edges(self, edges: EdgeParams) -> None:
        self.sync.edges = edges

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
        """Finished alarms, oldest first (plus the active ones), the probe's and the node
        check's among them."""
        checked = [a for check in self._checks for a in check.alarms]
        return sorted([*self.output.alarms, *checked], key=lambda a: a.start_s)

    @property
    def _checks(self) -> list[InferenceProbe | NodeWatch]:
        return [c for c in (self.probe, self.nodes) if c is not None]

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
        out = self.output.summary()
        for check in self._checks:
            checked = check.alarms
            out["alarms"] += len(checked)
            named = {e for a in checked for e in a.edges}
            out["alarm_edges"] = sorted({*out["alarm_edges"], *named})
        return out | {
            **check_summaries(self.config, self.probe, self.nodes),
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
                self.frames.on_states(batch)
                batch = []
                self.sync.on_resync(update.snapshot, update.reason)
            else:
                batch.append(update)
        self.frames.on_states(batch)
        if self._checks:  # a finished probe evaluated, the next sent; the node check's window
            params = self.sync.config_of_board.get("params", {})
            states = [u for u in updates if isinstance(u, BoardState)]
            for check in self._checks:
                check.step(states, self.edges, params, self._alarm)

    def resync_state(self) -> None:
        """Reset the twin's gates to the board's (:class:`~twin.shadow.sync.TwinSync`)."""
        self.sync.resync_state()

    @property
    def config_of_board(self) -> Mapping[str, Any]:
        """The board's configuration as of the last snapshot (network, task, params)."""
        return self.sync.config_of_board

    def _alarm(self, alarm: Alarm) -> None:
        self.recorder.alarm(alarm)
        if alarm.end_s is None:
            log.warning("divergence alarm: edges %s nodes %s", list(alarm.edges), list(alarm.nodes))
            if self.config.resync == "on_alarm":
                self.sync.resync_state()
        if self.on_alarm is not None:
            self.on_alarm(alarm)

    def _finish_alarm(self, t_s: float) -> None:
        done = self.watch.monitor.finish(t_s)
        if done is None:
            return
        self.recorder.alarm(done)
        if self.on_alarm is not None:
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
