"""Exceptions of the ``twin`` package.

Every error subclasses :class:`TwinError` and the built-in it really is, so callers can catch
either (``except ValueError`` keeps working). Messages name the offending field and the expected
form, so the CLI can show them as a one-line error.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "NetworkError",
    "SolverError",
    "TaskError",
    "TwinError",
]


class TwinError(Exception):
    """Base class of every error raised by ``twin``."""


class ConfigError(TwinError, ValueError):
    """A configuration value is out of range or malformed."""


class NetworkError(TwinError, ValueError):
    """A network is malformed (bad edges, disconnected, bad conductances, bad file)."""


class TaskError(TwinError, ValueError):
    """A task is malformed (bad boundary conditions, wrong shapes, bad file)."""


class SolverError(TwinError, ArithmeticError):
    """The circuit equations cannot be solved (e.g. dependent boundary conditions)."""
