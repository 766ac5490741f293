"""One alarm appended to the ledger at once: :func:`record_alarm`."""

from __future__ import annotations

import time

import sqlalchemy as sa

from .db import Ledger
from .models import alarms, boards, insert_ignore

__all__ = ["record_alarm"]


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
