"""Where no schedule is predicted to reach: the candidates predicted lowest tried in turn
(``PlannerConfig.lowest_tries``, :mod:`twin.steer.tries`), the plan's start gates written back to
the board before each next try."""

from __future__ import annotations

import numpy as np
import pytest

from twin.learning.rules import LambdaControl
from twin.steer import PlannerConfig, PolicySpec, SteerConfig, SteerTwin, steer_board
from twin.steer.errors import SteerConfigError
from twin.steer.planner import Phase, Plan, Prediction
from twin.steer.policies import ControlPolicy, Observation, PredictivePolicy
from twin.steer.tries import TRY_MIN_S, ranked_lowest, try_time_s

from .conftest import emulated
from .test_no_plan import TOL, _NoReachPlanner, _stall

START = np.array([0.1, 0.2, 0.3])


def obs(t_s: float, error: float, gates: np.ndarray | None = None) -> Observation:
    g = np.full(3, 0.5) if gates is None else gates
    return Observation(t_s=t_s, error=error, gate_v=g, lam=0.0)


def _policy(tries: int) -> tuple[PredictivePolicy, list[int]]:
    """The planner of ``test_no_plan``: nothing reaches; lowest are lambda 0.17 at eta 0.88
    (2e-4 at 1 s), 0.03 at eta 1 (5e-4), 0 at 0.22 (3e-3). Counts the holds asked for."""
    planner = _NoReachPlanner(PlannerConfig(lowest_tries=tries))
    fallback = ControlPolicy(LambdaControl(tol=TOL, lam0=0.02))
    pol = PredictivePolicy(planner, TOL, fallback)  # type: ignore[arg-type]
    holds: list[int] = []
    pol.before_planning = lambda: holds.append(1)
    return pol, holds


def test_the_lowest_candidates_are_ranked_one_per_first_lambda() -> None:
    branched = Prediction(
        schedule=(Phase(lam=0.17, until_error=1e-3), Phase(lam=0.0, until_error=TOL)),
        t_s=np.array([0.0, 1.0]),
        error=np.array([1e-2, 1.5e-4]),  # lower than 0.17 held: it stands for lambda 0.17
        energy_j=np.array([0.0, 1.0]),
        reached_s=None,
        energy_to_tol_j=None,
        eta=0.88,
    )
    cands = (
        _stall(0.0, 3e-3, 0.22),
        _stall(0.17, 2e-4, 0.88),
        branched,
        _stall(0.17, 1.8e-4, 1.0),  # the same lambda at another eta: one try
        _stall(0.03, 5e-4, 1.0),
    )
    plan = Plan(best=None, candidates=cands, eta=0.22)
    ranked = ranked_lowest(plan, 3)
    assert [(p.schedule[0].lam, p.eta) for p in ranked] == [(0.17, 0.88), (0.03, 1.0), (0.0, 0.22)]
    assert ranked[0] is branched
    assert ranked_lowest(plan, 1) == (branched,)
    assert ranked_lowest(Plan(best=None, candidates=(), eta=0.22), 3) == ()


def test_a_try_lasts_the_factor_times_its_time_to_its_lowest_at_least_the_minimum() -> None:
    pred = _stall(0.17, 2e-4, 0.88)  # lowest at 1 s
    assert try_time_s(pred, 2.0) == pytest.approx(2.0)
    assert try_time_s(pred, 1.0) == pytest.approx(1.0)
    early = Prediction(
        schedule=pred.schedule,
        t_s=np.array([0.0, 0.01, 0.02]),
        error=np.array([1.0, 0.5, 0.6]),
        energy_j=np.zeros(3),
        reached_s=None,
        energy_to_tol_j=None,
    )
    assert try_time_s(early, 2.0) == TRY_MIN_S


def test_the_options_default_to_the_lowest_alone_and_are_checked() -> None:
    assert PlannerConfig().lowest_tries == 1
    for bad in (0, 11, 2.0, True):
        with pytest.raises(SteerConfigError, match="lowest_tries"):
            PlannerConfig(lowest_tries=bad)  # type: ignore[arg-type]
    for bad_f in (0.5, float("nan"), float("inf")):
        with pytest.raises(SteerConfigError, match="lowest_try_factor"):
            PlannerConfig(lowest_try_factor=bad_f)


def test_the_next_lowest_is_tried_from_the_start_gates_when_a_try_has_had_its_time() -> None:
    pol, holds = _policy(3)
    assert pol.start(obs(0.0, 1e-2, START)) == pytest.approx(0.17)
    assert len(holds) == 1  # held while the twin planned
    pol.decide(obs(0.5, 1e-2))  # training went on with the plan
    assert pol.start_gates_v is None
    assert pol.decide(obs(2.0, 2.2e-4)) == pytest.approx(0.17)  # 2 x 1 s: not yet over
    assert pol.decide(obs(2.05, 2.2e-4)) == pytest.approx(0.03)  # over, not there: next
    assert pol.eta == pytest.approx(1.0)
    assert len(holds) == 2  # the board held ...
    np.testing.assert_array_equal(pol.start_gates_v, START)  # ... and put back where it began
    assert pol.lowest_switches == 1
    assert pol.replans == 0
    assert len(pol.plans) == 2
    # the try's clock starts at the switch: its predicted error is its own from the start
    assert pol.predicted_error(obs(2.05, 0.0)) == pytest.approx(1e-2)
    assert pol.decide(obs(4.1, 5.5e-4)) == pytest.approx(0.0)  # the third, at the board's eta
    assert pol.eta is None
    np.testing.assert_array_equal(pol.start_gates_v, START)
    # the last try is held on, as the lowest alone is
    for t_s in (7.0, 10.0, 20.0):
        assert pol.decide(obs(t_s, 3.1e-3)) == pytest.approx(0.0)
    assert pol.lowest_switches == 2
    assert len(holds) == 3


def test_with_one_try_the_lowest_is_held_on_as_before() -> None:
    pol, holds = _policy(1)
    assert pol.start(obs(0.0, 1e-2, START)) == pytest.approx(0.17)
    for t_s in (0.5, 2.05, 5.0, 9.0):
        assert pol.decide(obs(t_s, 2.2e-4)) == pytest.approx(0.17)
    assert pol.lowest_switches == 0
    assert len(holds) == 1  # the plan's only
    assert len(pol.plans) == 1


def test_a_board_at_the_tolerance_is_not_switched_and_a_replan_starts_the_tries_anew() -> None:
    pol, _ = _policy(3)
    pol.start(obs(0.0, 1e-2, START))
    assert pol.decide(obs(2.5, 0.9 * TOL)) == pytest.approx(0.17)  # there: verified, not moved
    assert pol.lowest_switches == 0
    pol._replan(obs(3.0, 1e-2, START + 1))  # a re-plan (on divergence) from the board's gates
    assert pol.decide(obs(5.1, 2.2e-4)) == pytest.approx(0.03)
    np.testing.assert_array_equal(pol.start_gates_v, START + 1)  # the re-plan's start


def _steer(tries: int, rel: float = 1e-6) -> dict:
    """A board the twin knows (no hidden variation), its own circuit as the twin, lambda 0.2 or
    0.3 only (and their midpoint, ``refine_lams=None``), to 1e-6 of its initial error: no
    schedule is predicted to reach within 0.5 s."""
    board = emulated(seed=3)
    twin = SteerTwin(edges=board.emulator.edges, trusted=True)
    planner = PlannerConfig(
        lams=(0.2, 0.3),
        switch_factors=(1.01,),
        eta_factors=(),
        horizon_s=0.5,
        lowest_tries=tries,
        refine_lams=None,
    )
    try:
        res = steer_board(
            board,
            policy=PolicySpec(name="predictive", planner=planner, max_replans=3),
            config=SteerConfig(tolerance_rel=rel, max_time_s=2.0),
            twin=twin,
            seed=3,
        )
    finally:
        board.close()
    return res.summary


def test_on_the_board_each_next_try_writes_the_start_gates_back_and_books_their_energy() -> None:
    one, two = _steer(1), _steer(2)
    assert not one["reached"]
    assert not two["reached"]
    assert one["lowest_switches"] == 0
    assert one["gate_restores"] == 0
    assert two["lowest_switches"] == 1
    assert two["gate_restores"] == 1
    assert two["gate_restore_energy_j"] > 0
