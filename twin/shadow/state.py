"""What the shadow keeps apart: reported, predicted and desired state, and its running tallies.

- *Reported*: the board's last :class:`~twin.board.contract.BoardState`, versioned by
  ``(epoch, seq)``.
- *Predicted*: :class:`PredictedState`, the twin's state at a board time, versioned by the
  number of times the twin was (re)built or resynced to the board.
- *Desired*: :class:`DesiredState`, what a user asked for, versioned by the board's
  desired-state version (a command carrying an older one is refused as stale).

:class:`ShadowStats` tallies frames, losses, lags and residuals; :class:`ShadowHistory` keeps a
decimated time series for plots.
:class:`TwinState` is the shadow's mutable state (the twin it runs, the last comparison, run
time): one explicit object that :class:`~twin.shadow.shadow.Shadow` changes and
:class:`~twin.shadow.output.ShadowOutput` only reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from twin.shadow.durations import DurationStats

if TYPE_CHECKING:
    from twin.board.circuit import BoardCircuit, EdgeModel
    from twin.board.contract import BoardState
    from twin.board.track import TwinTrack
    from twin.physics.task import Task

__all__ = ["DesiredState", "PredictedState", "ShadowHistory", "ShadowStats", "TwinState"]


def _ro(value: Any) -> np.ndarray:
    arr = np.array(value, dtype=np.float64)
    arr.setflags(write=False)
    return arr


@attrs.frozen(kw_only=True, eq=False)
class PredictedState:
    """The twin's state at board time ``t_s`` (volts, seconds).

    ``version`` counts the twin's builds and resyncs to the board; ``epoch`` is the board epoch
    the prediction belongs to.
    """

    epoch: int
    version: int
    t_s: float
    mode: str
    gate_v: np.ndarray = attrs.field(converter=_ro)
    v_free_v: np.ndarray = attrs.field(converter=_ro)
    v_clamped_v: np.ndarray = attrs.field(converter=_ro)
    eta: float
    lam: float


@attrs.frozen(kw_only=True)
class DesiredState:
    """What users asked the board for: accepted settings and the board's desired version."""

    version: int = 0
    params: Mapping[str, Any] = attrs.field(factory=dict)
    last_key: str = ""
    last_command: str = ""


@attrs.define(kw_only=True, eq=False)
class TwinState:
    """The shadow's mutable state: the twin it runs and the last comparison (volts, seconds).

    ``task``, ``circuit``, ``model`` and ``track`` are the twin built from the board's snapshot
    (``None`` before the first one); ``reported`` the board's last state and ``predicted`` the
    twin's at that time; ``epoch`` the board epoch followed. Run time ``run_t_s`` is board time
    plus ``offset_s`` (continuous across restarts); ``t_start_s`` the run time of the first
    state; ``last_resync_s`` the board time of the last resync and ``resync_gates_v`` the
    gates it set; ``next_sample_s`` the run time of
    the last sample documents. ``twin_energy`` holds the twin's cumulative energies already
    booked (J), ``gate_res_v``/``node_res_v`` the last residuals and ``score`` the last
    divergence score; ``version`` counts the twin's builds and resyncs; ``clock_offset_s`` is the
    link's estimate of the board's wall clock minus this host's (0 in process).
    """

    task: Task | None = None
    circuit: BoardCircuit | None = None
    model: EdgeModel | None = None
    track: TwinTrack | None = None
    reported: BoardState | None = None
    predicted: PredictedState | None = None
    epoch: int | None = None
    score: float = 0.0
    version: int = 0
    offset_s: float = 0.0
    run_t_s: float = 0.0
    t_start_s: float | None = None
    last_resync_s: float = 0.0
    resync_gates_v: np.ndarray = attrs.field(factory=lambda: np.zeros(0))
    #: Edges the twin holds at a rail since the last resync (:mod:`twin.shadow.pinned`).
    held: np.ndarray = attrs.field(factory=lambda: np.zeros(0, dtype=bool))
    next_sample_s: float = 0.0
    twin_energy: dict[str, float] = attrs.field(factory=dict)
    gate_res_v: np.ndarray = attrs.field(factory=lambda: np.zeros(0))
    node_res_v: np.ndarray = attrs.field(factory=lambda: np.zeros(0))
    check_task: bool = True
    clock_offset_s: float = 0.0


@attrs.define(kw_only=True)
class ShadowStats:
    """Running tallies of a shadow session."""

    frames: int = 0
    compared: int = 0
    resyncs: int = 0
    restarts: int = 0
    state_resyncs: int = 0
    #: Gates held at a rail through a state resync's interval, summed over resyncs
    #: (:mod:`twin.shadow.pinned`).
    pinned_holds: int = 0
    undetected_loss: int = 0
    out_of_order: int = 0
    config_changes: int = 0
    compared_nodes: int = 0
    node_sq_v2: float = 0.0
    gate_sq_v2: float = 0.0
    edge_sq_v2: np.ndarray = attrs.field(factory=lambda: np.zeros(0))
    #: Board -> shadow latency of every frame taken, s (bounded memory: a log histogram).
    lags_s: DurationStats = attrs.field(factory=DurationStats)
    board_time_s: float = 0.0
    #: Wall time each resync took, s, by kind (``board``: a board Resync updating the twin in
    #: place; ``build``: one building it anew; ``state``: the twin's gates reset to the board's).
    resync_cost_s: dict[str, DurationStats] = attrs.field(
        factory=lambda: {kind: DurationStats() for kind in ("board", "build", "state")}
    )

    def add_gate(self, residual_v: np.ndarray) -> None:
        if self.edge_sq_v2.shape != residual_v.shape:
            self.edge_sq_v2 = np.zeros(residual_v.shape)
        sq = residual_v * residual_v
        self.compared += 1
        self.edge_sq_v2 += sq
        self.gate_sq_v2 += float(sq.mean())

    def add_nodes(self, residual_v: np.ndarray) -> None:
        self.node_sq_v2 += float(np.mean(residual_v * residual_v))
        self.compared_nodes += 1

    @property
    def residual_rms_v(self) -> float:
        """RMS of the node-voltage residuals (free and clamped) over the compared frames, V."""
        return float(np.sqrt(self.node_sq_v2 / self.compared_nodes)) if self.compared_nodes else 0.0

    @property
    def gate_residual_rms_v(self) -> float:
        """RMS of the gate-voltage residuals over edges and compared frames, V."""
        return float(np.sqrt(self.gate_sq_v2 / self.compared)) if self.compared else 0.0

    def edge_rms_v(self) -> np.ndarray:
        """Per-edge RMS gate residual, V."""
        return np.sqrt(self.edge_sq_v2 / self.compared) if self.compared else self.edge_sq_v2

    def lag_quantiles(self) -> tuple[float, float]:
        """p50 and p99 of board -> shadow latency, s (0 without frames)."""
        return self.lags_s.quantile(0.5), self.lags_s.quantile(0.99)


class ShadowHistory:
    """A decimated record for plots: one row every ``every`` frames, at most ``max_rows`` rows.

    When full, every other row is dropped and the stride doubles, so an hour-long shadow keeps
    rows evenly spread over the whole run in bounded memory (a row is 8 numbers and one
    residual per edge: 100 kB per 1,000 rows on the 32-edge board)."""

    COLUMNS = (
        "t_s",
        "board_free_power_w",
        "twin_free_power_w",
        "board_error",
        "twin_error",
        "gate_residual_rms_v",
        "node_residual_rms_v",
        "score",
    )

    def __init__(self, every: int, *, max_rows: int = 4096) -> None:
        self.every = max(int(every), 1)
        self.max_rows = max(int(max_rows), 2)
        self.rows: list[tuple[float, ...]] = []
        self.edge_rows: list[np.ndarray] = []
        self._count = 0

    def due(self) -> bool:
        self._count += 1
        return self._count % self.every == 0

    def add(self, row: Mapping[str, float], edge_residual_v: np.ndarray) -> None:
        self.rows.append(tuple(float(row[c]) for c in self.COLUMNS))
        self.edge_rows.append(np.asarray(edge_residual_v, dtype=float).copy())
        if len(self.rows) >= self.max_rows:  # keep the rows at multiples of 2 x every
            del self.rows[0::2], self.edge_rows[0::2]
            self.every *= 2

    def arrays(self) -> dict[str, np.ndarray]:
        data = np.array(self.rows, dtype=float).reshape(-1, len(self.COLUMNS))
        out = {c: data[:, i] for i, c in enumerate(self.COLUMNS)}
        out["edge_residual_v"] = np.array(self.edge_rows) if self.edge_rows else np.zeros((0, 0))
        return out
