"""The twin's build and resync to the board: :class:`TwinSync`.

A board :class:`~twin.board.contract.Resync` (late join, gap, silence, restart, a changed
configuration) hands the shadow a snapshot: :meth:`TwinSync.on_resync` follows the board's
epoch (a new epoch is a restart: run time stays continuous, the detector starts over) and
builds the twin from the snapshot's task and state (:meth:`TwinSync.build`). A *state* resync
(:meth:`TwinSync.resync_state`, periodic or on alarm) resets the twin's gates to an estimate of
the board's over the last frames. Both change the shadow's explicit
:class:`~twin.shadow.state.TwinState`; volts, seconds.

Neither rebuilds the twin when it can be updated in place
(:meth:`~twin.board.track.TwinTrack.reset_gates`, tens of microseconds against a millisecond or
more for a build, while frames queue): a state resync never does, a board Resync (a loss, a
silence, a restart) only when the network, task, learning step and edge model are unchanged;
the first snapshot and a new task build the twin. Each resync's wall time is kept
(``ShadowStats.resync_cost_s``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from twin.board.circuit import BoardCircuit, EdgeModel
from twin.board.contract import BoardState, Snapshot
from twin.board.track import ENERGY_KEYS, TwinTrack
from twin.physics.task import Task, task_from_dict
from twin.shadow.commands import Commander
from twin.shadow.drive_margin import edge_drive_sd_v_per_s
from twin.shadow.pinned import RATE_PROBE_S, pinned_holds
from twin.shadow.resync import RAIL_MARGIN_V, ResyncEstimator
from twin.shadow.state import ShadowStats, TwinState
from twin.shadow.watch import Watch
from twin.simulation.edge import EdgeParams

__all__ = ["TwinSync", "track_mode"]

log = logging.getLogger("twin.shadow.sync")


class TwinSync:
    """Builds the shadow's twin from board snapshots and resyncs it to the board.

    Parameters
    ----------
    state
        The shadow's state (changed here: the twin, epoch, run-time offset, last resync).
    stats
        The shadow's tallies (resyncs, restarts, state resyncs, board time).
    watch
        The shadow's watch (its detector restarts with a new epoch; it learns from each
        interval between state resyncs).
    commander
        Follows the board's desired-state version from each snapshot.
    edges
        Edge circuits of the twin.
    rng
        Source of the twin's random keys.
    finish_alarm
        Ends the active alarm at a run time (called when the board restarts).
    clock_offset
        The link's current estimate of the board's wall clock minus this host's, s (it changes
        with snapshot exchanges, so it is read at each board Resync).
    """

    def __init__(
        self,
        *,
        state: TwinState,
        stats: ShadowStats,
        watch: Watch,
        commander: Commander,
        edges: EdgeParams,
        rng: np.random.Generator,
        finish_alarm: Callable[[float], None],
        clock_offset: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self.state = state
        self.stats = stats
        self.watch = watch
        self.commander = commander
        self.edges = edges
        self.rng = rng
        self.finish_alarm = finish_alarm
        self.clock_offset = clock_offset
        self.estimator = ResyncEstimator()
        #: The board's configuration as of the last snapshot (network, task, params).
        self.config_of_board: Mapping[str, Any] = {}

    def on_resync(self, snapshot: Snapshot, reason: str) -> None:
        """Follow a board snapshot: epoch, run-time offset, desired version; the twin is
        updated in place when it can be (:meth:`update`), else built anew."""
        wall0 = time.perf_counter()
        self.stats.resyncs += 1
        state, cfg = snapshot.state, snapshot.config
        new_epoch = self.state.epoch is not None and state.epoch != self.state.epoch
        if new_epoch:
            self.stats.restarts += 1
            self.finish_alarm(self.state.run_t_s)
            self.watch.on_restart()
            self.state.offset_s = self.state.run_t_s - state.t_s
            log.info("board %s restarted (epoch %d)", cfg.board_id, state.epoch)
        elif self.state.epoch is None:
            self.state.offset_s = -state.t_s
        self.state.epoch = state.epoch
        self.state.clock_offset_s = float(self.clock_offset())
        track = self.state.track
        same = (
            track is not None
            and track.edges is self.edges
            and cfg.task == self.config_of_board.get("task")
            and cfg.network == self.config_of_board.get("network")
            and cfg.params.get("step_s") == self.config_of_board.get("params", {}).get("step_s")
        )
        self.config_of_board = {"network": cfg.network, "task": cfg.task, "params": cfg.params}
        self.commander.on_snapshot(cfg.version, cfg.params)
        kind = "board"
        if same:
            self.update(state)
        else:
            self.build(task_from_dict(cfg.task), state, cfg.params)
            kind = "build"
        self.stats.resync_cost_s[kind].add(time.perf_counter() - wall0)
        log.debug("resync (%s) at board t=%.4f s, seq %d", reason, state.t_s, state.seq)

    def update(self, state: BoardState) -> None:
        """Bring the twin to the board's ``state`` in place (same task and learning step): its
        gates set at the state's time, mode, eta and lambda mirrored. As a build does, the
        twin's energy over the stretch since the last frame is not booked (nor is the board's)
        and the interval since the last resync starts again."""
        track = self.state.track
        assert track is not None
        mode = track_mode(state.mode)
        gates = np.array(state.gate_v, dtype=float)
        if mode != track.mode or state.eta != track.eta or state.lam != track.lam:
            track.reset_gates(state.t_s, gates)  # its time base follows the board's
            track.restart(state.t_s, mode=mode, eta=state.eta, lam=state.lam)
        else:
            track.reset_gates(state.t_s, gates)
        readings = track.readings()
        self.state.twin_energy = {key: float(readings[key]) for key in ENERGY_KEYS}
        self.state.check_task = True
        self.watch.on_build(track.task.network.n_edges)
        self._resynced(state.t_s, gates)
        self.accept(state)

    def build(self, task: Task, state: BoardState, params: Mapping[str, Any]) -> None:
        """Build the twin of ``task`` at the board's ``state``."""
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
            mode=track_mode(state.mode),
            eta=state.eta,
            lam=state.lam,
            step_s=float(params.get("step_s", 1e-4)),
            rng=self.rng,
        )
        self._resynced(state.t_s, np.array(state.gate_v, dtype=float))
        self.state.twin_energy = dict.fromkeys(ENERGY_KEYS, 0.0)
        self.accept(state)
        if self.state.t_start_s is None:
            self.state.t_start_s = self.state.run_t_s
            self.state.next_sample_s = self.state.run_t_s

    def accept(self, state: BoardState) -> None:
        """Take ``state`` as the board's last: run time and board time follow it."""
        self.state.reported = state
        self.state.run_t_s = state.t_s + self.state.offset_s
        self.stats.board_time_s = self.state.run_t_s - (self.state.t_start_s or 0.0)

    def resync_state(self) -> None:
        """Reset the twin's gate voltages to the board's: to the twin's own gates plus the
        residual fitted over the last frames (:class:`~twin.shadow.resync.ResyncEstimator`;
        one reading's noise would offset every prediction until the next resync), or to the
        last reported ones at a rail and when no frame is held. With
        ``ShadowConfig.hold_pinned``, a gate the board reports pinned at a rail whose direction
        the twin cannot tell is held there until the next resync (:mod:`twin.shadow.pinned`)."""
        track, reported = self.state.track, self.state.reported
        if track is None or reported is None:
            return
        wall0 = time.perf_counter()
        raw = track.gates()
        gates = self.estimator.gates(
            reported.t_s,
            self.watch.corrected(raw, reported.t_s),
            reported.gate_v,
            self.watch.rails_v,
            RAIL_MARGIN_V,
        )
        self.watch.learn_interval(reported.t_s, raw, gates)
        track.reset_gates(reported.t_s, gates)
        hold = self._pinned(track, reported.gate_v)
        if hold is not None:
            track.reset_gates(reported.t_s, gates, hold=hold)
            self.stats.pinned_holds += int(hold.sum())
        self.watch.interval_clean = True
        self._resynced(reported.t_s, gates)
        if hold is not None:
            self.state.held = hold
        self.stats.state_resyncs += 1
        self.stats.resync_cost_s["state"].add(time.perf_counter() - wall0)

    def _pinned(self, track: TwinTrack, reported_v: np.ndarray) -> np.ndarray | None:
        """The gates to hold through the next interval (:func:`~twin.shadow.pinned.pinned_holds`:
        at a rail on the board, of unknown direction in the calibrated twin just resynced);
        ``None`` when there are none or the twin does not train."""
        circuit, model = self.state.circuit, self.state.model
        if not self.watch.config.hold_pinned:
            return None
        if track.mode != "training" or circuit is None or model is None:
            return None
        v_free, v_clamped = track.node_voltages()
        sd = edge_drive_sd_v_per_s(
            circuit, model, self.watch.gain_cov, v_free, v_clamped, lam=track.lam
        )
        if sd is None:
            return None
        rate = (track.gates_ahead(RATE_PROBE_S) - track.gates()) / RATE_PROBE_S
        before = self.state.resync_gates_v  # the last resync's (set after this one)
        hold = pinned_holds(reported_v, before, self.watch.rails_v, RAIL_MARGIN_V, rate, sd)
        return hold if hold.any() else None

    def _resynced(self, t_s: float, gates_v: np.ndarray) -> None:
        """The twin's gates were set to ``gates_v`` at board time ``t_s`` (no gate held unless
        :meth:`resync_state` holds some after)."""
        self.state.held = np.zeros(np.shape(gates_v), dtype=bool)
        self.state.version += 1
        self.state.last_resync_s = t_s
        self.state.resync_gates_v = gates_v
        self.estimator.reset(t_s, gates_v)


def track_mode(mode: str) -> str:
    """The twin's mode for a board mode (``inference`` holds the gates as ``idle`` does)."""
    return "training" if mode == "training" else "idle"
