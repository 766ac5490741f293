"""Fig. 8 (springs) renders its slopes from the frame: synthetic data with known scalings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from twin.sweeps.figures import figure_module


def test_fig8_measures_the_slopes_of_its_frame(tmp_path: Path) -> None:
    """L/L0 = floor + c lam^2 and E_F = E0 (1 - d lam): slopes 2 and 1; a realization that does
    not learn at lambda = 0 is left out of the medians."""
    rows = []
    lams = [0.0, *np.logspace(-10, -4, 13).tolist()]
    for r in range(6):
        e0 = 1.0 + 0.1 * r
        floor = 1e-24 if r < 5 else 0.5  # realization 5 never learns
        for lam in lams:
            rows.append(
                {
                    "lam": lam,
                    "realization": r,
                    "seed": r,
                    "status": "done",
                    "steps": 20000,
                    "error_ratio": floor + 1e4 * lam**2,
                    "free_energy_final_j": e0 * (1 - 1e3 * lam),
                }
            )
    result = figure_module("fig8").render({"fig8-springs-full": pd.DataFrame(rows)}, tmp_path)
    assert result.png.read_bytes()[:4] == b"\x89PNG"
    assert result.measured["error_slope"] == pytest.approx(2.0, abs=1e-3)
    assert result.measured["energy_reduction_slope"] == pytest.approx(1.0, abs=1e-3)
    assert result.measured["learning_realizations"] == 5
    assert result.measured["error_ratio_at_lambda_0"] == pytest.approx(1e-24)
    assert result.measured["error_slope_per_realization_median"] == pytest.approx(2.0, abs=1e-3)
    assert result.measured["energy_reduction_slope_per_realization_median"] == pytest.approx(1.0)
    rows = result.markdown.splitlines()
    groups = [line for line in rows if line.startswith("| same, median curves of disjoint")]
    assert len(groups) == 2  # one group: realizations 0-4 (5, the only other, does not learn)
    assert "| 2 (IQR 2..2; range 2..2; 1 groups) | 2 |" in groups[0]
    assert "| 1 (IQR 1..1; range 1..1; 1 groups) | 1 |" in groups[1]
    assert "5 of 6 realizations learn" in result.markdown


def test_fig8_fits_the_small_lambda_window_and_reports_the_wide_one(tmp_path: Path) -> None:
    """A reduction that saturates, 1 - E_F/E_F(0) = 1 - exp(-lam / 1e-7), is ~lambda below 1e-7:
    the fit window finds slope ~1, the wide window (to 1e-6) reads low. A realization whose error
    jumps to another lambda^2 branch inside the window moves its own slope, not the others'."""
    rows = []
    lams = [0.0, *np.logspace(-10, -4, 13).tolist()]
    for r in range(5):
        for lam in lams:
            jump = 1e4 if (r == 4 and lam >= 1e-8) else 1.0
            rows.append(
                {
                    "lam": lam,
                    "realization": r,
                    "seed": r,
                    "status": "done",
                    "steps": 20000,
                    "error_ratio": 1e-30 + jump * 1e4 * lam**2,
                    "free_energy_final_j": np.exp(-lam / 1e-7),
                }
            )
    result = figure_module("fig8").render({"fig8-springs-full": pd.DataFrame(rows)}, tmp_path)
    m = result.measured
    assert m["energy_reduction_slope"] == pytest.approx(1.0, abs=0.1)
    assert m["energy_reduction_slope_wide_window"] < m["energy_reduction_slope"] - 0.1
    assert m["error_slope_per_realization_median"] == pytest.approx(2.0, abs=1e-3)
    per_row = next(line for line in result.markdown.splitlines() if "| same, per" in line)
    assert "range 2.." in per_row  # the error row: four realizations at 2, one above
    assert "range 2..2;" not in per_row
