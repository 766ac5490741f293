"""Repair: close the runs whose writer died without a stop document.

A run row carries its writer's host, pid and heartbeat (refreshed every few seconds by the
:class:`~twin.ledger.LedgerWriter`). A ``running`` run is marked ``aborted`` when

- its writer ran on this host and that process no longer exists (or is a zombie), or
- its heartbeat is older than ``stale_s`` (a writer on another host, or a reused pid).

Entries already committed are kept as they are: repair only changes the run's status, reason and
``stopped_unix`` (set to the last heartbeat, the last moment the writer was known alive).
:func:`~twin.ledger.open_ledger` runs this on every open; ``twin energy repair`` runs it by hand.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .models import runs

__all__ = ["DEFAULT_STALE_S", "Transactions", "pid_alive", "repair_runs"]

log = logging.getLogger("twin.ledger")

#: A running run whose heartbeat is older than this (seconds) is presumed dead.
DEFAULT_STALE_S = 600.0


class Transactions(Protocol):
    """What repair needs of a ledger (:class:`twin.ledger.Ledger`): read and write connections.

    Typed against this instead of the class so that :mod:`.db` can repair on open without an
    import cycle.
    """

    def read(self) -> AbstractContextManager[Connection]: ...

    def write(self) -> AbstractContextManager[Connection]: ...


def pid_alive(pid: int) -> bool:
    """True when process ``pid`` exists on this host and is not a zombie."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    except OSError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    try:
        state = stat.read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no procfs (macOS): os.kill is all we know
    return state not in ("Z", "X")


def _dead_reason(row: Sequence[Any], host: str, now: float, stale_s: float) -> str | None:
    _uid, w_host, w_pid, beat, started = row
    last = beat if beat is not None else started
    if w_host == host and w_pid is not None and w_pid != os.getpid() and not pid_alive(w_pid):
        return f"writer process {w_pid} on {host} is gone (found by repair)"
    if now - last > stale_s:
        return f"no heartbeat from writer {w_pid} on {w_host} for {now - last:.0f} s (repair)"
    return None


def repair_runs(ledger: Transactions, *, stale_s: float = DEFAULT_STALE_S) -> list[str]:
    """Mark ``running`` runs whose writer is gone as ``aborted``; returns their uids.

    Parameters
    ----------
    ledger
        The open ledger.
    stale_s
        Heartbeat age (seconds) after which a writer is presumed dead whatever its host.
    """
    host = socket.gethostname()
    now = time.time()
    cols = (runs.c.uid, runs.c.writer_host, runs.c.writer_pid, runs.c.heartbeat_unix)
    with ledger.read() as conn:
        rows = conn.execute(
            sa.select(*cols, runs.c.started_unix).where(runs.c.status == "running")
        ).all()
    dead = {}
    for row in rows:
        reason = _dead_reason(row, host, now, stale_s)
        if reason is not None:
            dead[row[0]] = (reason, row[3])
    if not dead:
        return []
    repaired = []
    with ledger.write() as conn:
        for uid, (reason, beat) in dead.items():
            # Only if nothing changed since the read: no stop arrived, no fresher heartbeat.
            beat_col = runs.c.heartbeat_unix
            unchanged = beat_col.is_(None) if beat is None else beat_col <= beat
            done = conn.execute(
                sa.update(runs)
                .where(runs.c.uid == uid, runs.c.status == "running", unchanged)
                .values(status="aborted", reason=reason, stopped_unix=beat)
            )
            if done.rowcount:
                repaired.append(uid)
                log.warning("run %s marked aborted: %s", uid, reason)
    return repaired
