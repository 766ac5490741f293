"""Exceptions of :mod:`twin.sweeps`."""

from __future__ import annotations

from ..errors import TwinError

__all__ = ["CellError", "SweepError", "SweepSpecError"]


class SweepError(TwinError):
    """Base class of the sweep errors."""


class SweepSpecError(SweepError, ValueError):
    """A sweep specification is malformed: names the file, the field and the expected form."""


class CellError(SweepError, RuntimeError):
    """A cell cannot be evaluated (raised in the worker; the cell is recorded as failed)."""
