"""What the planner deals in: phases, schedules, predictions and plans (data, no simulation).

A :class:`Schedule` is a sequence of :class:`Phase` objects; a :class:`Prediction` is one
schedule simulated on the twin; a :class:`Plan` the chosen prediction and every candidate.
:mod:`~twin.steer.planner` makes them.
"""

from __future__ import annotations

import attrs
import numpy as np

__all__ = [
    "Phase",
    "Plan",
    "Prediction",
    "Schedule",
    "capped",
    "join_predictions",
    "plan_energy_j",
]


@attrs.frozen(kw_only=True)
class Phase:
    """Hold ``lam`` until the error is at or below ``until_error`` (V^2)."""

    lam: float
    until_error: float


Schedule = tuple[Phase, ...]


@attrs.frozen(kw_only=True, eq=False)
class Prediction:
    """A simulated run of one schedule: trajectory and where it reaches the tolerance.

    ``t_s``, ``error``, ``energy_j`` are sampled every planner step from the start (board time
    since the plan, s; error V^2; cumulative free-network energy J). ``reached_s`` and
    ``energy_to_tol_j`` are ``None`` when the tolerance was not reached within the horizon.
    ``eta`` is the nudge it was simulated at (``None``: not said).
    """

    schedule: Schedule
    t_s: np.ndarray
    error: np.ndarray
    energy_j: np.ndarray
    reached_s: float | None
    energy_to_tol_j: float | None
    eta: float | None = None

    def error_at(self, t_s: float) -> float:
        """Predicted error at plan time ``t_s`` (held at the last value past the end)."""
        return float(np.interp(t_s, self.t_s, self.error))

    def as_dict(self) -> dict[str, object]:
        return {
            "schedule": [attrs.asdict(p) for p in self.schedule],
            "reached_s": self.reached_s,
            "energy_to_tol_j": self.energy_to_tol_j,
        }


@attrs.frozen(kw_only=True, eq=False)
class Plan:
    """The chosen prediction and every candidate considered, at the nudge ``eta``."""

    best: Prediction | None
    candidates: tuple[Prediction, ...]
    eta: float | None = None
    #: The plan's wall-time budget ran out: the best of the candidates simulated by then.
    truncated: bool = False


def plan_energy_j(plan: Plan) -> float:
    """The predicted energy to the tolerance of ``plan``'s best, J (inf without one)."""
    best = plan.best
    return np.inf if best is None or best.energy_to_tol_j is None else best.energy_to_tol_j


def join_predictions(
    schedule: Schedule, trunk: Prediction, n: int, t0: float, e0: float, tail: Prediction
) -> Prediction:
    """The trunk's first ``n`` samples then the tail shifted by ``(t0, e0)``."""
    return Prediction(
        schedule=schedule,
        t_s=np.concatenate([trunk.t_s[:n], t0 + tail.t_s[1:]]),
        error=np.concatenate([trunk.error[:n], tail.error[1:]]),
        energy_j=np.concatenate([trunk.energy_j[:n], e0 + tail.energy_j[1:]]),
        reached_s=None if tail.reached_s is None else t0 + tail.reached_s,
        energy_to_tol_j=None if tail.energy_to_tol_j is None else e0 + tail.energy_to_tol_j,
        eta=trunk.eta,
    )


def capped(pred: Prediction, cap_j: float) -> Prediction:
    """``pred`` as the planner's run of it would end with ``energy_cap_j=cap_j``: at the first
    sample that has spent more than ``cap_j`` (then not reached; the cap is checked before the
    tolerance), else unchanged."""
    over = np.flatnonzero(pred.energy_j[1:] > cap_j)  # the start is never checked
    if over.size == 0:
        return pred
    n = int(over[0]) + 2
    return Prediction(
        schedule=pred.schedule,
        t_s=pred.t_s[:n],
        error=pred.error[:n],
        energy_j=pred.energy_j[:n],
        reached_s=None,
        energy_to_tol_j=None,
        eta=pred.eta,
    )
