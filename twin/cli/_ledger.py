"""Recording CLI runs in the energy ledger: the ``--db``/``--no-db`` options and a context manager.

Commands that run the circuit (``twin train``, ``twin infer``, ``twin simulate``) record their
run documents in the ledger by default: at ``--db URL``, else ``$TWIN_DB_URL``, else the per-user
SQLite file (``twin.ledger.default_path()``). ``--no-db`` or ``TWIN_DB_URL=off`` turn recording
off. A ledger named explicitly (``--db`` or ``TWIN_DB_URL``) that cannot be opened is an error;
the per-user default that cannot be opened only logs a warning, so a read-only home directory
never stops a simulation. Use::

    @ledger_options
    def my_cmd(..., db, no_db):
        with run_recording(db, no_db) as sink:
            if sink is not None:
                dispatcher.subscribe(sink)
            ...

SQLAlchemy is imported only when a run is recorded, so ``twin --help`` stays fast.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from ..documents import Dispatcher, Subscriber

__all__ = ["DB_HELP", "ledger_options", "recorded_dispatch", "run_recording"]

log = logging.getLogger("twin.ledger")

F = TypeVar("F", bound=Callable[..., Any])

DB_HELP = (
    "Energy ledger: SQLAlchemy URL (sqlite:///PATH, postgresql://...) or SQLite file path "
    "[default: $TWIN_DB_URL, else ledger.db in the per-user data directory]."
)


def ledger_options(func: F) -> F:
    """Add ``--db URL`` and ``--no-db`` to a command (parameters ``db`` and ``no_db``)."""
    func = click.option(
        "--no-db", "no_db", is_flag=True, help="Do not record the run in the energy ledger."
    )(func)
    return click.option("--db", "db", metavar="URL", default=None, help=DB_HELP)(func)


@contextmanager
def run_recording(db: str | None, no_db: bool) -> Iterator[Subscriber | None]:
    """Yield a ledger subscriber (or ``None`` when recording is off) for one CLI run.

    SIGTERM and SIGINT unwind the run while it is recorded, so the run is flushed and stopped
    as ``aborted`` rather than lost; the writer is flushed and the ledger closed on exit.
    """
    from ..ledger import recording_disabled

    if no_db or recording_disabled(db) or (db is None and recording_disabled()):
        yield None
        return
    from ..ledger import LedgerError, open_ledger, recording

    explicit = db is not None or bool(os.environ.get("TWIN_DB_URL", "").strip())
    try:
        ledger = open_ledger(db)
    except LedgerError as exc:
        if explicit:
            raise
        log.warning("not recording in the energy ledger: %s", exc)
        yield None
        return
    with ledger, recording(ledger, signals=True) as writer:
        yield writer


@contextmanager
def recorded_dispatch(out: Path | None, db: str | None, no_db: bool) -> Iterator[Dispatcher]:
    """A :class:`Dispatcher` feeding the ``--out`` JSON-lines file and the ledger; closes both."""
    from ..documents import Dispatcher, JsonLinesWriter

    dispatch = Dispatcher()
    writer = JsonLinesWriter(out) if out is not None else None
    if writer is not None:
        dispatch.subscribe(writer)
    try:
        with run_recording(db, no_db) as ledger_sink:
            if ledger_sink is not None:
                dispatch.subscribe(ledger_sink)
            yield dispatch
    finally:
        if writer is not None:
            writer.close()
