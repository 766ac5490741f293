"""The node check's premise check (``benchmarks/node_check_premise.py``): the distribution it
predicts for a board's largest score is that of the largest of n standard Gaussians' magnitudes,
and its tail table counts what it says."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.node_check_premise import max_score_cdf, tail_table


def test_the_predicted_largest_score_is_the_largest_of_n_gaussians() -> None:
    rng = np.random.default_rng(17)
    z_crit, n = 4.0, 50
    largest = np.max(np.abs(rng.standard_normal((20000, n))), axis=1) / z_crit
    for s in (0.5, 0.6, 0.7, 0.8):
        assert max_score_cdf(np.array([s]), z_crit, n)[0] == pytest.approx(
            np.mean(largest <= s), abs=0.012
        )
    assert max_score_cdf(np.array([0.5]), z_crit, 1)[0] == pytest.approx(0.9545, abs=1e-4)


def test_the_tail_table_counts_magnitudes_above_each_threshold() -> None:
    z = np.array([0.0, -2.5, 3.2, -3.7, 4.2, 5.0])
    rows = {r["above"]: r for r in tail_table(z)}
    assert [rows[x]["count"] for x in (2.0, 3.0, 3.5, 4.0, 4.5)] == [5, 4, 3, 2, 1]
    assert rows[3.0]["fraction"] == pytest.approx(4 / 6)
    lo, hi = rows[3.0]["interval"]
    assert lo < 4 / 6 < hi
    assert rows[2.0]["gaussian"] == pytest.approx(0.0455, abs=1e-4)
