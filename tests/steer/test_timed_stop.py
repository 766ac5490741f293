"""The timed stop (``PlannerConfig.stop_at_plan``, :mod:`twin.steer.timed_stop`): the board is
given a training duration that ends where the followed plan gets there, and is verified there by
inference whatever its lagging error window reads; and seeking (``seek_bursts``,
:mod:`twin.steer.seek`): stopped short of it, bursts each verified. Both on by default;
``stop_at_plan=False`` is the old behaviour."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from twin.learning.rules import LambdaControl
from twin.steer.config import SteerConfig
from twin.steer.errors import SteerConfigError
from twin.steer.planner import Phase, Plan, PlannerConfig, Prediction
from twin.steer.policies import ControlPolicy, Observation, PredictivePolicy
from twin.steer.seek import SEEK_BURST_S, SEEK_LEAD_S, seek_valley
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
    planner = _Planner(PlannerConfig(stop_at_plan=stop_at_plan, seek_bursts=0), best)
    fallback = ControlPolicy(LambdaControl(tol=TOL, lam0=0.01))
    return PredictivePolicy(planner, TOL, fallback)  # type: ignore[arg-type]


def test_on_by_default_with_seeking() -> None:
    assert PlannerConfig().stop_at_plan is True
    assert PlannerConfig().seeks()


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


class _Actions:
    """A board stopped short of a valley: each burst it trains ``burst_s`` and stops itself;
    each inference reads the next error of ``errors`` (V^2)."""

    def __init__(self, errors: list[float]) -> None:
        self.errors = list(errors)
        self.config = SteerConfig(tolerance_rel=1e-4)
        self.training = False
        self._reboot_pending = False
        self.counts: dict[str, int] = {}
        self.trained_s = 0.0
        self.t_s = 0.0
        self.board = self
        self.client = self
        self.sent: list[str] = []

    def send(self, name: str, args: object = None, **kw: object) -> object:
        self.sent.append(name)
        return SimpleNamespace(ok=True)

    def poll(self, timeout_s: float) -> list:
        self.training = False  # the burst is over: an idle frame
        return []

    def _start_training(self, duration_s: float | None = None) -> None:
        assert duration_s is not None
        self.trained_s += duration_s
        self.training = True

    def _note_self_stop(self, updates: list) -> None:
        pass

    def _await_idle(self) -> bool:
        return True

    def _hold(self, meter: object) -> bool:  # as BoardActions._hold: stop, then await idle
        self.send("stop_training")
        self.training = False
        return self._await_idle()

    def _ingest(self, meter: object, updates: list) -> bool:
        return False

    def _verify(self, meter: object, tol: float) -> tuple[bool, float, float]:
        measured = self.errors.pop(0)
        return measured <= tol, measured, 0.0


def test_seeking_creeps_on_in_bursts_until_an_inference_shows_the_tolerance() -> None:
    acts = _Actions([5 * TOL, 2 * TOL, 0.4 * TOL, 3 * TOL])
    ok, measured, _ = seek_valley(acts, None, TOL, 8 * TOL, bursts=15)  # type: ignore[arg-type]
    assert ok
    assert measured == pytest.approx(0.4 * TOL)
    assert acts.counts["seek_bursts"] == 3
    assert acts.trained_s == pytest.approx(3 * SEEK_BURST_S)
    assert acts.sent == ["stop_training"] * 3  # each burst from a board held idle


def test_seeking_ends_past_the_valley_or_after_its_bursts() -> None:
    passed = _Actions([5 * TOL, 2 * TOL, 1.5 * TOL, 7 * TOL, 1e3 * TOL])
    ok, measured, _ = seek_valley(passed, None, TOL, 8 * TOL, bursts=15)  # type: ignore[arg-type]
    assert not ok
    assert measured == pytest.approx(7 * TOL)  # 7x > 4x the lowest (1.5x), and rising: past
    assert passed.counts["seek_bursts"] == 4
    spent = _Actions([8 * TOL] * 20)
    ok, _, _ = seek_valley(spent, None, TOL, 8 * TOL, bursts=5)  # type: ignore[arg-type]
    assert not ok
    assert spent.counts["seek_bursts"] == 5
    assert spent.trained_s == pytest.approx(5 * SEEK_BURST_S)
    late = _Actions([8 * TOL] * 20)
    late.t_s = late.config.max_time_s - 0.001  # no burst past the time limit
    assert not seek_valley(late, None, TOL, 8 * TOL, bursts=5)[0]  # type: ignore[arg-type]
    assert late.trained_s == 0.0


def test_seeking_stops_the_board_short_of_the_moment_and_needs_the_timed_stop() -> None:
    with pytest.raises(SteerConfigError, match="seek_bursts"):
        PlannerConfig(seek_bursts=-1)
    assert not PlannerConfig(stop_at_plan=False, seek_bursts=5).seeks()
    assert PlannerConfig(stop_at_plan=True, seek_bursts=5).seeks()
    no_seek = _Planner(PlannerConfig(stop_at_plan=True, seek_bursts=0), _valley())
    at_it = PredictivePolicy(no_seek, TOL, ControlPolicy(LambdaControl(tol=TOL)))  # type: ignore[arg-type]
    at_it.start(obs(0.0, 1e-2))
    assert at_it.train_for_s(obs(0.0, 1e-2)) == pytest.approx(0.09)  # no lead without seeking
    planner = _Planner(PlannerConfig(stop_at_plan=True, seek_bursts=15), _valley())
    pol = PredictivePolicy(planner, TOL, ControlPolicy(LambdaControl(tol=TOL)))  # type: ignore[arg-type]
    pol.start(obs(0.0, 1e-2))
    assert pol.train_for_s(obs(0.0, 1e-2)) == pytest.approx(0.09 - SEEK_LEAD_S)
    assert not pol.verify_due(obs(0.07, 20 * TOL))
    assert pol.verify_due(obs(0.08, 20 * TOL))
