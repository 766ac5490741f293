"""Bulk rows of the ledger: documents to rows, and the fast idempotent inserts.

The hot path of the writer and of imports. Entries go in as tuples (SQLite ``executemany``) or as
one JSON array expanded by the server (PostgreSQL ``jsonb_to_recordset``). A sample document
(~40 readings for a 4x4 board) is one row whose readings are a JSON text
``{quantity: [value per realization]}``, non-finite values as null. Every insert is
``ON CONFLICT DO NOTHING``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Connection

from ..documents import first_non_finite
from .errors import LedgerError, NonFiniteError
from .models import ENERGY_METHOD, ENERGY_PHASE, ENERGY_SOURCE, commands, insert_ignore

__all__ = [
    "ENTRY_COLUMNS",
    "bulk_insert_ignore",
    "check_entry",
    "command_row",
    "entry_row",
    "first_non_finite",
    "insert_commands",
    "insert_entries",
    "insert_samples",
    "jsonable",
    "sample_row",
]

ENTRY_COLUMNS = (
    "run_uid",
    "seq",
    "component",
    "realization",
    "t0_s",
    "t1_s",
    "phase",
    "source",
    "method",
    "energy_j",
)
_PHASES = frozenset(ENERGY_PHASE)
_SOURCES = frozenset(ENERGY_SOURCE)
_METHODS = frozenset(ENERGY_METHOD)
_FINITE_ENTRY = ("t0_s", "t1_s", "energy_j")


def check_entry(doc: Mapping[str, Any]) -> None:
    """Raise :class:`LedgerError` naming the field when an energy document cannot be stored."""
    for field, allowed in (
        ("phase", ENERGY_PHASE),
        ("source", ENERGY_SOURCE),
        ("method", ENERGY_METHOD),
    ):
        if doc[field] not in allowed:
            raise LedgerError(
                f"energy doc {doc.get('seq')} of run {doc.get('run')}: {field} must be one of "
                f"{', '.join(allowed)}, got {doc[field]!r}"
            )
    for field in _FINITE_ENTRY:
        if not math.isfinite(doc[field]):
            raise NonFiniteError(
                f"energy doc {doc.get('seq')} of run {doc.get('run')}: {field} is {doc[field]}, "
                "not a finite number"
            )


def entry_row(doc: Mapping[str, Any]) -> tuple[Any, ...]:
    """An energy document as an ``entries`` row (:data:`ENTRY_COLUMNS` order), checked."""
    if (
        doc["phase"] not in _PHASES
        or doc["source"] not in _SOURCES
        or doc["method"] not in _METHODS
        or not math.isfinite(doc["energy_j"] + doc["t0_s"] + doc["t1_s"])
    ):
        check_entry(doc)
    return (
        doc["run"],
        doc["seq"],
        doc["component"],
        doc.get("realization", 0),
        doc["t0_s"],
        doc["t1_s"],
        doc["phase"],
        doc["source"],
        doc["method"],
        doc["energy_j"],
    )


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON: numpy scalars to Python, tuples to lists, non-finite floats None."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    return x if math.isfinite(x) else None


def _finite_data(data: Mapping[str, Sequence[float]]) -> dict[str, list[float | None]]:
    return {k: [v if math.isfinite(v) else None for v in vals] for k, vals in data.items()}


def sample_row(doc: Mapping[str, Any]) -> tuple[Any, ...]:
    """A sample document as a ``samples`` row ``(run, seq, t_s, step, readings JSON)``.

    Non-finite readings become null.
    """
    text = json.dumps(doc["data"], separators=(",", ":"))
    if "NaN" in text or "Infinity" in text:  # rare: rebuild with nulls (a name may hold "NaN")
        text = json.dumps(_finite_data(doc["data"]), separators=(",", ":"))
    return (doc["run"], doc["seq"], doc["t_s"], doc.get("step"), text)


def bulk_insert_ignore(
    conn: Connection, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Insert tuples in ``columns`` order into ``table`` (SQLite), skipping existing keys."""
    cols = ", ".join(columns)
    marks = ", ".join("?" * len(columns))
    sql = f"INSERT INTO {table} ({cols}) VALUES ({marks}) ON CONFLICT DO NOTHING"
    conn.exec_driver_sql(sql, list(rows))


_PG_ENTRIES = (
    "INSERT INTO entries ({cols}) SELECT {cols} FROM jsonb_to_recordset(%s::jsonb) AS x("
    "run_uid text, seq bigint, component text, realization int, t0_s float8, t1_s float8, "
    "phase text, source text, method text, energy_j float8) ON CONFLICT DO NOTHING"
).format(cols=", ".join(ENTRY_COLUMNS))

_SAMPLE_COLUMNS = ("run_uid", "seq", "t_s", "step", "data")
_PG_SAMPLES = (
    "INSERT INTO samples (run_uid, seq, t_s, step, data) SELECT d->>0, (d->>1)::bigint, "
    "(d->>2)::float8, (d->>3)::bigint, (d->4)::json FROM jsonb_array_elements(%s::jsonb) d "
    "ON CONFLICT DO NOTHING"
)


def _dialect(conn: Connection) -> str:
    name = conn.dialect.name
    if name not in ("sqlite", "postgresql"):
        raise LedgerError(f"db: unsupported database {name!r}")
    return name


def insert_entries(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert ``entries`` rows (from :func:`entry_row`), skipping existing keys."""
    if not rows:
        return
    if _dialect(conn) == "sqlite":
        bulk_insert_ignore(conn, "entries", ENTRY_COLUMNS, rows)
        return
    payload = json.dumps([dict(zip(ENTRY_COLUMNS, r, strict=True)) for r in rows])
    conn.exec_driver_sql(_PG_ENTRIES, (payload,))


def insert_samples(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert ``samples`` rows (from :func:`sample_row`), skipping existing keys."""
    if not rows:
        return
    if _dialect(conn) == "sqlite":
        bulk_insert_ignore(conn, "samples", _SAMPLE_COLUMNS, rows)
        return
    payload = "[" + ",".join(json.dumps(r[:4])[:-1] + "," + r[4] + "]" for r in rows) + "]"
    conn.exec_driver_sql(_PG_SAMPLES, (payload,))


#: Longest acknowledgement code stored (the ``commands.ack_code`` column).
ACK_CODE_CHARS = 32


def command_row(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A command document as a ``commands`` row, checked (a one-line :class:`LedgerError`)."""
    where = f"command doc {doc.get('seq')} of run {doc.get('run')}"
    for field in ("t_s", "time_unix"):
        value = doc.get(field)
        if value is not None and not math.isfinite(value):
            raise NonFiniteError(f"{where}: {field} is {value}, not a finite number")
    ack = doc.get("ack")
    code = None if ack is None else str(ack["code"])
    if code is not None and len(code) > ACK_CODE_CHARS:
        raise LedgerError(
            f"{where}: ack.code must be at most {ACK_CODE_CHARS} characters, got {len(code)}"
        )
    return {
        "run_uid": doc["run"],
        "seq": doc["seq"],
        "t_s": doc["t_s"],
        "time_unix": doc.get("time_unix"),
        "name": doc["name"],
        "key": doc["key"],
        "args": jsonable(doc["args"]),
        "version": doc.get("version"),
        "status": doc["status"],
        "attempts": doc["attempts"],
        "ack_code": code,
        "ack": None if ack is None else jsonable(ack),
    }


def insert_commands(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``commands`` rows (from :func:`command_row`), skipping existing keys."""
    if rows:
        conn.execute(insert_ignore(_dialect(conn), commands), list(rows))
