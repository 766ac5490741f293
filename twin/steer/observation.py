"""What a steering policy sees and answers: :class:`Observation` (the board at a decision point)
and the :class:`Policy` contract (:mod:`twin.steer.policies` holds the policies)."""

from __future__ import annotations

from typing import Protocol

import attrs
import numpy as np

__all__ = ["Observation", "Policy"]


@attrs.frozen(kw_only=True, eq=False)
class Observation:
    """What the steerer knows at a decision point.

    ``t_s`` board time since steering began (s, summed across reboots), ``error`` the board's
    measured error (V^2), ``gate_v`` its gates (V), ``lam`` the lambda in force, ``train_s``
    the board's time spent training (s; ``None``: unknown, ``t_s`` stands in). A plan is
    followed on ``train_s``: a board held while the twin plans keeps its clock running but does
    not learn, so its board time runs ahead of the plan's. ``floor_v2`` is the board's
    measurement floor (V^2): what its measured error reads on top of the true error (the
    readings' noise), which a noise-free twin's prediction does not contain.
    """

    t_s: float
    error: float
    gate_v: np.ndarray
    lam: float
    train_s: float | None = None
    floor_v2: float = 0.0

    @property
    def clock_s(self) -> float:
        """The clock plans are followed on: ``train_s``, else ``t_s``."""
        return self.t_s if self.train_s is None else self.train_s


class Policy(Protocol):
    """Chooses the lambda to hold; ``start`` once (and after a reboot), then ``decide``."""

    name: str
    replans: int

    def start(self, obs: Observation) -> float: ...

    def decide(self, obs: Observation) -> float: ...
