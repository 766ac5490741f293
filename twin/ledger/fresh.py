"""A SQLite ledger file that a refused command created: noted before, removed after.

A writing command (``twin energy import``) that refuses its input must leave nothing behind,
but opening the ledger creates its file (and schema) when it did not exist. The command notes
with :func:`new_sqlite_file` whether its SQLite file is yet to be created, and on refusal
:func:`remove_if_empty` deletes that file (with its ``-wal``, ``-shm`` and ``-journal``
companions, and its folder if the open created it) provided no table holds a row: a ledger
anything was recorded in, by this process or another, is never removed.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

import attrs
import sqlalchemy as sa

from .db import VERSION_TABLE, resolve_url

__all__ = ["NewFile", "new_sqlite_file", "remove_if_empty"]

_COMPANIONS = ("-wal", "-shm", "-journal")


@attrs.frozen(kw_only=True)
class NewFile:
    """A SQLite file that did not exist, and whether its folder did."""

    path: Path
    folder_existed: bool


def new_sqlite_file(url: str | None) -> NewFile | None:
    """The SQLite file ``url`` names (resolved as :func:`~twin.ledger.open_ledger` does) when it
    does not exist yet; ``None`` when it exists or the database is not SQLite.

    Raises
    ------
    ConfigError
        Bad URL (as :func:`~twin.ledger.resolve_url`).
    """
    parsed = sa.make_url(resolve_url(url))
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    path = Path(parsed.database)
    try:
        os.lstat(path)
    except FileNotFoundError:
        return NewFile(path=path, folder_existed=path.parent.is_dir())
    except OSError:  # a name too long, a parent that is a file...: opening the ledger says so
        return None
    return None


def _holds_rows(path: Path) -> bool:
    """Whether any table but the schema version holds a row (unreadable counts as holding)."""
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return True
    try:
        tables = [
            str(name)
            for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if name != VERSION_TABLE and not str(name).startswith("sqlite_")
        ]
        return any(
            conn.execute(f'SELECT 1 FROM "{name}" LIMIT 1').fetchone() is not None
            for name in tables
        )
    except sqlite3.Error:
        return True
    finally:
        conn.close()


def remove_if_empty(new: NewFile) -> bool:
    """Delete the ledger file ``new`` names (and what came with it) if it records nothing.

    Returns whether it was removed (``False``: absent, or it holds rows and is kept).
    """
    if not new.path.is_file() or _holds_rows(new.path):
        return False
    for suffix in ("", *_COMPANIONS):
        with contextlib.suppress(FileNotFoundError):
            new.path.with_name(new.path.name + suffix).unlink()
    if not new.folder_existed:
        with contextlib.suppress(OSError):  # not empty: something else is there
            new.path.parent.rmdir()
    return True
