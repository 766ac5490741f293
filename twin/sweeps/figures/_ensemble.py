"""Ensemble statistics of sweep frames beyond :mod:`._common`: several metrics per group, ranks.

A frame is the tidy table of a sweep (one row per cell and realization, parameters and metrics
as columns). Figures report medians with the 25 % / 75 % quantiles over realizations, never a
single run: noisy and rounding-sensitive dynamics are ensembles.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

__all__ = ["quantile_table", "spearman"]


def quantile_table(
    frame: pd.DataFrame, by: str | Sequence[str], metrics: Sequence[str]
) -> pd.DataFrame:
    """Median, 25 % and 75 % quantiles and count of ``metrics`` per group of ``by``.

    Columns ``<metric>`` (median), ``<metric>_q25``, ``<metric>_q75``, and ``n`` (rows per
    group); NaN metric values (e.g. a tolerance never reached) are left out of the quantiles,
    and ``<metric>_n`` counts the finite ones.
    """
    keys = [by] if isinstance(by, str) else list(by)
    groups = frame.groupby(keys, sort=True, dropna=False)
    out = groups.size().rename("n").to_frame()
    for m in metrics:
        col = groups[m]
        out[m] = col.median()
        out[f"{m}_q25"] = col.quantile(0.25)
        out[f"{m}_q75"] = col.quantile(0.75)
        out[f"{m}_n"] = col.count()
    return out.reset_index()


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman rank correlation of ``x`` and ``y`` (NaN with fewer than 3 finite pairs)."""
    s = pd.DataFrame({"x": x, "y": y}).dropna()
    if len(s) < 3:
        return math.nan
    return float(s["x"].rank().corr(s["y"].rank()))
