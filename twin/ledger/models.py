"""Tables of the energy ledger (generated from ``schemas/ledger.schema.json``).

The SQLAlchemy Core tables, enumerations and SQL views are generated into
:mod:`twin.ledger._tables` by ``schemas/codegen.py``; this module re-exports them and adds the
idempotent insert used by the writer.

Tables: ``boards``, ``runs`` (one per start document; ``status`` running/complete/aborted, writer
pid/host/heartbeat for repair), ``entries`` (append-only energy entries, unique per
``(run_uid, seq, component)``), ``samples`` (sampled time series, one row per sample document,
readings as JSON), ``alarms``, ``commands`` (commands a run sent to a board and their
acknowledgements, one per command document); for ``twin sweep``: ``sweeps``, ``sweep_cells``
(one per cell id, with its status), ``sweep_members`` (sweep -> cells) and ``sweep_results``
(one row per cell, realization and metric). Energies are joules; ``t*_s`` are seconds of run
time; ``*_unix`` are wall-clock seconds since the epoch.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from ._tables import (
    ALARM_SEVERITY,
    COMMAND_NAME,
    COMMAND_STATUS,
    ENERGY_METHOD,
    ENERGY_PHASE,
    ENERGY_SOURCE,
    RUN_KIND,
    RUN_SOURCE,
    RUN_STATUS,
    SCHEMA_ID,
    SWEEP_CELL_STATUS,
    SWEEP_KIND,
    VIEW_COLUMNS,
    VIEWS,
    alarms,
    boards,
    commands,
    entries,
    metadata,
    runs,
    samples,
    sweep_cells,
    sweep_members,
    sweep_results,
    sweeps,
)
from .errors import LedgerError

__all__ = [
    "ALARM_SEVERITY",
    "COMMAND_NAME",
    "COMMAND_STATUS",
    "ENERGY_METHOD",
    "ENERGY_PHASE",
    "ENERGY_SOURCE",
    "RUN_KIND",
    "RUN_SOURCE",
    "RUN_STATUS",
    "SCHEMA_ID",
    "SWEEP_CELL_STATUS",
    "SWEEP_KIND",
    "VIEWS",
    "VIEW_COLUMNS",
    "alarms",
    "boards",
    "commands",
    "entries",
    "insert_ignore",
    "metadata",
    "runs",
    "samples",
    "sweep_cells",
    "sweep_members",
    "sweep_results",
    "sweeps",
    "view_sql",
]


def insert_ignore(dialect: str, table: sa.Table) -> Insert:
    """``INSERT ... ON CONFLICT DO NOTHING`` on ``table`` for ``sqlite`` or ``postgresql``.

    Rows whose primary key already exists are skipped, so replaying a stream never double-counts.
    """
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    raise LedgerError(f"db: unsupported database {dialect!r}; use sqlite or postgresql")


def view_sql(name: str, dialect: str) -> str:
    """The ``SELECT`` of view ``name`` for ``dialect`` (the portable text without an override)."""
    variants = VIEWS[name]
    return variants.get(dialect, variants.get("default", ""))
