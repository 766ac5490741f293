"""Exceptions of the steering package: one base, each also the built-in it really is."""

from __future__ import annotations

from twin.errors import TwinError

__all__ = [
    "BoardSilent",
    "CommandUnanswered",
    "SteerConfigError",
    "SteerError",
    "TimeLimitReached",
]


class SteerError(TwinError):
    """Base class of every error raised by :mod:`twin.steer`."""


class SteerConfigError(SteerError, ValueError):
    """A steering setting or a command argument is out of range (the message names it)."""


class CommandUnanswered(SteerError, TimeoutError):
    """A command got no acknowledgement after every retry (the link is lost)."""


class BoardSilent(SteerError, TimeoutError):
    """The board sent no state for longer than the steerer waits (the link is lost)."""


class TimeLimitReached(SteerError, TimeoutError):
    """The steering run's board-time limit passed while the twin planned (plan abandoned)."""
