"""The plan budget: a plan that would simulate more twin time (by default) or take longer than
its wall time (opt-in) is cut short, and the board follows the best schedule simulated by then
(the board is held while the twin plans)."""

from __future__ import annotations

import itertools

import attrs
import numpy as np
import pytest

from twin.physics.task import task_from_dict
from twin.simulation.edge import board_edge_params
from twin.steer.errors import SteerConfigError
from twin.steer.planner import STOP_CHECK_STEPS, Planner, PlannerConfig

from .conftest import emulated


def _planner(config: PlannerConfig) -> tuple[Planner, np.ndarray, float]:
    board = emulated()
    snap = board.snapshot(5.0)
    board.close()
    planner = Planner(
        task_from_dict(snap.config.task),
        board_edge_params("transistor"),
        eta=float(snap.config.params.get("eta", snap.state.eta)),
        step_s=float(snap.config.params.get("step_s", 1e-4)),
        config=config,
    )
    gates = np.asarray(snap.state.gate_v)
    e0 = float(planner._track(gates, 0.0, planner.eta).readings()["error"])
    return planner, gates, 1e-2 * e0


def _ticking(step_s: float):
    """A fake wall clock advancing ``step_s`` per reading."""
    counter = itertools.count()
    return lambda: next(counter) * step_s


def test_a_plan_over_budget_is_cut_short_with_the_best_simulated_by_then() -> None:
    cfg = PlannerConfig(lams=(0.0, 0.03, 0.1), switch_factors=(30.0, 10.0), budget_s=None)
    full_planner, gates, tol = _planner(cfg)
    full = full_planner.plan(gates, tol)
    assert not full.truncated
    budget = PlannerConfig(lams=cfg.lams, switch_factors=cfg.switch_factors, budget_s=5.0)
    cut_planner, _, _ = _planner(budget)
    cut_planner.clock = _ticking(1.0)  # one "second" per look: out after ~5 looks
    cut = cut_planner.plan(gates, tol)
    assert cut.truncated
    assert cut.best is not None  # lambda = 0 came first and reached
    assert len(cut.candidates) < len(full.candidates)
    assert cut_planner.simulated_s < full_planner.simulated_s
    assert cut.best.energy_to_tol_j >= full.best.energy_to_tol_j  # never better than the full
    # the budget resets per plan: a second plan gets its own
    cut_planner.clock = _ticking(0.0)
    again = cut_planner.plan(gates, tol)
    assert not again.truncated
    assert again.best.as_dict() == full.best.as_dict()


def test_without_a_clock_or_budget_plans_are_unbounded() -> None:
    planner, gates, tol = _planner(PlannerConfig(lams=(0.0, 0.1), switch_factors=(10.0,)))
    assert not planner.plan(gates, tol).truncated  # no clock given: nothing read


def test_a_bad_budget_is_refused() -> None:
    with pytest.raises(SteerConfigError, match="budget_s"):
        PlannerConfig(budget_s=0.0)


def test_a_budget_spent_before_any_schedule_reaches_falls_back_and_says_so() -> None:
    from twin.learning.rules import LambdaControl
    from twin.steer.policies import ControlPolicy, Observation, PredictivePolicy

    planner, gates, tol = _planner(PlannerConfig(lams=(0.0, 0.1), budget_s=1.0, budget_sim_s=None))
    planner.clock = _ticking(100.0)  # out at the first look
    control = ControlPolicy(LambdaControl(tol=tol, lam0=0.02))
    pol = PredictivePolicy(planner, tol, control)
    lam = pol.start(Observation(t_s=0.0, error=50 * tol, gate_v=gates, lam=0.0))
    assert lam == pytest.approx(0.02)  # Eq. 18 takes over
    assert pol.plans[-1][1].truncated
    assert pol.fell_back is not None
    assert "plan budget (1 s of wall time) ran out" in pol.fell_back


def test_a_budget_in_twin_time_cuts_the_plan_the_same_way_at_any_load() -> None:
    """The default budget counts simulated twin time, not wall time: where a plan is cut, and
    so what it chooses, is the same however slowly the machine runs (here: whatever the clock
    says, it is not read)."""
    cfg = PlannerConfig(lams=(0.0, 0.03, 0.1), switch_factors=(30.0, 10.0), budget_sim_s=None)
    full_planner, gates, tol = _planner(cfg)
    full = full_planner.plan(gates, tol)
    assert not full.truncated
    budget = 0.5 * full_planner.simulated_s
    plans = []
    for tick in (0.0, 1e3):  # an idle machine, and one where every look at the clock is late
        planner, _, _ = _planner(attrs.evolve(cfg, budget_sim_s=budget))
        planner.clock = _ticking(tick)
        plans.append((planner.plan(gates, tol), planner.simulated_s))
    (cut, sim), (cut_late, sim_late) = plans
    assert cut.truncated
    assert cut_late.truncated
    assert sim == sim_late
    # the budget is checked every STOP_CHECK_STEPS steps: at most that much past it
    assert budget < sim <= budget + STOP_CHECK_STEPS * cfg.dt_s + 1e-9
    assert [c.as_dict() for c in cut.candidates] == [c.as_dict() for c in cut_late.candidates]
    assert len(cut.candidates) < len(full.candidates)


def test_the_default_budget_is_in_twin_time_and_wall_time_is_opt_in() -> None:
    cfg = PlannerConfig()
    assert cfg.budget_sim_s is not None
    assert cfg.budget_s is None
    with pytest.raises(SteerConfigError, match="budget_sim_s"):
        PlannerConfig(budget_sim_s=-1.0)


def test_a_twin_time_budget_spent_before_any_schedule_reaches_says_so() -> None:
    from twin.learning.rules import LambdaControl
    from twin.steer.policies import ControlPolicy, Observation, PredictivePolicy

    planner, gates, tol = _planner(PlannerConfig(lams=(0.1,), budget_sim_s=0.05))
    control = ControlPolicy(LambdaControl(tol=tol, lam0=0.02))
    pol = PredictivePolicy(planner, tol, control)
    lam = pol.start(Observation(t_s=0.0, error=50 * tol, gate_v=gates, lam=0.0))
    assert lam == pytest.approx(0.02)
    assert pol.plans[-1][1].truncated
    assert pol.fell_back is not None
    assert "plan budget (0.05 s of twin time) ran out" in pol.fell_back


def test_the_hold_budget_counts_on_the_boards_clock_and_says_it_cut_the_plan() -> None:
    """``budget_hold_s`` reads the board's clock (here one board second per look, as a board
    running in real time would show while held): the plan is cut after ~5 looks and the
    planner names the budget that cut it; the holds are recorded per plan."""
    cfg = PlannerConfig(lams=(0.0, 0.03, 0.1), switch_factors=(30.0, 10.0), budget_hold_s=5.0)
    planner, gates, tol = _planner(cfg)
    planner.board_clock = _ticking(1.0)
    cut = planner.plan(gates, tol)
    assert cut.truncated
    assert planner.cut_by == "5 s of the held board's time"
    assert len(planner.holds_s) == 1
    assert 5.0 < planner.holds_s[0] <= 7.0  # a look past the deadline, and the closing look
    planner.board_clock = _ticking(0.0)  # a board whose clock stops while held
    assert not planner.plan(gates, tol).truncated
    assert planner.holds_s[-1] == 0.0
