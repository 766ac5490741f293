"""Which gates a state resync holds at a rail: pinned on the board, their direction unknown to
the twin.

A gate the board reports at a rail tells the shadow little about its drive: only that the drive
does not point away from the rail. Where the calibrated twin's drive points away from it, but by
less than the error its fitted gains leave (:data:`HOLD_SIGMAS` standard deviations of the net
drive, :func:`twin.shadow.drive_margin.drive_sd_v_per_s`), the twin would take the gate off the
rail after each resync while the board keeps it there, and the gate's neighbours follow the
twin's wrong gate. Traced on two fault-free boards whose detector crossed its level (seeds 2314
and 2930 of ``benchmarks/bench_false_alarms.py``, ``benchmarks/diag_fa_episode.py``): board
2314's edge 4 sat at the low rail, its fitted net drive +14.3 V/s with a standard deviation of
12.1 V/s where the truth was -2.1 V/s into the rail; the twin took it +311 mV off the rail within
each 0.25 s interval and edge 1, two hops away, parted from the board by 0.19 V.

A gate is pinned only if the board reported it at the rail at this resync and the one before: a
first version held gates that had just arrived (board 3046's edge 18, at 1.002 V on its way
down, left the rail at +1.6 V/s in the held interval), and the tracker then learned the
neighbours' travel of that interval as their gain and drift (edge 25 parted from the board by
20-30 mV for 7 s: 2 episodes, peak 474). The watch no longer learns from an interval in which a
neighbour (or the edge) was held (:meth:`twin.shadow.watch.Watch.learn_interval`).

**Off by default** (``ShadowConfig(hold_pinned=True)`` turns it on): on fault-free boards it
raised more false alarms than it removed. The first version, on fresh typical boards 3000-3255
(120 s each, 8.5 board-hours, ``benchmarks/bench_false_alarms.py``): 7 boards alarmed (3046,
3055, 3057, 3092, 3132, 3177, 3253); the version above still alarms on 3 of those 7 (3055, 3132,
3253), and without holds none of 3046, 3055, 3132, 3253 alarms. It does remove the two traced
episodes (boards 2314 and 2930 under ``OPENBLAS_CORETYPE=SkylakeX``: 1 and 2 episodes without,
none with the first version). Why a held gate still misleads on those boards is not traced.

:func:`pinned_holds` names those gates; asked to, the resync holds them where the board reports
them until the next resync (:meth:`twin.board.track.TwinTrack.reset_gates` with ``hold``). A gate
whose twin drive points away from the rail by more than that (the twin is sure it leaves) is not
held, so a gate stuck at a rail against a clear drive still shows; a fault that frees a held
gate shows from the next resync on. Without the gains' covariance (an uncalibrated twin,
``--drive-margin flat``) nothing is held.
"""

from __future__ import annotations

import numpy as np

__all__ = ["HOLD_SIGMAS", "RATE_PROBE_S", "pinned_holds"]

#: A pinned gate is held while the twin's drive away from its rail is below this many standard
#: deviations of the net drive's error (the detector's own :data:`DRIVE_SIGMAS`).
HOLD_SIGMAS = 3.0
#: Board time over which the twin's gate rate is read at a resync, s (the drives held then).
RATE_PROBE_S = 1e-3


def pinned_holds(
    reported_v: np.ndarray,
    before_v: np.ndarray,
    rails_v: tuple[float, float],
    margin_v: float,
    rate_v_per_s: np.ndarray,
    drive_sd_v_per_s: np.ndarray,
) -> np.ndarray:
    """Edges to hold: the board reports the gate within ``margin_v`` (V) of a rail, and did at
    the resync before (``before_v``, the gates it set: a gate passing by the rail, or arriving
    at it, is not pinned), and the twin's gate rate ``rate_v_per_s`` (V/s) points away from
    that rail by less than :data:`HOLD_SIGMAS` x ``drive_sd_v_per_s`` (an edge whose standard
    deviation is not finite, its gains not fitted, counts as of unknown direction)."""
    reported = np.asarray(reported_v, dtype=float)
    rate = np.asarray(rate_v_per_s, dtype=float)
    lo, hi = rails_v
    before = np.asarray(before_v, dtype=float)
    if before.shape != reported.shape:
        return np.zeros(reported.shape, dtype=bool)
    low = (reported < lo + margin_v) & (before < lo + margin_v)
    high = (reported > hi - margin_v) & (before > hi - margin_v)
    away = np.where(low, rate, np.where(high, -rate, 0.0))
    sd = np.asarray(drive_sd_v_per_s, dtype=float)
    bound = np.where(np.isfinite(sd), HOLD_SIGMAS * sd, np.inf)
    return np.asarray((low | high) & (away > 0.0) & (away < bound))
