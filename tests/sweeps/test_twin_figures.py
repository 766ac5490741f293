"""Figures 3 and 6: their sweeps, the trainer/twin equivalence they rely on, and rendering."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from twin.learning.rules import LearningRule
from twin.learning.trainer import TrainConfig, train
from twin.physics.task_spec import build_tasks
from twin.sweeps.figures import fig3_board, fig6_desync
from twin.sweeps.figures._common import fmt
from twin.sweeps.twin_cells import clock_spec, evaluate_twin

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------------- sweeps


@pytest.mark.parametrize("module", [fig3_board, fig6_desync])
def test_full_sweeps_use_the_paper_counts_and_quick_ones_are_small(module) -> None:
    full, quick = module.spec_dicts(False), module.spec_dicts(True)
    assert all(d["realizations"] == 50 for d in full)
    # issue 21: the quick set gives every headline number with a spread, still a few realizations
    assert all(d["realizations"] <= 8 for d in quick)
    assert {d["name"] for d in full}.isdisjoint({d["name"] for d in quick})
    # one root seed per figure: realization r has the same task in every series
    assert len({d["seed"] for d in full}) == 1


def test_fig3_trainer_cells_take_the_linear_board_twins_steps() -> None:
    """The trainer series is the noise-free linear board twin on its sync clock, step for step."""
    steps = 300
    p = fig3_board.board_trainer_params(steps * fig3_board.STEP_S)
    assert p["steps"] == steps
    seeds = [2, 3]
    tasks = [build_tasks("allostery", p["network"], seed=s, realizations=1)[0] for s in seeds]
    config = TrainConfig(
        rule=LearningRule(alpha=p["alpha"], eta=p["eta"], lam=1e-2),
        kappa=p["kappa"], k_min=p["kmin"], k_max=p["kmax"], steps=steps, step_s=p["step_s"],
        backend="numpy",
    )  # fmt: skip
    trained = train(tasks, config)
    twin = evaluate_twin(
        {"model": "linear", "lam": 1e-2, "duration": steps * fig3_board.STEP_S}, seeds
    )
    for r, m in enumerate(twin):
        assert m["error_final"] == pytest.approx(float(trained.error_final[r]), rel=1e-8)
        assert m["free_power_final_w"] == pytest.approx(
            float(trained.free_power_final_w[r]), rel=1e-10
        )
        assert m["training_energy_j"] == pytest.approx(
            float(trained.training_energy_j[r]), rel=1e-10
        )


def test_fig6_clocks_share_the_update_rate() -> None:
    for spec in fig6_desync.clocks(quick=False):
        from twin.simulation import parse_clock

        rate = parse_clock(spec).edge_rate_hz()
        assert rate in {1e4 * p for p in (1.0, *fig6_desync.PROBABILITIES)}
    budgets = {d["name"].rsplit("-", 1)[1]: d["base"] for d in fig6_desync.spec_dicts(False)}
    assert budgets["updates"]["updates_per_edge"] == budgets["time"]["duration"] * 1e4


# ---------------------------------------------------------------------------- rendering


def _fig3_frames(floor: float = 2e-7, a: float = 0.3) -> dict[str, pd.DataFrame]:
    """Synthetic results: error = floor + a lambda^2 (x realization spread), power falling."""
    frames = {}
    for series, (kind, _label) in fig3_board.SERIES.items():
        rows = []
        for lam, r in itertools.product(fig3_board.LAMBDAS, range(5)):
            spread = 1.0 + 0.1 * (r - 2)
            err, power = (floor + a * lam**2) * spread, 5e-4 * (1 - 10 * lam) * spread
            row = {"lam": lam, "seed": r, "error_initial": 1e-2, "training_energy_j": 1e-3}
            if kind == "twin":
                row |= {"error_tail": err, "free_power_tail_w": power, "error_final": err * 2,
                        "free_power_final_w": power, "error_measured": err + 1e-8}  # fmt: skip
            else:
                row |= {"error_final": err, "free_power_final_w": power}
            rows.append(row)
        frames[f"fig3-{series}"] = pd.DataFrame(rows)
    return frames


def test_fig3_render_writes_a_png_and_reports_the_measured_numbers(tmp_path) -> None:
    png, markdown, measured = fig3_board.build(_fig3_frames(), tmp_path)
    assert png.read_bytes()[:8] == PNG_MAGIC
    assert measured["twin_linear_error_lam0_v2"] == pytest.approx(2e-7)
    assert measured["twin_board_error_measured_lam0_v2"] == pytest.approx(2e-7 + 1e-8)
    assert measured["twin_board_error_end_lam0_v2"] == pytest.approx(4e-7)
    assert measured["twin_board_power_ratio_lam_max"] == pytest.approx(1 - 10 * 5.5e-2)
    assert measured["trainer_tradeoff_spearman"] == pytest.approx(-1.0)
    # error = floor + a lam^2: the excess over the floor has slope 2
    assert measured["twin_board_excess_error_slope"] == pytest.approx(2.0)
    for key in ("twin_linear_error_lam0_v2", "twin_board_power_ratio_lam_max"):
        assert fmt(measured[key]) in markdown
    assert "published ~1e-6 V^2" in markdown
    assert "0.2x the published value" in markdown
    assert "every series shows the trade-off" in markdown


def test_fig3_render_says_when_there_is_no_trade_off(tmp_path) -> None:
    frames = _fig3_frames(a=0.0)  # error flat in lambda: no trade-off
    for f in frames.values():
        for col in ("error_tail", "error_final"):
            if col in f:
                f[col] = 1e-6 * (1.0 + 0.1 * f["seed"]) * (1 + np.where(f["lam"] > 0.01, -0.5, 0))
    _png, markdown, _measured = fig3_board.build(frames, tmp_path)
    assert "not every series shows a clear trade-off" in markdown


def _fig6_frames(ratio: float) -> dict[str, pd.DataFrame]:
    """Synthetic desync results: every desync run's error floor is ``ratio`` x its sync run's."""
    frames = {}
    for budget in fig6_desync.BUDGETS:
        rows = []
        for spec, seed in itertools.product(fig6_desync.clocks(quick=False), range(5)):
            sync = spec.startswith("sync")
            base = 1e-7 * (1 + seed)
            rows.append({
                "clock": spec, "seed": seed,
                "error_tail": base * (1.0 if sync else ratio),
                "time_to_tol_s": 0.4, "training_energy_j": 1e-3,
                "total_energy_j": 2e-3 * (1.0 if sync or budget == "time" else 3.0),
                "sim_time_s": 3.0, "mean_updates_per_edge": 3e4,
            })  # fmt: skip
        frames[f"fig6-{budget}"] = pd.DataFrame(rows)
    return frames


def test_fig6_render_pairs_realizations_and_reports_ratios(tmp_path) -> None:
    png, markdown, measured = fig6_desync.build(_fig6_frames(0.5), tmp_path)
    assert png.read_bytes()[:8] == PNG_MAGIC
    assert measured["time_worst_error_ratio"] == pytest.approx(0.5)
    assert measured["updates_bernoulli_p0.05_energy_ratio"] == pytest.approx(3.0)
    assert measured["time_poisson_p0.2_energy_ratio"] == pytest.approx(1.0)
    assert measured["time_sync_error_tail"] == pytest.approx(3e-7)  # median over 5 seeds
    assert "| bernoulli | 0.05 | 5 |" in markdown
    assert "0.5 [0.5, 0.5]" in markdown
    assert "no desynchronous clock is worse than sync" in markdown
    assert "equal board time" in markdown
    assert "equal updates per edge" in markdown


def test_fig6_render_reports_a_worse_desync(tmp_path) -> None:
    _png, markdown, measured = fig6_desync.build(_fig6_frames(4.0), tmp_path)
    assert measured["updates_worst_error_ratio"] == pytest.approx(4.0)
    assert "4x higher error floor than sync" in markdown


def test_quick_clock_names() -> None:
    assert clock_spec("poisson", 0.2) in fig6_desync.clocks(quick=True)


@pytest.mark.parametrize("module", [fig3_board, fig6_desync])
@pytest.mark.parametrize("quick", [True, False])
def test_figure_sweeps_are_valid_specs(module, quick: bool) -> None:
    from twin.sweeps.cells import expand

    specs = module.specs(quick)
    assert [s.name for s in specs] == [d["name"] for d in module.spec_dicts(quick)]
    cells = [c for s in specs for c in expand(s)]
    assert len({c.cell_id for c in cells}) == len(cells)


@pytest.mark.parametrize("name", ["fig1", "fig2", "fig3", "fig4", "fig5", "fig6", "fig8", "xy"])
def test_example_sweep_files_are_the_full_figure_sweeps(name: str) -> None:
    """``examples/sweeps/<name>.toml`` is each full sweep of every figure (drift test)."""
    from pathlib import Path

    from twin.sweeps import load_spec
    from twin.sweeps.figures import FIGURES, figure_module

    assert sorted(FIGURES) == [
        "fig1", "fig2", "fig3", "fig4", "fig5", "fig6", "fig8", "imperfection", "xy"
    ]  # fmt: skip
    module = figure_module(name)

    examples = Path(__file__).resolve().parents[2] / "examples" / "sweeps"
    for spec in module.specs(False):
        loaded = load_spec(examples / f"{spec.name}.toml")
        assert loaded.to_dict() == spec.to_dict()


def test_figures_are_registered_and_render_a_figure_result(tmp_path) -> None:
    from twin.sweeps.figures import FIGURES, FigureResult, figure_module

    assert figure_module("fig3") is fig3_board
    assert figure_module("fig6") is fig6_desync
    assert list(FIGURES).index("fig3") < list(FIGURES).index("fig6")
    for module, frames in ((fig3_board, _fig3_frames()), (fig6_desync, _fig6_frames(0.5))):
        result = module.render(frames, tmp_path)
        assert isinstance(result, FigureResult)
        assert result.png == tmp_path / f"{module.NAME}.png"
        assert result.published == module.PUBLISHED
        assert "| quantity | measured here | published (seed) | departure |" in result.markdown
