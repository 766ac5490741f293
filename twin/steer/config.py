"""Settings of a steering run (frozen, keyword-only, checked at construction)."""

from __future__ import annotations

import math

import attrs

from .errors import SteerConfigError
from .limits import CommandLimits

__all__ = ["SteerConfig"]


def _positive_or_none(name: str, value: float | None) -> None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise SteerConfigError(f"{name}: expected a positive number, got {value!r}")


@attrs.frozen(kw_only=True)
class SteerConfig:
    """How to steer.

    Attributes
    ----------
    tolerance_v2 : float or None
        Error to reach, V^2 (exactly one of this and ``tolerance_rel``).
    tolerance_rel : float or None
        Error to reach as a fraction of the board's initial error, in (0, 1).
    budget_j : float or None
        Stop (unreached) when the board's training energy reaches this, J.
    max_time_s : float
        Stop (unreached) after this much board time since steering began, s: the board's
        holds while the twin plans count (its clock runs on), and the limit is checked during
        a plan too (a plan in progress is abandoned).
    decision_s : float
        Board time between decisions, s.
    lam_rtol : float
        A new lambda is sent only when it differs from the acknowledged one by this fraction.
    window : int
        Frames the board's error is averaged over.
    verify_hold_s : float
        Hold time of the verifying inference, s.
    join_timeout_s : float
        Wait for the board's snapshot and first frames, s.
    poll_s : float
        Longest wait for frames per poll, s.
    command_timeout_s : float
        Wait for one acknowledgement (the link retries inside it with the same key), s.
    stop_patience_s : float
        How long the final ``stop_training`` is retried (same key) before the board's mode is
        reported unknown, s of wall time.
    reset_gates : bool
        Reset the board's gates (to its own reset value) while it is held at the join, so
        steering starts from an untrained board rather than from wherever the board's own
        training has taken it (a board that trains from boot may already sit at the
        measurement floor of its error).
    restore_gates : bool
        When training resumes after the board was held while the twin planned, write the gates
        the plan was made from back to the board if they drifted meanwhile
        (:mod:`twin.steer.hold`); ``False``: follow the plan from the drifted gates instead.
    limits : CommandLimits
        Argument ranges and the command rate.
    perfect : bool
        The goal is a perfect pass of a classifier (``--policy overclamp``), not an error
        tolerance: give neither tolerance.
    """

    tolerance_v2: float | None = None
    tolerance_rel: float | None = None
    budget_j: float | None = None
    max_time_s: float = 30.0
    decision_s: float = 0.01
    lam_rtol: float = 0.05
    window: int = 10
    verify_hold_s: float = 0.01
    join_timeout_s: float = 10.0
    poll_s: float = 0.5
    command_timeout_s: float = 5.0
    stop_patience_s: float = 30.0
    reset_gates: bool = False
    restore_gates: bool = True
    limits: CommandLimits = attrs.field(factory=CommandLimits)
    perfect: bool = False

    def __attrs_post_init__(self) -> None:
        given = self.tolerance_v2 is not None or self.tolerance_rel is not None
        if self.perfect and given:
            raise SteerConfigError(
                "tolerance: --policy overclamp trains to a perfect pass; give no --tolerance or "
                "--tolerance-rel"
            )
        if not self.perfect and (self.tolerance_v2 is None) == (self.tolerance_rel is None):
            raise SteerConfigError("tolerance: give exactly one of --tolerance, --tolerance-rel")
        _positive_or_none("--tolerance (V^2)", self.tolerance_v2)
        rel = self.tolerance_rel
        if rel is not None and not (math.isfinite(rel) and 0 < rel < 1):
            raise SteerConfigError(f"--tolerance-rel: expected a number in (0, 1), got {rel!r}")
        _positive_or_none("--budget-j", self.budget_j)
        for name in (
            "max_time_s",
            "decision_s",
            "verify_hold_s",
            "join_timeout_s",
            "poll_s",
            "stop_patience_s",
            "command_timeout_s",
        ):
            _positive_or_none(name, getattr(self, name))
        if self.window < 1:
            raise SteerConfigError(f"window: expected >= 1 frames, got {self.window}")

    def tolerance(self, error_initial: float) -> float:
        """The tolerance in V^2 for a board starting at ``error_initial``."""
        if self.tolerance_v2 is not None:
            return self.tolerance_v2
        if self.tolerance_rel is None:
            raise SteerConfigError("tolerance: none for a run to a perfect pass")
        return self.tolerance_rel * error_initial
