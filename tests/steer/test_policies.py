"""Policies: Eq. 18 through the trainer's LambdaControl, schedule following, divergence."""

from __future__ import annotations

import numpy as np
import pytest

from twin.learning.rules import LambdaControl
from twin.steer.errors import SteerConfigError
from twin.steer.planner import Phase, Plan, PlannerConfig, Prediction
from twin.steer.policies import ControlPolicy, MonitorDivergence, Observation, PredictivePolicy


def obs(t_s: float, error: float) -> Observation:
    return Observation(t_s=t_s, error=error, gate_v=np.zeros(3), lam=0.0)


def test_control_lowers_lambda_above_and_raises_it_below_the_tolerance() -> None:
    law = LambdaControl(tol=1e-4, rho=1.0, p=0.02, lam0=0.01)
    pol = ControlPolicy(law, time_unit_s=0.1)
    assert pol.start(obs(0.0, 1e-2)) == 0.01
    above = pol.decide(obs(0.1, 1e-2))  # one time unit at L = 100 tol
    # d lam/dt = rho lam ((tol/L)^p - 1) over one unit at tol/L = 1e-2, integrated exactly
    assert above == pytest.approx(0.01 * np.exp((1e-2) ** 0.02 - 1.0), rel=1e-12)
    assert above < 0.01
    below = pol.decide(obs(0.2, 1e-6))
    assert below > above
    # the same law as the trainer's own step (reused, not copied)
    expected = law.step(np.array([above]), np.array([1e-6]), 1.0)[0]
    assert below == pytest.approx(expected)


def test_control_time_unit_must_be_positive() -> None:
    with pytest.raises(SteerConfigError, match="time_unit_s"):
        ControlPolicy(LambdaControl(tol=1e-4), time_unit_s=0.0)


class _FixedPlanner:
    """A planner stub returning one prediction: error 1e-2 -> 1e-4 in 0.2 s, lam 0.1 then 0."""

    eta = 0.22

    def __init__(self) -> None:
        self.calls = 0
        self.config = PlannerConfig()

    def plan_eta(self, gates_v, tol, *, first=None, at_least=None):
        return self.plan(gates_v, tol, first=first)

    def plan(self, gates_v, tol, *, first=None):
        self.calls += 1
        pred = Prediction(
            schedule=(Phase(lam=0.1, until_error=1e-3), Phase(lam=0.0, until_error=tol)),
            t_s=np.array([0.0, 0.1, 0.2]),
            error=np.array([1e-2, 1e-3, 1e-4]),
            energy_j=np.array([0.0, 1.0, 2.0]),
            reached_s=0.2,
            energy_to_tol_j=2.0,
        )
        return Plan(best=pred, candidates=(pred,))


def _predictive(**kw) -> tuple[PredictivePolicy, _FixedPlanner]:
    planner = _FixedPlanner()
    fallback = ControlPolicy(LambdaControl(tol=1e-4, lam0=0.02))
    return PredictivePolicy(planner, 1e-4, fallback, **kw), planner  # type: ignore[arg-type]


def test_predictive_follows_the_schedule_by_error() -> None:
    pol, planner = _predictive()
    assert pol.start(obs(0.0, 1e-2)) == 0.1
    assert pol.decide(obs(0.05, 3e-3)) == 0.1
    assert pol.decide(obs(0.1, 1e-3)) == 0.0  # switched on the error
    assert pol.decide(obs(0.12, 9e-4)) == 0.0
    assert planner.calls == 1
    assert pol.replans == 0


def test_predictive_replans_on_divergence_then_falls_back() -> None:
    pol, planner = _predictive(divergence=MonitorDivergence(factor=2.0, hold_s=0.0), max_replans=1)
    pol.start(obs(0.0, 1e-2))
    pol.decide(obs(0.1, 1e-1))  # 100x above the plan: re-plan
    assert pol.replans == 1
    assert planner.calls == 2
    lam = pol.decide(obs(0.3, 1.0))  # again: more than max_replans -> Eq. 18 control
    assert pol.fell_back is not None
    assert lam == pytest.approx(0.02)


def test_untrusted_twin_is_never_followed() -> None:
    pol, planner = _predictive(trusted=False)
    assert pol.start(obs(0.0, 1e-2)) == pytest.approx(0.02)
    assert planner.calls == 0
    assert pol.fell_back == "twin not trusted"


def test_predictive_follows_the_plan_on_training_time_not_board_time() -> None:
    """A board held for 8 s while the twin planned has not learned meanwhile: on its training
    time it is on plan (no re-plan); on board time it would look 100x behind."""
    pol, planner = _predictive(divergence=MonitorDivergence(factor=2.0, hold_s=0.0))

    def at(t_s: float, train_s: float, error: float) -> Observation:
        return Observation(t_s=t_s, error=error, gate_v=np.zeros(3), lam=0.1, train_s=train_s)

    pol.start(at(0.0, 5.0, 1e-2))
    assert pol.predicted_error(at(8.1, 5.1, 1e-3)) == pytest.approx(1e-3)
    assert pol.decide(at(8.1, 5.1, 1e-3)) == 0.0  # on plan at 0.1 s of training
    assert pol.replans == 0
    assert planner.calls == 1
    # without the training clock the same board looks diverged from its plan and is re-planned
    late, planner = _predictive(divergence=MonitorDivergence(factor=2.0, hold_s=0.0))
    late.start(obs(0.0, 1e-2))
    late.decide(obs(8.1, 1e-2))
    assert late.replans == 1


def test_predictive_replans_a_plan_whose_time_is_up() -> None:
    """A board held near, not at, the tolerance (within the divergence factor of the plan's
    last error) is re-planned once 1.25 x the plan's time to the tolerance + 30 ms has passed."""
    pol, planner = _predictive(divergence=MonitorDivergence(factor=2.0, hold_s=0.0))
    pol.start(obs(0.0, 1e-2))
    assert pol.decide(obs(0.1, 1e-3)) == 0.0
    pol.decide(obs(0.2, 1.5e-4))  # 1.5x the plan, not yet overdue (0.28 s)
    assert pol.replans == 0
    pol.decide(obs(0.3, 1.5e-4))
    assert pol.replans == 1
    assert planner.calls == 2


def test_predictive_gives_the_board_the_plans_time_to_the_end_of_its_phase() -> None:
    pol, planner = _predictive()
    planner.config = PlannerConfig(stop_at_plan=False)  # the default stops at the plan's reach
    pol.start(obs(0.0, 1e-2))
    # phase 1 (lam 0.1) ends at error 1e-3, 0.1 s into the plan: 1.25 x 0.1 + 0.03
    assert pol.train_for_s(obs(0.0, 1e-2)) == pytest.approx(0.155)
    pol.decide(obs(0.1, 1e-3))  # switched: phase 2 ends at the tolerance, 0.2 s in
    assert pol.train_for_s(obs(0.1, 1e-3)) == pytest.approx(0.155)
    assert pol.train_for_s(obs(0.5, 2e-4)) == pytest.approx(0.03)  # behind the plan
    untrusted, _ = _predictive(trusted=False)
    untrusted.start(obs(0.0, 1e-2))
    assert untrusted.train_for_s(obs(0.0, 1e-2)) is None
    timed, _ = _predictive()  # the default: to 10 ms short of the reach at 0.2 s, then seek
    timed.start(obs(0.0, 1e-2))
    assert timed.train_for_s(obs(0.0, 1e-2)) == pytest.approx(0.155)
    timed.decide(obs(0.1, 1e-3))
    assert timed.train_for_s(obs(0.1, 1e-3)) == pytest.approx(0.2 - 0.1 - 0.01)


def test_a_board_at_its_measurement_floor_does_not_diverge_from_a_plan_below_it() -> None:
    """The twin models no reading noise: where the plan falls below the board's measurement
    floor the board reads the floor. With the floor in the observation it is on plan; without,
    the same readings look diverged (as a board at the ADC floor did across processes)."""

    def at(t_s: float, error: float, floor_v2: float) -> Observation:
        return Observation(t_s=t_s, error=error, gate_v=np.zeros(3), lam=0.0, floor_v2=floor_v2)

    floor = 5e-4  # the plan reaches 1e-4 at 0.2 s; the board cannot read below 5e-4
    pol, _ = _predictive(divergence=MonitorDivergence(factor=2.0, hold_s=0.0))
    pol.start(at(0.0, 1e-2 + floor, floor))
    for t_s in (0.15, 0.19):
        pol.decide(at(t_s, floor + 1e-4, floor))
    assert pol.replans == 0
    blind, _ = _predictive(divergence=MonitorDivergence(factor=2.0, hold_s=0.0))
    blind.start(at(0.0, 1e-2 + floor, 0.0))
    blind.decide(at(0.19, floor + 1e-4, 0.0))
    assert blind.replans == 1


class _FloorPlanner(_FixedPlanner):
    """Every candidate stalls at an error floor of 3e-3 V^2 (above the tolerance 1e-4)."""

    def plan(self, gates_v, tol, *, first=None):
        self.calls += 1
        stall = Prediction(
            schedule=(Phase(lam=0.0, until_error=tol),),
            t_s=np.array([0.0, 0.5, 1.0]),
            error=np.array([1e-2, 4e-3, 3e-3]),
            energy_j=np.array([0.0, 1.0, 2.0]),
            reached_s=None,
            energy_to_tol_j=None,
        )
        return Plan(best=None, candidates=(stall,))


def test_an_unreachable_tolerance_says_how_low_the_twin_gets() -> None:
    fallback = ControlPolicy(LambdaControl(tol=1e-4, lam0=0.02))
    planner = _FloorPlanner()
    planner.config = PlannerConfig(no_plan="control")  # (the default follows the lowest)
    pol = PredictivePolicy(planner, 1e-4, fallback)  # type: ignore[arg-type]
    assert pol.start(obs(0.0, 1e-2)) == pytest.approx(0.02)  # Eq. 18 takes over
    assert pol.fell_back == (
        "no schedule predicted to reach the tolerance within 5 s (lowest predicted error "
        "0.003 V^2 against 0.0001)"
    )


def test_a_board_near_the_tolerance_once_the_plan_is_there_is_verified_once_per_plan() -> None:
    """The board's error is a window mean that lags a fast fall: once the plan has reached the
    tolerance (0.2 s here, tol 1e-4), a board reading within 2x of it is verified by inference,
    once per plan; before the plan gets there, or further off, it is not (without the timed
    stop; with it, the default, at the plan's moment whatever the board reads:
    ``test_timed_stop.py``)."""
    pol, planner = _predictive(divergence=MonitorDivergence(factor=2.0, hold_s=0.0))
    planner.config = PlannerConfig(stop_at_plan=False)
    pol.start(obs(0.0, 1e-2))
    assert not pol.verify_due(obs(0.15, 1.5e-4))  # the plan is not there yet
    assert not pol.verify_due(obs(0.2, 3e-4))  # the plan is, the board reads 3x off
    assert pol.verify_due(obs(0.2, 1.5e-4))
    assert not pol.verify_due(obs(0.21, 1.2e-4))  # once per plan
    pol.decide(obs(0.3, 1.5e-4))  # overdue: re-planned, a new plan may be verified again
    assert planner.calls == 2
    assert pol.verify_due(obs(0.5, 1.5e-4))
    fallen, _ = _predictive(trusted=False)
    fallen.start(obs(0.0, 1e-2))
    assert not fallen.verify_due(obs(0.5, 1.5e-4))  # no plan followed: the window decides
