"""Plans with a margin below the tolerance: a schedule that only touches it is a coin toss.

Near a board's floor the schedules that reach a tolerance often do so at the bottom of a valley
(a lambda > 0 held: the error falls, dips, and climbs back), and the calibrated twin predicts
the depth of such a valley to some tens of percent. A plan predicted to dip to 0.85x the
tolerance is followed by a board that dips to 1.0x and misses (typical boards in process at
1e-4 of the initial error, seed 7: lambda 0.1 at eta 0.88, the twin's valley 0.85x, the
board's reading 1.02x at its lowest). :func:`plan_with_margin` plans to
``reach_margin x tolerance`` (:attr:`PlannerConfig.reach_margin`) first, so the schedule chosen
gets well below the tolerance where any does; where none does, the candidates of that search
that cross the tolerance itself (each was simulated on past it: nothing is simulated again)
make the plan, the cheapest to the tolerance, as the planner without the margin would choose
among them; where none crosses it, the plan has no best, as before (the lowest is followed, or
Eq. 18). The board is still stopped when it reads the tolerance (verified by inference), so a
plan with the margin costs the energy to the tolerance, not to the margin, on the board.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs
import numpy as np

from .plans import Phase, Plan, Prediction

if TYPE_CHECKING:
    from .planner import Planner

__all__ = ["plan_with_margin", "to_tolerance"]


def to_tolerance(pred: Prediction, tol: float) -> Prediction | None:
    """``pred`` cut at its first sample at or below ``tol`` (V^2), reaching there, its last
    phase ending at ``tol``; ``None`` when it never gets there."""
    below = np.flatnonzero(pred.error <= tol)
    if below.size == 0:
        return None
    n = int(below[0]) + 1
    last = pred.schedule[-1]
    schedule = (*pred.schedule[:-1], Phase(lam=last.lam, until_error=tol))
    return Prediction(
        schedule=schedule,
        t_s=pred.t_s[:n],
        error=pred.error[:n],
        energy_j=pred.energy_j[:n],
        reached_s=float(pred.t_s[n - 1]),
        energy_to_tol_j=float(pred.energy_j[n - 1]),
        eta=pred.eta,
    )


def plan_with_margin(
    planner: Planner,
    gates_v: np.ndarray,
    tol: float,
    *,
    first: float | None = None,
    at_least: float | None = None,
) -> Plan:
    """:meth:`Planner.plan_eta` to ``reach_margin x tol``; where no schedule gets there, the
    cheapest of its candidates that cross ``tol`` (see the module docstring). With
    ``reach_margin`` 1: :meth:`Planner.plan_eta` to ``tol``."""
    margin = planner.config.reach_margin
    plan = planner.plan_eta(gates_v, margin * tol, first=first, at_least=at_least)
    if plan.best is not None or margin >= 1:
        return plan
    crossing = [c for c in (to_tolerance(p, tol) for p in plan.candidates) if c is not None]
    if not crossing:
        return plan  # nothing reaches even the tolerance: the lowest, or Eq. 18, as before
    best = min(crossing, key=lambda c: c.energy_to_tol_j or 0.0)
    return attrs.evolve(plan, best=best, eta=plan.eta if best.eta is None else best.eta)
