"""What a query's arguments name: durations, times, choices among names, and runs.

The ``twin energy`` and ``twin alarms`` queries take durations (``30s``, ``1d``), times (an
ISO date/time or a duration ago), names out of a fixed set (phase, kind, status) and run
references (a uid, a unique uid prefix, or ``last``); these functions turn them into values or
raise :class:`~twin.ledger.LedgerQueryError` / :class:`~twin.ledger.RunNotFoundError` with a
one-line message naming the argument. :func:`iso_utc` formats times back.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .errors import LedgerQueryError, RunNotFoundError
from .models import runs

__all__ = ["iso_utc", "parse_duration", "parse_time", "resolve_run"]

_UNITS_S = {
    "s": 1.0,
    "sec": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 604800.0,
}
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]+)\s*$")


def parse_duration(text: str, *, field: str = "every") -> float:
    """Seconds in a duration such as ``30s``, ``15m``/``15min``, ``1h``, ``1d``, ``2w``.

    Raises
    ------
    LedgerQueryError
        Malformed, unknown unit, or not > 0.
    """
    m = _DURATION_RE.match(text.lower())
    if not m or m.group(2) not in _UNITS_S or float(m.group(1)) <= 0:
        raise LedgerQueryError(
            f"{field}: expected a duration > 0 like 30s, 15m, 1h, 1d or 2w, got {text!r}"
        )
    return float(m.group(1)) * _UNITS_S[m.group(2)]


def parse_time(text: str, *, field: str = "since", now: float | None = None) -> float:
    """Unix seconds of an ISO date/time (naive means UTC) or of a duration ago (``30d``)."""
    stripped = text.strip()
    if _DURATION_RE.match(stripped.lower()):
        ago = parse_duration(stripped, field=field)
        return (time.time() if now is None else now) - ago
    try:
        when = datetime.fromisoformat(stripped.replace("Z", "+00:00"))
    except ValueError:
        raise LedgerQueryError(
            f"{field}: expected an ISO date/time (2025-01-31, 2025-01-31T12:00) or a duration "
            f"ago (30d, 12h), got {text!r}"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def iso_utc(unix: float | None) -> str | None:
    """``2025-01-31T12:00:00Z`` for unix seconds (``None`` stays ``None``)."""
    if unix is None:
        return None
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _choice(value: str | None, allowed: tuple[str, ...], field: str) -> str | None:
    if value is not None and value not in allowed:
        raise LedgerQueryError(f"{field}: expected one of {', '.join(allowed)}, got {value!r}")
    return value


def resolve_run(conn: Connection, ref: str) -> str:
    """The uid of the run ``ref`` names: a uid, a unique uid prefix, or ``last``.

    Raises
    ------
    RunNotFoundError
        No run matches.
    LedgerQueryError
        Empty, or a prefix matching several runs.
    """
    ref = ref.strip()
    if not ref:
        raise LedgerQueryError("run: empty run id")
    if ref in ("last", "latest"):
        uid = conn.execute(
            sa.select(runs.c.uid).order_by(runs.c.started_unix.desc()).limit(1)
        ).scalar()
        if uid is None:
            raise RunNotFoundError("run: the ledger has no runs yet")
        return str(uid)
    if conn.execute(sa.select(runs.c.uid).where(runs.c.uid == ref)).scalar() is not None:
        return ref
    pattern = ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    found = (
        conn.execute(sa.select(runs.c.uid).where(runs.c.uid.like(pattern, escape="\\")).limit(3))
        .scalars()
        .all()
    )
    if not found:
        raise RunNotFoundError(f"run: no run matches {ref!r}")
    if len(found) > 1:
        raise LedgerQueryError(f"run: {ref!r} is ambiguous (matches {', '.join(found[:2])}, ...)")
    return str(found[0])
