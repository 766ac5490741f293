"""The ledger database: URLs, the per-user default location, engines and migrations.

:func:`open_ledger` and :class:`Ledger` live here; engines and URLs in :mod:`twin.ledger.engine`,
schema revisions and migrations in :mod:`twin.ledger.revision` (their names are re-exported).

URL resolution (:func:`resolve_url`): an explicit URL or file path, else ``$TWIN_DB_URL``, else
the SQLite file ``ledger.db`` in the per-user data directory (:func:`default_path`). A value
without ``://`` is a SQLite file path; ``postgresql://`` URLs use psycopg 3. ``TWIN_DB_URL=off``
turns recording off for ``twin train``/``simulate``/``infer`` (see :func:`recording_disabled`).

SQLite runs in WAL mode with ``synchronous=NORMAL`` (a killed process never loses a committed
transaction; a power cut may lose the last few), foreign keys on and a 2 s busy timeout; write
transactions begin ``IMMEDIATE`` so concurrent writers queue instead of failing on a lock upgrade.
A transaction that still finds the database locked (or unreachable) fails with an error that
:func:`failure_kind` classifies; the writer retries it with backoff (:mod:`twin.ledger.writer`).
PostgreSQL migrations hold an advisory lock, so concurrent first opens do not race.

Migrations (Alembic, ``twin/migrations/``) run programmatically from :func:`open_ledger`: an empty
database is created at the head revision and an older one is upgraded. Only writers do that, and
only in an existing folder (the per-user default folder is created on first use):
``open_ledger(url, read_only=True)``, used by every query, opens an existing ledger without
writing (SQLite ``mode=ro`` and ``query_only``; PostgreSQL read-only transactions), refuses a
database that is not a ledger at this code's revision, and never creates a ledger file, folder or
table (SQLite itself adds the ``-wal`` (empty) and ``-shm`` (index) files a reader of a WAL database
needs when no writer has them open; the ledger file's bytes are unchanged).
A SQLite URL with ``?mode=ro`` is read-only: a writer refuses it. New revisions are made
with ``alembic.command.revision(alembic_config(url), message=..., autogenerate=True)``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..errors import ConfigError
from ._retry import failure_kind, retry_locked
from .engine import create_engine, read_only_url, reader_file, resolve_url, writer_folder
from .errors import LedgerConnectionError
from .location import DB_ENV, default_path, recording_disabled
from .repair import repair_runs
from .revision import VERSION_TABLE, alembic_config, check_ledger, head_revision, upgrade

__all__ = [
    "DB_ENV",
    "VERSION_TABLE",
    "Ledger",
    "alembic_config",
    "create_engine",
    "default_path",
    "failure_kind",
    "head_revision",
    "open_ledger",
    "recording_disabled",
    "resolve_url",
    "upgrade",
]

log = logging.getLogger("twin.ledger")


class Ledger:
    """An open ledger database: an engine plus read and write transactions.

    Create with :func:`open_ledger`; close with :meth:`close` (or use it as a context manager).
    Queries live in :mod:`twin.ledger.queries`, the batching writer in :mod:`twin.ledger.writer`.
    """

    def __init__(self, engine: Engine, *, url: str | None = None, read_only: bool = False) -> None:
        self.engine = engine
        self._url = url
        #: Opened for queries only (nothing is written through it).
        self.read_only = read_only

    @property
    def url(self) -> str:
        """The database URL, password hidden (for messages)."""
        return self._url or self.engine.url.render_as_string(hide_password=True)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for queries (its transaction is rolled back on exit)."""
        with self.engine.connect() as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A connection in a write transaction, committed on success, rolled back on error."""
        with self.engine.connect() as conn:
            conn.execution_options(twin_begin="IMMEDIATE")
            with conn.begin():
                yield conn

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Ledger({self.url!r})"


def open_ledger(
    url: str | None = None, *, migrate: bool = True, repair: bool = True, read_only: bool = False
) -> Ledger:
    """Open (creating or upgrading if needed) the ledger at ``url``; or, ``read_only``, open an
    existing ledger for queries without writing anything.

    Parameters
    ----------
    url
        SQLAlchemy URL or SQLite file path; ``None`` takes ``$TWIN_DB_URL``, else
        :func:`default_path`.
    migrate
        Run the Alembic migrations up to the head revision (a no-op when already there).
    repair
        Mark as ``aborted`` the runs whose writer process is gone (:func:`twin.ledger.repair_runs`).
    read_only
        Queries only: no migration, repair or spool import; the database must already be a
        ledger at this code's revision.

    Raises
    ------
    ConfigError
        Bad URL, or a read-only URL (``?mode=ro``) given to a writer.
    LedgerConnectionError
        The database cannot be reached; a writer's folder or a reader's file does not exist.
    LedgerError
        A reader's database is not a ledger, or not at this code's revision.
    """
    resolved = resolve_url(url)
    parsed = sa.make_url(resolved)
    if read_only:
        reader_file(parsed)
    elif read_only_url(parsed):
        raise ConfigError("db: the URL opens the ledger read-only (mode=ro); this command writes")
    else:
        writer_folder(parsed)
    engine = create_engine(resolved, read_only=read_only)
    shown = parsed.render_as_string(hide_password=True)
    try:
        if read_only:
            retry_locked(lambda: check_ledger(engine, shown))
        else:
            retry_locked(lambda: _check_and_migrate(engine, migrate))
    except sa.exc.DBAPIError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise LedgerConnectionError(f"db: cannot open {shown}: {reason}") from None
    except BaseException:
        engine.dispose()
        raise
    ledger = Ledger(engine, url=shown, read_only=read_only)
    if repair and not read_only:
        from .replay import import_spool  # local: replay imports this module

        retry_locked(lambda: repair_runs(ledger))
        import_spool(ledger)
    log.debug("opened ledger %s", shown)
    return ledger


def _check_and_migrate(engine: Engine, migrate: bool) -> None:
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
        conn.rollback()
    if migrate:
        upgrade(engine)
