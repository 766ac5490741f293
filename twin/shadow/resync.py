"""Where to resync the twin's gates: the board's gates estimated from many frames, not one.

A state resync that copies the board's last *reading* into the twin carries that reading's
noise (the gate ADC's ~1 mV) into every prediction until the next resync: the residual of the
whole interval is offset by one draw, so the samples the detector sees are strongly correlated
and a 3-sigma reading at a resync looks like a departure lasting 0.25 s (the cause of the
false-alarm tail of ``benchmarks/bench_false_alarms.py`` before this estimator).

:class:`ResyncEstimator` instead keeps every frame's residual since the last resync (reported
gate minus the twin's, the twin interpolated linearly between the comparisons, where it moves
smoothly) and fits a straight line per edge to the last ``fit_s`` of them: the twin is resynced
to its own gates plus the fitted residual at the resync time, an estimate whose noise falls as
one over the square root of the frames fitted (about 0.2 mV from 100 frames instead of 1 mV).
Edges at a rail (board or twin) take the board's reading, where the line means nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from twin.board.contract import BoardState

__all__ = ["FIT_S", "RAIL_MARGIN_V", "ResyncEstimator", "line_at"]

#: Board time of frames fitted before a resync, s.
FIT_S = 0.1
#: Gates within this of a rail count as pinned there, V.
RAIL_MARGIN_V = 0.05


def line_at(t_s: np.ndarray, values: np.ndarray, at_s: float) -> np.ndarray | None:
    """Per-column least-squares line through ``values`` ``(M, E)`` at times ``t_s`` ``(M,)``,
    evaluated at ``at_s``; the mean when the times do not spread, ``None`` without rows."""
    if t_s.size == 0:
        return None
    mean_t = float(np.mean(t_s))
    mean_v = np.mean(values, axis=0)
    dt = t_s - mean_t
    sxx = float(dt @ dt)
    if t_s.size < 3 or sxx <= 1e-18:
        return mean_v
    slope = dt @ (values - mean_v) / sxx
    return mean_v + slope * (at_s - mean_t)


class ResyncEstimator:
    """Per-frame gate residuals since the last resync and the offset a resync should apply.

    ``fit_s`` is the board time of frames fitted (the last ones before the resync).
    """

    def __init__(self, fit_s: float = FIT_S) -> None:
        self.fit_s = float(fit_s)
        self._t: list[float] = []
        self._res: list[np.ndarray] = []
        self._prev: tuple[float, np.ndarray] | None = None

    def reset(self, t_s: float | None = None, gates_v: np.ndarray | None = None) -> None:
        """Forget the frames (a resync, a rebuild, a change of mode); the twin's gates at
        ``t_s`` start the next interpolation when given."""
        self._t.clear()
        self._res.clear()
        self._prev = (
            None if t_s is None or gates_v is None else (float(t_s), np.array(gates_v, float))
        )

    def add(self, frames: Sequence[BoardState], t_s: float, twin_gates_v: np.ndarray) -> None:
        """Frames up to board time ``t_s``, where the twin's gates are ``twin_gates_v``; the
        twin's gates at earlier frames are interpolated from the previous comparison."""
        twin = np.asarray(twin_gates_v, dtype=float)
        prev = self._prev
        self._prev = (float(t_s), twin.copy())
        if prev is None or t_s <= prev[0]:
            for frame in frames:
                if frame.t_s == t_s:
                    self._t.append(frame.t_s)
                    self._res.append(np.asarray(frame.gate_v, dtype=float) - twin)
        else:  # every frame's interpolation at once (row by row the same numbers)
            w = [(frame.t_s - prev[0]) / (t_s - prev[0]) for frame in frames]
            kept = [k for k, wk in enumerate(w) if 0.0 <= wk <= 1.0]
            if kept:
                at = prev[1] + np.array([w[k] for k in kept])[:, None] * (twin - prev[1])
                reported = np.array([frames[k].gate_v for k in kept], dtype=float)
                self._t += [frames[k].t_s for k in kept]
                self._res += list(reported - at)
        cut = t_s - 2.0 * self.fit_s  # keep what a fit can use
        if self._t and self._t[0] < cut:
            keep = int(np.searchsorted(np.asarray(self._t), cut))
            del self._t[:keep], self._res[:keep]

    @property
    def frames(self) -> int:
        """Frames held."""
        return len(self._t)

    def offset(self, t_s: float) -> np.ndarray | None:
        """The fitted residual (board minus twin, V) at board time ``t_s`` from the frames of
        the last ``fit_s``; ``None`` without frames."""
        if not self._t:
            return None
        t = np.asarray(self._t)
        use = t >= t_s - self.fit_s
        return line_at(t[use], np.asarray(self._res)[use], t_s)

    def gates(
        self,
        t_s: float,
        twin_gates_v: np.ndarray,
        reported_v: np.ndarray,
        rails_v: tuple[float, float],
        margin_v: float,
    ) -> np.ndarray:
        """Where to resync: the twin's gates plus the fitted residual, clipped to the rails;
        the board's reading for edges at a rail and when no frame is held."""
        reported = np.asarray(reported_v, dtype=float)
        off = self.offset(t_s)
        if off is None:
            return reported.copy()
        lo, hi = rails_v
        est = np.clip(np.asarray(twin_gates_v, dtype=float) + off, lo, hi)
        near = (
            (reported < lo + margin_v)
            | (reported > hi - margin_v)
            | (est < lo + margin_v)
            | (est > hi - margin_v)
        )
        return np.where(near | ~np.isfinite(est), reported, est)
