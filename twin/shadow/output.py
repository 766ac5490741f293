"""What a shadow reports: energies of both sources, run documents, live view and summary.

:class:`ShadowOutput` is the part of :class:`~twin.shadow.shadow.Shadow` that books and reports
(it reads the shadow's explicit :class:`~twin.shadow.state.TwinState`, never changes the
twin). The board's energy comes from its reported voltages under the nominal device model
(:meth:`~twin.board.circuit.BoardCircuit.powers_many`), the twin's from its exact integrals
(:class:`~twin.board.track.TwinTrack`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from twin.board.circuit import Powers
from twin.board.contract import Board, BoardState
from twin.board.track import ENERGY_KEYS
from twin.shadow.alarms import Alarm, DivergenceMonitor
from twin.shadow.docs import COMPONENTS, ShadowRecorder
from twin.shadow.state import ShadowStats, TwinState

__all__ = ["ShadowOutput"]

_COMPONENT_OF = dict(
    zip(ENERGY_KEYS, ("free_network", "clamped_network", "gate_charging"), strict=True)
)


class ShadowOutput:
    """Energy booking, documents, live view and summary of a shadow.

    Parameters
    ----------
    board
        The board shadowed (its id and link counters).
    recorder
        The board and twin runs' documents.
    stats, monitor
        The shadow's tallies and alarm monitor.
    state
        The shadow's explicit state (read only here).
    """

    def __init__(
        self,
        *,
        board: Board,
        recorder: ShadowRecorder,
        stats: ShadowStats,
        monitor: DivergenceMonitor,
        state: TwinState,
    ) -> None:
        self.board = board
        self.recorder = recorder
        self.stats = stats
        self.monitor = monitor
        self.state = state

    def book_board_energy(self, states: Sequence[BoardState]) -> None:
        """Board energy of each interval between consecutive states, at the earlier's power."""
        assert self.state.circuit is not None
        assert self.state.model is not None
        head = states[:-1]
        dt = np.diff([s.t_s for s in states])
        powers = self.state.circuit.powers_many(
            self.state.model,
            np.array([s.gate_v for s in head]),
            np.array([s.v_free_v for s in head]),
            np.array([s.v_clamped_v for s in head]),
            lam=np.array([s.lam for s in head]),
            training=np.array([s.mode == "training" for s in head]),
        )
        energy = powers * np.maximum(dt, 0.0)[:, None]
        modes = [s.mode for s in head]
        book = self.recorder.board
        kinds = set(modes)
        for mode in kinds:
            # one mode: every row (the selection would be a copy of the same rows)
            rows = (energy if len(kinds) == 1 else energy[[m == mode for m in modes]]).sum(axis=0)
            for component, e_j in zip(COMPONENTS, rows, strict=True):
                book.add_energy(mode, component, float(e_j))

    def _board_powers(self, state: BoardState) -> Powers:
        assert self.state.circuit is not None
        assert self.state.model is not None
        return self.state.circuit.powers(
            self.state.model,
            state.gate_v,
            state.v_free_v,
            state.v_clamped_v,
            lam=state.lam,
            training=state.mode == "training",
        )

    def book_twin_energy(self, mode: str, readings: Mapping[str, Any]) -> None:
        for key in ENERGY_KEYS:
            value = float(readings[key])
            self.recorder.twin.add_energy(
                mode, _COMPONENT_OF[key], value - self.state.twin_energy[key]
            )
            self.state.twin_energy[key] = value

    def row(self, state: BoardState, readings: Mapping[str, Any]) -> dict[str, float]:
        p = self._board_powers(state)
        return {
            "t_s": self.state.run_t_s,
            "board_free_power_w": p.free_w,
            "twin_free_power_w": float(readings["free_power_w"]),
            "board_error": self._board_error(state),
            "twin_error": float(readings["error"]),
            "gate_residual_rms_v": float(np.sqrt(np.mean(self.state.gate_res_v**2))),
            "node_residual_rms_v": float(np.sqrt(np.mean(self.state.node_res_v**2)))
            if self.state.node_res_v.size
            else 0.0,
            "score": self.state.score,
        }

    def _board_error(self, state: BoardState) -> float:
        task = self.state.task
        assert task is not None
        assert self.state.circuit is not None
        v = np.asarray(state.v_free_v)
        out = (
            v[task.targets]
            if task.target_kind == "nodes"
            else self.state.circuit.drops(v)[task.targets]
        )
        return float(np.sum((out - np.asarray(state.targets_v)) ** 2))

    def flush(self, t_s: float) -> None:
        state = self.state.reported
        assert state is not None
        assert self.state.track is not None
        row = self.row(state, self.state.track.readings())
        gates = np.asarray(state.gate_v)
        board = {
            "error": row["board_error"],
            "free_power_w": row["board_free_power_w"],
            "eta": state.eta,
            "lam": state.lam,
            **{f"gate_v_{i}": float(v) for i, v in enumerate(gates)},
        }
        twin = {
            "error": row["twin_error"],
            "free_power_w": row["twin_free_power_w"],
            "gate_residual_rms_v": row["gate_residual_rms_v"],
            "node_residual_rms_v": row["node_residual_rms_v"],
            "divergence_score": self.state.score,
            "lag_s": self.stats.lags_s.last_s or 0.0,
        }
        if self.state.predicted is not None:
            twin |= {f"gate_v_{i}": float(v) for i, v in enumerate(self.state.predicted.gate_v)}
        self.recorder.board.flush(t_s, board)
        self.recorder.twin.flush(t_s, twin)
        self.state.next_sample_s = t_s

    @property
    def alarms(self) -> list[Alarm]:
        """Finished alarms, oldest first (plus the active one, if any)."""
        active = [self.monitor.active] if self.monitor.active is not None else []
        return [*self.monitor.alarms, *active]

    def progress_info(self, duration_s: float | None = None) -> dict[str, Any]:
        """A live view: run time, frames, residuals, score, alarms, energies, lag."""
        _, p99 = self.stats.lag_quantiles()
        return {
            "t_s": self.stats.board_time_s,
            "duration_s": duration_s,
            "frames": self.stats.frames,
            "residual_rms_v": self.stats.residual_rms_v,
            "gate_residual_rms_v": self.stats.gate_residual_rms_v,
            "score": self.state.score,
            "alarms": len(self.alarms),
            "board_energy_j": self.recorder.board.energy_j,
            "twin_energy_j": self.recorder.twin.energy_j,
            "lag_p99_s": p99,
        }

    def summary(self) -> dict[str, Any]:
        """The session's figures (the CLI's ``--json`` object)."""
        counters = self.board.counters
        # every frame of the run, taken by the shadow (so its own backlog counts), offset-corrected
        p50, p99 = self.stats.lag_quantiles()
        alarms = self.alarms
        return {
            "board": self.board.board_id,
            "frames": self.stats.frames,
            "gaps_detected": int(counters.gaps_detected),
            "resyncs": self.stats.resyncs,
            "restarts": self.stats.restarts,
            "state_resyncs": self.stats.state_resyncs,
            "pinned_holds": self.stats.pinned_holds,
            "undetected_loss": self.stats.undetected_loss,
            "out_of_order": self.stats.out_of_order,
            "decode_errors": int(counters.decode_errors),
            "lag_p50_s": p50,
            "lag_p99_s": p99,
            "link_lag_p50_s": float(counters.lag_p50_s),
            "link_lag_p99_s": float(counters.lag_p99_s),
            "residual_rms_v": self.stats.residual_rms_v,
            "gate_residual_rms_v": self.stats.gate_residual_rms_v,
            "alarms": len(alarms),
            "alarm_edges": sorted({e for a in alarms for e in a.edges}),
            "board_energy_j": self.recorder.board.energy_j,
            "twin_energy_j": self.recorder.twin.energy_j,
            "board_time_s": self.stats.board_time_s,
            "board_run": self.recorder.board.uid,
            "twin_run": self.recorder.twin.uid,
        }
