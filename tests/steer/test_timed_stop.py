"""The timed stop (``PlannerConfig.stop_at_plan``, :mod:`twin.steer.timed_stop`): the board is
given a training duration that ends where the followed plan gets there, and is verified there by
inference whatever its lagging error window reads; off by default (the old behaviour)."""

from __future__ import annotations

import numpy as np
import pytest

from twin.learning.rules import LambdaControl
from twin.steer.planner import Phase, Plan, PlannerConfig, Prediction
from twin.steer.policies import ControlPolicy, Observation, PredictivePolicy
from twin.steer.timed_stop import plan_there_s, stop_in_s

TOL = 1e-4


def obs(t_s: float, error: float) -> Observation:
    return Observation(t_s=t_s, error=error, gate_v=np.zeros(3), lam=0.3)


def _valley() -> Prediction:
    """lambda 0.3 held: the error falls by decades and crosses half the tolerance at 0.09 s
    (the bottom of a steep valley), then climbs back."""
    t = np.round(np.arange(0.0, 0.2001, 0.01), 6)
    err = np.where(t <= 0.09, 1e-2 * 10 ** (-t / 0.09 * 2.4), 4e-5 * np.exp((t - 0.09) / 0.02))
    return Prediction(
        schedule=(Phase(lam=0.3, until_error=0.5 * TOL),),
        t_s=t,
        error=err,
        energy_j=t * 1e-3,
        reached_s=0.09,
        energy_to_tol_j=0.09e-3,
        eta=1.0,
    )


def _stall() -> Prediction:
    """A schedule predicted not to reach: lowest (2x the tolerance) at 0.5 s."""
    return Prediction(
        schedule=(Phase(lam=0.17, until_error=TOL),),
        t_s=np.array([0.0, 0.25, 0.5, 0.75, 1.0]),
        error=np.array([1e-2, 1e-3, 2e-4, 3e-4, 4e-4]),
        energy_j=np.array([0.0, 1.0, 2.0, 3.0, 4.0]),
        reached_s=None,
        energy_to_tol_j=None,
        eta=1.0,
    )


class _Planner:
    eta = 0.22

    def __init__(self, config: PlannerConfig, best: Prediction) -> None:
        self.config = config
        self.best = best

    def plan_eta(self, gates_v, tol, *, first=None, at_least=None):
        reaches = self.best.reached_s is not None
        return Plan(best=self.best if reaches else None, candidates=(self.best,), eta=1.0)


def _policy(stop_at_plan: bool, best: Prediction) -> PredictivePolicy:
    planner = _Planner(PlannerConfig(stop_at_plan=stop_at_plan), best)
    fallback = ControlPolicy(LambdaControl(tol=TOL, lam0=0.01))
    return PredictivePolicy(planner, TOL, fallback)  # type: ignore[arg-type]


def test_off_by_default() -> None:
    assert PlannerConfig().stop_at_plan is False


def test_the_moment_is_the_reach_else_the_lowest() -> None:
    assert plan_there_s(_valley()) == pytest.approx(0.09)
    assert plan_there_s(_stall()) == pytest.approx(0.5)
    assert stop_in_s(_valley(), 0.05) == pytest.approx(0.04)
    assert stop_in_s(_valley(), 0.0895) is None  # within a frame of it: there


def test_without_it_the_board_trains_past_the_valley_and_a_lagging_reading_waits() -> None:
    """The old behaviour: at 1.25x the plan's time plus 30 ms the board stops itself (0.1425 s,
    past a valley at 0.09 s), and a board reading 20x the tolerance there is not verified."""
    pol = _policy(False, _valley())
    pol.start(obs(0.0, 1e-2))
    assert pol.train_for_s(obs(0.0, 1e-2)) == pytest.approx(1.25 * 0.09 + 0.03)
    assert not pol.verify_due(obs(0.09, 20 * TOL))


def test_with_it_the_board_stops_at_the_valley_and_is_verified_there_once() -> None:
    pol = _policy(True, _valley())
    pol.start(obs(0.0, 1e-2))
    assert pol.train_for_s(obs(0.0, 1e-2)) == pytest.approx(0.09)
    assert pol.train_for_s(obs(0.05, 1e-3)) == pytest.approx(0.04)
    assert not pol.verify_due(obs(0.05, 20 * TOL))  # not there yet
    assert pol.verify_due(obs(0.09, 20 * TOL))  # there: the window lags, the inference decides
    assert not pol.verify_due(obs(0.1, 20 * TOL))  # once per plan
    # past the moment: the old duration (the plan's time left, with its margin)
    assert pol.train_for_s(obs(0.1, 1e-3)) == pytest.approx(0.03)


def test_a_lowest_schedule_is_stopped_at_its_lowest() -> None:
    pol = _policy(True, _stall())
    assert pol.start(obs(0.0, 1e-2)) == pytest.approx(0.17)  # none reaches: the lowest
    assert pol.train_for_s(obs(0.0, 1e-2)) == pytest.approx(0.5)
    assert pol.verify_due(obs(0.5, 5 * TOL))
    old = _policy(False, _stall())
    old.start(obs(0.0, 1e-2))
    assert old.train_for_s(obs(0.0, 1e-2)) == pytest.approx(1.25 * 1.0 + 0.03)
    assert not old.verify_due(obs(0.5, 5 * TOL))
