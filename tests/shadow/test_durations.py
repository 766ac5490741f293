"""Bounded-memory records of a long shadow: the lag histogram and the decimating history."""

from __future__ import annotations

import numpy as np
import pytest

from twin.shadow.durations import N_BINS, REL_WIDTH, DurationStats
from twin.shadow.state import ShadowHistory


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_quantiles_are_within_one_bin_of_the_empirical_ones(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = rng.lognormal(mean=np.log(1e-3), sigma=1.5, size=20_000)
    stats = DurationStats()
    for chunk in np.array_split(values, 37):
        stats.extend(chunk)
    assert len(stats) == values.size
    for q in (0.01, 0.5, 0.9, 0.99, 0.999):
        exact = float(np.quantile(values, q, method="lower"))
        assert stats.quantile(q) == pytest.approx(exact, rel=REL_WIDTH)
    assert stats.max_s == values.max()
    assert stats.last_s == values[-1]
    over = float(np.mean(values > 2e-3))
    assert abs(stats.fraction_over(2e-3) - over) < 0.01


def test_memory_does_not_grow_with_the_values() -> None:
    stats = DurationStats()
    for _ in range(100):
        stats.extend(np.full(10_000, 5e-4))
    assert stats.counts.size == N_BINS
    assert len(stats) == 1_000_000
    assert stats.quantile(0.5) == pytest.approx(5e-4, rel=REL_WIDTH)


def test_extremes_zero_and_non_finite() -> None:
    stats = DurationStats()
    assert stats.quantile(0.5) == 0.0
    assert stats.last_s is None
    stats.extend([0.0, 0.0, float("nan"), float("inf"), 1e6])
    assert len(stats) == 3  # non-finite values are not durations
    assert stats.quantile(0.0) == 0.0
    assert stats.quantile(1.0) == 1e6  # above the histogram: the exact maximum
    stats.clear()
    assert len(stats) == 0
    assert stats.max_s == 0.0


def test_history_stays_bounded_and_evenly_spread_over_a_long_run() -> None:
    hist = ShadowHistory(10, max_rows=64)
    edges = np.zeros(32)
    for frame in range(1, 200_001):  # 200 s of 1 kHz frames
        if hist.due():
            row = dict.fromkeys(ShadowHistory.COLUMNS, 0.0) | {"t_s": frame * 1e-3}
            hist.add(row, edges)
    arrays = hist.arrays()
    t = arrays["t_s"]
    assert 32 <= t.size < 64
    assert arrays["edge_residual_v"].shape == (t.size, 32)
    steps = np.diff(t)
    np.testing.assert_allclose(steps, steps[0])  # evenly spaced
    assert t[-1] > 200.0 - 2 * steps[0]  # up to the end
    assert t[0] <= steps[0] + 1e-9  # from the start
