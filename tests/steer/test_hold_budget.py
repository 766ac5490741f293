"""A board that runs in real time is held, idle, at most the plan's hold budget of its own time
while the twin plans (its clock, its gates' leak and the run's time limit run on meanwhile);
then steering goes on with the best schedule simulated by then."""

from __future__ import annotations

import time

import attrs
import pytest

from tests.boards import DelegatingBoard
from twin.board.contract import Snapshot, Update
from twin.board.inprocess import InProcessBoard
from twin.simulation.edge import board_edge_params
from twin.steer import PlannerConfig, PolicySpec, SteerConfig, SteerTwin, steer_board, steerer
from twin.steer.actions import SAFE_MODE
from twin.steer.errors import SteerConfigError
from twin.steer.steerer import WHILE_PLANNING

from .conftest import emulated

#: Board seconds per wall second of the board's clock while held.
SPEED = 50.0
#: Wall time between the steerer's looks at the board's clock in these tests, s.
LOOK_S = 0.01


class ClockRunsWhileHeld(DelegatingBoard):
    """An in-process board (it makes its frames when polled) whose clock, as its snapshots
    report it, runs on at ``SPEED`` board seconds per wall second since its last poll: a board
    that runs in real time, seen by a steerer that reads no frames while the twin plans."""

    def __init__(self, inner: InProcessBoard) -> None:
        super().__init__(inner)
        self._polled = time.monotonic()

    def poll(self, timeout_s: float) -> list[Update]:
        out = self.inner.poll(timeout_s)
        self._polled = time.monotonic()
        return out

    def snapshot(self, timeout_s: float = 5.0) -> Snapshot:
        snap = self.inner.snapshot(timeout_s)
        ahead_s = SPEED * (time.monotonic() - self._polled)
        return attrs.evolve(snap, state=attrs.evolve(snap.state, t_s=snap.state.t_s + ahead_s))


def _running_board() -> ClockRunsWhileHeld:
    return ClockRunsWhileHeld(emulated())


@pytest.mark.slow  # ~1 s
def test_a_real_time_board_is_held_at_most_the_hold_budget_per_plan(monkeypatch) -> None:
    """A plan far costlier than the run's time limit (fine steps, no twin-time budget; ~2 s of
    wall time, 100 s of the board's): on the old steerer the board sat held until the time
    limit passed during the first plan."""
    monkeypatch.setattr(steerer, "TIME_CHECK_S", LOOK_S)
    budget = 2.0
    planner = PlannerConfig(dt_s=0.001, budget_sim_s=None, budget_hold_s=budget)
    board = _running_board()
    res = steer_board(
        board,
        policy=PolicySpec(name="predictive", planner=planner),
        config=SteerConfig(tolerance_rel=1e-3, max_time_s=8.0),
        twin=SteerTwin(edges=board_edge_params("transistor"), trusted=True),
    )
    board.close()
    s = res.summary
    assert "the twin was planning" not in s["reason"], s["reason"]
    assert s["plans_truncated"] >= 1
    holds = s["plan_holds_s"]
    assert holds
    # a look at the board's clock every LOOK_S of wall time (one late look at each end) and
    # STOP_CHECK_STEPS twin steps between looks (well under 10 ms)
    assert max(holds) <= budget + 2 * LOOK_S * SPEED + 0.01 * SPEED, holds
    assert s["safe_mode"] == SAFE_MODE
    assert s["while_planning"] == WHILE_PLANNING


def test_a_board_whose_clock_stops_while_held_is_never_cut_by_the_hold_budget() -> None:
    planner = PlannerConfig(lams=(0.0, 0.1), switch_factors=(10.0,), budget_hold_s=1e-3)
    board = emulated()
    res = steer_board(
        board,
        policy=PolicySpec(name="predictive", planner=planner),
        config=SteerConfig(tolerance_rel=1e-2, max_time_s=3.0),
        twin=SteerTwin(edges=board_edge_params("transistor"), trusted=True),
    )
    board.close()
    s = res.summary
    assert s["plans_truncated"] == 0
    assert s["plan_holds_s"] == [0.0] * len(s["plan_holds_s"])
    assert s["reached"], s


def test_a_bad_hold_budget_is_refused() -> None:
    with pytest.raises(SteerConfigError, match="budget_hold_s"):
        PlannerConfig(budget_hold_s=-1.0)
