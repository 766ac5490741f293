"""The ledger's schema revision: Alembic migrations run in code, and the checks of a reader.

:func:`upgrade` brings a database to the newest revision this code knows (:func:`head_revision`;
scripts in ``twin/migrations``, configured by :func:`alembic_config`, PostgreSQL under an
advisory lock); :func:`check_ledger` refuses, without writing, a database that is not a ledger
at this code's revision.
"""

from __future__ import annotations

import logging
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy.engine import Connection, Engine

from .engine import resolve_url
from .errors import LedgerError

__all__ = [
    "MIGRATIONS_DIR",
    "VERSION_TABLE",
    "alembic_config",
    "check_ledger",
    "head_revision",
    "upgrade",
]

log = logging.getLogger("twin.ledger")

#: Alembic's version table (named for the ledger, so a shared database can hold other apps).
VERSION_TABLE = "ledger_version"
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
_PG_MIGRATION_LOCK = 0x7477696E  # advisory lock key ("twin") serialising migrations


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


def check_ledger(engine: Engine, shown: str) -> None:
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
