"""A divergence detector with a stated false-alarm rate: normalised residuals and a CUSUM.

Between resyncs the twin runs open loop, so even a well calibrated twin's gate residual grows
with the time since the last resync (gain error x gate travel + drift error x time) on top of
the ADC floor. :class:`SpreadModel` holds that fault-free spread per edge,

    sigma_e = sqrt(floor_e^2 + (slope_e tau)^2 + (rel_e travel_e)^2),

with ``tau`` the time since resync (s) and ``travel_e`` how far the twin moved the gate since
then (V): a drift error grows with time, a gain error with the travel,

learned at calibration from the calibrated twin's own prediction residuals
(:func:`learn_spread`) or, for an uncalibrated twin, over a warm-up of the shadow
(:class:`SpreadLearner`).

:class:`CusumDetector` normalises every edge's residual, ``z = r / sigma_e(tau)``, every
``every_s`` of board time and runs a one-sided CUSUM on the squared score,

    S_e <- max(0, S_e + min(z^2, clip) - 1 - k),

which drifts down by ``k`` per sample while the edge is fault-free (``E z^2 = 1``) and climbs when
its residual departs from its fault-free spread. The spread is refined online: each edge's
``z^2`` is divided by its running mean over ``adapt_s`` (an exponential average, never below 1),
so a spread the calibration underestimated (a regime its recording did not visit) is absorbed
over tens of seconds, while a fault, abrupt on that scale, is caught in a few samples (the mean
of a slow drift or a persistent model error is taken out before, by the shadow's per-edge
tracker, :mod:`twin.shadow.tracker`, whose uncertainty ``update`` adds to the spread). An edge
is divergent while ``S_e > h``. The decision level ``h`` comes from a target mean time between
false alarms: :class:`FalseAlarmCurve` holds the rate of level crossings per board-hour
``rate(h) = exp(a - b h)`` estimated by Monte Carlo over fault-free emulated seeds
(``benchmarks/bench_false_alarms.py``), and :meth:`FalseAlarmCurve.level` inverts it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import attrs
import numpy as np

from twin.board.contract import BoardState
from twin.board.errors import BridgeConfigError
from twin.board.track import TwinTrack
from twin.physics.task import Task
from twin.shadow.alarm_curve import (
    FalseAlarmCurve,
    crossing_counts,
    default_false_alarm_curve,
    fit_false_alarm_curve,
)
from twin.shadow.resync import RAIL_MARGIN_V, ResyncEstimator
from twin.simulation.edge import EdgeParams

__all__ = [
    "CusumDetector",
    "FalseAlarmCurve",
    "SpreadLearner",
    "SpreadModel",
    "crossing_counts",
    "default_false_alarm_curve",
    "fit_false_alarm_curve",
    "fit_spread",
    "learn_spread",
    "predict_horizons",
]

#: Smallest spread floor, V (one LSB of the 12-bit gate ADC over 5.5 V).
MIN_FLOOR_V = 1.3e-3
#: Fewer (tau, residual) pairs than this per edge: the pooled spread is used.
MIN_PAIRS = 20


@attrs.frozen(kw_only=True, eq=False)
class SpreadModel:
    """Fault-free gate-residual spread per edge: ``floor_v`` (V), ``slope_v_per_s`` (V/s) and
    ``rel`` (per volt of gate travel since the resync).

    ``source`` says where it was learned (``calibration`` or ``warm-up``). ``gain_cov``: per
    edge ``(var a_F, var a_C, cov(a_F, a_C))`` of the calibration's fitted gains, 1/V^2,
    ``(E, 3)`` (NaN where an edge kept its nominal gains), which sizes the detector's gross-drive
    margin (:mod:`twin.shadow.drive_margin`); ``None``: not known (a warm-up, or a calibration
    file written before it), the flat margin.
    """

    floor_v: np.ndarray = attrs.field(converter=lambda a: np.asarray(a, dtype=float))
    slope_v_per_s: np.ndarray = attrs.field(converter=lambda a: np.asarray(a, dtype=float))
    rel: np.ndarray = attrs.field(converter=lambda a: np.asarray(a, dtype=float))
    source: str = "calibration"
    gain_cov: np.ndarray | None = attrs.field(
        default=None, converter=lambda a: None if a is None else np.asarray(a, dtype=float)
    )

    def sigma_v(self, tau_s: float, travel_v: np.ndarray) -> np.ndarray:
        """Spread of each edge's residual ``tau_s`` after a resync, the gate ``travel_v`` away
        from where it was resynced, V."""
        return np.sqrt(
            self.floor_v**2 + (self.slope_v_per_s * tau_s) ** 2 + (self.rel * travel_v) ** 2
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "floor_v": self.floor_v.tolist(),
            "slope_v_per_s": self.slope_v_per_s.tolist(),
            "rel": self.rel.tolist(),
            "source": self.source,
        }


def fit_spread(
    tau_s: np.ndarray,
    travel_v: np.ndarray,
    residual_v: np.ndarray,
    *,
    source: str = "calibration",
) -> SpreadModel:
    """Fit ``r^2 = floor^2 + slope^2 tau^2 + rel^2 travel^2`` per edge (non-negative least
    squares).

    ``tau_s`` ``(M,)``, ``travel_v`` and ``residual_v`` ``(M, E)``. Edges with too few pairs take
    the pooled median; floors are at least :data:`MIN_FLOOR_V`.
    """
    from scipy.optimize import nnls

    tau = np.asarray(tau_s, dtype=float)
    res = np.asarray(residual_v, dtype=float)
    travel = np.asarray(travel_v, dtype=float)
    n = res.shape[1]
    coefs = np.full((n, 3), np.nan)
    if tau.size >= MIN_PAIRS:
        for e in range(n):
            design = np.stack([np.ones_like(tau), tau**2, travel[:, e] ** 2], axis=1)
            scale = np.maximum(np.sqrt(np.mean(design**2, axis=0)), 1e-30)
            coef, _ = nnls(design / scale, res[:, e] ** 2)
            coefs[e] = np.sqrt(coef / scale)
    pooled = (
        np.nanmedian(coefs, axis=0) if np.any(np.isfinite(coefs)) else [MIN_FLOOR_V, 0.05, 0.05]
    )
    coefs = np.where(np.isfinite(coefs), coefs, pooled)
    return SpreadModel(
        floor_v=np.maximum(coefs[:, 0], MIN_FLOOR_V),
        slope_v_per_s=coefs[:, 1],
        rel=coefs[:, 2],
        source=source,
    )


def predict_horizons(
    segments: Sequence[Sequence[BoardState]],
    task: Task,
    edges: EdgeParams,
    *,
    horizon_s: float,
    step_s: float,
    seed: int,
    every: int = 1,
) -> Iterator[tuple[float, np.ndarray, BoardState, TwinTrack]]:
    """A twin with ``edges`` predicting ``segments`` as a resyncing shadow does: resynced at
    the start of every ``horizon_s`` (the first time to the reported gates, then where the
    shadow's :class:`~twin.shadow.resync.ResyncEstimator` puts them) and run open loop to its
    end. Yields ``(resync time s, resynced gates V, state, twin advanced to it)`` for every
    ``every``-th frame."""
    v_min = float(np.max(edges.v_min_v))
    v_max = float(np.min(edges.v_max_v))
    for seg in segments:
        t = np.array([s.t_s for s in seg])
        start = 0
        gates0 = np.asarray(seg[0].gate_v, dtype=float)
        estimator = ResyncEstimator()
        while start < len(seg) - 1:
            s0 = seg[start]
            track = TwinTrack(
                task,
                edges,
                t_s=s0.t_s,
                gates_v=gates0,
                mode="training",
                eta=s0.eta,
                lam=s0.lam,
                step_s=step_s,
                rng=np.random.default_rng(seed),
            )
            estimator.reset(s0.t_s, gates0)
            stop = int(np.searchsorted(t, s0.t_s + horizon_s, side="right"))
            done = start
            for i in range(start + every, stop + every - 1, every):
                i = min(i, stop - 1)
                if i <= done:
                    break
                s = seg[i]
                track.advance(s.t_s)
                estimator.add(seg[done + 1 : i + 1], s.t_s, track.gates())
                done = i
                yield s0.t_s, gates0, s, track
            start = max(stop - 1, start + 1)
            nxt = seg[start]
            track.advance(nxt.t_s)
            gates0 = estimator.gates(
                nxt.t_s, track.gates(), nxt.gate_v, (v_min, v_max), RAIL_MARGIN_V
            )


def learn_spread(
    segments: Sequence[Sequence[BoardState]],
    task: Task,
    edges: EdgeParams,
    *,
    horizon_s: float = 0.25,
    step_s: float = 1e-4,
    seed: int = 0,
) -> SpreadModel:
    """The spread of a twin with ``edges`` predicting ``segments``, resynced every ``horizon_s``
    (as the shadow does): residuals against the time since resync, fitted per edge."""
    taus: list[float] = []
    travels: list[np.ndarray] = []
    rows: list[np.ndarray] = []
    for t0_s, gates0_v, s, track in predict_horizons(
        segments, task, edges, horizon_s=horizon_s, step_s=step_s, seed=seed, every=5
    ):  # every 5th frame: enough pairs, 5x cheaper
        gates = track.gates()
        taus.append(s.t_s - t0_s)
        travels.append(np.abs(gates - gates0_v))
        rows.append(np.asarray(s.gate_v) - gates)
    if not rows:
        raise BridgeConfigError("learn_spread: the segments hold no frames to predict")
    return fit_spread(np.array(taus), np.array(travels), np.array(rows))


class SpreadLearner:
    """Collects ``(tau, residual)`` pairs over a warm-up and fits a :class:`SpreadModel`."""

    def __init__(self, warmup_s: float) -> None:
        self.warmup_s = float(warmup_s)
        self.taus: list[float] = []
        self.travels: list[np.ndarray] = []
        self.rows: list[np.ndarray] = []

    def add(self, tau_s: float, travel_v: np.ndarray, residual_v: np.ndarray) -> None:
        self.taus.append(float(tau_s))
        self.travels.append(np.asarray(travel_v, dtype=float).copy())
        self.rows.append(np.asarray(residual_v, dtype=float).copy())

    def model(self) -> SpreadModel:
        return fit_spread(
            np.array(self.taus), np.array(self.travels), np.array(self.rows), source="warm-up"
        )


class CusumDetector:
    """Per-edge CUSUM of squared normalised gate residuals (see the module docstring).

    Parameters
    ----------
    spread
        The fault-free spread (``None``: learned over the first ``warmup_s`` of board time).
    level
        Decision level ``h``.
    k, clip
        Allowance per sample and cap of one sample's ``z^2``.
    every_s
        Board time between samples, s.
    warmup_s
        Warm-up of an uncalibrated detector, s (no alarm before it ends).
    adapt_s
        Time constant of the online refinement of the spread, s.
    """

    def __init__(
        self,
        spread: SpreadModel | None,
        *,
        level: float,
        k: float,
        clip: float,
        every_s: float,
        warmup_s: float = 2.0,
        adapt_s: float = 5.0,
    ) -> None:
        self.spread = spread
        self.adapt_s = float(adapt_s)
        #: Running mean of each edge's squared score (the online variance inflation, >= 1).
        self.inflation = np.zeros(0)
        self.level = float(level)
        self.k = float(k)
        self.clip = float(clip)
        self.every_s = float(every_s)
        self.learner = SpreadLearner(warmup_s) if spread is None else None
        self.sums = np.zeros(0)
        self.last_z = np.zeros(0)
        #: When a list, every sample's per-edge CUSUM increments are appended (Monte Carlo).
        self.trace: list[np.ndarray] | None = None
        self._t0_s: float | None = None
        self._next_s = -math.inf

    @property
    def ready(self) -> bool:
        """Whether the spread is known (calibrated, or the warm-up is over)."""
        return self.spread is not None

    def update(
        self,
        t_s: float,
        tau_s: float,
        travel_v: np.ndarray,
        residual_v: np.ndarray,
        watched: np.ndarray | None = None,
        extra_var_v2: np.ndarray | None = None,
    ) -> np.ndarray | None:
        """Feed one comparison at run time ``t_s``, ``tau_s`` after the last resync, the twin's
        gates ``travel_v`` (absolute, V) from where they were resynced.

        ``watched`` masks the edges whose residual is informative (an edge at a rail is not:
        board and twin clip at slightly different times); the others score ``z = 0``.
        ``extra_var_v2`` (V^2 per edge) is added to the spread's variance: the uncertainty of a
        prediction corrected with tracked parameters (:mod:`twin.shadow.tracker`).

        Returns the per-edge scores ``S_e / h`` when a sample was taken (``> 1``: divergent),
        else ``None``.
        """
        if t_s < self._next_s - 1e-9:  # sampled every every_s (rounding of t_s tolerated)
            return None
        self._next_s = t_s + self.every_s
        if self._t0_s is None:
            self._t0_s = t_s
        if self.spread is None:
            assert self.learner is not None
            self.learner.add(
                tau_s, travel_v, residual_v if watched is None else residual_v * watched
            )
            if t_s - self._t0_s < self.learner.warmup_s:
                return None
            self.spread = self.learner.model()
        if self.sums.shape != residual_v.shape:
            self.sums = np.zeros(residual_v.shape)
        if self.inflation.shape != residual_v.shape:
            self.inflation = np.ones(residual_v.shape)
        sigma = self.spread.sigma_v(tau_s, travel_v)
        if extra_var_v2 is not None:
            sigma = np.sqrt(sigma * sigma + np.maximum(extra_var_v2, 0.0))
        z = residual_v / sigma
        if watched is not None:
            z = np.where(watched, z, 0.0)
        self.last_z = z
        raw = np.minimum(z * z, self.clip)
        step = raw / np.maximum(self.inflation, 1.0) - 1.0 - self.k
        self.inflation += (raw - self.inflation) * min(self.every_s / self.adapt_s, 1.0)
        if self.trace is not None:
            self.trace.append(step)
        self.sums = np.maximum(self.sums + step, 0.0)
        return self.sums / self.level

    def new_run(self) -> None:
        """Mark a new run in the trace (sums restart there)."""
        if self.trace is not None:
            self.trace.append(np.zeros(0))

    def reset(self) -> None:
        """Forget the sums (a new epoch: the twin is rebuilt)."""
        self.sums = np.zeros(0)
