"""Optional slow parameter drift of an emulated board: gains and thresholds that wander.

A real board's components age and warm up: amplifier gains and transistor thresholds move by a
few per cent, or tens of millivolts, over an hour. :func:`slow_drift` draws one board's drift
(per edge, a constant rate for the free and clamped gains together and one for the threshold)
and returns it as a train of small :class:`~twin.board.inprocess.Fault` changes every
``step_s`` of board time, which :class:`~twin.board.inprocess.InProcessBoard` applies as it
advances: the emulator itself is unchanged. A shadow should track such drift, not alarm on it
(:mod:`twin.shadow.tracker`).
"""

from __future__ import annotations

import math

import attrs
import numpy as np

from twin._validators import non_negative, positive
from twin.board.errors import BridgeConfigError
from twin.board.inprocess import Fault

__all__ = ["SlowDrift", "slow_drift"]


@attrs.frozen(kw_only=True)
class SlowDrift:
    """Spread of one board's drift rates.

    Parameters
    ----------
    gain_rel_per_hour
        Standard deviation of each edge's relative gain change per hour (both channels).
    threshold_v_per_hour
        Standard deviation of each edge's threshold change per hour, V.
    step_s
        Board time between applied changes, s.
    """

    gain_rel_per_hour: float = attrs.field(default=0.05, validator=non_negative(BridgeConfigError))
    threshold_v_per_hour: float = attrs.field(
        default=0.02, validator=non_negative(BridgeConfigError)
    )
    step_s: float = attrs.field(default=1.0, validator=positive(BridgeConfigError))


def slow_drift(
    n_edges: int,
    *,
    duration_s: float,
    drift: SlowDrift,
    rng: np.random.Generator,
    start_s: float = 0.0,
) -> list[Fault]:
    """The changes of a drifting board from ``start_s`` to ``start_s + duration_s`` (board time,
    s): every ``drift.step_s``, each edge's gains times ``1 + rate step`` and its threshold
    shifted by ``rate step``, the rates drawn once per edge (a gain never falls below 1 % of its
    value at the start)."""
    if not (math.isfinite(duration_s) and duration_s >= 0):
        raise BridgeConfigError(f"duration_s: expected a finite number >= 0, got {duration_s}")
    gain_rate = rng.normal(0.0, drift.gain_rel_per_hour, n_edges) / 3600.0
    vt_rate = rng.normal(0.0, drift.threshold_v_per_hour, n_edges) / 3600.0
    faults: list[Fault] = []
    steps = int(duration_s // drift.step_s)
    for k in range(1, steps + 1):
        t = start_s + k * drift.step_s
        # Gains change linearly in time: the factor of this step relative to the last.
        before = np.maximum(1.0 + gain_rate * (k - 1) * drift.step_s, 0.01)
        after = np.maximum(1.0 + gain_rate * k * drift.step_s, 0.01)
        for e in range(n_edges):
            changes: dict[str, float] = {}
            if gain_rate[e] != 0.0:
                changes["gain_factor"] = float(after[e] / before[e])
            if vt_rate[e] != 0.0:
                changes["threshold_shift_v"] = float(vt_rate[e] * drift.step_s)
            if changes:
                faults.append(Fault(t_s=t, edge=e, changes=changes))
    return faults
