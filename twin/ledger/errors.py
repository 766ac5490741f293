"""Exceptions of :mod:`twin.ledger`.

Every error subclasses :class:`LedgerError` (itself a :class:`twin.errors.TwinError`) and the
built-in it really is. Messages are one line naming the offending field, so the CLI prints them
as ``twin: error: <what>`` with exit code 2.
"""

from __future__ import annotations

from ..errors import TwinError

__all__ = [
    "LedgerConnectionError",
    "LedgerError",
    "LedgerQueryError",
    "NonFiniteError",
    "RunNotFoundError",
]


class LedgerError(TwinError, RuntimeError):
    """The energy ledger cannot do what was asked (database, writer or migration failure)."""


class LedgerConnectionError(LedgerError, ConnectionError):
    """The ledger database cannot be reached or opened."""


class LedgerQueryError(LedgerError, ValueError):
    """A query argument is malformed (bad date, duration, tolerance, ambiguous run...)."""


class RunNotFoundError(LedgerError, LookupError):
    """No run in the ledger matches the given uid or prefix."""


class NonFiniteError(LedgerError, ValueError):
    """A document carries NaN or infinity where the ledger needs a number (never stored)."""
