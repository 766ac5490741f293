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

:func:`pinned_holds` names those gates; the resync holds them where the board reports them until
the next resync (:meth:`twin.board.track.TwinTrack.reset_gates` with ``hold``). A gate whose
twin drive points away from the rail by more than that (the twin is sure it leaves) is not held,
so a gate stuck at a rail against a clear drive still shows; a fault that frees a held gate shows
from the next resync on. Without the gains' covariance (an uncalibrated twin, ``--drive-margin
flat``) nothing is held.
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
    rails_v: tuple[float, float],
    margin_v: float,
    rate_v_per_s: np.ndarray,
    drive_sd_v_per_s: np.ndarray,
) -> np.ndarray:
    """Edges to hold: the board reports the gate within ``margin_v`` (V) of a rail, and the
    twin's gate rate ``rate_v_per_s`` (V/s) points away from that rail by less than
    :data:`HOLD_SIGMAS` x ``drive_sd_v_per_s`` (an edge whose standard deviation is not finite,
    its gains not fitted, counts as of unknown direction)."""
    reported = np.asarray(reported_v, dtype=float)
    rate = np.asarray(rate_v_per_s, dtype=float)
    lo, hi = rails_v
    low, high = reported < lo + margin_v, reported > hi - margin_v
    away = np.where(low, rate, np.where(high, -rate, 0.0))
    sd = np.asarray(drive_sd_v_per_s, dtype=float)
    bound = np.where(np.isfinite(sd), HOLD_SIGMAS * sd, np.inf)
    return np.asarray((low | high) & (away > 0.0) & (away < bound))
