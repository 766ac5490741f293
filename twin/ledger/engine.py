"""Ledger engines: which database a URL names, and how SQLite and PostgreSQL are opened.

:func:`resolve_url` turns an explicit URL or file path, ``$TWIN_DB_URL`` or the per-user default
into a SQLAlchemy URL; :func:`create_engine` opens it with the SQLite pragmas (WAL,
``synchronous=NORMAL``, foreign keys, a busy timeout, ``IMMEDIATE`` write transactions) or, read
only, with ``mode=ro``/``query_only`` (PostgreSQL: read-only transactions). A writer's SQLite
folder must exist (the per-user default is created); a reader's file must exist.
"""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from .._files import NotARegularFileError, regular_file
from ..errors import ConfigError
from .errors import LedgerConnectionError
from .location import DB_ENV, default_path, recording_disabled

__all__ = ["create_engine", "read_only_url", "reader_file", "resolve_url", "writer_folder"]

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


def read_only_url(parsed: sa.URL) -> bool:
    return parsed.get_backend_name() == "sqlite" and parsed.query.get("mode") == "ro"


def create_engine(url: str, *, read_only: bool = False) -> Engine:
    """An engine for a resolved ledger URL, with the SQLite pragmas of this module.

    ``read_only`` (or a SQLite URL with ``?mode=ro``): the SQLite file is opened with
    ``mode=ro`` (it must exist; nothing is created) and ``query_only``; PostgreSQL sessions
    default to read-only transactions.
    """
    parsed = sa.make_url(url)
    read_only = read_only or read_only_url(parsed)
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


def writer_folder(parsed: sa.URL) -> None:
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


def reader_file(parsed: sa.URL) -> None:
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
