"""The ledger database: URLs, the per-user default location, engines and migrations.

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
database that is not a ledger at this code's revision, and never creates a file, folder or table.
A SQLite URL with ``?mode=ro`` is read-only: a writer refuses it. New revisions are made
with ``alembic.command.revision(alembic_config(url), message=..., autogenerate=True)``.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy.engine import Connection, Engine

from .._files import NotARegularFileError, regular_file
from ..errors import ConfigError
from ._retry import failure_kind, retry_locked
from .errors import LedgerConnectionError, LedgerError
from .location import DB_ENV, default_path, recording_disabled
from .repair import repair_runs

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

#: Alembic's version table (named for the ledger, so a shared database can hold other apps).
VERSION_TABLE = "ledger_version"
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
_PG_MIGRATION_LOCK = 0x7477696E  # advisory lock key ("twin") serialising migrations
_BUSY_TIMEOUT_MS = 2_000


def resolve_url(url: str | None = None) -> str:
    """The SQLAlchemy URL of the ledger: ``url``, else ``$TWIN_DB_URL``, else the default file.

    Raises
    ------
    ConfigError
        The URL cannot be parsed, names an unsupported database, or recording is turned off.
    """
    where = "db"
    if url is None or not url.strip():
        url = os.environ.get(DB_ENV, "").strip() or None
        where = DB_ENV
    if url is None:
        return f"sqlite:///{default_path()}"
    if recording_disabled(url):
        raise ConfigError(f"{where}: the ledger is turned off ({url!r}); pass --db URL")
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser().resolve()}"
    try:
        parsed = sa.make_url(url)
    except (sa.exc.ArgumentError, ValueError):
        raise ConfigError(f"{where}: cannot parse database URL {url!r}") from None
    backend = parsed.get_backend_name()
    if backend in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif backend != "sqlite":
        raise ConfigError(f"{where}: unsupported database {backend!r}; use sqlite or postgresql")
    if backend == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise ConfigError(f"{where}: need a SQLite file (the writer uses its own connection)")
    return parsed.render_as_string(hide_password=False)


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # the driver must not BEGIN on its own: see _sqlite_begin
    cur = dbapi_conn.cursor()
    for pragma in (
        "journal_mode=WAL",
        "synchronous=NORMAL",
        "foreign_keys=ON",
        f"busy_timeout={_BUSY_TIMEOUT_MS}",
    ):
        cur.execute(f"PRAGMA {pragma}")
    cur.close()


def _sqlite_begin(conn: Connection) -> None:
    # Write transactions take the lock up front (IMMEDIATE), so a writer waits in busy_timeout
    # rather than failing when a read transaction cannot be upgraded.
    mode = conn.get_execution_options().get("twin_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


def _sqlite_read_only_on_connect(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    for pragma in ("query_only=ON", "foreign_keys=ON", f"busy_timeout={_BUSY_TIMEOUT_MS}"):
        cur.execute(f"PRAGMA {pragma}")
    cur.close()


def _read_only_url(parsed: sa.URL) -> bool:
    return parsed.get_backend_name() == "sqlite" and parsed.query.get("mode") == "ro"


def create_engine(url: str, *, read_only: bool = False) -> Engine:
    """An engine for a resolved ledger URL, with the SQLite pragmas of this module.

    ``read_only`` (or a SQLite URL with ``?mode=ro``): the SQLite file is opened with
    ``mode=ro`` (it must exist; nothing is created) and ``query_only``; PostgreSQL sessions
    default to read-only transactions.
    """
    parsed = sa.make_url(url)
    read_only = read_only or _read_only_url(parsed)
    if parsed.get_backend_name() != "sqlite":
        if read_only:  # added to the URL's own libpq options (a search_path, say)
            given = parsed.query.get("options") or ""
            given = given if isinstance(given, str) else " ".join(given)
            options = f"{given} -c default_transaction_read_only=on".strip()
            parsed = parsed.difference_update_query(["options"])
            return sa.create_engine(parsed, pool_pre_ping=True, connect_args={"options": options})
        return sa.create_engine(parsed, pool_pre_ping=True)
    assert parsed.database is not None
    if not read_only:
        engine = sa.create_engine(parsed)
        sa.event.listen(engine, "connect", _sqlite_on_connect)
    else:
        uri = f"file:{urllib.parse.quote(parsed.database)}?mode=ro"
        engine = sa.create_engine(
            "sqlite://",
            creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False),
        )
        sa.event.listen(engine, "connect", _sqlite_read_only_on_connect)
    sa.event.listen(engine, "begin", _sqlite_begin)
    return engine


def _writer_folder(parsed: sa.URL) -> None:
    """A writer's SQLite folder: the per-user default is created, any other must exist."""
    if parsed.get_backend_name() != "sqlite":
        return
    assert parsed.database is not None
    folder = Path(parsed.database).parent
    if folder.is_dir():
        return
    if folder != default_path().parent:
        raise LedgerConnectionError(f"db: folder {str(folder)!r} does not exist; create it first")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LedgerConnectionError(f"db: cannot create folder {str(folder)!r}: {exc}") from None


def _reader_file(parsed: sa.URL) -> None:
    """A reader's SQLite file must exist and be a regular file (nothing is created)."""
    if parsed.get_backend_name() != "sqlite":
        return
    assert parsed.database is not None
    try:
        found = regular_file(parsed.database)
    except NotARegularFileError as exc:
        raise LedgerConnectionError(
            f"db: {parsed.database}: {exc}; a ledger file expected"
        ) from None
    if found is None:
        raise LedgerConnectionError(
            f"db: no ledger at {parsed.database} (nothing recorded there yet?)"
        )


def alembic_config(url: str | None = None) -> Config:
    """Alembic configuration built in code (no ``alembic.ini``): scripts in ``twin/migrations``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", resolve_url(url).replace("%", "%%"))
    return cfg


def head_revision() -> str:
    """The newest migration revision this code knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def _current_revision(conn: Connection) -> str | None:
    ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
    return ctx.get_current_revision()


def upgrade(engine: Engine) -> bool:
    """Bring the database to the head revision; returns True when a migration ran.

    Raises
    ------
    LedgerError
        The database is at a revision this code does not know (written by newer code).
    """
    head = head_revision()
    with engine.connect() as conn:
        current = _current_revision(conn)
        conn.rollback()
    if current == head:
        return False
    with engine.connect() as conn:
        conn.execution_options(twin_begin="IMMEDIATE")
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            current = _current_revision(conn)  # another process may have migrated meanwhile
            if current == head:
                return False
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            try:
                command.upgrade(cfg, "head")
            except CommandError as exc:
                raise LedgerError(
                    f"db: database revision {current!r} is unknown to this code (head {head!r}); "
                    "upgrade learning-twin"
                ) from exc
    log.info("ledger upgraded from revision %s to %s", current, head)
    return True


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
        _reader_file(parsed)
    elif _read_only_url(parsed):
        raise ConfigError("db: the URL opens the ledger read-only (mode=ro); this command writes")
    else:
        _writer_folder(parsed)
    engine = create_engine(resolved, read_only=read_only)
    shown = parsed.render_as_string(hide_password=True)
    try:
        if read_only:
            retry_locked(lambda: _check_ledger(engine, shown))
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


def _check_ledger(engine: Engine, shown: str) -> None:
    """Refuse a database that is not a ledger at this code's revision (reads only)."""
    head = head_revision()
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table(VERSION_TABLE):
            raise LedgerError(
                f"db: {shown} is not a learning-twin ledger (no {VERSION_TABLE} table); "
                "queries never create one"
            )
        current = _current_revision(conn)
        conn.rollback()
    if current == head:
        return
    known = {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    if current not in known:
        raise LedgerError(
            f"db: {shown} is at ledger revision {current!r}, unknown to this code (head {head!r}); "
            "upgrade learning-twin"
        )
    raise LedgerError(
        f"db: {shown} is at an older ledger revision ({current}); a writer (twin energy repair "
        "--db ...) upgrades it, queries do not"
    )


def _check_and_migrate(engine: Engine, migrate: bool) -> None:
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
        conn.rollback()
    if migrate:
        upgrade(engine)
