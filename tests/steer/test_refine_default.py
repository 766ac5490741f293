"""The default refinement lambdas (``PlannerConfig.refine_lams`` = ``REFINE_LAMS``, 0.0055-0.26):
where no candidate of the grid reaches, lambdas between the grid's 0.1 and 0.3 are tried, not only
their midpoint 0.173 (``refine_lams=None``, the former default).

A typical board (seed 23), its own circuit as the twin, from the gates it boots with, to 1e-4 of
the initial error: with lambdas 0, 0.1 and 0.3 at etas 0.22, 0.44 and 1 nothing reaches, nor
does 0.173; lambda 0.15 at eta 0.44 gets to 0.04x the tolerance in 0.14 s. (The suite's pinned
floating-point kernels, ``tests/conftest.py``: on other kernels the same board's valleys
differ.) Measured over seeds: ``benchmarks/evidence/steer_fine/``.
"""

from __future__ import annotations

import numpy as np
import pytest

from twin.board.inprocess import InProcessBoard
from twin.shadow.session import EmulationSpec, make_emulator
from twin.steer import PolicySpec, SteerConfig, SteerTwin, steer_board
from twin.steer.margin import plan_with_margin
from twin.steer.planner import Planner, PlannerConfig
from twin.steer.planner_config import REFINE_LAMS

SEED = 23
REL = 1e-4
#: The grid's lambdas either side of the band (0.1 and 0.3), etas 0.22, 0.44 and 1.
CONFIG = PlannerConfig(lams=(0.0, 0.1, 0.3), switch_factors=(10.0,), eta_factors=(2.0,))


def _first_plan(config: PlannerConfig):
    board = InProcessBoard(make_emulator(EmulationSpec(seed=SEED, variation="typical")))
    emu = board.emulator
    gates = np.asarray(emu.track.gates())
    board.close()
    planner = Planner(emu.task, emu.edges, eta=emu.eta, step_s=emu.step_s, config=config)
    tol = REL * float(planner._track(gates, 0.0, planner.eta).readings()["error"])
    return planner, gates, tol, plan_with_margin(planner, gates, tol)


def test_the_default_refinement_is_the_finer_grid() -> None:
    assert PlannerConfig().refine_lams == REFINE_LAMS
    assert CONFIG.refinement() == (0.0055, 0.017, 0.055, 0.12, 0.15, 0.2, 0.23, 0.26)
    assert PlannerConfig(lams=CONFIG.lams, refine_lams=None).refinement() == pytest.approx(
        (np.sqrt(0.1 * 0.3),)
    )


def test_a_lambda_between_the_grids_reaches_where_the_midpoint_does_not() -> None:
    """The default: lambda 0.15 at eta 0.44, deep below the tolerance, and the twin gets there
    when the plan is executed on it."""
    planner, gates, tol, plan = _first_plan(CONFIG)
    assert plan.best is not None, "no plan"
    assert not plan.truncated
    assert plan.best.schedule[0].lam == pytest.approx(0.15)
    assert plan.eta == pytest.approx(0.44)
    assert float(np.min(plan.best.error)) < 0.1 * tol
    low = plan.best.schedule[-1].until_error
    again = planner.simulate(gates, plan.best.schedule, low, eta=plan.eta)
    assert again.reached_s == pytest.approx(plan.best.reached_s)


def test_with_the_former_midpoints_the_board_has_no_plan() -> None:
    _, _, _, plan = _first_plan(
        PlannerConfig(
            lams=CONFIG.lams, switch_factors=(10.0,), eta_factors=(2.0,), refine_lams=None
        )
    )
    assert plan.best is None
    assert not plan.truncated


@pytest.mark.slow  # ~20 s: two steering runs
def test_steering_reaches_with_the_default_and_misses_with_the_midpoints() -> None:
    """In process, the board's own circuit as the twin, the full default planner, 2 s of board
    time: it reaches in 0.27 s at eta 0.44 with no re-plan (3.5e-5 J, 0.37x the tolerance);
    with the former default (``refine_lams=None``) it follows the schedule predicted lowest and
    ends far above the tolerance (126x) at 2 s."""
    out = {}
    for name, config in (
        ("default", PlannerConfig()),
        ("midpoints", PlannerConfig(refine_lams=None)),
    ):
        board = InProcessBoard(make_emulator(EmulationSpec(seed=SEED, variation="typical")))
        twin = SteerTwin(edges=board.emulator.edges, trusted=True)
        try:
            res = steer_board(
                board,
                policy=PolicySpec(name="predictive", planner=config),
                config=SteerConfig(tolerance_rel=REL, max_time_s=2.0),
                twin=twin,
                seed=SEED,
            )
        finally:
            board.close()
        out[name] = res.summary
    assert out["default"]["reached"], out["default"]["reason"]
    assert out["default"]["replans"] == 0
    assert out["default"]["board_time_s"] < 0.5
    assert not out["midpoints"]["reached"]
    assert out["midpoints"]["plans_lowest"] >= 1
