"""Thresholds tracked by the node tests: slow threshold drift absorbed, not alarmed.

The node test (:mod:`twin.shadow.node_test`) holds the board's free nodes against the calibrated
twin's free response at the reported gates. A transistor's threshold that drifts slowly (tens
of mV per board-hour on a real board) moves those nodes as a gate shift of the opposite sign
would, ``dV = -S dV_t`` with ``S`` the nodes' sensitivity to each gate
(:func:`~twin.shadow.probe_stats.gate_sensitivity`); held against the calibration's thresholds,
such drift ends as a false alarm after an hour or so. :class:`ThresholdTracker` keeps a
Kalman estimate of every edge's threshold offset from the calibration, ``theta`` (V), updated
by each clearly clean test,

    residual = -S theta + noise,

whose offsets walk (``walk_v_per_sqrt_s``: how far a threshold may move per square-root second)
and never grow more uncertain than the prior (``prior_sd_v``, the calibration's threshold error;
that error is absorbed too). The node test then tests the residual beyond the tracked offsets,
``residual + S theta``, with the offsets' uncertainty ``diag(S P S^T)`` added to its variance.

A fault is abrupt: a test over the decision level (or near it: ``learn_below``) teaches the
tracker nothing, so a threshold that jumps stays in the residual and its alarm persists, while
drift, a fraction of a mV per test, is followed. What the tracker cannot tell apart from drift
is a fault that itself grows as slowly as drift does: that is the price of not alarming on drift.
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import numpy as np

from twin._validators import positive
from twin.board.errors import BridgeConfigError

__all__ = ["ThresholdTrackConfig", "ThresholdTracker"]

#: A drifting board's thresholds: 20 mV per board-hour (standard deviation over edges,
#: :class:`twin.board.drift.SlowDrift`); the walk allows five times that in one hour.
_WALK_V_PER_SQRT_S = 0.1 / math.sqrt(3600.0)


@attrs.frozen(kw_only=True)
class ThresholdTrackConfig:
    """Settings of :class:`ThresholdTracker`.

    Parameters
    ----------
    prior_sd_v
        Standard deviation of a threshold's offset from the calibration before any test, V
        (the calibration's threshold error), and the largest an offset's uncertainty grows.
    walk_v_per_sqrt_s
        How far a threshold may walk per square-root second of board time (standard
        deviation), V/sqrt(s).
    model_sd_v
        Standard deviation of a node's residual beyond the tracked thresholds and the reads'
        own spread (the device model's error at the operating point), V.
    learn_below
        Only tests whose score is below this fraction of the decision level update the tracker.
    range_v
        A tracked offset stays within +- this, V.
    """

    prior_sd_v: float = attrs.field(default=0.03, validator=positive(BridgeConfigError))
    walk_v_per_sqrt_s: float = attrs.field(
        default=_WALK_V_PER_SQRT_S, validator=positive(BridgeConfigError)
    )
    model_sd_v: float = attrs.field(default=2.0e-3, validator=positive(BridgeConfigError))
    learn_below: float = attrs.field(default=0.5, validator=positive(BridgeConfigError))
    range_v: float = attrs.field(default=0.3, validator=positive(BridgeConfigError))


class ThresholdTracker:
    """Every edge's threshold offset from the calibration (V), tracked from clean node tests."""

    def __init__(self, n_edges: int, config: ThresholdTrackConfig | None = None) -> None:
        self.config = config or ThresholdTrackConfig()
        self.theta_v = np.zeros(n_edges)
        self.cov_v2 = np.eye(n_edges) * self.config.prior_sd_v**2
        self._t_s: float | None = None
        self.updates = 0

    def correction(self, sens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The tracked offsets' effect on the nodes of ``sens`` (``dV/dV_G``, nodes x edges),
        ``-S theta`` (V), and its variance ``diag(S P S^T)`` (V^2)."""
        shift = -(sens @ self.theta_v)
        var = np.einsum("ij,jk,ik->i", sens, self.cov_v2, sens)
        return shift, np.maximum(var, 0.0)

    def update(
        self, t_s: float, sens: np.ndarray, residual_v: np.ndarray, se_v: np.ndarray
    ) -> None:
        """Learn from a clean test at board time ``t_s``: its raw node ``residual_v`` (reads
        minus the calibrated prediction, V) with standard errors ``se_v`` (V)."""
        cfg = self.config
        self._walk(t_s)
        h = -sens
        r = np.diag(se_v**2 + cfg.model_sd_v**2)
        innovation = residual_v - h @ self.theta_v
        ph = self.cov_v2 @ h.T
        s = h @ ph + r
        gain = np.linalg.solve(s, ph.T).T  # P H^T S^-1 (S symmetric)
        self.theta_v = np.clip(self.theta_v + gain @ innovation, -cfg.range_v, cfg.range_v)
        # Joseph form: the covariance stays symmetric and positive
        ikh = np.eye(self.theta_v.size) - gain @ h
        self.cov_v2 = ikh @ self.cov_v2 @ ikh.T + gain @ r @ gain.T
        self.updates += 1

    def _walk(self, t_s: float) -> None:
        cfg = self.config
        dt = 0.0 if self._t_s is None else max(t_s - self._t_s, 0.0)
        self._t_s = t_s if self._t_s is None else max(self._t_s, t_s)
        if dt > 0:
            self.cov_v2 = self.cov_v2 + np.eye(self.theta_v.size) * cfg.walk_v_per_sqrt_s**2 * dt
        # never more uncertain than the prior: scale the rows and columns that passed it
        sd = np.sqrt(np.diag(self.cov_v2))
        over = np.maximum(sd / cfg.prior_sd_v, 1.0)
        if np.any(over > 1.0):
            self.cov_v2 = self.cov_v2 / np.outer(over, over)

    def summary(self) -> dict[str, Any]:
        """Tests learned from and the largest tracked offset (V, with its edge)."""
        if self.theta_v.size == 0:
            return {"updates": self.updates}
        e = int(np.argmax(np.abs(self.theta_v)))
        return {
            "updates": self.updates,
            "largest_offset_v": float(self.theta_v[e]),
            "largest_offset_edge": e,
            "offset_rms_v": float(np.sqrt(np.mean(self.theta_v**2))),
        }
