"""What the steerer may ask of a board: argument ranges and the command rate.

Range checks run *before* a command leaves the host, so a wrong setting never reaches the
board (the board checks again: defence in depth). :class:`RateLimiter` is a token bucket on a
monotonic clock passed in (tests pass their own).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from .errors import SteerConfigError

__all__ = ["CommandLimits", "RateLimiter", "check_command"]


@attrs.frozen(kw_only=True)
class CommandLimits:
    """Accepted ranges of the arguments the steerer sends, and its command rate.

    Attributes
    ----------
    lam_max : float
        Largest lambda the steerer sets (the free measurement is weighted ``1 - lam``).
    eta_range : tuple of float
        ``(low, high]`` of the nudge eta.
    step_s_range : tuple of float
        ``(low, high]`` of the learning step, s.
    max_rate_hz : float
        Most commands per wall-clock second (token bucket refill rate).
    burst : int
        Commands that may go out back to back.
    max_hold_s : float
        Longest inference hold, s.
    max_input_v : float
        Largest inference input magnitude, V.
    """

    lam_max: float = 0.5
    eta_range: tuple[float, float] = (0.0, 1.0)
    step_s_range: tuple[float, float] = (0.0, 1e-2)
    max_rate_hz: float = 50.0
    burst: int = 5
    max_hold_s: float = 1.0
    max_input_v: float = 1.0

    def __attrs_post_init__(self) -> None:
        if not (math.isfinite(self.lam_max) and 0 < self.lam_max <= 1):
            raise SteerConfigError(f"lam_max: expected a number in (0, 1], got {self.lam_max!r}")
        if not (self.max_rate_hz > 0 and self.burst >= 1):
            raise SteerConfigError("max_rate_hz and burst: must be > 0 and >= 1")


def _in(name: str, value: Any, low: float, high: float, *, closed_low: bool = False) -> None:
    ok_low = (value >= low) if closed_low else (value > low)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not ok_low
        or value > high
    ):
        bracket = "[" if closed_low else "("
        raise SteerConfigError(
            f"{name}: expected a number in {bracket}{low:g}, {high:g}], got {value!r}"
        )


def check_command(name: str, args: Mapping[str, Any], limits: CommandLimits) -> None:
    """Raise :class:`SteerConfigError` naming the argument when ``args`` leave ``limits``."""
    if name == "set_params":
        if "lam" in args:
            _in("set_params.lam", args["lam"], 0.0, limits.lam_max, closed_low=True)
        if "eta" in args:
            _in("set_params.eta", args["eta"], *limits.eta_range)
        if "step_s" in args:
            _in("set_params.step_s", args["step_s"], *limits.step_s_range)
    elif name == "run_inference":
        inputs = args.get("inputs_v", ())
        for i, x in enumerate(inputs):
            _in(f"run_inference.inputs_v[{i}]", abs(x), 0.0, limits.max_input_v, closed_low=True)
        if "hold_s" in args:
            _in("run_inference.hold_s", args["hold_s"], 0.0, limits.max_hold_s)
    elif name == "start_training" and "duration_s" in args:
        _in("start_training.duration_s", args["duration_s"], 0.0, 3600.0)


class RateLimiter:
    """Token bucket: :meth:`wait` blocks until a command may go out; returns the wait, s."""

    def __init__(
        self,
        rate_hz: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate_hz = float(rate_hz)
        self.burst = int(burst)
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._last = clock()
        self.waited_s = 0.0

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate_hz)
        self._last = now

    def wait(self) -> float:
        self._refill()
        waited = 0.0
        if self._tokens < 1.0:
            waited = (1.0 - self._tokens) / self.rate_hz
            self._sleep(waited)  # rate limiting (pacing), not synchronisation
            self._refill()
        self._tokens = max(self._tokens - 1.0, 0.0)
        self.waited_s += waited
        return waited
