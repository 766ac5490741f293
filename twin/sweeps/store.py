"""Sweep bookkeeping in the ledger database (tables ``sweeps``, ``sweep_cells``,
``sweep_members``, ``sweep_results``; ``schemas/ledger.schema.json``).

Every change is one transaction: registering a sweep (its row, its cells as ``pending``, its
membership), claiming cells (``running``, owner host/pid), and above all finishing a cell: its
result rows and its ``done`` status are committed together, so a killed sweep never leaves a
half-written cell. A ``running`` cell is *live* only while its owner is: the owner ran on this
host and its process exists, or (another host) its heartbeat is younger than ``stale_s``;
otherwise it counts as missing and the next run computes it.
"""

from __future__ import annotations

import math
import os
import socket
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..ledger._retry import retry_locked
from ..ledger.db import Ledger
from ..ledger.models import insert_ignore, sweep_cells, sweep_members, sweep_results, sweeps
from ..ledger.repair import pid_alive
from .cells import Cell
from .spec import SweepSpec

__all__ = [
    "STALE_S",
    "CellState",
    "Owner",
    "cell_states",
    "claim",
    "finish",
    "heartbeat",
    "is_live",
    "record_failure",
    "register",
    "release",
    "result_rows",
    "stored_spec",
]

#: A running cell whose owner's heartbeat is older than this (s) is presumed abandoned.
STALE_S = 120.0
_CHUNK = 500  # ids per IN (...) clause


@attrs.frozen(kw_only=True)
class Owner:
    """The sweep process that submits cells (this process by default)."""

    host: str = attrs.field(factory=socket.gethostname)
    pid: int = attrs.field(factory=os.getpid)


@attrs.frozen(kw_only=True)
class CellState:
    """A cell's row: status, owner, error, timing."""

    cell_id: str
    status: str
    error: str | None = None
    attempts: int = 0
    owner_host: str | None = None
    owner_pid: int | None = None
    heartbeat_unix: float | None = None
    code_version: str | None = None
    elapsed_s: float | None = None


def is_live(state: CellState, *, now: float | None = None, stale_s: float = STALE_S) -> bool:
    """True when a ``running`` cell's owner is still alive (see the module docstring)."""
    if state.status != "running":
        return False
    now = time.time() if now is None else now
    if state.owner_host == socket.gethostname() and state.owner_pid is not None:
        return state.owner_pid != os.getpid() and pid_alive(state.owner_pid)
    return state.heartbeat_unix is not None and now - state.heartbeat_unix < stale_s


def _write(ledger: Ledger, work: Callable[[Connection], None]) -> None:
    """Run ``work`` in one write transaction, retried with backoff while the database is locked."""

    def attempt() -> None:
        with ledger.write() as conn:
            work(conn)

    retry_locked(attempt)


def _chunks(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(ids), _CHUNK):
        yield ids[i : i + _CHUNK]


def register(ledger: Ledger, spec: SweepSpec, cells: Sequence[Cell], code_version: str) -> None:
    """Store (or update) the sweep, its cells (new ones ``pending``) and its membership."""
    now = time.time()
    row = {
        "name": spec.name,
        "kind": spec.kind,
        "spec": spec.to_dict(),
        "cells": len(cells),
        "code_version": code_version,
        "created_unix": now,
        "updated_unix": now,
    }

    def work(conn: Connection) -> None:
        dialect = conn.dialect.name
        conn.execute(insert_ignore(dialect, sweeps), [row])
        changes = {k: row[k] for k in ("kind", "spec", "cells", "code_version", "updated_unix")}
        conn.execute(sa.update(sweeps).where(sweeps.c.name == spec.name).values(**changes))
        if cells:
            conn.execute(
                insert_ignore(dialect, sweep_cells),
                [
                    {
                        "cell_id": c.cell_id,
                        "kind": c.kind,
                        "params": c.params,
                        "seeds": list(c.seeds),
                        "realizations": c.realizations,
                        "status": "pending",
                        "attempts": 0,
                    }
                    for c in cells
                ],
            )
        conn.execute(sa.delete(sweep_members).where(sweep_members.c.sweep == spec.name))
        if cells:
            conn.execute(
                sa.insert(sweep_members),
                [{"sweep": spec.name, "cell_id": c.cell_id, "position": c.position} for c in cells],
            )

    _write(ledger, work)


def cell_states(ledger: Ledger, ids: Sequence[str]) -> dict[str, CellState]:
    """The stored state of each cell of ``ids`` that has a row."""
    c = sweep_cells.c
    cols = [
        c.cell_id,
        c.status,
        c.error,
        c.attempts,
        c.owner_host,
        c.owner_pid,
        c.heartbeat_unix,
        c.code_version,
        c.elapsed_s,
    ]
    out: dict[str, CellState] = {}
    with ledger.read() as conn:
        for chunk in _chunks(list(ids)):
            for row in conn.execute(sa.select(*cols).where(c.cell_id.in_(chunk))):
                out[row.cell_id] = CellState(**row._asdict())
    return out


def claim(ledger: Ledger, ids: Sequence[str], owner: Owner) -> None:
    """Mark cells ``running`` by ``owner`` (one transaction), counting an attempt each."""
    now = time.time()
    c = sweep_cells.c

    def work(conn: Connection) -> None:
        for chunk in _chunks(list(ids)):
            conn.execute(
                sa.update(sweep_cells)
                .where(c.cell_id.in_(chunk))
                .values(
                    status="running",
                    owner_host=owner.host,
                    owner_pid=owner.pid,
                    started_unix=now,
                    heartbeat_unix=now,
                    attempts=c.attempts + 1,
                    error=None,
                )
            )

    _write(ledger, work)


def heartbeat(ledger: Ledger, owner: Owner) -> None:
    """Refresh the heartbeat of every cell ``owner`` is running."""
    c = sweep_cells.c

    def work(conn: Connection) -> None:
        conn.execute(
            sa.update(sweep_cells)
            .where(c.status == "running", c.owner_host == owner.host, c.owner_pid == owner.pid)
            .values(heartbeat_unix=time.time())
        )

    _write(ledger, work)


def release(ledger: Ledger, ids: Sequence[str], owner: Owner) -> None:
    """Put ``owner``'s running cells among ``ids`` back to ``pending`` (interrupted sweep)."""
    c = sweep_cells.c

    def work(conn: Connection) -> None:
        for chunk in _chunks(list(ids)):
            conn.execute(
                sa.update(sweep_cells)
                .where(
                    c.cell_id.in_(chunk),
                    c.status == "running",
                    c.owner_pid == owner.pid,
                    c.owner_host == owner.host,
                )
                .values(status="pending")
            )

    _write(ledger, work)


def _finite(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def finish(ledger: Ledger, cell: Cell, outcome: Mapping[str, Any], code_version: str) -> int:
    """Commit a finished cell: its result rows and ``done`` status in one transaction.

    Earlier rows of the cell (a ``--rerun``) are replaced, never added to. The code version is
    the worker's (``outcome["code_version"]``), else ``code_version``. Returns the number of
    result rows written.
    """
    rows = [
        {
            "cell_id": cell.cell_id,
            "realization": r,
            "seed": int(seed),
            "metric": name,
            "value": _finite(value),
        }
        for r, (seed, metrics) in enumerate(zip(cell.seeds, outcome["rows"], strict=True))
        for name, value in metrics.items()
    ]

    def work(conn: Connection) -> None:
        conn.execute(sa.delete(sweep_results).where(sweep_results.c.cell_id == cell.cell_id))
        if rows:
            conn.execute(sa.insert(sweep_results), rows)
        conn.execute(
            sa.update(sweep_cells)
            .where(sweep_cells.c.cell_id == cell.cell_id)
            .values(
                status="done",
                error=None,
                code_version=str(outcome.get("code_version") or code_version),
                host=str(outcome.get("host", ""))[:255] or None,
                finished_unix=time.time(),
                elapsed_s=outcome.get("elapsed_s"),
                cpu_s=outcome.get("cpu_s"),
            )
        )

    _write(ledger, work)
    return len(rows)


def record_failure(ledger: Ledger, cell: Cell, error: str, code_version: str) -> None:
    """Mark a cell ``failed`` with its error (its earlier results, if any, are removed)."""

    def work(conn: Connection) -> None:
        conn.execute(sa.delete(sweep_results).where(sweep_results.c.cell_id == cell.cell_id))
        conn.execute(
            sa.update(sweep_cells)
            .where(sweep_cells.c.cell_id == cell.cell_id)
            .values(
                status="failed", error=error, code_version=code_version, finished_unix=time.time()
            )
        )

    _write(ledger, work)


def result_rows(ledger: Ledger, ids: Sequence[str]) -> list[tuple[str, int, int, str, Any]]:
    """``(cell_id, realization, seed, metric, value)`` of every result of the cells ``ids``."""
    r = sweep_results.c
    out: list[tuple[str, int, int, str, Any]] = []
    with ledger.read() as conn:
        for chunk in _chunks(list(ids)):
            query = sa.select(r.cell_id, r.realization, r.seed, r.metric, r.value).where(
                r.cell_id.in_(chunk)
            )
            out.extend(tuple(row) for row in conn.execute(query))
    return out


def stored_spec(ledger: Ledger, name: str) -> dict[str, Any] | None:
    """The specification stored under sweep ``name`` (``None`` if no such sweep)."""
    with ledger.read() as conn:
        return conn.execute(sa.select(sweeps.c.spec).where(sweeps.c.name == name)).scalar()
