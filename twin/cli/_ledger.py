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
import math
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..documents import Dispatcher, Subscriber

__all__ = [
    "DB_HELP",
    "check_finite",
    "ledger_options",
    "recorded_dispatch",
    "run_recording",
]

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


def _suspects(params: Mapping[str, Any] | None) -> str:
    """The run inputs that are non-finite or huge (the likely cause of a non-finite result)."""
    bad = [
        f"{k} = {v:g}"
        for k, v in (params or {}).items()
        if isinstance(v, float) and not (math.isfinite(v) and abs(v) < 1e150)
    ]
    return f" (input out of range: {', '.join(bad)})" if bad else " (check the run's inputs)"


def check_finite(value: Any, where: str, params: Mapping[str, Any] | None = None) -> None:
    """Raise a one-line :class:`ConfigError` if ``value`` holds NaN or infinity.

    The message names the quantity and the inputs in ``params`` that are non-finite or larger
    than 1e150, e.g. ``summary: training_energy_j = inf is not a finite number (input out of
    range: step_s = 1e+308)``.
    """
    from ..documents import first_non_finite

    found = first_non_finite(value)
    if found is not None:
        raise ConfigError(f"{where}: {found} is not a finite number{_suspects(params)}")


def _finite_guard(params: Mapping[str, Any] | None) -> Subscriber:
    """A subscriber refusing energy entries, samples and summaries with non-finite numbers.

    Subscribed first, it raises before the JSON-lines file or the ledger sees the document, so
    the producer stops the run as aborted and nothing non-finite is recorded.
    """

    def guard(doc: Mapping[str, Any]) -> None:
        kind = doc["doc"]
        if kind == "energy":
            values = {k: doc[k] for k in ("t0_s", "t1_s", "energy_j")}
            where = f"energy entry {doc['seq']} ({doc['component']}) of run {doc['run']}"
            check_finite(values, where, params)
        elif kind == "sample":
            values = {"t_s": doc["t_s"], **doc["data"]}
            check_finite(values, f"sample {doc['seq']} of run {doc['run']}", params)
        elif kind == "stop" and "summary" in doc:
            check_finite(dict(doc["summary"]), "summary", params)

    return guard


@contextmanager
def recorded_dispatch(
    out: Path | None, db: str | None, no_db: bool, *, params: Mapping[str, Any] | None = None
) -> Iterator[Dispatcher]:
    """A :class:`Dispatcher` feeding the ``--out`` JSON-lines file and the ledger; closes both.

    With ``params`` (the run's inputs) and anything recording, a guard subscribed first refuses
    non-finite energies, samples and summaries (one-line :class:`ConfigError` naming the quantity
    and the suspect inputs).
    """
    from ..documents import Dispatcher, JsonLinesWriter

    dispatch = Dispatcher()
    writer = JsonLinesWriter(out) if out is not None else None
    try:
        with run_recording(db, no_db) as ledger_sink:
            if params is not None and (writer is not None or ledger_sink is not None):
                dispatch.subscribe(_finite_guard(params))
            if writer is not None:
                dispatch.subscribe(writer)
            if ledger_sink is not None:
                dispatch.subscribe(ledger_sink)
            yield dispatch
    finally:
        if writer is not None:
            writer.close()
