"""The budgets of one plan (:class:`PlanBudget`, a base of :class:`~twin.steer.planner.Planner`):
simulated twin time, the held board's time and wall time (:class:`PlannerConfig`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import attrs

from .planner_config import PlannerConfig

__all__ = ["STOP_CHECK_STEPS", "PlanBudget"]

#: Planner steps between two calls of :attr:`Planner.should_stop` (and of its budget clock).
STOP_CHECK_STEPS = 20


class _BudgetSpent(Exception):
    """A plan's budget ran out (internal: :meth:`Planner.plan` returns what it has)."""


@attrs.define
class Spent:
    """Whether a budget ran out within a :meth:`PlanBudget._budget` block."""

    truncated: bool = False


class PlanBudget:
    """A plan's budget clocks; the attributes are set by :class:`~twin.steer.planner.Planner`."""

    config: PlannerConfig
    clock: Callable[[], float] | None
    board_clock: Callable[[], float | None] | None
    holds_s: list[float]
    cut_by: str
    _deadline: float | None
    _hold_deadline: float | None
    _hold_start: float | None
    _work_s: float
    _work_deadline: float | None
    _budget_open: bool

    def _over_budget(self) -> bool:
        """Whether a budget ran out; which one is kept in :attr:`cut_by`."""
        cfg = self.config
        if self._work_deadline is not None and self._work_s > self._work_deadline:
            self.cut_by = f"{cfg.budget_sim_s:g} s of twin time"
            return True
        if self._hold_deadline is not None and self.board_clock is not None:
            now = self.board_clock()
            if now is not None and now > self._hold_deadline:
                self.cut_by = f"{cfg.budget_hold_s:g} s of the held board's time"
                return True
        if self._deadline is not None and self.clock is not None and self.clock() > self._deadline:
            self.cut_by = f"{cfg.budget_s:g} s of wall time"
            return True
        return False

    def _open_budget(self) -> bool:
        """Start a plan's budgets (simulated work; wall time with a clock) unless they are
        running; whether this call opened them."""
        if self._budget_open:
            return False
        self._budget_open = True
        cfg = self.config
        if cfg.budget_sim_s is not None:
            self._work_deadline = self._work_s + cfg.budget_sim_s
        if self.clock is not None and cfg.budget_s is not None:
            self._deadline = self.clock() + cfg.budget_s
        if self.board_clock is not None:
            self._hold_start = self.board_clock()
            if self._hold_start is not None and cfg.budget_hold_s is not None:
                self._hold_deadline = self._hold_start + cfg.budget_hold_s
        return True

    @contextmanager
    def _budget(self) -> Iterator[Spent]:
        """The plan's budgets over the block: opened unless they are running (a plan within a
        plan shares its caller's) and closed by the block that opened them. A budget that runs
        out ends the block (:class:`_BudgetSpent`), and the yielded :class:`Spent` says so."""
        opened, spent = self._open_budget(), Spent()
        try:
            yield spent
        except _BudgetSpent:
            spent.truncated = True
        finally:
            if opened:
                self._close_budget()

    def _close_budget(self) -> None:
        self._budget_open = False
        self._deadline = self._work_deadline = self._hold_deadline = None
        if self.board_clock is not None and self._hold_start is not None:
            now = self.board_clock()
            if now is not None:
                self.holds_s.append(max(now - self._hold_start, 0.0))
        self._hold_start = None
