"""Feeding the live page from a run: a shadow's counters and alarms, a simulation's progress,
an XY network's phases and couplings while it trains.

Documents reach :class:`~twin.view.state.LiveState` as a subscriber; these feeds add what is not
in the documents: the link (frames, resyncs, restarts, gaps, lag, time of the last frame), the
board's epoch and alarms. They read cheap attributes only (no quantiles over the whole run) and
never change the run.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .layout import graph_layout, network_layout
from .state import LiveState

if TYPE_CHECKING:
    from twin.shadow.alarms import Alarm
    from twin.shadow.shadow import Shadow

    from ..physics.network import Network
    from ..physics.xy.energy import XYParams
    from ..physics.xy.graph import XYGraph
    from ..simulation.edge import EdgeParams

__all__ = ["ShadowFeed", "SimulationFeed", "XYFeed"]


class ShadowFeed:
    """The shadow's link and alarms into ``state``: call it with each progress report.

    Parameters
    ----------
    state
        The live page's state.
    shadow
        The shadow being watched (read only).
    """

    def __init__(self, state: LiveState, shadow: Shadow) -> None:
        self.state = state
        self.shadow = shadow
        self._frames = -1
        self._resyncs = 0
        self._restarts = 0
        self._epoch: int | None = None
        self._last_rx_unix: float | None = None

    def __call__(self, info: Mapping[str, Any]) -> None:
        """Update the status from the shadow (a ``Shadow.run`` progress callback)."""
        sh, state = self.shadow, self.state
        if not state.has_layout and sh.task is not None:
            state.set_layout(network_layout(sh.task.network))
            state.set_conductance(sh.edges.device.conductance)  # the twin's (nominal) model
        stats = sh.stats
        if stats.frames != self._frames:
            self._frames = stats.frames
            self._last_rx_unix = time.time()
        self._events(sh)
        counters = sh.board.counters
        reported = sh.reported
        state.set_status(
            connected=True,
            board=sh.board.board_id,
            epoch=None if sh.epoch is None else str(sh.epoch),  # 63-bit: exact as text
            board_mode=reported.mode if reported is not None else None,
            t_s=sh.run_t_s,
            duration_s=info.get("duration_s"),
            frames=stats.frames,
            resyncs=stats.resyncs,
            restarts=stats.restarts,
            state_resyncs=stats.state_resyncs,
            gaps=int(counters.gaps_detected),
            lost=stats.undetected_loss,
            out_of_order=stats.out_of_order,
            lag_s=stats.lags_s.last_s,
            lag_p99_s=info.get("lag_p99_s"),
            score=sh.score,
            last_frame_unix=self._last_rx_unix,
        )

    def _events(self, sh: Shadow) -> None:
        stats, t_s = sh.stats, sh.run_t_s
        if stats.restarts > self._restarts:
            self.state.event("restart", "board restarted (new epoch), twin rebuilt", t_s)
        elif stats.resyncs > self._resyncs and self._epoch is not None:
            n = stats.resyncs - self._resyncs
            self.state.event("resync", f"resync ({n}), twin rebuilt from the board", t_s)
        self._restarts, self._resyncs, self._epoch = stats.restarts, stats.resyncs, sh.epoch

    def alarm(self, alarm: Alarm) -> None:
        """An alarm raised or ended (a ``Shadow`` ``on_alarm`` sink)."""
        self.state.alarm(alarm.as_dict())


class SimulationFeed:
    """A simulation's progress into ``state``: call it as ``update(done_s, total_s)``.

    Parameters
    ----------
    state
        The live page's state.
    network
        The simulated network (drawn on the page).
    edges
        The simulated edges (their device model turns gate voltages into conductances).
    """

    def __init__(
        self, state: LiveState, network: Network, *, edges: EdgeParams | None = None
    ) -> None:
        self.state = state
        state.set_layout(network_layout(network))
        if edges is not None:
            state.set_conductance(edges.device.conductance)
        state.set_status(connected=True, board="twin (simulation)")

    def __call__(self, done_s: float, total_s: float) -> None:
        self.state.set_status(t_s=done_s, duration_s=total_s, last_frame_unix=time.time())


class XYFeed:
    """An XY network's training into ``state``: the graph drawn once, then at each sampled
    epoch the node phases of one free equilibrium and the couplings
    (a :data:`~twin.learning.ep_train.EpochWatch`).

    Parameters
    ----------
    state
        The live page's state.
    graph
        The XY network being trained.
    epochs
        Epochs of the run (the page's progress).
    """

    def __init__(self, state: LiveState, graph: XYGraph, *, epochs: int) -> None:
        self.state = state
        state.set_layout(graph_layout(graph.name, graph.positions, graph.edges))
        state.set_status(connected=True, board="twin (XY network)", duration_s=float(epochs))

    def __call__(self, epoch: int, params: XYParams, phi: np.ndarray) -> None:
        wrapped = np.angle(np.exp(1j * np.asarray(phi, dtype=float)))  # into (-pi, pi]
        self.state.set_values(nodes=wrapped, edges=params.w)
        self.state.set_status(t_s=float(epoch), last_frame_unix=time.time())
