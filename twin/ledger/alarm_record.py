"""Alarms in the ledger: :func:`record_alarm` appends one at once; alarm documents (raised, then
ended) become one row per episode (:func:`alarm_row`, :func:`upsert_alarms`).

An episode is keyed by its run, code and start time ``t_s``: its raise inserts the row, its end
(or a replayed stream) updates the message and severity of that row, so a run killed
mid-episode leaves the raise and a replay adds nothing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .errors import NonFiniteError
from .models import alarms, boards, insert_ignore

if TYPE_CHECKING:
    from .db import Ledger

__all__ = ["alarm_row", "record_alarm", "upsert_alarms"]


def alarm_row(doc: Mapping[str, Any]) -> dict[str, Any]:
    """An ``alarm`` document as an ``alarms`` row (a one-line error for a non-finite time)."""
    for field in ("t_s", "time_unix"):
        if not math.isfinite(doc[field]):
            raise NonFiniteError(
                f"alarm doc {doc.get('seq')} of run {doc.get('run')}: {field} is {doc[field]}, "
                "not a finite number"
            )
    return {
        "run_uid": doc["run"],
        "board": doc.get("board"),
        "t_unix": float(doc["time_unix"]),
        "t_s": float(doc["t_s"]),
        "severity": doc["severity"],
        "code": doc["code"],
        "message": doc["message"],
    }


def upsert_alarms(conn: Connection, rows: Iterable[Mapping[str, Any]]) -> None:
    """Insert each episode's row, or update the one already there (same run, code, ``t_s``)."""
    now = time.time()
    for row in rows:
        if row["board"] is not None:
            conn.execute(
                insert_ignore(conn.dialect.name, boards),
                [{"name": row["board"], "description": None, "created_unix": now}],
            )
        found = conn.execute(
            sa.select(alarms.c.id).where(
                alarms.c.run_uid == row["run_uid"],
                alarms.c.code == row["code"],
                alarms.c.t_s == row["t_s"],
            )
        ).first()
        if found is None:
            conn.execute(sa.insert(alarms).values(**row))
        else:
            conn.execute(
                sa.update(alarms)
                .where(alarms.c.id == found[0])
                .values(message=row["message"], severity=row["severity"])
            )


def record_alarm(
    ledger: Ledger,
    *,
    severity: str,
    code: str,
    message: str,
    run_uid: str | None = None,
    board: str | None = None,
    t_s: float | None = None,
) -> None:
    """Append one alarm (``severity`` info, warning, error or critical) to the ledger now."""
    now = time.time()
    with ledger.write() as conn:
        if board is not None:
            conn.execute(
                insert_ignore(ledger.dialect, boards),
                [{"name": board, "description": None, "created_unix": now}],
            )
        conn.execute(
            sa.insert(alarms).values(
                run_uid=run_uid,
                board=board,
                t_unix=now,
                t_s=t_s,
                severity=severity,
                code=code,
                message=message,
            )
        )
