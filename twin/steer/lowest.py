"""Where no schedule is predicted to reach the tolerance: the one predicted to get lowest.

When the planner's search is complete and none of its schedules, at any eta, is predicted to
reach the tolerance (:meth:`~twin.steer.planner.Planner.plan_eta` then keeps every candidate it
simulated, each with its eta), :class:`~twin.steer.policies.PredictivePolicy` follows the
candidate whose predicted error gets lowest (:func:`lowest_plan`), at its eta
(``PlannerConfig.no_plan = "lowest"``, the default), or falls back to Eq. 18 control
(``"control"``): on boards at the edge of reach the lowest floors need a lambda of 0.15-0.3
*held*, which Eq. 18 lowers as the error falls (typical boards in process at 1e-4 of the initial
error, seeds 0-59: 36/60 reached following the lowest, 29/60 with Eq. 18). The board is still
stopped on the tolerance, verified by inference, under the same time and energy limits. Nothing
is simulated here: the planner's runs are reused.
"""

from __future__ import annotations

import attrs
import numpy as np

from .plans import Plan, Prediction

__all__ = [
    "describe_lowest",
    "lowest_at_s",
    "lowest_error",
    "lowest_eta",
    "lowest_plan",
    "lowest_prediction",
]


def lowest_error(plan: Plan) -> float:
    """The lowest error any of ``plan``'s candidates reaches, V^2 (inf without any)."""
    lows = [float(np.min(c.error)) for c in plan.candidates if c.error.size]
    return min(lows) if lows else float("inf")


def lowest_eta(etas: list[float], probes: list[Prediction], default: float) -> float:
    """The eta whose lambda = 0 probe got lowest (``probes`` are those of ``etas``, in order);
    ``default`` without probes."""
    lows = [float(np.min(p.error)) if p.error.size else np.inf for p in probes]
    return etas[int(np.argmin(lows))] if probes else default


def lowest_prediction(plan: Plan) -> Prediction | None:
    """The candidate of ``plan`` whose predicted error gets lowest (the first of equals;
    ``None`` without a candidate with samples)."""
    runs = [c for c in plan.candidates if c.error.size]
    if not runs:
        return None
    return runs[int(np.argmin([float(np.min(c.error)) for c in runs]))]


def lowest_plan(plan: Plan) -> Plan:
    """``plan`` (none of whose candidates reaches) with the lowest-predicted candidate as its
    ``best`` and that candidate's eta as its ``eta``; unchanged without candidates."""
    low = lowest_prediction(plan)
    if low is None:
        return plan
    return attrs.evolve(plan, best=low, eta=plan.eta if low.eta is None else low.eta)


def describe_lowest(plan: Plan, *, own_eta: float) -> str:
    """``"lowest predicted error E V^2"`` of ``plan``'s candidates, with ``" at eta X"`` where
    the candidate that gets there ran at an eta other than ``own_eta`` (the board's)."""
    low = lowest_prediction(plan)
    eta = plan.eta if low is None or low.eta is None else low.eta
    own = eta is None or abs(eta - own_eta) <= 1e-9 * own_eta
    at = "" if own else f" at eta {eta:.3g}"
    return f"lowest predicted error {lowest_error(plan):.3g} V^2{at}"


def lowest_at_s(pred: Prediction) -> float:
    """Plan time of ``pred``'s lowest predicted error, s."""
    return float(pred.t_s[int(np.argmin(pred.error))])
