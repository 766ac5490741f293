"""The detector's false-alarm curve: false alarms per board-hour against the decision level.

:class:`FalseAlarmCurve` holds the rate of CUSUM level crossings per board-hour,
``rate(h) = exp(a - b h)``, estimated by Monte Carlo over fault-free calibrated emulated boards
(``benchmarks/bench_false_alarms.py``: :func:`crossing_counts` counts the alarms any level would
raise on recorded CUSUM increments, :func:`fit_false_alarm_curve` fits the rate), with the
held-out check that validated it; :meth:`FalseAlarmCurve.level` inverts it for a target mean
time between false alarms. :func:`default_false_alarm_curve` reads the stored one
(``twin/shadow/false_alarms.json``). Moved out of :mod:`twin.shadow.detector`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from importlib import resources
from typing import Any

import attrs
import numpy as np

from twin.board.errors import BridgeConfigError

__all__ = [
    "FalseAlarmCurve",
    "crossing_counts",
    "default_false_alarm_curve",
    "fit_false_alarm_curve",
    "lower95_per_hour",
    "upper95_per_hour",
]


def upper95_per_hour(alarms: int, hours: float) -> float:
    """Exact one-sided 95 % upper bound (Poisson) of a rate from ``alarms`` events seen over
    ``hours`` (per hour; ``inf`` over no time): 3.0 / hours when none was seen."""
    if not hours > 0:
        return float("inf")
    from scipy.stats import chi2

    return float(chi2.ppf(0.95, 2 * (alarms + 1)) / 2 / hours)


def lower95_per_hour(alarms: int, hours: float) -> float:
    """Exact one-sided 95 % lower bound (Poisson) of a rate from ``alarms`` events seen over
    ``hours`` (per hour): 0 when none was seen; with :func:`upper95_per_hour`, a 90 % interval."""
    if alarms <= 0 or not hours > 0:
        return 0.0
    from scipy.stats import chi2

    return float(chi2.ppf(0.05, 2 * alarms) / 2 / hours)


@attrs.frozen(kw_only=True)
class FalseAlarmCurve:
    """False alarms per board-hour of the detector at decision level ``h``:
    ``rate(h) = exp(log_rate0 - decay_per_level h)``, valid for ``h`` in ``fitted_range``
    (beyond it, an extrapolation of the CUSUM's exponential tail).

    ``k`` and ``clip`` are the CUSUM's settings it was estimated with; ``provenance`` says how
    (seeds, board-hours, command); ``validated`` whether a check on other seeds confirmed it;
    ``checked_hours`` and ``checked_per_hour`` the last held-out check's board-hours and the false
    alarms per board-hour it measured at the 10-hour level (``None``: no check yet).
    """

    log_rate0: float
    decay_per_level: float
    k: float
    clip: float
    every_s: float
    fitted_range: tuple[float, float]
    provenance: str = ""
    validated: bool = False
    checked_hours: float = 0.0
    checked_per_hour: float | None = None

    def checked_false_alarms(self) -> int | None:
        """The false alarms the held-out check counted (``None``: no check)."""
        if self.checked_per_hour is None or not self.checked_hours > 0:
            return None
        return round(self.checked_per_hour * self.checked_hours)

    def checked_upper95_per_hour(self) -> float | None:
        """95 % upper bound (Poisson) of the false alarms per board-hour the held-out check
        measured (``None``: no check)."""
        n = self.checked_false_alarms()
        return None if n is None else upper95_per_hour(n, self.checked_hours)

    def checked_lower95_per_hour(self) -> float | None:
        """95 % lower bound (Poisson) of the false alarms per board-hour the held-out check
        measured (``None``: no check)."""
        n = self.checked_false_alarms()
        return None if n is None else lower95_per_hour(n, self.checked_hours)

    def rate_per_hour(self, h: float) -> float:
        return math.exp(self.log_rate0 - self.decay_per_level * h)

    def level(self, false_alarm_hours: float) -> float:
        """Decision level for a mean time between false alarms of ``false_alarm_hours``."""
        if not (false_alarm_hours > 0 and math.isfinite(false_alarm_hours)):
            raise BridgeConfigError(
                f"false_alarm_hours: expected a finite number > 0, got {false_alarm_hours}"
            )
        return max((self.log_rate0 + math.log(false_alarm_hours)) / self.decay_per_level, 1.0)

    def as_dict(self) -> dict[str, Any]:
        return attrs.asdict(self) | {"fitted_range": list(self.fitted_range)}


def default_false_alarm_curve() -> FalseAlarmCurve:
    """The curve measured on the emulated board (``twin/shadow/false_alarms.json``, written by
    ``benchmarks/bench_false_alarms.py --write``)."""
    text = resources.files("twin.shadow").joinpath("false_alarms.json").read_text()
    data = json.loads(text)
    data["fitted_range"] = tuple(data["fitted_range"])
    return FalseAlarmCurve(**data)


def crossing_counts(trace: Sequence[np.ndarray], levels: np.ndarray) -> np.ndarray:
    """Alarms a CUSUM with each decision level would raise on a trace of per-edge increments.

    An alarm is any edge's sum above the level; the sums then restart (a new episode). Empty
    entries of ``trace`` separate independent runs.
    """
    levels = np.asarray(levels, dtype=float)
    counts = np.zeros(levels.size, dtype=int)
    sums: np.ndarray | None = None
    for step in trace:
        if step.size == 0:
            sums = None
            continue
        if sums is None:
            sums = np.zeros((levels.size, step.size))
        sums = np.maximum(sums + step, 0.0)
        hit = np.max(sums, axis=1) > levels
        counts += hit
        sums[hit] = 0.0
    return counts


def fit_false_alarm_curve(
    levels: np.ndarray,
    counts: np.ndarray,
    hours: float,
    *,
    k: float,
    clip: float,
    every_s: float,
    min_count: int = 3,
    provenance: str = "",
) -> FalseAlarmCurve:
    """``log rate = a - b h`` fitted (Poisson-weighted) to the levels with at least
    ``min_count`` crossings over ``hours`` board-hours."""
    levels = np.asarray(levels, dtype=float)
    counts = np.asarray(counts, dtype=float)
    use = counts >= min_count
    if use.sum() < 2:
        raise BridgeConfigError("false-alarm curve: fewer than two levels with enough crossings")
    x, y, w = levels[use], np.log(counts[use] / hours), np.sqrt(counts[use])
    b, a = np.polyfit(x, y, 1, w=w)
    if not b < 0:
        raise BridgeConfigError("false-alarm curve: the rate does not fall with the level")
    return FalseAlarmCurve(
        log_rate0=float(a),
        decay_per_level=float(-b),
        k=k,
        clip=clip,
        every_s=every_s,
        fitted_range=(float(x.min()), float(x.max())),
        provenance=provenance,
    )
