"""The passive node check's decision level from the measured tail of its largest scores.

The node check (:mod:`twin.shadow.node_watch`) tests each node's residual, and its change since
the last clean test, in standard errors. A Bonferroni level on Gaussian statistics
(:func:`~twin.shadow.probe_stats.critical_z`) gives one false alarm per ``hours`` only as far as
the statistics' extreme tail is Gaussian. Measured on fault-free calibrated emulated boards it
is somewhat heavier: over 1,438 boards of 120 s (47.9 board-hours, the evidence of
``benchmarks/evidence/false_alarms/`` up to 2026-12-07), the boards whose largest statistic
passed 5.0 / 5.2 / 5.3 / 5.5 standard errors were 10 / 5 / 4 / 2 against 5.5 / 1.9 / 1.1 / 0.4
under the Gaussian premise (the bulk as predicted, the top 2-9x as frequent).

So the level is set from that measurement instead: :class:`NodeTail` is a generalised Pareto
fit (peaks over a threshold, ``benchmarks/node_tail_fit.py``) to the per-board largest
statistic above its upper quantile, a block of ``node_tests`` node-tests (tests x free nodes)
per board, ``P(board max > z) = exceed_fraction x GPD.sf(z - threshold_z)``. For a check of
``m`` free nodes every ``every_s`` the node-tests' exceedances are taken as independent rare
events, so one check passes ``z`` with probability ``1 - (1 - P(board max > z))^(m /
node_tests)``; the level is the ``z`` where that equals ``every_s / (3600 x hours)``. At the
fitted setting (0.25 s, 10-frame windows, 14 free nodes) that is the fit's own quantile; at
other settings it is that per-node-test tail carried over, an extrapolation. Below the fitted
threshold (a target of a few board-minutes) the tail is not modelled and the Gaussian
Bonferroni level is used.

The probe (:mod:`twin.shadow.probe`) holds the board and reads each node many times: its
statistics are another measurement (``benchmarks/bench_probe.py``) and it keeps the Gaussian
level.
"""

from __future__ import annotations

import functools
import json
import math
from importlib import resources
from typing import Any

import attrs
import numpy as np

from twin.board.errors import BridgeConfigError
from twin.shadow.probe_stats import critical_z

__all__ = ["NodeTail", "default_node_tail", "fit_node_tail"]


@attrs.frozen(kw_only=True)
class NodeTail:
    """A generalised Pareto tail of the node check's per-board largest statistic (standard
    errors), fitted above ``threshold_z``.

    ``exceed_fraction`` of the fitted boards passed ``threshold_z``; ``shape`` and ``scale_z``
    are the Pareto's (``shape`` 0: exponential); a board is ``node_tests`` node-tests (tests x
    free nodes) at ``every_s`` and ``window_frames``; ``boards`` and ``board_hours`` the fit's
    sample, ``provenance`` how it was made, ``sources`` the evidence files it read."""

    threshold_z: float
    exceed_fraction: float
    shape: float
    scale_z: float
    node_tests: int
    every_s: float
    window_frames: int
    boards: int = 0
    board_hours: float = 0.0
    provenance: str = ""
    sources: tuple[str, ...] = attrs.field(default=(), converter=tuple)

    def __attrs_post_init__(self) -> None:
        if not (0.0 < self.exceed_fraction <= 1.0):
            raise BridgeConfigError(
                f"exceed_fraction: expected a number in (0, 1], got {self.exceed_fraction!r}"
            )
        if not (self.scale_z > 0 and math.isfinite(self.scale_z)):
            raise BridgeConfigError(f"scale_z: expected a finite number > 0, got {self.scale_z!r}")
        if not (math.isfinite(self.shape) and abs(self.shape) < 1.0):
            raise BridgeConfigError(f"shape: expected a number in (-1, 1), got {self.shape!r}")
        if self.node_tests < 1:
            raise BridgeConfigError(f"node_tests: expected an integer >= 1, got {self.node_tests}")

    def board_exceedance(self, z: float) -> float:
        """``P(a fitted board's largest statistic > z)`` for ``z >= threshold_z``."""
        x = max(z - self.threshold_z, 0.0)
        if self.shape == 0.0:
            return self.exceed_fraction * math.exp(-x / self.scale_z)
        base = 1.0 + self.shape * x / self.scale_z
        return self.exceed_fraction * (base ** (-1.0 / self.shape) if base > 0 else 0.0)

    def level_z(self, every_s: float, hours: float, n_nodes: int) -> float:
        """Decision level (standard errors) giving one false alarm per ``hours`` board-hours to
        a check of ``n_nodes`` free nodes every ``every_s`` s (the Gaussian Bonferroni level
        where the target falls below the fitted tail)."""
        if not (hours > 0 and math.isfinite(hours)):
            raise BridgeConfigError(f"false_alarm_hours: expected a finite number > 0, got {hours}")
        alpha = min(every_s / (3600.0 * hours), 0.5)  # per check
        m = max(int(n_nodes), 1)
        # the fitted board's probability of a largest statistic above the level
        p_board = -math.expm1(self.node_tests / m * math.log1p(-alpha))
        p = p_board / self.exceed_fraction
        if p >= 1.0:
            return critical_z(every_s, hours, 2 * m)
        if self.shape == 0.0:
            return self.threshold_z - self.scale_z * math.log(p)
        return self.threshold_z + self.scale_z / self.shape * (p ** (-self.shape) - 1.0)

    def as_dict(self) -> dict[str, Any]:
        return attrs.asdict(self) | {"sources": list(self.sources)}


def fit_node_tail(
    z_max: np.ndarray,
    *,
    node_tests: int,
    every_s: float,
    window_frames: int,
    board_s: float,
    quantile: float = 0.9,
    provenance: str = "",
) -> NodeTail:
    """Fit a :class:`NodeTail` to per-board largest statistics ``z_max`` (standard errors;
    boards of ``board_s`` s): a generalised Pareto by maximum likelihood to the excesses over
    their ``quantile``."""
    from scipy.stats import genpareto

    z = np.sort(np.asarray(z_max, dtype=float))
    if z.size < 20 or not np.all(np.isfinite(z)):
        raise BridgeConfigError(f"z_max: expected at least 20 finite values, got {z.size}")
    if not 0.5 <= quantile < 1.0:
        raise BridgeConfigError(f"quantile: expected a number in [0.5, 1), got {quantile!r}")
    u = float(np.quantile(z, quantile))
    excess = z[z > u] - u
    shape, _, scale = genpareto.fit(excess, floc=0.0)
    return NodeTail(
        threshold_z=u,
        exceed_fraction=excess.size / z.size,
        shape=float(shape),
        scale_z=float(scale),
        node_tests=int(node_tests),
        every_s=float(every_s),
        window_frames=int(window_frames),
        boards=int(z.size),
        board_hours=z.size * board_s / 3600.0,
        provenance=provenance,
    )


@functools.cache
def default_node_tail() -> NodeTail:
    """The tail measured on the emulated board (``twin/shadow/node_tail.json``, written by
    ``benchmarks/node_tail_fit.py --write``)."""
    text = resources.files("twin.shadow").joinpath("node_tail.json").read_text()
    return NodeTail(**json.loads(text))
