"""The energy ledger: how many joules runs spent, per phase and component, in a SQL database.

The ledger subscribes to run documents (:mod:`twin.documents`) and stores runs, append-only
energy entries (joules, integrated exactly by the producer), sampled time series and alarms in
SQLite (default: a per-user file, WAL mode) or PostgreSQL (psycopg 3). Tables come from
``schemas/ledger.schema.json``; Alembic migrations (``twin/migrations``) create or upgrade the
database on open.

Recording a run::

    from twin.ledger import open_ledger, recording

    with open_ledger(url) as ledger, recording(ledger, signals=True) as writer:
        dispatcher.subscribe(writer)      # or emit=writer
        run_the_simulation(emit=dispatcher)

- :func:`open_ledger` ``(url=None)`` resolves ``url`` (SQLAlchemy URL or SQLite path), else
  ``$TWIN_DB_URL``, else :func:`default_path`; creates/upgrades the schema and repairs runs whose
  writer died. ``recording_disabled()`` tells whether ``TWIN_DB_URL=off``.
- :func:`recording` ``(ledger, signals=False, **writer_options)`` yields a :class:`LedgerWriter`
  (a document subscriber). Writes are batched off the hot path with back-pressure (a producer
  faster than the database waits, so at most ~0.25 s of work is uncommitted); ``start`` and
  ``stop`` documents return once committed; locked or unreachable databases are retried with
  backoff, then the documents are spooled to a local file that the next open imports. If the
  block raises, runs without a stop are marked ``aborted``. ``signals=True`` makes
  SIGTERM/SIGINT unwind the run the same way (CLI use).
- Writes are idempotent (``ON CONFLICT DO NOTHING`` on ``(run, seq, component)``): replaying a
  document stream never double-counts. :func:`import_file` replays a JSON-lines file all or
  nothing, never downgrading a finished run, and reports conflicting entries by name.

Queries (JSON-ready dicts): :func:`list_runs`, :func:`show_run`, :func:`energy_history`,
:func:`energy_to_tolerance`, :func:`compare_runs`; :func:`repair_runs` closes dead runs.
Errors derive from :class:`LedgerError` (a :class:`twin.errors.TwinError`).

Names are imported on first use: a command that does not record never imports SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_attributes
from .errors import (
    LedgerConnectionError,
    LedgerError,
    LedgerQueryError,
    NonFiniteError,
    RunNotFoundError,
)
from .location import default_path, recording_disabled

if TYPE_CHECKING:
    from .alarm_queries import list_alarms
    from .alarm_record import record_alarm
    from .db import Ledger, open_ledger, resolve_url
    from .lifecycle import TerminatedBySignal, flush_on_signals, recording
    from .queries import compare_runs, energy_history, list_runs, show_run
    from .query_args import parse_duration, parse_time
    from .repair import repair_runs
    from .replay import ImportFileError, ImportReport, import_file, import_spool
    from .steering import steer_runs
    from .tolerance import energy_to_tolerance
    from .writer import LedgerWriter

#: Where each lazily imported name lives.
_LAZY = {
    "Ledger": ".db",
    "open_ledger": ".db",
    "resolve_url": ".db",
    "compare_runs": ".queries",
    "energy_history": ".queries",
    "energy_to_tolerance": ".tolerance",
    "list_alarms": ".alarm_queries",
    "list_runs": ".queries",
    "parse_duration": ".query_args",
    "parse_time": ".query_args",
    "show_run": ".queries",
    "repair_runs": ".repair",
    "ImportFileError": ".replay",
    "ImportReport": ".replay",
    "import_file": ".replay",
    "import_spool": ".replay",
    "steer_runs": ".steering",
    "LedgerWriter": ".writer",
    "TerminatedBySignal": ".lifecycle",
    "flush_on_signals": ".lifecycle",
    "record_alarm": ".alarm_record",
    "recording": ".lifecycle",
}

__all__ = [
    "ImportFileError",
    "ImportReport",
    "Ledger",
    "LedgerConnectionError",
    "LedgerError",
    "LedgerQueryError",
    "LedgerWriter",
    "NonFiniteError",
    "RunNotFoundError",
    "TerminatedBySignal",
    "compare_runs",
    "default_path",
    "energy_history",
    "energy_to_tolerance",
    "flush_on_signals",
    "import_file",
    "import_spool",
    "list_alarms",
    "list_runs",
    "open_ledger",
    "parse_duration",
    "parse_time",
    "record_alarm",
    "recording",
    "recording_disabled",
    "repair_runs",
    "resolve_url",
    "show_run",
    "steer_runs",
]


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, __all__)
