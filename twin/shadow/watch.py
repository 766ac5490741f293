"""The shadow's watch: the tracker-corrected prediction and the divergence detector.

:class:`Watch` owns what decides whether board and twin agree, apart from what runs the twin
(:class:`~twin.shadow.shadow.Shadow`): the per-edge :class:`~twin.shadow.tracker.DriftTracker`
that corrects the twin's gate travel since the last resync with tracked gain factors and drifts
(volts, seconds), the per-edge :class:`~twin.shadow.detector.CusumDetector` on residuals
normalised by their fault-free spread, and the :class:`~twin.shadow.alarms.DivergenceMonitor`
that turns its scores into alarms. It reads the shadow's :class:`~twin.shadow.state.TwinState`
(last resync time and gates, the twin's mode) and never changes it.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from twin.physics.network import Network
from twin.shadow.alarms import DivergenceMonitor
from twin.shadow.config import ShadowConfig, detector_hours, share_words
from twin.shadow.detector import CusumDetector, FalseAlarmCurve, SpreadModel
from twin.shadow.diagnose import RecentTravel
from twin.shadow.drive_margin import (
    DRIVE_REL,
    drive_margin_v_per_s,
    margin_covariance,
    margin_text,
)
from twin.shadow.resync import RAIL_MARGIN_V
from twin.shadow.state import TwinState
from twin.shadow.tracker import DriftTracker
from twin.shadow.watch_margins import (
    CUTOFF_BAND_V,
    CUTOFF_CAP_FACTOR,
    CUTOFF_CAP_V,
    CUTOFF_REL,
    MODEL_ABS_V,
    MODEL_REL,
    NEIGHBOUR_CAP_FACTOR,
    SWITCH_TRAVEL_V,
    WARMUP_INTERVALS,
)

__all__ = [
    "CUTOFF_BAND_V",
    "CUTOFF_CAP_FACTOR",
    "CUTOFF_CAP_V",
    "CUTOFF_REL",
    "DRIVE_REL",
    "MODEL_ABS_V",
    "MODEL_REL",
    "NEIGHBOUR_CAP_FACTOR",
    "SWITCH_TRAVEL_V",
    "WARMUP_INTERVALS",
    "Watch",
]

log = logging.getLogger("twin.shadow.watch")


class Watch:
    """Prediction correction and divergence detection for one shadow.

    Parameters
    ----------
    config
        The shadow's settings (alarm threshold and hold, false-alarm hours, warm-up, drift
        tracking).
    state
        The shadow's state, read for the last resync (``last_resync_s``, ``resync_gates_v``)
        and the twin's mode.
    rails_v
        The gates' common range ``(low, high)``, V.
    spread
        Fault-free residual spread learned at calibration (``None``: learned over a warm-up).
    curve
        False-alarm rate against decision level.
    """

    def __init__(
        self,
        config: ShadowConfig,
        state: TwinState,
        *,
        rails_v: tuple[float, float],
        spread: SpreadModel | None,
        curve: FalseAlarmCurve,
    ) -> None:
        self.config = config
        self.state = state
        self.rails_v = rails_v
        self.curve = curve
        self.calibrated = spread is not None
        self.monitor = DivergenceMonitor(
            threshold=config.threshold, hold_s=config.hold_s, clear_s=config.clear_s
        )
        self.detector = CusumDetector(
            spread,
            level=curve.level(detector_hours(config, calibrated=spread is not None)),
            k=curve.k,
            clip=curve.clip,
            every_s=curve.every_s,
            warmup_s=config.warmup_s,
        )
        if spread is None:
            log.warning(
                "uncalibrated twin: residual spread learned over the first %g s; "
                "its false-alarm rate is not established (calibrate first)",
                config.warmup_s,
            )
        #: Per-edge tracked gain factors and drifts (``None`` before the first snapshot or
        #: without ``track_drift``); kept across rebuilds (they belong to the hardware).
        self.tracker: DriftTracker | None = None
        #: Whether the twin trained throughout the interval since the last resync (only such
        #: intervals teach the tracker).
        self.interval_clean = False
        #: Edges sharing a node, ``(E, E)``, and the network it was computed for (computed
        #: again only when a build brings another network).
        self.adjacent = np.zeros((0, 0), dtype=bool)
        self._adjacent_of: Network | None = None
        #: Edges next to a switching near-cutoff edge at some comparison of this interval.
        self.regime_changed = np.zeros(0, dtype=bool)
        #: Edges next to a switching near-cutoff edge during the last interval: the switch's
        #: effect outlasts the resync (board 104: edge 0 reached the rail, where board and twin
        #: part, and its neighbour edge 3 diverged from the first sample after the resync).
        self.switched_nearby = np.zeros(0, dtype=bool)
        #: Consecutive learned intervals each edge spent off the rails and out of cutoff.
        self.settled = np.zeros(0, dtype=int)
        #: The scored samples of this interval and the last, for an alarm's diagnosis.
        self.recent = RecentTravel()
        #: Per-edge ``(var a_F, var a_C, cov)`` of the fitted gains, 1/V^2, which size the
        #: gross-drive margin (``None``: the flat :data:`DRIVE_REL`; ``config.drive_margin``).
        self.gain_cov = margin_covariance(config.drive_margin, spread)

    def on_build(self, n_edges: int) -> None:
        """A twin of ``n_edges`` edges was (re)built: make the tracker if it has none of that
        size, and start a clean interval."""
        if self.config.track_drift and (self.tracker is None or self.tracker.n_edges != n_edges):
            spread = self.detector.spread
            self.tracker = DriftTracker(
                n_edges,
                gain_sd0=spread.rel if spread is not None else None,
                drift_sd0_v_per_s=spread.slope_v_per_s if spread is not None else None,
            )
        self.interval_clean = True
        task = self.state.task
        if task is None or task.network.n_edges != n_edges:
            self.adjacent, self._adjacent_of = np.zeros((n_edges, n_edges), dtype=bool), None
        elif self._adjacent_of is not task.network:  # in-place resyncs keep the network
            inc = abs(task.network.incidence())
            self.adjacent = (inc @ inc.T).toarray() > 0
            np.fill_diagonal(self.adjacent, False)
            self._adjacent_of = task.network
        self.regime_changed = np.zeros(n_edges, dtype=bool)
        if self.settled.shape != (n_edges,):
            self.settled = np.zeros(n_edges, dtype=int)
            self.switched_nearby = np.zeros(n_edges, dtype=bool)

    def on_restart(self) -> None:
        """The board restarted (a new epoch): the CUSUMs start again. The edges' warm-up is not
        restarted (the tracker has learned them; a warm-up interval would learn a fault in it
        as a new regime), only that of edges whose gates start at a rail or in cutoff."""
        self.detector.reset()
        self.switched_nearby = np.zeros_like(self.switched_nearby)

    def corrected(self, twin_gates_v: np.ndarray, t_s: float) -> np.ndarray:
        """The shadow's prediction at board time ``t_s``: the twin's travel since the last
        resync corrected with the tracked gain factors and drifts, within the rails."""
        tracker, start, track = self.tracker, self.state.resync_gates_v, self.state.track
        if tracker is None or start.shape != twin_gates_v.shape:
            return twin_gates_v
        if track is None or track.mode != "training":  # held gates: nothing learned drifts
            return twin_gates_v
        tau = t_s - self.state.last_resync_s
        lo, hi = self.rails_v
        return np.clip(start + tracker.correct(twin_gates_v - start, tau), lo, hi)

    def prediction_var_v2(self, twin_gates_v: np.ndarray, tau_s: float) -> np.ndarray | None:
        """The tracked parameters' uncertainty on the prediction, V^2 per edge."""
        tracker, start = self.tracker, self.state.resync_gates_v
        if tracker is None or start.shape != twin_gates_v.shape:
            return None
        return tracker.variance_v2(twin_gates_v - start, tau_s)

    def learn_interval(
        self, t_s: float, twin_gates_v: np.ndarray, board_gates_v: np.ndarray
    ) -> None:
        """Teach the tracker the interval ending at ``t_s``: the board's travel (resync estimate
        to resync estimate) against the twin's, on edges off the rails and away from cutoff (a
        near-cutoff gate's rate is no constant factor of the twin's: :data:`CUTOFF_BAND_V`) and
        not divergent."""
        tracker, start = self.tracker, self.state.resync_gates_v
        dt = t_s - self.state.last_resync_s
        if tracker is None or not self.interval_clean or start.shape != twin_gates_v.shape:
            return
        lo, hi = self.rails_v

        def in_range(v: np.ndarray) -> np.ndarray:  # off the rails and out of cutoff
            return (v > lo + CUTOFF_BAND_V) & (v < hi - RAIL_MARGIN_V)

        # the interval began in range (board = twin there) and the twin ended in range
        shared = in_range(start) & in_range(twin_gates_v)
        use = shared & in_range(board_gates_v)
        # A new regime: a neighbour switched, or the edge is still warming up (the first
        # intervals after start, or after a stay at a rail or in cutoff that board and twin
        # shared), where the calibration's prediction is all there is. A board gate that alone
        # went to a rail or into cutoff departed from the twin: its warm-up is not restarted,
        # so the departure stays scored.
        if self.settled.shape != use.shape:
            self.settled = np.zeros(use.shape, dtype=int)
        warming = self.settled < WARMUP_INTERVALS
        regime = warming.copy()
        self.settled = np.where(use, self.settled + 1, np.where(shared, self.settled, 0))
        if self.regime_changed.shape == use.shape:
            regime |= self.regime_changed
            self.switched_nearby = self.regime_changed.copy()
        sums = self.detector.sums
        if sums.shape == use.shape:  # an edge the detector already doubts (its CUSUM half-way
            # to the level, or above doubt_cusum) teaches nothing, even when a neighbour
            # switched: an edge in use is out of cutoff itself, and a fault beside a switching
            # gate was learned as its new regime (board 205's edge 23, free gain x1.5, absorbed
            # at the next resync). Only its warm-up is learned whatever its size.
            doubt = sums >= min(tracker.config.doubt_cusum, 0.5 * self.detector.level)
            use &= ~doubt | warming
        held = self.state.held
        if held.shape == use.shape and held.any():  # the twin was held beside them: its
            # travel is not the model's (board 3046: edge 25's gain learned as 0.43)
            near = held.copy()
            if self.adjacent.shape == (held.size, held.size):
                near |= np.any(self.adjacent[:, held], axis=1)
            use &= ~near
        tracker.update(board_gates_v - start, twin_gates_v - start, dt, use, regime)
        self.regime_changed[:] = False
        self.recent.new_interval()

    def edge_scores(
        self,
        run_t_s: float,
        tau_s: float,
        reported_v: np.ndarray,
        raw_gates_v: np.ndarray,
        gates_v: np.ndarray,
        gate_res_v: np.ndarray,
        gross_v_per_s: np.ndarray | None = None,
        drive_sd_v_per_s: np.ndarray | None = None,
    ) -> np.ndarray | None:
        """Per-edge CUSUM over its level for a training frame at ``tau_s`` after the last
        resync (``None`` while the detector has no score to give).

        The detector scores the residual beyond the twin's stated accuracy,
        :data:`MODEL_ABS_V` plus :data:`MODEL_REL` times the larger of the board's and the
        prediction's travel since the resync, the board's counted at most up to the
        prediction's over ``1 - MODEL_REL`` (a board gate that fast is already outside the
        stated accuracy; counted further, a fault that drives its gate hard widened its own
        tolerance: board 205's edge 23, leak tau 1 s, moved 0.54 V in 0.2 s while the twin's
        moved 0.04 V, for 0.17 V of margin), plus :data:`DRIVE_REL` times the gross drive's
        travel (``gross_v_per_s``: the sum of the two drive terms' rates, V/s, times ``tau_s``),
        or, where ``drive_sd_v_per_s`` (V/s) is finite,
        :data:`~twin.shadow.drive_margin.DRIVE_SIGMAS` times it.
        With drift tracking, an edge is scored only once
        the tracker has learned it from :data:`WARMUP_INTERVALS` consecutive resync intervals
        off the rails and out of cutoff (0.5 s at the default 0.25 s resync, after start and
        after every stay at a rail or in cutoff); before that the prediction is the
        calibration's with at most one interval's correction. The warm-up intervals are taken
        as a new regime (:meth:`learn_interval`), so they are learned whatever their size."""
        extra = self.cutoff_var_v2(reported_v, gates_v)
        tracked = self.prediction_var_v2(raw_gates_v, tau_s)
        if tracked is not None:
            extra = extra + tracked
        watched = self.off_rails(reported_v, gates_v)
        tracker = self.tracker
        if tracker is not None and self.settled.shape == watched.shape:
            watched &= self.settled >= WARMUP_INTERVALS  # the warm-up (see above)
        start = self.state.resync_gates_v
        travel = np.abs(gates_v - start)
        board = np.abs(np.asarray(reported_v, dtype=float) - start)
        # the board's travel counts only up to what the stated accuracy allows beside the
        # prediction's: a faulty gate's own travel must not widen its tolerance
        both = np.maximum(travel, np.minimum(board, travel / (1.0 - MODEL_REL)))
        margin = MODEL_ABS_V + MODEL_REL * both
        if gross_v_per_s is not None and gross_v_per_s.shape == margin.shape:
            margin = margin + drive_margin_v_per_s(gross_v_per_s, drive_sd_v_per_s) * tau_s
        excess = np.sign(gate_res_v) * np.maximum(np.abs(gate_res_v) - margin, 0.0)
        scores = self.detector.update(run_t_s, tau_s, travel, excess, watched, extra)
        if scores is not None:  # a sample: kept for an alarm's diagnosis
            rep = np.asarray(reported_v, dtype=float)
            self.recent.add(tau_s, rep - start, gates_v - start, rep, margin)
        return scores

    def cutoff_var_v2(self, reported_v: np.ndarray, predicted_v: np.ndarray) -> np.ndarray:
        """Extra residual variance of edges near cutoff and of their neighbours (V^2 per edge).

        A gate within :data:`CUTOFF_BAND_V` of the low rail at the resync, in the board's
        reading or in the prediction moves at a rate known only to its order of magnitude, so
        its residual's spread is :data:`CUTOFF_REL` times the larger of the two travels since
        the resync. While such a gate switches (moves more than :data:`SWITCH_TRAVEL_V`: its
        conductance turns on or off at a time no calibration pins down), the edges sharing a
        node with it see a network the twin does not know either: their spread gets the same
        term, and the interval is marked as a change of regime for the tracker
        (:meth:`learn_interval`). Zero elsewhere."""
        rep = np.asarray(reported_v, dtype=float)
        pred = np.asarray(predicted_v, dtype=float)
        start = self.state.resync_gates_v
        if start.shape != rep.shape:
            start = rep
        low = self.rails_v[0] + CUTOFF_BAND_V
        near = (rep < low) | (pred < low) | (start < low)
        predicted = np.abs(pred - start)
        board = np.maximum(np.abs(rep - start), predicted)
        travel = np.minimum(board, CUTOFF_CAP_FACTOR * predicted + CUTOFF_CAP_V)
        affected = near.copy()
        if self.switched_nearby.shape == near.shape:
            affected |= self.switched_nearby
        if self.adjacent.shape == (rep.size, rep.size):
            switching = near & (travel > SWITCH_TRAVEL_V)
            neighbours = np.any(self.adjacent[:, switching], axis=1)
            affected |= neighbours
            if self.regime_changed.shape == neighbours.shape:
                self.regime_changed |= neighbours & ~near
        # an edge out of cutoff itself: its own board travel (a fault's) must not widen it
        travel = np.where(
            near, travel, np.minimum(board, NEIGHBOUR_CAP_FACTOR * predicted + CUTOFF_CAP_V)
        )
        return np.where(affected, (CUTOFF_REL * travel) ** 2, 0.0)

    def off_rails(self, reported_v: np.ndarray, predicted_v: np.ndarray) -> np.ndarray:
        """Edges the detector watches: all but those pinned at one rail in both board and twin
        (a pinned gate says nothing; one at a rail the other has not reached says a lot), and
        but those the board took off a rail where they were at the last resync while the twin's
        stays there: when a pinned gate leaves its rail hangs on the threshold's exponential
        tail, which no calibration pins down, so such an edge is compared again from the next
        resync, which starts the twin's gate where the board's is (a board gate stuck at a rail
        the twin leaves is still watched)."""
        lo, hi = self.rails_v
        rep = np.asarray(reported_v)
        rep_low, rep_high = rep < lo + RAIL_MARGIN_V, rep > hi - RAIL_MARGIN_V
        twin_low, twin_high = predicted_v < lo + RAIL_MARGIN_V, predicted_v > hi - RAIL_MARGIN_V
        watched = ~((rep_low & twin_low) | (rep_high & twin_high))
        start = self.state.resync_gates_v
        if start.shape == rep.shape:
            left = (start < lo + RAIL_MARGIN_V) & twin_low & ~rep_low
            left |= (start > hi - RAIL_MARGIN_V) & twin_high & ~rep_high
            watched &= ~left
        return watched

    def info(self) -> dict[str, Any]:
        """What the alarms mean: the false-alarm setting, the level and where the spread
        came from (an uncalibrated twin says so)."""
        det, cfg = self.detector, self.config
        share = detector_hours(cfg, calibrated=self.calibrated)
        if self.calibrated:
            note = (
                f"CUSUM of normalised gate residuals beyond the twin's stated accuracy "
                f"({MODEL_ABS_V * 1e3:g} mV + {MODEL_REL:.0%} of the gate's travel since the "
                f"resync); level for one false alarm per {share:g} board-hours "
                f"({share_words(cfg.false_alarm_hours)}) on the stored curve "
                f"({'validated' if self.curve.validated else 'NOT validated'} by Monte Carlo: "
                f"{self.curve.checked_per_hour} false alarms per board-hour over "
                f"{self.curve.checked_hours:g} held-out board-hours)"
            )
        else:
            note = (
                "uncalibrated twin: residual spread learned over the first "
                f"{cfg.warmup_s:g} s of training; false-alarm rate not established"
            )
        return {
            "false_alarm_hours": cfg.false_alarm_hours,
            "detector_hours": share,
            "level": det.level,
            "k": det.k,
            "every_s": det.every_s,
            "curve_validated": self.curve.validated,
            "curve_checked_hours": self.curve.checked_hours,
            "curve_checked_per_hour": self.curve.checked_per_hour,
            "curve_checked_upper95_per_hour": self.curve.checked_upper95_per_hour(),
            "curve_checked_lower95_per_hour": self.curve.checked_lower95_per_hour(),
            "curve": self.curve.provenance,
            "accuracy_v": MODEL_ABS_V,
            "accuracy_rel": MODEL_REL,
            "spread": det.spread.source if det.spread is not None else "warming up",
            "drive_margin": margin_text(self.gain_cov, cfg.drive_margin, self.calibrated),
            "note": note,
        }
