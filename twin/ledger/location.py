"""Where the ledger is: the per-user default file and the ``TWIN_DB_URL=off`` switch.

Kept apart from :mod:`.db` so that a command can tell whether it records at all without
importing SQLAlchemy and Alembic.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["DB_ENV", "default_path", "recording_disabled"]

#: Environment variable holding the ledger URL (or ``off``).
DB_ENV = "TWIN_DB_URL"
#: Values of :data:`DB_ENV` (or ``--db``) that turn recording off.
_OFF = frozenset({"off", "none", "no", "false", "0"})


def default_path() -> Path:
    """Per-user ledger file: ``$XDG_DATA_HOME/learning-twin/ledger.db`` on Linux.

    ``~/.local/share`` stands in for an unset ``XDG_DATA_HOME``; macOS uses
    ``~/Library/Application Support``, Windows ``%LOCALAPPDATA%``.
    """
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "learning-twin" / "ledger.db"


def recording_disabled(url: str | None = None) -> bool:
    """True when ``url`` (or, if ``None``, ``$TWIN_DB_URL``) is ``off``/``none``/``no``/... ."""
    value = url if url is not None else os.environ.get(DB_ENV, "")
    return value.strip().lower() in _OFF
