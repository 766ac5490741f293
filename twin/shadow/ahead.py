"""Prediction ahead of the board: the twin run forward from its current state, untouched.

:func:`predict_ahead` copies the shadow's twin (:class:`~twin.board.track.TwinTrack`) at the
board's last reported time, advances the copy ``horizon_s`` seconds of board time and applies
the watch's tracked corrections (:meth:`~twin.shadow.watch.Watch.corrected`). Volts, seconds.
"""

from __future__ import annotations

import numpy as np

from twin.board.errors import BridgeConfigError
from twin.board.track import TwinTrack
from twin.shadow.state import PredictedState, TwinState
from twin.shadow.watch import Watch
from twin.simulation.edge import EdgeParams

__all__ = ["predict_ahead"]


def predict_ahead(
    state: TwinState,
    watch: Watch,
    edges: EdgeParams,
    horizon_s: float,
    *,
    rng: np.random.Generator,
) -> PredictedState:
    """The twin's state ``horizon_s`` seconds of board time after the last reported state.

    Raises :class:`~twin.board.errors.BridgeConfigError` before the first board state or for a
    horizon that is not a finite number >= 0.
    """
    track, reported = state.track, state.reported
    if track is None or reported is None:
        raise BridgeConfigError("predict: no board state yet (poll first)")
    if not (np.isfinite(horizon_s) and horizon_s >= 0):
        raise BridgeConfigError(f"horizon_s: expected a finite number >= 0, got {horizon_s}")
    now = reported.t_s
    ahead = TwinTrack(
        track.task,
        edges,
        t_s=now,
        gates_v=track.gates(),
        mode=track.mode,
        eta=track.eta,
        lam=track.lam,
        step_s=track.step_s,
        rng=np.random.default_rng(rng.integers(2**63)),
    )
    ahead.advance(now + horizon_s)
    gates = watch.corrected(ahead.gates(), now + horizon_s)
    v_free, v_clamped = ahead.node_voltages()
    return PredictedState(
        epoch=reported.epoch,
        version=state.version,
        t_s=now + horizon_s,
        mode=reported.mode,
        gate_v=gates,
        v_free_v=v_free,
        v_clamped_v=v_clamped,
        eta=ahead.eta,
        lam=ahead.lam,
    )
