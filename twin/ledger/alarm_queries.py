"""Alarms in the ledger: which were raised, by run, board and time (read only).

:func:`list_alarms` returns the ``alarms`` table's rows newest first as JSON-ready dicts (ISO-8601
UTC times); a shadow's divergence alarm (code ``shadow_divergence``, whose message carries its
fields as JSON after the colon) also gets those fields (``start_s``, ``end_s``, ``edges``,
``nodes``, ``score_max``, ``epoch``) as columns of their own.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from .db import Ledger
from .errors import LedgerQueryError
from .models import ALARM_SEVERITY, alarms
from .query_args import _choice, iso_utc, parse_time, resolve_run

__all__ = ["DIVERGENCE_FIELDS", "list_alarms"]

#: Fields of a divergence alarm's message shown as columns.
DIVERGENCE_FIELDS = ("epoch", "start_s", "end_s", "edges", "nodes", "score_max")


def _fields(message: str) -> dict[str, Any]:
    """The JSON object after the first colon of a message, or nothing."""
    _, sep, rest = message.partition(":")
    if not sep:
        return {}
    try:
        data = json.loads(rest)
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: data[k] for k in DIVERGENCE_FIELDS if k in data}


def list_alarms(
    ledger: Ledger,
    *,
    run: str | None = None,
    board: str | None = None,
    since: str | None = None,
    until: str | None = None,
    code: str | None = None,
    severity: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Alarms, newest first.

    Parameters
    ----------
    run
        Only alarms of this run (uid, unique prefix or ``last``).
    board
        Only alarms of this board.
    since, until
        Raised at or after / before an ISO date/time (UTC) or a duration ago (``7d``).
    code, severity
        Only this alarm code / severity.
    limit
        At most this many (``None`` or 0: all).
    """
    _choice(severity, ALARM_SEVERITY, "severity")
    if limit is not None and limit < 0:
        raise LedgerQueryError(f"limit: must be >= 0, got {limit}")
    q = sa.select(alarms).order_by(alarms.c.t_unix.desc(), alarms.c.id.desc())
    if board is not None:
        q = q.where(alarms.c.board == board)
    if since is not None:
        q = q.where(alarms.c.t_unix >= parse_time(since))
    if until is not None:
        q = q.where(alarms.c.t_unix < parse_time(until, field="until"))
    if code is not None:
        q = q.where(alarms.c.code == code)
    if severity is not None:
        q = q.where(alarms.c.severity == severity)
    if limit:
        q = q.limit(limit)
    with ledger.read() as conn:
        if run is not None:
            q = q.where(alarms.c.run_uid == resolve_run(conn, run))
        rows = conn.execute(q).mappings().all()
    out = []
    for row in rows:
        d = dict(row)
        out.append(
            {
                "id": d["id"],
                "raised": iso_utc(d["t_unix"]),
                "run": d["run_uid"],
                "board": d["board"],
                "t_s": d["t_s"],
                "severity": d["severity"],
                "code": d["code"],
                **_fields(d["message"]),
                "message": d["message"],
            }
        )
    return out
