"""Which database failures are worth retrying, and the retry loop (jittered exponential backoff).

Kept apart from :mod:`.db` so that the writer and the importer use it without an import cycle.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

__all__ = ["failure_kind", "retry_locked"]

_LOCKED = ("database is locked", "database table is locked", "database is busy")


def failure_kind(exc: BaseException) -> str | None:
    """``locked``, ``unavailable`` or None: whether a failed transaction is worth retrying.

    ``locked``: another SQLite writer holds the lock (or a PostgreSQL serialization/deadlock
    failure). ``unavailable``: the server or file cannot be reached or written (connection
    refused or lost, disk I/O error, read-only file). None: retrying cannot help (a constraint
    violated, bad SQL).
    """
    if isinstance(exc, sa.exc.IntegrityError | sa.exc.ProgrammingError | sa.exc.DataError):
        return None
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).lower()
    if any(m in text for m in _LOCKED) or getattr(orig, "sqlstate", None) in ("40001", "40P01"):
        return "locked"
    if isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError) or getattr(
        exc, "connection_invalidated", False
    ):
        return "unavailable"
    return None


def retry_locked(fn: Callable[[], Any], patience_s: float = 120.0) -> Any:
    """Call ``fn``, retrying with jittered backoff while the database is locked."""
    deadline = time.monotonic() + patience_s
    delay = 0.01
    jitter = random.Random(os.getpid())
    while True:
        try:
            return fn()
        except sa.exc.DBAPIError as exc:
            if failure_kind(exc) != "locked" or time.monotonic() > deadline:
                raise
        time.sleep(delay * (0.5 + jitter.random()))
        delay = min(delay * 2, 1.0)
