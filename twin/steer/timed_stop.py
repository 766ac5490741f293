"""Stop the board at the plan's moment, then look: a timed stop for valleys the readings lag.

Near a board's floor the schedule that gets below the tolerance often does so at the bottom of
a steep, short valley (a lambda > 0 held: the error falls by decades in a few tens of ms, dips
and climbs back). The board's error is the mean of a window of frames (10 at 1 kHz), which lags
such a fall: on a typical board in process at 1e-4 of the initial error (seed 34, its own hidden
circuit as the twin: the plan exact), lambda 0.3 at eta 1 is predicted to dip to 0.08x the
tolerance at 0.09 s; the board read 21x at 0.1 s, trained on past the valley (the board stops
itself only at 1.25x the plan's time), and missed. The twin predicts *when* a valley comes much
better than how deep it is (the calibrated twin's time of a schedule's lowest error is within a
planner step of the board's own circuit's on the boards looked at, its depth off by tens of
percent).

With ``PlannerConfig.stop_at_plan``, :class:`~twin.steer.policies.PredictivePolicy` gives the
board a training duration that ends where the followed plan gets there (:func:`plan_there_s`:
the plan's reach, or for a schedule predicted not to reach its lowest point), so the board
stops itself at the valley whatever its readings say, and verifies there by inference whatever
the lagging window reads (once per plan). A board that is not there trains on as before (the
plan's margin of time, divergence and re-plans unchanged).
"""

from __future__ import annotations

from .lowest import lowest_at_s
from .plans import Prediction

__all__ = ["THERE_EPS_S", "plan_there_s", "stop_in_s"]

#: Board time within which the board counts as at the plan's moment, s (one frame at 1 kHz).
THERE_EPS_S = 1e-3


def plan_there_s(best: Prediction) -> float:
    """Plan time at which ``best`` gets there, s: its reach (``reached_s``), else the time of
    its lowest predicted error."""
    return lowest_at_s(best) if best.reached_s is None else float(best.reached_s)


def stop_in_s(best: Prediction, elapsed_s: float, *, lead_s: float = 0.0) -> float | None:
    """Training time left until ``lead_s`` before ``best``'s moment (:func:`plan_there_s`) from
    ``elapsed_s`` of plan time, s; ``None`` once it has passed (within :data:`THERE_EPS_S`)."""
    left = plan_there_s(best) - lead_s - elapsed_s
    return left if left > THERE_EPS_S else None
