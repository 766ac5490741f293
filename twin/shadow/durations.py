"""Bounded-memory records of a long shadow: durations as a log histogram, a decimating history.

A shadow may run for hours at 1 kHz, so nothing it keeps per frame may grow with the run.
:class:`DurationStats` keeps the distribution of a duration (a frame's lag, a resync's wall
time) in a fixed histogram of logarithmic bins, from which quantiles are read to within one
bin's relative width (:data:`REL_WIDTH`, 1 %); it also keeps the count, the last and the largest
value exactly. Memory: :data:`N_BINS` integers, whatever the number of values.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

__all__ = ["HI_S", "LO_S", "N_BINS", "REL_WIDTH", "DurationStats"]

#: Durations below this are counted in the lowest bin (and read back as 0), s.
LO_S = 1e-7
#: Durations above this are counted in the highest bin (the exact maximum is kept), s.
HI_S = 1e4
#: Relative width of one bin: a quantile is exact to within this factor.
REL_WIDTH = 0.01
#: Bins between LO_S and HI_S, plus one below and one above.
N_BINS = math.ceil(math.log(HI_S / LO_S) / math.log1p(REL_WIDTH)) + 2
_LOG_LO = math.log(LO_S)
_LOG_STEP = math.log1p(REL_WIDTH)


class DurationStats:
    """Distribution of a non-negative duration (s) in bounded memory.

    ``quantile`` returns the geometric centre of the bin holding the quantile (0 for the bin
    below :data:`LO_S`, the exact maximum for the bin above :data:`HI_S`), so it is within
    :data:`REL_WIDTH` of the empirical quantile (lower interpolation) of the values added.
    """

    def __init__(self) -> None:
        self.counts = np.zeros(N_BINS, dtype=np.int64)
        self.count = 0
        self.last_s: float | None = None
        self.max_s = 0.0

    def __len__(self) -> int:
        return self.count

    def add(self, value_s: float) -> None:
        self.extend((value_s,))

    def extend(self, values_s: Iterable[float]) -> None:
        v = np.fromiter(values_s, dtype=float)
        v = v[np.isfinite(v)]
        if v.size == 0:
            return
        v = np.maximum(v, 0.0)  # finite and >= 0, so the log below sees >= LO_S / 2 only
        idx = np.floor((np.log(np.maximum(v, LO_S * 0.5)) - _LOG_LO) / _LOG_STEP) + 1
        idx = np.clip(idx, 0, N_BINS - 1).astype(np.int64)
        self.counts += np.bincount(idx, minlength=N_BINS)
        self.count += int(v.size)
        self.last_s = float(v[-1])
        self.max_s = max(self.max_s, float(v.max()))

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]

    def quantile(self, q: float) -> float:
        """The ``q``-quantile, s (0 with no value)."""
        if self.count == 0:
            return 0.0
        rank = min(max(math.floor(q * (self.count - 1)), 0), self.count - 1)
        b = int(np.searchsorted(np.cumsum(self.counts), rank, side="right"))
        if b == 0:
            return 0.0
        if b == N_BINS - 1:
            return self.max_s
        centre = math.exp(_LOG_LO + (b - 0.5) * _LOG_STEP)
        return min(centre, self.max_s)

    def fraction_over(self, threshold_s: float) -> float:
        """Fraction of values above ``threshold_s`` (to within one bin), 0 with no value."""
        if self.count == 0:
            return 0.0
        b = math.floor((math.log(max(threshold_s, LO_S * 0.5)) - _LOG_LO) / _LOG_STEP) + 1
        b = min(max(b, 0), N_BINS - 1)
        return float(self.counts[b + 1 :].sum()) / self.count
