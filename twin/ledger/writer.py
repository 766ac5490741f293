"""The batching ledger writer: a document subscriber that never stalls the run.

:class:`LedgerWriter` is a :data:`twin.documents.Subscriber`. Calling it only puts the document on
a queue (well under a microsecond); a background thread turns documents into rows and writes them
with Core bulk ``INSERT ... ON CONFLICT DO NOTHING`` statements, one transaction per batch.

- A batch is flushed when it reaches ``batch_size`` documents, when its oldest document has
  waited ``flush_interval_s``, on :meth:`LedgerWriter.flush`, on every ``stop`` document (the
  call returns once the stop is committed) and on :meth:`LedgerWriter.close`.
- Idempotent: entries are unique per ``(run, seq, component)``, samples per
  ``(run, seq, realization, quantity)``, runs per uid; replaying a stream adds nothing.
- Kill-safety: each batch is one transaction, so a killed process loses at most the batch in
  flight and never leaves a partial or duplicated one. Each run row records the writer's host and
  pid, and a heartbeat refreshed every ``heartbeat_s``; :func:`twin.ledger.repair_runs` (run by
  every :func:`twin.ledger.open_ledger`) marks a ``running`` run aborted once its writer is gone.
- Failures are never swallowed: a failed flush makes the next call (or ``flush``/``close``) raise
  :class:`~twin.ledger.LedgerError`, which stops the run.

:func:`recording` wraps a writer for one block: it closes (flushes) it on exit and marks runs
that did not get a stop document as aborted when the block raises. :func:`flush_on_signals` makes
SIGTERM/SIGINT unwind the run like an exception, so the same path records them; the CLI installs
it, importing this module installs nothing.
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import queue
import signal
import socket
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, suppress
from types import FrameType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..documents import stop_doc, validate_document
from .db import Ledger
from .errors import LedgerError
from .models import (
    ENERGY_METHOD,
    ENERGY_PHASE,
    ENERGY_SOURCE,
    alarms,
    boards,
    entries,
    insert_ignore,
    runs,
    samples,
)

__all__ = [
    "LedgerWriter",
    "TerminatedBySignal",
    "bulk_insert_ignore",
    "flush_on_signals",
    "record_alarm",
    "recording",
]

log = logging.getLogger("twin.ledger")

_CLOSE = object()


class _Barrier:
    """Queue marker: the writer flushes everything before it, then sets the event."""

    def __init__(self) -> None:
        self.done = threading.Event()


class TerminatedBySignal(SystemExit):
    """Raised in the main thread on SIGTERM by :func:`flush_on_signals`; exit code 128 + signum."""

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signum = signum

    def __str__(self) -> str:
        return f"terminated by {signal.Signals(self.signum).name}"


def _jsonable(value: Any) -> Any:
    """``value`` as plain JSON: numpy scalars to Python, tuples to lists, non-finite floats None."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    return x if math.isfinite(x) else None


_ENTRY_COLUMNS = (
    "run_uid",
    "seq",
    "component",
    "realization",
    "t0_s",
    "t1_s",
    "phase",
    "source",
    "method",
    "energy_j",
)
_SAMPLE_COLUMNS = ("run_uid", "seq", "realization", "quantity", "t_s", "step", "value")
_PHASES = frozenset(ENERGY_PHASE)
_SOURCES = frozenset(ENERGY_SOURCE)
_METHODS = frozenset(ENERGY_METHOD)


def _bad_entry(doc: Mapping[str, Any]) -> str:
    checks: tuple[tuple[str, tuple[str, ...]], ...] = (
        ("phase", ENERGY_PHASE),
        ("source", ENERGY_SOURCE),
        ("method", ENERGY_METHOD),
    )
    field, allowed = next((f, a) for f, a in checks if doc[f] not in a)
    return (
        f"energy doc {doc.get('seq')} of run {doc.get('run')}: {field} must be one of "
        f"{', '.join(allowed)}, got {doc[field]!r}"
    )


def bulk_insert_ignore(
    conn: Connection, table: sa.Table, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """Insert ``rows`` (tuples in ``columns`` order), skipping primary keys already present.

    The hot path of the ledger, so it bypasses SQLAlchemy's per-row parameter processing:
    SQLite gets one ``executemany`` of ``INSERT ... ON CONFLICT DO NOTHING``; PostgreSQL gets a
    ``COPY`` into a temporary staging table and one ``INSERT ... SELECT ... ON CONFLICT DO
    NOTHING`` (about 1.5x faster than psycopg's pipelined ``executemany``).
    """
    cols = ", ".join(columns)
    if conn.dialect.name == "sqlite":
        marks = ", ".join("?" * len(columns))
        sql = f"INSERT INTO {table.name} ({cols}) VALUES ({marks}) ON CONFLICT DO NOTHING"
        conn.exec_driver_sql(sql, rows)
        return
    if conn.dialect.name != "postgresql":
        raise LedgerError(f"db: unsupported database {conn.dialect.name!r}")
    stage = f"twin_stage_{table.name}"
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cur:
        if stage not in conn.info:  # once per database connection
            cur.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table.name}) ON COMMIT DELETE ROWS"
            )
            conn.info[stage] = True
        with cur.copy(f"COPY {stage} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cur.execute(
            f"INSERT INTO {table.name} ({cols}) SELECT {cols} FROM {stage} ON CONFLICT DO NOTHING"
        )


class _Batch:
    """Rows of one flush, grouped by statement."""

    def __init__(self, host: str, pid: int, now: float) -> None:
        self.host, self.pid, self.now = host, pid, now
        self.boards: list[dict[str, Any]] = []
        self.runs: list[dict[str, Any]] = []
        self.entries: list[tuple[Any, ...]] = []  # in _ENTRY_COLUMNS order
        self.samples: list[tuple[Any, ...]] = []  # in _SAMPLE_COLUMNS order
        self.stops: list[dict[str, Any]] = []

    def add(self, doc: Mapping[str, Any]) -> None:
        kind = doc["doc"]
        if kind == "energy":
            phase, source, method = doc["phase"], doc["source"], doc["method"]
            if phase not in _PHASES or source not in _SOURCES or method not in _METHODS:
                raise LedgerError(_bad_entry(doc))
            self.entries.append(
                (
                    doc["run"],
                    doc["seq"],
                    doc["component"],
                    doc.get("realization", 0),
                    doc["t0_s"],
                    doc["t1_s"],
                    phase,
                    source,
                    method,
                    doc["energy_j"],
                )
            )
        elif kind == "sample":
            self._add_sample(doc)
        elif kind == "start":
            self._add_start(doc)
        elif kind == "stop":
            self.stops.append(
                {
                    "b_uid": doc["run"],
                    "status": doc["status"],
                    "stopped_unix": doc["time_unix"],
                    "reason": doc.get("reason") or None,
                    "summary": _jsonable(doc["summary"]) if "summary" in doc else None,
                }
            )
        else:
            raise LedgerError(f"doc: cannot record a {kind!r} document")

    def _add_sample(self, doc: Mapping[str, Any]) -> None:
        run, seq, t_s, step = doc["run"], doc["seq"], doc["t_s"], doc.get("step")
        rows = self.samples
        for quantity, values in doc["data"].items():
            for r, value in enumerate(values):
                # NaN is stored as NULL (SQLite cannot store NaN)
                rows.append((run, seq, r, quantity, t_s, step, None if value != value else value))

    def _add_start(self, doc: Mapping[str, Any]) -> None:
        board = doc.get("board")
        if board is not None:
            self.boards.append({"name": board, "description": None, "created_unix": self.now})
        self.runs.append(
            {
                "uid": doc["uid"],
                "source": doc["source"],
                "kind": doc["kind"],
                "board": board,
                "realizations": doc["realizations"],
                "params": _jsonable(doc["params"]),
                "code_version": doc["code_version"],
                "started_unix": doc["time_unix"],
                "stopped_unix": None,
                "status": "running",
                "reason": None,
                "summary": None,
                "writer_host": self.host,
                "writer_pid": self.pid,
                "heartbeat_unix": self.now,
            }
        )

    def execute(self, conn: Connection, live: Iterable[str]) -> None:
        dialect = conn.dialect.name
        if self.boards:
            conn.execute(insert_ignore(dialect, boards), self.boards)
        if self.runs:
            conn.execute(insert_ignore(dialect, runs), self.runs)
            # A replayed start of a run still marked running: this writer now owns it.
            conn.execute(
                sa.update(runs)
                .where(runs.c.uid.in_([r["uid"] for r in self.runs]), runs.c.status == "running")
                .values(writer_host=self.host, writer_pid=self.pid, heartbeat_unix=self.now)
            )
        if self.entries:
            bulk_insert_ignore(conn, entries, _ENTRY_COLUMNS, self.entries)
        if self.samples:
            bulk_insert_ignore(conn, samples, _SAMPLE_COLUMNS, self.samples)
        if self.stops:
            conn.execute(
                sa.update(runs)
                .where(runs.c.uid == sa.bindparam("b_uid"))
                .values(
                    status=sa.bindparam("status"),
                    stopped_unix=sa.bindparam("stopped_unix"),
                    reason=sa.bindparam("reason"),
                    summary=sa.bindparam("summary", type_=sa.JSON()),
                    heartbeat_unix=self.now,
                ),
                self.stops,
            )
        live = list(live)
        if live:
            conn.execute(
                sa.update(runs)
                .where(runs.c.uid.in_(live), runs.c.status == "running")
                .values(heartbeat_unix=self.now)
            )


class LedgerWriter:
    """Batching, idempotent document subscriber writing to a :class:`~twin.ledger.Ledger`.

    Parameters
    ----------
    ledger
        The open ledger (not closed by the writer).
    batch_size
        Flush when this many documents are waiting.
    flush_interval_s
        Flush when the oldest waiting document is this old, seconds (wall clock): the most a
        killed process can lose.
    heartbeat_s
        Refresh the heartbeat of open runs this often, seconds, even when idle.
    validate
        Check every document against ``schemas/documents.schema.json`` first (for untrusted
        input such as imported files; costs ~50 us per document).

    Attributes
    ----------
    entries_written, samples_written : rows sent to the database (duplicates included).
    flushes : number of committed transactions.
    """

    def __init__(
        self,
        ledger: Ledger,
        *,
        batch_size: int = 20_000,
        flush_interval_s: float = 0.25,
        heartbeat_s: float = 5.0,
        validate: bool = False,
    ) -> None:
        if batch_size < 1:
            raise LedgerError(f"batch_size: must be >= 1, got {batch_size}")
        if not (flush_interval_s > 0 and heartbeat_s > 0):
            raise LedgerError("flush_interval_s/heartbeat_s: must be > 0")
        self.ledger = ledger
        self.batch_size = int(batch_size)
        self.flush_interval_s = float(flush_interval_s)
        self.heartbeat_s = float(heartbeat_s)
        self.validate = validate
        self.entries_written = 0
        self.samples_written = 0
        self.flushes = 0
        self._host = socket.gethostname()
        self._pid = os.getpid()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._error: BaseException | None = None
        self._closed = False
        self._open: dict[str, None] = {}  # runs started and not stopped, as the caller sees them
        self._live: set[str] = set()  # the same, as the writer thread has seen them
        self._thread = threading.Thread(target=self._loop, name="twin-ledger-writer", daemon=True)
        self._thread.start()
        # A writer left open at interpreter exit is still flushed (the thread is a daemon).
        ref = weakref.ref(self)

        def close_at_exit() -> None:
            writer = ref()
            if writer is not None:
                with suppress(LedgerError):
                    writer.close()

        self._exit_hook = close_at_exit
        atexit.register(close_at_exit)

    # ------------------------------------------------------------------ caller side

    def __call__(self, doc: Mapping[str, Any]) -> None:
        """Queue one document; a ``stop`` document is committed before this returns."""
        if self._error is not None:
            raise self._failure()
        if self._closed:
            raise LedgerError("ledger writer: already closed")
        if self.validate:
            validate_document(doc)
        kind = doc["doc"]
        if kind == "start":
            self._open[doc["uid"]] = None
        elif kind == "stop":
            self._open.pop(doc["run"], None)
        self._queue.put(doc)
        if kind == "stop":
            self.flush()

    @property
    def open_runs(self) -> list[str]:
        """Uids of the runs started and not yet stopped."""
        return list(self._open)

    def flush(self) -> None:
        """Block until every document queued so far is committed.

        Raises
        ------
        LedgerError
            A write failed (this or an earlier one).
        """
        if self._thread.is_alive():
            barrier = _Barrier()
            self._queue.put(barrier)
            while not barrier.done.wait(0.5):
                if not self._thread.is_alive():
                    break
        if self._error is not None:
            raise self._failure()

    def abort_open_runs(self, reason: str) -> None:
        """Queue an ``aborted`` stop for every run that has not been stopped."""
        for uid in list(self._open):
            self(stop_doc(uid, status="aborted", reason=reason))

    def close(self) -> None:
        """Flush and stop the writer thread (idempotent); raises if a write failed."""
        if not self._closed:
            self._closed = True
            self._queue.put(_CLOSE)
            self._thread.join()
            atexit.unregister(self._exit_hook)
        if self._error is not None:
            raise self._failure()

    def __enter__(self) -> LedgerWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _failure(self) -> LedgerError:
        exc = self._error
        orig = getattr(exc, "orig", None) or exc
        first = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
        err = LedgerError(f"ledger writer: {first}")
        err.__cause__ = exc
        return err

    # ------------------------------------------------------------------ writer thread

    def _loop(self) -> None:
        pending: list[Mapping[str, Any]] = []
        first_at = 0.0
        last_beat = time.monotonic()
        while True:
            now = time.monotonic()
            if pending:
                timeout: float | None = max(0.0, first_at + self.flush_interval_s - now)
            elif self._live:
                timeout = max(0.0, last_beat + self.heartbeat_s - now)
            else:
                timeout = None
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                item = None
            barrier: _Barrier | None = None
            closing = False
            while item is not None:
                if item is _CLOSE:
                    closing = True
                    break
                if isinstance(item, _Barrier):
                    barrier = item
                    break
                if not pending:
                    first_at = time.monotonic()
                pending.append(item)
                if len(pending) >= self.batch_size:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    item = None
            now = time.monotonic()
            due = bool(pending) and (
                closing
                or barrier is not None
                or len(pending) >= self.batch_size
                or now - first_at >= self.flush_interval_s
            )
            if due or (self._live and now - last_beat >= self.heartbeat_s):
                self._write(pending)
                pending = []
                last_beat = now
            if barrier is not None:
                barrier.done.set()
            if closing:
                return

    def _write(self, docs: list[Mapping[str, Any]]) -> None:
        if self._error is not None:
            return  # the caller has been told; later documents are dropped, not half-written
        try:
            batch = _Batch(self._host, self._pid, time.time())
            live = set(self._live)
            for doc in docs:
                batch.add(doc)
                if doc["doc"] == "start":
                    live.add(doc["uid"])
                elif doc["doc"] == "stop":
                    live.discard(doc["run"])
            with self.ledger.write() as conn:
                batch.execute(conn, live)
            self._live = live
            self.entries_written += len(batch.entries)
            self.samples_written += len(batch.samples)
            self.flushes += 1
        except Exception as exc:  # reported to the caller by the next call, flush or close
            log.error("ledger writer: flush of %d documents failed: %s", len(docs), exc)
            self._error = exc


@contextmanager
def flush_on_signals(
    signums: Iterable[signal.Signals] = (signal.SIGTERM, signal.SIGINT),
) -> Iterator[None]:
    """Turn SIGTERM into :class:`TerminatedBySignal` and SIGINT into ``KeyboardInterrupt``.

    The exception unwinds the run like any other: the trainer emits an ``aborted`` stop document
    and :func:`recording` flushes the writer before the process exits (code 143 for SIGTERM).
    Previous handlers are restored on exit. Outside the main thread this does nothing (Python
    only delivers signals there).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise TerminatedBySignal(signum)

    previous = {s: signal.signal(s, handler) for s in signums}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


@contextmanager
def recording(ledger: Ledger, *, signals: bool = False, **options: Any) -> Iterator[LedgerWriter]:
    """A :class:`LedgerWriter` for one block; see the module docstring.

    Parameters
    ----------
    ledger
        The open ledger (stays open).
    signals
        Also install :func:`flush_on_signals` for the block (CLI commands do).
    **options
        :class:`LedgerWriter` settings.

    On normal exit the writer is closed (everything committed; a failed write raises
    :class:`~twin.ledger.LedgerError`). If the block raises, runs without a stop document are
    marked ``aborted`` with the exception as reason, the writer is closed and the exception
    propagates.
    """
    writer = LedgerWriter(ledger, **options)
    with ExitStack() as stack:
        if signals:
            stack.enter_context(flush_on_signals())
        try:
            yield writer
        except BaseException as exc:
            reason = f"{type(exc).__name__}: {exc}"
            if writer.open_runs:
                log.warning("run(s) %s aborted: %s", ", ".join(writer.open_runs), reason)
                with suppress(LedgerError):  # a broken writer is reported by close() below
                    writer.abort_open_runs(reason)
            try:
                writer.close()
            except LedgerError as err:
                if exc.__cause__ is not err.__cause__:  # not the very error being raised
                    log.error("%s", err)
            raise
        if writer.open_runs:
            writer.abort_open_runs("the producer closed the writer without a stop document")
        writer.close()


def record_alarm(
    ledger: Ledger,
    *,
    severity: str,
    code: str,
    message: str,
    run_uid: str | None = None,
    board: str | None = None,
    t_s: float | None = None,
) -> None:
    """Append one alarm (``severity`` info, warning, error or critical) to the ledger now."""
    now = time.time()
    with ledger.write() as conn:
        if board is not None:
            conn.execute(
                insert_ignore(ledger.dialect, boards),
                [{"name": board, "description": None, "created_unix": now}],
            )
        conn.execute(
            sa.insert(alarms).values(
                run_uid=run_uid,
                board=board,
                t_unix=now,
                t_s=t_s,
                severity=severity,
                code=code,
                message=message,
            )
        )
