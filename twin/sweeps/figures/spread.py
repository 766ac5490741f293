"""The spread of every headline number: the figure's own computation on resampled realizations.

A figure's headline numbers (:attr:`FigureResult.measured`: a slope, a crossing, the kappa of a
minimum) are functions of the whole ensemble, so their uncertainty is not the spread of any one
column. :func:`bootstrap` re-runs the figure's ``render`` on bootstrap resamples of its
realizations (drawn with replacement, the same draw for every sweep of the figure, so that pairs
across sweeps stay pairs) with drawing switched off, and reports each number's 16-84 %
interval: the 68 % band of a standard error. :meth:`Spread.too_uncertain` says when a number
cannot be compared with a published one: its interval spans more than a factor 3 (positive
numbers) or +-25 % of its value, or more than a fifth of the resamples give no number at all.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from ._common import DRAWING, FigureResult

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RESAMPLES", "Spread", "bootstrap", "resample"]

#: Bootstrap resamples per figure.
RESAMPLES = 20
#: Positive numbers: an interval wider than this factor is too uncertain to compare.
MAX_FACTOR = 3.0
#: Other numbers: a half-width above this fraction of the value is too uncertain.
MAX_RELATIVE = 0.25
#: Resamples that must give a number.
MIN_FINITE = 0.8


@attrs.frozen(kw_only=True)
class Spread:
    """A headline number with its bootstrap interval (NaN when not available)."""

    value: float
    low: float
    high: float
    finite: float  # fraction of resamples that gave a number

    def too_uncertain(self) -> bool:
        """True when the number should not be compared with a published one."""
        if not math.isfinite(self.value) or self.finite < MIN_FINITE:
            return True
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            return True
        if self.value > 0 and self.low > 0:
            return self.high / self.low > MAX_FACTOR
        return (self.high - self.low) / 2 > MAX_RELATIVE * abs(self.value)

    def text(self) -> str:
        """``value [low, high]`` for the report."""
        if not math.isfinite(self.value):
            return "n/a"
        return f"{self.value:.3g} [{self.low:.3g}, {self.high:.3g}]"

    def as_dict(self) -> dict[str, Any]:
        return {"value": self.value, "low": self.low, "high": self.high,
                "finite": self.finite, "too_uncertain": self.too_uncertain()}  # fmt: skip


def resample(frames: Mapping[str, pd.DataFrame], rng: np.random.Generator) -> dict[str, Any]:
    """One bootstrap draw of realizations, renumbered 0..R-1, applied to every frame."""
    import pandas as pd

    ids = sorted({int(r) for f in frames.values() if "realization" in f for r in f["realization"]})
    pick: list[int] = rng.choice(ids, size=len(ids), replace=True).tolist() if ids else []
    out: dict[str, Any] = {}
    for name, frame in frames.items():
        if "realization" not in frame or not len(ids):
            out[name] = frame
            continue
        by = dict(tuple(frame.groupby("realization")))
        parts = [by[r].assign(realization=j) for j, r in enumerate(pick) if r in by]
        out[name] = pd.concat(parts, ignore_index=True) if parts else frame.iloc[:0]
    return out


def bootstrap(
    render: Callable[[dict[str, pd.DataFrame], Path], FigureResult],
    frames: Mapping[str, pd.DataFrame],
    result: FigureResult,
    out_dir: Path,
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> dict[str, Spread]:
    """Every number of ``result.measured`` with its interval over ``resamples`` resamples."""
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {key: [] for key in result.measured}
    token = DRAWING.set(False)
    try:
        for _ in range(resamples):
            again = render(resample(frames, rng), out_dir)
            for key in draws:
                draws[key].append(float(again.measured.get(key, math.nan)))
    finally:
        DRAWING.reset(token)
    out = {}
    for key, values in draws.items():
        arr = np.asarray(values, dtype=float)
        ok = arr[np.isfinite(arr)]
        low, high = np.quantile(ok, [0.16, 0.84]) if ok.size else (math.nan, math.nan)
        out[key] = Spread(value=float(result.measured[key]), low=float(low), high=float(high),
                          finite=float(ok.size / max(1, arr.size)))  # fmt: skip
    return out
