"""Where no schedule is predicted to reach: the twin's few lowest candidates, tried in turn.

Following only the schedule predicted lowest (:mod:`twin.steer.lowest`) until the time limit
misses boards where another schedule would have reached: the twin's ranking near the tolerance
is uncertain (typical boards in process at 1e-4 of the initial error: on every board missed
so, 2-3 of the board's own circuit's fastest constant schedules were enough,
``benchmarks/evidence/steer_margin/README.md``). With ``PlannerConfig.lowest_tries = k > 1``,
:class:`~twin.steer.policies.PredictivePolicy` follows the ``k`` candidates predicted lowest
(:func:`ranked_lowest`, one per first lambda) in turn, each but the last for
:func:`try_time_s` of training (``lowest_try_factor`` x its predicted time to its lowest, at
least ``TRY_MIN_S``), the plan's start gates written back to the board before each next try
(``reset_gates``, as after a hold: :func:`~twin.steer.hold.restore_gates`, its energy booked as
``gate_restore_energy_j``); the last is held on as the lowest is with ``k = 1``. The board is
still stopped when it reads the tolerance (verified by inference), under the same limits.
Off by default: measured no better (typical boards in process at 1e-4 of the initial error,
``lowest_tries=3``, 42 seeds: 2 gained, 4 lost; ``benchmarks/evidence/steer_tries/``).
"""

from __future__ import annotations

import numpy as np

from .lowest import lowest_at_s
from .plans import Plan, Prediction

__all__ = ["TRY_MIN_S", "ranked_lowest", "try_time_s"]

#: A try is given at least this much training, s (the board's error window lags a fast fall).
TRY_MIN_S = 0.2


def ranked_lowest(plan: Plan, k: int) -> tuple[Prediction, ...]:
    """Up to ``k`` of ``plan``'s candidates, lowest predicted error first (the first of
    equals), one per first lambda, at the eta where it is predicted lowest: a schedule branched
    to lambda = 0 ranks with the lambda it starts at, and one lambda at two etas is one try (the
    board is tried on distinct schedules, not on variants of one: typical boards in process at
    1e-4, seed 2: the twin ranked lambda 0.17 at eta 1 and at 0.88 first and second, 2.2x and
    3.1x the tolerance, and the board read 105x and 128x after each)."""
    runs = [c for c in plan.candidates if c.error.size]
    order = sorted(range(len(runs)), key=lambda i: (float(np.min(runs[i].error)), i))
    out: list[Prediction] = []
    seen: set[float] = set()
    for i in order:
        key = runs[i].schedule[0].lam
        if key in seen:
            continue
        seen.add(key)
        out.append(runs[i])
        if len(out) == k:
            break
    return tuple(out)


def try_time_s(pred: Prediction, factor: float) -> float:
    """Training one try of ``pred`` is given, s: ``factor`` x its predicted time to its lowest
    error, at least ``TRY_MIN_S``."""
    return max(factor * lowest_at_s(pred), TRY_MIN_S)
