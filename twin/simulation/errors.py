"""Exceptions of :mod:`twin.simulation`; each also subclasses the built-in it really is."""

from __future__ import annotations

from ..errors import TwinError

__all__ = ["ClockError", "ModelError", "SimError"]


class SimError(TwinError):
    """Base class of every error raised by the event-driven twin."""


class ClockError(SimError, ValueError):
    """A clock spec string is malformed or out of range."""


class ModelError(SimError, ValueError):
    """A model, edge or noise parameter is out of range."""
