"""Rows of one ledger transaction, grouped by statement (:class:`Batch`).

The writer thread of :class:`~twin.ledger.writer.LedgerWriter` turns each batch of documents into
one :class:`Batch` and executes it in one transaction: boards and runs (insert-or-ignore),
energy entries, samples and commands (bulk, idempotent), alarm episodes (one row each,
updated when they end), stops (never downgrading a complete
run) and the heartbeat of live runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ._bulk import (
    command_row,
    entry_row,
    insert_commands,
    insert_entries,
    insert_samples,
    jsonable,
    sample_row,
)
from .alarm_record import alarm_row, upsert_alarms
from .errors import LedgerError
from .models import boards, insert_ignore, runs

__all__ = ["Batch"]


class Batch:
    """Rows of one transaction, grouped by statement."""

    def __init__(self, host: str, pid: int, now: float) -> None:
        self.host, self.pid, self.now = host, pid, now
        self.boards: list[dict[str, Any]] = []
        self.runs: list[dict[str, Any]] = []
        self.entries: list[tuple[Any, ...]] = []
        self.samples: list[tuple[Any, ...]] = []
        self.commands: list[dict[str, Any]] = []
        self.alarms: list[dict[str, Any]] = []
        self.stops: list[dict[str, Any]] = []

    def add(self, doc: Mapping[str, Any]) -> None:
        kind = doc["doc"]
        if kind == "energy":
            self.entries.append(entry_row(doc))
        elif kind == "sample":
            self.samples.append(sample_row(doc))
        elif kind == "command":
            self.commands.append(command_row(doc))
        elif kind == "alarm":
            self.alarms.append(alarm_row(doc))
        elif kind == "start":
            self._add_start(doc)
        elif kind == "stop":
            self.stops.append(
                {
                    "b_uid": doc["run"],
                    "status": doc["status"],
                    "stopped_unix": doc["time_unix"],
                    "reason": doc.get("reason") or None,
                    "summary": jsonable(doc["summary"]) if "summary" in doc else None,
                }
            )
        else:
            raise LedgerError(f"doc: cannot record a {kind!r} document")

    def _add_start(self, doc: Mapping[str, Any]) -> None:
        board = doc.get("board")
        if board is not None:
            self.boards.append({"name": board, "description": None, "created_unix": self.now})
        self.runs.append(
            {
                "uid": doc["uid"],
                "source": doc["source"],
                "kind": doc["kind"],
                "board": board,
                "realizations": doc["realizations"],
                "params": jsonable(doc["params"]),
                "code_version": doc["code_version"],
                "started_unix": doc["time_unix"],
                "stopped_unix": None,
                "status": "running",
                "reason": None,
                "summary": None,
                "writer_host": self.host,
                "writer_pid": self.pid,
                "heartbeat_unix": self.now,
            }
        )

    def execute(self, conn: Connection, live: Iterable[str]) -> None:
        dialect = conn.dialect.name
        if self.boards:
            conn.execute(insert_ignore(dialect, boards), self.boards)
        if self.runs:
            conn.execute(insert_ignore(dialect, runs), self.runs)
            # A replayed start of a run still marked running: this writer now owns it.
            conn.execute(
                sa.update(runs)
                .where(runs.c.uid.in_([r["uid"] for r in self.runs]), runs.c.status == "running")
                .values(writer_host=self.host, writer_pid=self.pid, heartbeat_unix=self.now)
            )
        insert_entries(conn, self.entries)
        insert_samples(conn, self.samples)
        insert_commands(conn, self.commands)
        upsert_alarms(conn, self.alarms)
        if self.stops:
            # Never downgrade: a complete run stays complete (its stop time and reason too).
            conn.execute(
                sa.update(runs)
                .where(runs.c.uid == sa.bindparam("b_uid"), runs.c.status != "complete")
                .values(
                    status=sa.bindparam("status"),
                    stopped_unix=sa.bindparam("stopped_unix"),
                    reason=sa.bindparam("reason"),
                    summary=sa.bindparam("summary", type_=sa.JSON()),
                    heartbeat_unix=self.now,
                ),
                self.stops,
            )
        live = list(live)
        if live:
            conn.execute(
                sa.update(runs)
                .where(runs.c.uid.in_(live), runs.c.status == "running")
                .values(heartbeat_unix=self.now)
            )
