"""The figures framework: slope fits, ensemble statistics, each figure's contract on fake frames."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from twin.sweeps.figures import FIGURES, FigureResult, figure_module
from twin.sweeps.figures._common import crossing, fit_loglog_slope, grouped, paired
from twin.sweeps.figures.spread import Spread, bootstrap, resample
from twin.sweeps.spec import SweepSpec

PNG = b"\x89PNG"


@pytest.mark.parametrize("slope", [2.0, 1.0, -0.5])
def test_slope_fit_recovers_a_known_power_law_with_noise(slope: float) -> None:
    rng = np.random.default_rng(3)
    x = np.logspace(-10, -6, 9)
    y = 3.0 * x**slope * np.exp(0.05 * rng.standard_normal(x.size))
    fit = fit_loglog_slope(x, y)
    assert fit.slope == pytest.approx(slope, abs=0.05)
    assert 0 < fit.stderr < 0.05
    assert abs(fit.slope - slope) < 4 * fit.stderr + 1e-3
    assert fit.n_points == 9


def test_slope_fit_window_and_bad_points() -> None:
    x = np.array([0.0, 1e-9, 1e-8, 1e-7, 1e-6, 1e-3])
    y = np.array([5.0, 1e-18, 1e-16, 1e-14, -1.0, 1.0])  # slope 2 below 1e-7; junk elsewhere
    fit = fit_loglog_slope(x, y, x_max=1e-6)
    assert fit.slope == pytest.approx(2.0, abs=1e-9)
    assert fit.n_points == 3
    assert fit.x_range == (1e-9, 1e-7)
    assert math.isnan(fit_loglog_slope([1.0], [1.0]).slope)


def test_grouped_median_quantiles_and_pairing() -> None:
    frame = pd.DataFrame(
        {
            "lam": [0.0] * 4 + [1e-6] * 4,
            "realization": [0, 1, 2, 3] * 2,
            "p": [1.0, 2.0, 4.0, 8.0, 0.5, 1.0, 2.0, 4.0],
        }
    )
    stats = grouped(frame, "lam", "p")
    assert stats["median"].tolist() == [3.0, 1.5]
    assert stats["n"].tolist() == [4, 4]
    assert stats["q_low"].iloc[0] == pytest.approx(1.75)
    ratio = paired(frame, "lam", "p", 0.0)
    np.testing.assert_allclose(ratio[frame["lam"] > 0], 0.5)
    assert crossing(np.array([1.0, 10.0, 100.0]), np.array([1e-3, 1e-2, 1e-1]), 3e-2) == (
        pytest.approx(10**1.477, rel=1e-3)
    )


def test_every_registered_figure_follows_the_contract() -> None:
    names = set()
    for name in FIGURES:
        module = figure_module(name)
        assert name == module.NAME
        assert isinstance(module.TITLE, str)
        assert module.TITLE
        direct = hasattr(module, "compute")  # computed directly, not from sweep cells
        for quick in (True, False):
            specs = module.specs(quick)
            assert bool(specs) != direct
            assert all(isinstance(s, SweepSpec) for s in specs)
            names.update(s.name for s in specs)
            assert all(("quick" in s.name) == quick for s in specs)
        full = module.specs(False)
        assert all(s.realizations >= 50 for s in full)  # the paper's realization counts
    assert len(names) == sum(len(figure_module(n).specs(q)) for n in FIGURES for q in (1, 0))
    with pytest.raises(KeyError, match="fig2"):
        figure_module("nope")


def _fig2_frame() -> pd.DataFrame:
    """Synthetic lambda sweep: L/L0 = 1e-20 + 1e3 lambda^2, 1 - P/P(0) = 50 lambda (x noise)."""
    rng = np.random.default_rng(0)
    lams = [0.0, *np.logspace(-10, -2, 17).tolist()]
    rows = []
    for lam in lams:
        for r in range(8):
            wobble = np.exp(0.02 * rng.standard_normal())
            rows.append(
                {
                    "lam": lam,
                    "realization": r,
                    "status": "done",
                    "steps": 100_000,
                    "error_ratio": (1e-20 + 1e3 * lam**2) * wobble,
                    "free_power_final_w": (1 + r) * max(1 - 50 * lam, 1e-3),
                    "training_energy_j": (2 + r) * max(1 - 20 * lam, 1e-3),
                }
            )
    return pd.DataFrame(rows)


def test_fig2_renders_the_slopes_of_synthetic_data(tmp_path: Path) -> None:
    module = figure_module("fig2")
    result = module.render({"fig2-lambda-full": _fig2_frame()}, tmp_path)
    assert isinstance(result, FigureResult)
    assert result.png.read_bytes()[:4] == PNG
    assert result.measured["error_slope"] == pytest.approx(2.0, abs=0.05)
    assert result.measured["power_reduction_slope"] == pytest.approx(1.0, abs=0.01)
    # 1e3 lambda^2 = 1e-5 at lambda = 1e-4 (interpolated between grid points 1e-4.5 .. 1e-4)
    assert result.measured["lambda_at_error_ratio_1e-5"] == pytest.approx(1e-4, rel=0.15)
    assert result.measured["fraction_learning_at_lambda_0"] == 1.0
    assert f"{result.measured['error_slope']:.3g}" in result.markdown
    assert "published" in result.markdown
    assert "| 2 |" in result.markdown
    assert result.published["error_slope"].startswith("2")


def test_fig4_gain_from_paired_runs(tmp_path: Path) -> None:
    module = figure_module("fig4")
    tols = [1e-4, 1e-3, 1e-2]
    es, ctl = [], []
    for tol in tols:
        for r in range(5):
            p_min, p_es = 1.0, 11.0
            gain = 0.5 + 0.1 * math.log(tol / 1e-3)
            common = {"realization": r, "status": "done", "steps": 1000,
                      "free_power_initial_w": p_min}  # fmt: skip
            es.append({**common, "stop_tol": tol, "free_power_final_w": p_es,
                       "training_energy_j": 2.0, "error_final": tol / 2})  # fmt: skip
            ctl.append({**common, "control_tol": tol, "error_final": tol,
                        "free_power_final_w": p_es - gain * (p_es - p_min),
                        "training_energy_j": 6.0})  # fmt: skip
    frames = {"fig4-es-full": pd.DataFrame(es), "fig4-control-full": pd.DataFrame(ctl)}
    result = module.render(frames, tmp_path)
    assert result.png.read_bytes()[:4] == PNG
    assert result.measured["gain_at_1e-3"] == pytest.approx(0.5)
    assert result.measured["gain_per_ln_tol"] == pytest.approx(0.1)
    assert result.measured["energy_ratio_at_1e-3"] == pytest.approx(3.0)
    assert "| 0.5 | ~0.5 |" in result.markdown


def test_fig1_and_fig5_render_fake_frames(tmp_path: Path) -> None:
    kappas = [1e-3, 1e-2, 1e-1, 1.0]
    run, tol = [], []
    for k in kappas:
        for r in range(3):
            base = {"kappa": k, "alpha": 0.1 * k, "realization": r, "status": "done",
                    "steps": 1000, "step_s": 1e-4}  # fmt: skip
            run.append({**base, "free_power_final_w": k**0.5})
            steps = 100 + k**-2  # energy ~ k x time = 100 k + 1/k: minimum at kappa 0.1
            tol.append({**base, "time_to_tol_s": steps * 1e-4,
                        "training_energy_j": steps * 1e-4 * k})  # fmt: skip
    result = figure_module("fig1").render(
        {"fig1-kappa-full": pd.DataFrame(run), "fig1-kappa-tol-full": pd.DataFrame(tol)}, tmp_path
    )
    assert result.png.read_bytes()[:4] == PNG
    assert result.measured["trained_power_increases_with_kappa"] == 1.0
    assert result.measured["kappa_at_energy_minimum"] == pytest.approx(0.1)
    iris = []
    for lam in [0.0, 1e-7, 1e-5, 1e-3]:
        for r in range(3):
            iris.append({"lam": lam, "realization": r, "status": "done", "steps": 100,
                         "accuracy_train": 0.9 if lam < 1e-4 else 0.4,
                         "accuracy_test": 0.9 if lam < 1e-4 else 0.4,
                         "free_power_final_w": 1.0 / (1 + 1e5 * lam)})  # fmt: skip
    result = figure_module("fig5").render({"fig5-iris-full": pd.DataFrame(iris)}, tmp_path)
    assert result.png.read_bytes()[:4] == PNG
    assert result.measured["largest_lambda_accuracy_kept"] == pytest.approx(1e-5)
    assert result.measured["power_gain_there"] == pytest.approx(2.0)
    assert "| ~2 |" in result.markdown


def test_xy_figure_counts_who_learns_with_wilson_intervals(tmp_path: Path) -> None:
    from twin.sweeps.figures.xy_architectures import wilson

    rows = []
    learned = {"all:6": 6, "layered:2,4,1": 5, "lattice:3x3:skip=2": 4, "lattice:5x5": 0}
    couplings = {"all:6": 15, "layered:2,4,1": 12, "lattice:3x3:skip=2": 18, "lattice:5x5": 40}
    for network, k in learned.items():
        for r in range(6):
            rows.append({"network": network, "realization": r, "status": "done",
                         "accuracy_test": 1.0 if r < k else 0.5,
                         "couplings": couplings[network], "cpu_ms_per_epoch": 1.0})  # fmt: skip
    result = figure_module("xy").render({"xy-architectures-quick": pd.DataFrame(rows)}, tmp_path)
    assert result.png.read_bytes()[:4] == PNG
    assert result.measured["learned_fraction_lattice_3x3_skip_2"] == pytest.approx(4 / 6)
    assert result.measured["learned_fraction_lattice_5x5"] == 0.0
    assert result.measured["median_accuracy_lattice_5x5"] == 0.5
    assert result.measured["best_local_learned_fraction"] == pytest.approx(4 / 6)
    # 4/6 has a Wilson interval [0.30, 0.90] that reaches the dense networks' 5/6: comparable
    assert "**lattice:3x3:skip=2**, learns in 4/6" in result.markdown
    assert "all:6 6/6, layered:2,4,1 5/6 for the dense networks" in result.markdown
    assert ": comparable (its interval reaches" in result.markdown
    assert "NOT comparable" not in result.markdown
    lo, hi = wilson(4, 6)
    assert (round(lo, 2), round(hi, 2)) == (0.3, 0.9)
    assert wilson(0, 10)[0] == 0.0
    assert wilson(10, 10)[1] == 1.0
    assert wilson(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)  # textbook value


@pytest.mark.parametrize("name", list(FIGURES))
def test_a_figure_renders_before_any_cell_is_done(tmp_path: Path, name: str) -> None:
    """Frames of sweeps with nothing done (no metric columns yet) give a 'no data' figure."""
    from twin.sweeps.cells import expand

    module = figure_module(name)
    frames: dict[str, pd.DataFrame] = {}
    for spec in module.specs(True):
        rows = [
            {**cell.params, "realization": r, "seed": s, "status": "missing"}
            for cell in expand(spec)
            for r, s in enumerate(cell.seeds)
        ]
        frames[spec.name] = pd.DataFrame(rows)
    result = module.render(frames, tmp_path)
    assert result.png.read_bytes()[:4] == PNG
    assert "n/a" in result.markdown


def test_spreads_of_the_headline_numbers_come_from_resampled_realizations(tmp_path: Path) -> None:
    frames = {"fig2-lambda-full": _fig2_frame()}
    module = figure_module("fig2")
    result = module.render(frames, tmp_path)
    spreads = bootstrap(module.render, frames, result, tmp_path / "none", resamples=8)
    slope = spreads["error_slope"]
    assert slope.low <= slope.value <= slope.high
    assert not slope.too_uncertain()  # synthetic data: every realization on the same law
    assert not (tmp_path / "none").exists()  # nothing drawn while resampling
    one = resample(frames, np.random.default_rng(1))["fig2-lambda-full"]
    assert sorted(one["realization"].unique()) == sorted(frames["fig2-lambda-full"]
                                                         ["realization"].unique())  # fmt: skip
    assert len(one) == len(frames["fig2-lambda-full"])  # every realization has all its rows
    assert Spread(value=1.0, low=0.2, high=3.0, finite=1.0).too_uncertain()
    assert Spread(value=1.9, low=1.5, high=2.4, finite=1.0).too_uncertain() is False
    assert Spread(value=1.9, low=1.8, high=2.0, finite=0.5).too_uncertain()


def test_fig1_finds_the_minimum_in_both_time_conventions(tmp_path: Path) -> None:
    kappas = [1e-3, 1e-2, 1e-1, 1.0]
    run, tol, fixed = [], [], []
    for k in kappas:
        for r in range(3):
            base = {"kappa": k, "realization": r, "status": "done", "steps": 1000, "step_s": 1e-4}
            run.append({**base, "alpha": 0.1 * k, "free_power_final_w": k**0.5})
            steps = 100 + k**-2  # kappa/alpha units: energy ~ 100 k + 1/k, minimum at 0.1
            tol.append({**base, "alpha": 0.1 * k, "time_to_tol_s": steps * 1e-4,
                        "training_energy_j": steps * 1e-4 * k})  # fmt: skip
            # fixed alpha, epochs: energy ~ k + 1e-4 / k, minimum at 1e-2
            fixed.append({**base, "alpha": 0.1, "time_to_tol_s": 1e-4,
                          "training_energy_j": k + 1e-4 / k})  # fmt: skip
    frames = {"fig1-kappa-full": pd.DataFrame(run), "fig1-kappa-tol-full": pd.DataFrame(tol),
              "fig1-kappa-tol-fixed-alpha-full": pd.DataFrame(fixed)}  # fmt: skip
    result = figure_module("fig1").render(frames, tmp_path)
    assert result.measured["kappa_at_energy_minimum"] == pytest.approx(0.1)
    assert result.measured["kappa_at_energy_minimum_fixed_alpha"] == pytest.approx(1e-2)
    assert "1/alpha epochs" in result.markdown


def test_fig1_quick_runs_the_tolerance_sweeps_at_the_seeds_steps() -> None:
    specs = figure_module("fig1").specs(True)
    assert [s.name for s in specs] == ["fig1-kappa-quick", "fig1-kappa-tol-quick",
                                       "fig1-kappa-tol-fixed-alpha-quick"]  # fmt: skip
    for spec in specs[1:]:
        assert spec.base["steps"] == 1_000_000
        assert spec.base["stop_tol"] == 1e-4
        assert spec.realizations == 8
        assert max(spec.to_dict()["axes"]["kappa"]) == pytest.approx(0.1)
    assert specs[0].base["steps"] == 100_000


def test_fig1_minimum_lies_between_grid_points_where_the_energies_say_so(tmp_path: Path) -> None:
    """The vertex of the parabola in log-log: energy ~ k + 1e-4 / k has its minimum at 1e-2;
    on the grid 1e-3, 3e-3, 3e-2, 0.1 (1e-2 left out) it is found near 1e-2, not at 3e-3."""
    kappas = [1e-3, 3e-3, 3e-2, 1e-1, 1.0]
    fixed = [{"kappa": k, "alpha": 0.1, "realization": r, "status": "done", "steps": 1000,
              "step_s": 1e-4, "time_to_tol_s": 1e-4, "training_energy_j": k + 1e-4 / k}
             for k in kappas for r in range(3)]  # fmt: skip
    run = [{**row, "alpha": 0.1 * row["kappa"], "free_power_final_w": 1.0} for row in fixed]
    frames = {"fig1-kappa-full": pd.DataFrame(run),
              "fig1-kappa-tol-fixed-alpha-full": pd.DataFrame(fixed)}  # fmt: skip
    result = figure_module("fig1").render(frames, tmp_path)
    got = result.measured["kappa_at_energy_minimum_fixed_alpha"]
    assert 6e-3 < got < 1.6e-2


def test_fig1_quick_reads_the_tolerance_marked_in_its_runs(tmp_path: Path) -> None:
    """An earlier quick set: no early-stopping sweep; the runs to the end carry time and energy
    to 1e-4 (mark_tol), from which the same minimum is found."""
    kappas = [1e-3, 1e-2, 1e-1, 1.0]
    run = []
    for k in kappas:
        for r in range(3):
            steps = 100 + k**-2  # kappa/alpha units: energy ~ 100 k + 1/k, minimum at 0.1
            run.append({"kappa": k, "alpha": 0.1 * k, "realization": r, "status": "done",
                        "steps": 1000, "step_s": 1e-4, "mark_tol": 1e-4,
                        "free_power_final_w": k**0.5, "training_energy_j": 1e3,
                        "time_to_tol_s": steps * 1e-4,
                        "energy_to_tol_j": steps * 1e-4 * k})  # fmt: skip
    result = figure_module("fig1").render({"fig1-kappa-quick": pd.DataFrame(run)}, tmp_path)
    assert result.measured["kappa_at_energy_minimum"] == pytest.approx(0.1)
    assert "marked in the runs to the end" in result.markdown
    # fixed alpha 0.1 (epochs): energy ~ k + 1e-4 / k, minimum at 1e-2; kappa 1 from the run
    fixed = [{"kappa": k, "alpha": 0.1, "realization": r, "status": "done", "steps": 1000,
              "step_s": 1e-4, "time_to_tol_s": 1e-4, "training_energy_j": k + 1e-4 / k}
             for k in kappas[:-1] for r in range(3)]  # fmt: skip
    for row in run:
        if row["kappa"] == 1.0:
            row.update(time_to_tol_s=1e-4, energy_to_tol_j=1.0 + 1e-4)
    frames = {"fig1-kappa-quick": pd.DataFrame(run),
              "fig1-kappa-tol-fixed-alpha-quick": pd.DataFrame(fixed)}  # fmt: skip
    result = figure_module("fig1").render(frames, tmp_path)
    assert result.measured["kappa_at_energy_minimum_fixed_alpha"] == pytest.approx(1e-2)


def test_imperfection_renders_its_table_and_csv(tmp_path: Path) -> None:
    """From a small computed frame (two emulated periods of exp1): PNG, CSV and the ratios."""
    from twin.board.clln import compare_small_network

    module = figure_module("imperfection")
    frame = pd.DataFrame(compare_small_network("exp1", [0.02, 0.2], settle_s=0.3))
    result = module.render({"imperfection-small": frame}, tmp_path)
    assert result.png.read_bytes()[:4] == PNG
    table = pd.read_csv(tmp_path / "imperfection_small.csv")
    assert list(table.columns) == [
        "experiment", "tau_s", "measured_mse_v2", "emulated_mse_v2", "measured_d2_v2",
        "emulated_d2_v2",
    ]  # fmt: skip
    assert len(table) == 19  # every measured point of exp1
    emulated = table.dropna(subset=["emulated_mse_v2"])
    assert emulated["tau_s"].tolist() == [0.02, 0.2]
    for column in ("mse_v2", "d2_v2"):  # the target: within a factor of 2
        ratio = emulated[f"emulated_{column}"] / emulated[f"measured_{column}"]
        assert ratio.between(0.5, 2.0).all()
    assert "| exp1 | 0.02 |" in result.markdown


def test_log_grids_do_not_depend_on_the_last_bit_of_pow() -> None:
    """Sweep axes feed cell ids: a grid is the same on every machine (12 significant digits)."""
    from twin.sweeps.figures._common import log_grid

    grid = log_grid(-10, -2, 17)
    assert (grid[0], grid[10], grid[-1]) == (1e-10, 1e-5, 1e-2)
    assert all(float(f"{v:.12g}") == v for v in grid)
    wobbled = [float(f"{v * (1 + 2.2e-16):.12g}") for v in np.logspace(-10, -2, 17)]
    assert wobbled == grid  # one ulp either way rounds to the same grid
