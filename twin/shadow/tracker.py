"""Per-edge parameters tracked online: slow drift and persistent model error absorbed, not alarmed.

Between resyncs the twin predicts each gate's travel; the board's travel differs by what the
calibration got wrong (a gain-like error, larger in some regimes than others) and by whatever
drifts slowly in the hardware (gains, thresholds, leaks over an hour). :class:`DriftTracker`
regresses, per edge and at every resync interval, the board's gate travel on the twin's
predicted travel and the elapsed time,

    board_travel_e = g_e * twin_travel_e + d_e * dt + noise,

with a Kalman filter on ``theta_e = (g_e, d_e)`` (a recursive least squares whose parameters
walk: ``gain_walk_per_sqrt_s`` and ``drift_walk_v_per_s_per_sqrt_s`` say how far they may move
per square-root second, so an interval's estimate leans on the last few intervals where the
gate travelled, and on tens of seconds where it barely moved). The covariance never grows
beyond the prior (``gain_sd``, ``drift_sd_v_per_s``: a gate that does not move keeps a bounded
uncertainty) and the estimates stay within physical ranges (``gain_range``,
``drift_range_v_per_s``).

The shadow predicts ``gate = resync_gate + g * (twin - resync_gate) + d * tau`` and adds the
prediction's variance from the parameters' uncertainty, ``x^T P x`` with ``x = (twin travel,
tau)``, to the detector's spread (:meth:`variance_v2`), so a poorly known edge is not held to a
tight tolerance.

A fault is abrupt: its first interval's innovation is many standard deviations of the
prediction (``gate_sigma``), and such an observation is *not* absorbed (the edge keeps its
parameters and its residual, and the detector's CUSUM climbs); persistent faults therefore stay
visible, while drift, a few per cent per interval at most, is tracked. Rejected observations are
counted per edge (:meth:`summary`), so drift and faults are reported separately.
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import numpy as np

from twin._validators import positive
from twin.board.errors import BridgeConfigError

__all__ = ["DriftTracker", "TrackerConfig"]


def _ordered(_inst: object, attr: attrs.Attribute[Any], value: tuple[float, float]) -> None:
    lo, hi = value
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise BridgeConfigError(f"{attr.name}: expected (low, high) finite with low < high")


@attrs.frozen(kw_only=True)
class TrackerConfig:
    """Settings of :class:`DriftTracker`.

    Parameters
    ----------
    gain_sd
        Largest standard deviation of a tracked gain factor (the prior's, and the bound of the
        covariance of an edge that does not move).
    drift_sd_v_per_s
        Largest standard deviation of a tracked extra drift, V/s.
    gain_walk_per_sqrt_s
        How far a gain factor may walk per square-root second (standard deviation).
    drift_walk_v_per_s_per_sqrt_s
        How far the extra drift may walk per square-root second, V/s.
    noise_v
        Standard deviation of one interval's observed board travel beyond the tracked terms
        (resync estimates at both ends, unmodelled jitter), V.
    gate_sigma
        Innovations beyond this many standard deviations are a fault, not drift: not absorbed.
    gain_range, drift_range_v_per_s
        Physical ranges of the tracked gain factor and extra drift (V/s). The gain factor may
        reach 0: near a stable fixed point of the learning rule the twin relaxes quickly to its
        own equilibrium while the board stays at its (slightly different) one, so the board
        does not follow the twin's travel there.
    doubt_cusum
        An edge whose CUSUM (squared-score excess, the detector's units, whatever the decision
        level in use) is above this teaches the tracker nothing until it falls back.
    """

    gain_sd: float = attrs.field(default=0.2, validator=positive(BridgeConfigError))
    drift_sd_v_per_s: float = attrs.field(default=0.02, validator=positive(BridgeConfigError))
    gain_walk_per_sqrt_s: float = attrs.field(default=0.04, validator=positive(BridgeConfigError))
    drift_walk_v_per_s_per_sqrt_s: float = attrs.field(
        default=0.005, validator=positive(BridgeConfigError)
    )
    noise_v: float = attrs.field(default=0.7e-3, validator=positive(BridgeConfigError))
    gate_sigma: float = attrs.field(default=6.0, validator=positive(BridgeConfigError))
    gain_range: tuple[float, float] = attrs.field(default=(0.0, 2.0), validator=_ordered)
    doubt_cusum: float = attrs.field(default=100.0, validator=positive(BridgeConfigError))
    drift_range_v_per_s: tuple[float, float] = attrs.field(default=(-0.5, 0.5), validator=_ordered)


class DriftTracker:
    """Per-edge tracked gain factor ``g`` and extra drift ``d`` (V/s) of the twin's prediction.

    Parameters
    ----------
    n_edges
        Edges tracked.
    config
        Tracker settings.
    gain_sd0, drift_sd0_v_per_s
        Prior standard deviations per edge (e.g. the calibration's relative gain error and drift
        error); capped by the config's bounds. Default: the bounds.
    """

    def __init__(
        self,
        n_edges: int,
        config: TrackerConfig | None = None,
        *,
        gain_sd0: np.ndarray | None = None,
        drift_sd0_v_per_s: np.ndarray | None = None,
    ) -> None:
        self.config = cfg = config if config is not None else TrackerConfig()
        n = int(n_edges)
        self.gain = np.ones(n)
        self.drift_v_per_s = np.zeros(n)
        sg = np.full(n, cfg.gain_sd) if gain_sd0 is None else np.asarray(gain_sd0, float)
        sd = (
            np.full(n, cfg.drift_sd_v_per_s)
            if drift_sd0_v_per_s is None
            else np.asarray(drift_sd0_v_per_s, float)
        )
        sg = np.clip(np.nan_to_num(sg, nan=cfg.gain_sd), 1e-4, cfg.gain_sd)
        sd = np.clip(np.nan_to_num(sd, nan=cfg.drift_sd_v_per_s), 1e-5, cfg.drift_sd_v_per_s)
        #: Parameter covariances, ``(E, 2, 2)`` over ``(g, d)``.
        self.cov = np.zeros((n, 2, 2))
        self.cov[:, 0, 0] = sg**2
        self.cov[:, 1, 1] = sd**2
        self.updates = np.zeros(n, dtype=int)
        self.rejected = np.zeros(n, dtype=int)
        self.last_innovation_sigma = np.zeros(n)

    @property
    def n_edges(self) -> int:
        return int(self.gain.size)

    # ------------------------------------------------------------------ prediction

    def correct(self, twin_travel_v: np.ndarray, tau_s: float) -> np.ndarray:
        """The board's expected travel (V) when the twin travelled ``twin_travel_v`` (signed)
        in ``tau_s`` since the resync."""
        return self.gain * np.asarray(twin_travel_v, float) + self.drift_v_per_s * tau_s

    def variance_v2(self, twin_travel_v: np.ndarray, tau_s: float) -> np.ndarray:
        """Variance (V^2) of :meth:`correct` from the parameters' uncertainty, ``x^T P x``."""
        u = np.asarray(twin_travel_v, float)
        c = self.cov
        return c[:, 0, 0] * u * u + 2.0 * c[:, 0, 1] * u * tau_s + c[:, 1, 1] * tau_s * tau_s

    # ------------------------------------------------------------------ learning

    def update(
        self,
        board_travel_v: np.ndarray,
        twin_travel_v: np.ndarray,
        dt_s: float,
        use: np.ndarray | None = None,
        regime: np.ndarray | None = None,
    ) -> np.ndarray:
        """One resync interval of ``dt_s``: the board's travel and the twin's (signed, V).

        ``use`` masks the edges whose travels are informative (off the rails, not in alarm).
        Returns each edge's normalised innovation (0 where not used); those beyond
        ``gate_sigma`` are counted as rejected and not absorbed.

        ``regime`` masks edges whose operating regime changed during the interval for a known
        cause (a neighbouring edge crossed into or out of cutoff: the network around them is
        no longer the one their parameters were learned in): their covariance returns to the
        prior and their innovation is accepted whatever its size (a new regime, not a fault).
        """
        cfg = self.config
        if not (math.isfinite(dt_s) and dt_s > 0):
            return np.zeros(self.n_edges)
        u = np.asarray(twin_travel_v, float)
        y = np.asarray(board_travel_v, float)
        ok = np.isfinite(u) & np.isfinite(y)
        if use is not None:
            ok &= np.asarray(use, bool)
        # The walk since the last interval, bounded by the prior.
        cov = self.cov.copy()
        cov[:, 0, 0] += cfg.gain_walk_per_sqrt_s**2 * dt_s
        cov[:, 1, 1] += cfg.drift_walk_v_per_s_per_sqrt_s**2 * dt_s
        scale = np.stack(
            [
                np.minimum(1.0, cfg.gain_sd / np.sqrt(cov[:, 0, 0])),
                np.minimum(1.0, cfg.drift_sd_v_per_s / np.sqrt(cov[:, 1, 1])),
            ],
            axis=1,
        )
        cov *= scale[:, :, None] * scale[:, None, :]
        fresh = np.zeros(self.n_edges, dtype=bool)
        if regime is not None:
            fresh = ok & np.asarray(regime, bool)
            prior = np.zeros_like(cov)
            prior[:, 0, 0] = cfg.gain_sd**2
            prior[:, 1, 1] = cfg.drift_sd_v_per_s**2
            cov = np.where(fresh[:, None, None], prior, cov)
        u0 = np.where(ok, u, 0.0)
        px0 = cov[:, 0, 0] * u0 + cov[:, 0, 1] * dt_s
        px1 = cov[:, 1, 0] * u0 + cov[:, 1, 1] * dt_s
        s = u0 * px0 + dt_s * px1 + cfg.noise_v**2
        innov = np.where(ok, np.nan_to_num(y) - self.gain * u0 - self.drift_v_per_s * dt_s, 0.0)
        nis = innov / np.sqrt(s)
        accept = ok & ((np.abs(nis) <= cfg.gate_sigma) | fresh)
        k0, k1 = px0 / s, px1 / s
        self.gain = np.where(accept, self.gain + k0 * innov, self.gain)
        self.drift_v_per_s = np.where(accept, self.drift_v_per_s + k1 * innov, self.drift_v_per_s)
        self.gain = np.clip(self.gain, *cfg.gain_range)
        self.drift_v_per_s = np.clip(self.drift_v_per_s, *cfg.drift_range_v_per_s)
        post = cov.copy()
        post[:, 0, 0] -= k0 * px0
        post[:, 0, 1] -= k0 * px1
        post[:, 1, 0] -= k1 * px0
        post[:, 1, 1] -= k1 * px1
        # Every edge's walk goes on (time passed); only accepted observations shrink it.
        self.cov = np.where(accept[:, None, None], post, cov)
        self.updates += accept
        self.rejected += ok & ~accept
        self.last_innovation_sigma = nis
        return nis

    # ------------------------------------------------------------------ reporting

    def summary(self) -> dict[str, Any]:
        """Tracked drift, apart from faults: per-edge gain factors and extra drifts with their
        standard deviations, updates and rejected (fault-like) observations."""
        gain_sd = np.sqrt(self.cov[:, 0, 0])
        drift_sd = np.sqrt(self.cov[:, 1, 1])
        dev = np.abs(self.gain - 1.0)
        saturated = self.saturated()
        return {
            "model": "board travel = g x twin travel + d x dt per resync interval (Kalman)",
            "gain": [round(float(v), 5) for v in self.gain],
            "gain_sd": [round(float(v), 5) for v in gain_sd],
            "drift_v_per_s": [round(float(v), 6) for v in self.drift_v_per_s],
            "drift_sd_v_per_s": [round(float(v), 6) for v in drift_sd],
            "updates": [int(v) for v in self.updates],
            "rejected": [int(v) for v in self.rejected],
            "largest_gain_change": float(np.max(dev, initial=0.0)),
            "largest_gain_change_edge": int(np.argmax(dev)) if dev.size else -1,
            "largest_drift_v_per_s": float(np.max(np.abs(self.drift_v_per_s), initial=0.0)),
            "saturated_edges": [int(e) for e in np.flatnonzero(saturated)],
            "largest_gain_change_unsaturated": float(np.max(dev[~saturated], initial=0.0)),
        }

    def saturated(self) -> np.ndarray:
        """Edges whose gain factor or extra drift sits at a bound of its physical range: there
        the tracked model does not explain the board's travel (the twin's travel of the wrong
        sign, say, which no gain factor fixes): model error to report apart, not drift."""
        cfg = self.config
        return _at_bound(self.gain, cfg.gain_range) | _at_bound(
            self.drift_v_per_s, cfg.drift_range_v_per_s
        )


def _at_bound(values: np.ndarray, bounds: tuple[float, float]) -> np.ndarray:
    """Which ``values`` sit at either end of ``bounds`` (within 1e-9)."""
    lo, hi = bounds
    return (values <= lo + 1e-9) | (values >= hi - 1e-9)
