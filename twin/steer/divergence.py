"""Board-versus-plan divergence for :class:`~twin.steer.policies.PredictivePolicy`: the
:class:`Divergence` seam and the shadow's alarm logic on the error ratio
(:class:`MonitorDivergence`; re-exported by :mod:`twin.steer.policies`)."""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np

from twin.shadow.alarms import DivergenceMonitor

from .errors import SteerConfigError

__all__ = ["Divergence", "MonitorDivergence"]


class Divergence(Protocol):
    """Board-versus-plan divergence: fed the error ratio, says when to re-plan.

    The seam for the shadow's detector: any object with this method will do.
    """

    def update(self, t_s: float, board_error: float, predicted_error: float) -> bool: ...


class MonitorDivergence:
    """The shadow's alarm logic on one score: ``|log(board/predicted)| / log(factor)``.

    An alarm (score above 1 for ``hold_s`` of board time) asks for a re-plan; the monitor is
    reset after each.
    """

    def __init__(self, *, factor: float = 2.0, hold_s: float = 0.03) -> None:
        if not factor > 1:
            raise SteerConfigError(f"divergence factor: expected > 1, got {factor!r}")
        self.factor = float(factor)
        self.hold_s = float(hold_s)
        self.monitor = self._new()

    def _new(self) -> DivergenceMonitor:
        return DivergenceMonitor(threshold=1.0, hold_s=self.hold_s, clear_s=self.hold_s)

    def update(self, t_s: float, board_error: float, predicted_error: float) -> bool:
        tiny = np.finfo(float).tiny
        score = abs(math.log(max(board_error, tiny) / max(predicted_error, tiny)))
        score /= math.log(self.factor)
        alarm = self.monitor.update(t_s, np.array([score]), np.array([]), board_id="", epoch=0)
        if alarm is not None and alarm.end_s is None:
            self.monitor = self._new()
            return True
        return False
