"""Lambdas between the planner's: a board's band of lambda that reaches the tolerance can lie
between two candidates (``PlannerConfig.refine_lams``).

A typical board (seed 10), its own circuit as the twin, from the gates it boots with, to 1e-3 of
the initial error: held from boot, lambda 0.05 and 0.07 reach at eta 0.44-1, lambda 0.03 and
0.1 do not, nor lambda = 0 at any eta (the gain mismatch floors it)."""

from __future__ import annotations

import attrs
import numpy as np
import pytest

from twin.board.inprocess import InProcessBoard
from twin.shadow.session import EmulationSpec, make_emulator
from twin.steer.errors import SteerConfigError
from twin.steer.planner import Planner, PlannerConfig
from twin.steer.planner_config import REFINE_LAMS

REL = 1e-3
#: Candidates either side of the band (their midpoint, 0.055, is in it, the refinement being
#: the midpoints: ``refine_lams=None``, the default before REFINE_LAMS); etas 0.22, 0.88, 1.
CONFIG = PlannerConfig(
    lams=(0.0, 0.03, 0.1), switch_factors=(10.0,), eta_factors=(4.0,), refine_lams=None
)


def _start(seed: int, config: PlannerConfig) -> tuple[Planner, np.ndarray, float]:
    board = InProcessBoard(make_emulator(EmulationSpec(seed=seed, variation="typical")))
    emu = board.emulator
    planner = Planner(emu.task, emu.edges, eta=emu.eta, step_s=emu.step_s, config=config)
    gates = np.asarray(emu.track.gates())
    board.close()
    e0 = float(planner._track(gates, 0.0, planner.eta).readings()["error"])
    return planner, gates, REL * e0


def test_the_refinement_is_the_midpoints_of_the_positive_lambdas() -> None:
    assert CONFIG.refinement() == pytest.approx((np.sqrt(0.03 * 0.1),))
    assert PlannerConfig().refinement() == REFINE_LAMS  # the default: none of them in lams
    cfg = PlannerConfig(refine_lams=None)
    assert cfg.refinement() == pytest.approx(
        tuple(np.sqrt(a * b) for a, b in [(0.003, 0.01), (0.01, 0.03), (0.03, 0.1), (0.1, 0.3)])
    )
    assert PlannerConfig(lams=(0.0, 0.1), refine_lams=(0.05, 0.1)).refinement() == (0.05,)
    assert PlannerConfig(refine_lams=()).refinement() == ()
    with pytest.raises(SteerConfigError, match="refine_lams"):
        PlannerConfig(refine_lams=(0.0,))
    with pytest.raises(SteerConfigError, match="refine_margin"):
        PlannerConfig(refine_margin=0.0)


def test_a_board_reached_only_between_two_lambdas_gets_a_plan() -> None:
    """The old planner tried only ``lams``: no plan (the steerer fell back to Eq. 18 control,
    which missed the tolerance in 10 s in process). Now the midpoint reaches at a raised eta,
    and the plan, executed on the twin, gets there."""
    planner, gates, tol = _start(10, CONFIG)
    plan = planner.plan_eta(gates, tol)
    assert plan.best is not None, "no plan"
    assert not plan.truncated
    assert plan.best.schedule[0].lam == pytest.approx(np.sqrt(0.03 * 0.1))
    assert plan.eta is not None
    assert plan.eta > planner.eta
    # planned with a margin: its schedule runs to half the tolerance, and the twin gets there
    low = CONFIG.refine_margin * tol
    assert plan.best.schedule[-1].until_error == pytest.approx(low)
    assert plan.best.error[-1] <= low
    again = planner.simulate(gates, plan.best.schedule, low, eta=plan.eta)
    assert again.reached_s == pytest.approx(plan.best.reached_s)


def test_a_refined_lambda_that_only_touches_the_tolerance_is_not_a_plan() -> None:
    """Seed 19, its own circuit from boot: lambda 0.17 (the midpoint of 0.1 and 0.3) at eta
    0.88 dips to 0.9x the tolerance for under 10 ms at the bottom of a valley and climbs back.
    Without a margin (``refine_margin=1``) it is the plan; a board passes through such a
    valley before it can be stopped there (in process, steering then diverged from it and fell
    back to Eq. 18, which missed the tolerance in 10 s). With the default margin: no plan."""
    config = PlannerConfig(
        lams=(0.0, 0.1, 0.3), switch_factors=(10.0,), eta_factors=(4.0,), refine_lams=None
    )
    planner, gates, tol = _start(19, attrs.evolve(config, refine_margin=1.0))
    touching = planner.plan_eta(gates, tol)
    assert touching.best is not None
    assert touching.best.schedule[0].lam == pytest.approx(np.sqrt(0.1 * 0.3))
    on = planner.simulate(
        gates, touching.best.schedule, 1e-3 * tol, eta=touching.eta, horizon_s=1.0
    )
    assert np.min(on.error) > 0.5 * tol  # the valley's bottom
    assert on.error[-1] > tol  # and back above it
    planner, gates, tol = _start(19, config)
    assert planner.plan_eta(gates, tol).best is None


def test_without_the_refinement_the_board_has_no_plan() -> None:
    """The same board and candidates with ``refine_lams=()``: nothing reaches (what the old
    planner said)."""
    planner, gates, tol = _start(10, attrs.evolve(CONFIG, refine_lams=()))
    plan = planner.plan_eta(gates, tol)
    assert plan.best is None
    assert not plan.truncated
