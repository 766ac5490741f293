"""Where no schedule is predicted to reach the tolerance (``PlannerConfig.no_plan``): follow the
one the twin predicts lowest, or fall back to Eq. 18 control; a distrusted twin, or a plan cut
by its budget, falls back to Eq. 18 either way."""

from __future__ import annotations

import attrs
import numpy as np
import pytest

from twin.learning.rules import LambdaControl
from twin.steer.errors import SteerConfigError
from twin.steer.lowest import lowest_plan, lowest_prediction
from twin.steer.planner import Phase, Plan, PlannerConfig, Prediction
from twin.steer.policies import ControlPolicy, MonitorDivergence, Observation, PredictivePolicy

from .test_planner_refine import CONFIG, _start

TOL = 1e-4
EQ18_LAM0 = 0.02


def obs(t_s: float, error: float) -> Observation:
    return Observation(t_s=t_s, error=error, gate_v=np.zeros(3), lam=0.0)


def _stall(lam: float, floor: float, eta: float) -> Prediction:
    """``lam`` held: the error falls from 1e-2 to ``floor`` (above the tolerance) and stays."""
    return Prediction(
        schedule=(Phase(lam=lam, until_error=TOL),),
        t_s=np.array([0.0, 0.5, 1.0, 1.5]),
        error=np.array([1e-2, 3 * floor, floor, 1.01 * floor]),
        energy_j=np.array([0.0, 1.0, 2.0, 3.0]),
        reached_s=None,
        energy_to_tol_j=None,
        eta=eta,
    )


class _NoReachPlanner:
    """Every plan: no schedule reaches 1e-4; lambda 0.17 at eta 0.88 gets lowest (2e-4 at 1 s),
    lambda 0 at the board's eta 0.22 to 3e-3, lambda 0.03 at eta 1 to 5e-4."""

    eta = 0.22

    def __init__(self, config: PlannerConfig, *, truncated: bool = False) -> None:
        self.config = config
        self.truncated = truncated
        self.calls = 0
        self.cut_by = "300 s of twin time"

    def plan_eta(self, gates_v, tol, *, first=None, at_least=None):
        self.calls += 1
        cands = (_stall(0.0, 3e-3, 0.22), _stall(0.17, 2e-4, 0.88), _stall(0.03, 5e-4, 1.0))
        return Plan(best=None, candidates=cands, eta=0.22, truncated=self.truncated)

    def simulate(self, gates_v, schedule, tol, *, eta=None):
        return _stall(schedule[0].lam, 2e-4, 0.88 if eta is None else eta)


def _policy(no_plan: str, **kw) -> tuple[PredictivePolicy, _NoReachPlanner]:
    planner = _NoReachPlanner(PlannerConfig(no_plan=no_plan), truncated=kw.pop("truncated", False))
    fallback = ControlPolicy(LambdaControl(tol=TOL, lam0=EQ18_LAM0))
    return PredictivePolicy(planner, TOL, fallback, **kw), planner  # type: ignore[arg-type]


def test_no_plan_is_lowest_by_default_and_checked() -> None:
    assert PlannerConfig().no_plan == "lowest"
    with pytest.raises(SteerConfigError, match="no_plan"):
        PlannerConfig(no_plan="hope")


def test_where_no_schedule_reaches_the_lowest_predicted_is_followed_at_its_eta() -> None:
    """The old policy fell back to Eq. 18 here (lambda 0.02, lowered as the error falls)."""
    pol, planner = _policy("lowest", divergence=MonitorDivergence(factor=2.0, hold_s=0.0))
    assert pol.start(obs(0.0, 1e-2)) == pytest.approx(0.17)
    assert pol.fell_back is None
    assert pol.eta == pytest.approx(0.88)
    assert pol.current is not None
    assert pol.current.schedule[0].lam == pytest.approx(0.17)
    # held on the board's error at the predicted floor, past the prediction's end: no re-plan
    # (a plan that does not reach is never overdue), lambda held, not lowered
    for t_s in (0.5, 1.0, 2.0, 5.0):
        assert pol.decide(obs(t_s, 1.1 * pol.predicted_error(obs(t_s, 0.0)))) == 0.17
    assert pol.replans == 0
    assert planner.calls == 1
    # the board may train for the prediction's length again each time it stops itself
    assert pol.train_for_s(obs(5.0, 2e-4)) == pytest.approx(1.25 * 1.5 + 0.03)


def test_with_control_the_same_plan_falls_back_to_eq18() -> None:
    pol, _ = _policy("control")
    assert pol.start(obs(0.0, 1e-2)) == pytest.approx(EQ18_LAM0)
    assert pol.fell_back is not None
    assert pol.fell_back.startswith("no schedule predicted to reach the tolerance")
    assert "0.0002 V^2 at eta 0.88" in pol.fell_back  # the lowest of every candidate, its eta


def test_a_twin_that_keeps_diverging_still_falls_back_to_eq18() -> None:
    pol, planner = _policy(
        "lowest", divergence=MonitorDivergence(factor=2.0, hold_s=0.0), max_replans=1
    )
    pol.start(obs(0.0, 1e-2))
    pol.decide(obs(0.5, 1.0))  # 100x above the prediction: re-plan (the lowest again)
    assert pol.replans == 1
    assert planner.calls == 2
    assert pol.fell_back is None
    lam = pol.decide(obs(1.0, 1.0))  # again: more than max_replans -> Eq. 18
    assert pol.fell_back == "diverged from the twin 2 times"
    assert lam == pytest.approx(EQ18_LAM0)


def test_an_untrusted_twin_or_a_plan_cut_by_its_budget_falls_back_to_eq18() -> None:
    pol, planner = _policy("lowest", trusted=False)
    assert pol.start(obs(0.0, 1e-2)) == pytest.approx(EQ18_LAM0)
    assert planner.calls == 0
    assert pol.fell_back == "twin not trusted"
    cut, _ = _policy("lowest", truncated=True)
    assert cut.start(obs(0.0, 1e-2)) == pytest.approx(EQ18_LAM0)
    assert cut.fell_back is not None
    assert "budget" in cut.fell_back


def test_a_lowest_plan_is_verified_once_the_prediction_is_at_its_lowest() -> None:
    """The board's window lags: at the time the followed schedule gets lowest (1 s here), a
    board reading within 2x of the tolerance is verified by inference (once per plan)."""
    pol, _ = _policy("lowest")
    pol.start(obs(0.0, 1e-2))
    assert not pol.verify_due(obs(0.9, 1.5e-4))  # not at its lowest yet
    assert pol.verify_due(obs(1.0, 1.5e-4))
    assert not pol.verify_due(obs(1.1, 1.5e-4))


def test_a_resynced_lowest_plan_is_followed_not_replanned() -> None:
    """A held board that drifted: the lowest schedule, simulated again from its gates, does not
    reach either (it never did): it is followed from there, with no re-plan."""
    pol, planner = _policy("lowest")
    pol.start(obs(0.0, 1e-2))
    moved = Observation(t_s=1.0, error=1e-2, gate_v=np.full(3, 0.1), lam=0.17)
    assert pol.resync(moved) == pytest.approx(0.17)
    assert pol.replans == 0
    assert planner.calls == 1
    assert pol.resyncs == [pytest.approx(0.1)]


def test_lowest_plan_without_candidates_is_the_plan() -> None:
    empty = Plan(best=None, candidates=(), eta=0.22)
    assert lowest_prediction(empty) is None
    assert lowest_plan(empty) is empty


def test_a_board_with_no_plan_keeps_every_candidate_of_every_eta() -> None:
    """Seed 10, its own circuit, lambdas 0, 0.03, 0.1 and no refinement: nothing reaches. The
    old planner kept only the lambda = 0 probes; now every simulated candidate, with its eta,
    and the lowest of them is one held with lambda > 0."""
    planner, gates, tol = _start(10, attrs.evolve(CONFIG, refine_lams=()))
    plan = planner.plan_eta(gates, tol)
    assert plan.best is None
    assert not plan.truncated
    etas = {c.eta for c in plan.candidates}
    assert etas == set(planner.etas())
    lams = {c.schedule[0].lam for c in plan.candidates}
    assert lams == {0.0, 0.03, 0.1}
    low = lowest_prediction(plan)
    assert low is not None
    assert low.schedule[0].lam > 0
    # the same run on the twin again: the prediction is the planner's, at its eta
    again = planner.simulate(gates, low.schedule, tol, eta=low.eta)
    assert float(np.min(again.error)) == pytest.approx(float(np.min(low.error)))
    assert float(np.min(low.error)) > tol


def test_the_refined_candidates_are_kept_too() -> None:
    """Seed 19 with the refinement (lambda 0.17 only touches the tolerance): no plan, and the
    refined candidates are among those kept; the one that touches is the lowest (the refinement
    the midpoints, ``refine_lams=None``)."""
    config = PlannerConfig(
        lams=(0.0, 0.1, 0.3), switch_factors=(10.0,), eta_factors=(4.0,), refine_lams=None
    )
    planner, gates, tol = _start(19, config)
    plan = planner.plan_eta(gates, tol)
    assert plan.best is None
    assert not plan.truncated
    refined = float(np.sqrt(0.1 * 0.3))
    assert any(c.schedule[0].lam == pytest.approx(refined) for c in plan.candidates)
    low = lowest_prediction(plan)
    assert low is not None
    assert low.schedule[0].lam == pytest.approx(refined)
