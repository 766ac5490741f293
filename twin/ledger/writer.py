"""The batching ledger writer: a document subscriber that keeps up, or holds the run back.

:class:`LedgerWriter` is a :data:`twin.documents.Subscriber`. Calling it puts the document in a
bounded buffer (:mod:`twin.ledger._buffer`, about a microsecond); a background thread turns
documents into rows and writes them with bulk ``INSERT ... ON CONFLICT DO NOTHING`` statements,
one transaction per batch.

- Back-pressure, not backlog: the producer waits while the oldest uncommitted document is older
  than ``max_lag_s`` or the uncommitted rows exceed what the writer commits in ``tx_budget_s``
  (measured as it goes). A SIGKILL therefore loses at most about ``max_lag_s`` plus one
  transaction of work (0.25 s documented; ``benchmarks/bench_kill_window.py`` measures it).
- The run row is committed synchronously: a ``start`` document returns once committed, so a run
  killed at any moment is in the ledger and :func:`~twin.ledger.repair_runs` marks it aborted. A
  ``stop`` document also returns once committed, and so does an ``alarm`` (a shadow killed
  mid-alarm leaves it in the ledger). A stop never downgrades a ``complete`` run.
- Concurrency that degrades, never loses: a transaction that fails because the database is locked
  (SQLite writers queue for one lock) or unreachable is retried with jittered exponential backoff.
  After ``patience_s`` (locked) or ``unavailable_s`` (unreachable) the writer stops trying and
  spools the documents it holds, and all later ones, to a local file (:mod:`twin.ledger.spool`)
  that the next open of the ledger imports.
- Idempotent: entries are unique per ``(run, seq, component)``, samples and commands per
  ``(run, seq)``, runs per uid; replaying a stream adds nothing.
- Failures that retrying cannot fix (an entry for an unknown run, a bad phase, a non-finite
  number) are never swallowed: the next call (or ``flush``/``close``) raises
  :class:`~twin.ledger.LedgerError`, which stops the run.

:func:`~twin.ledger.lifecycle.recording` wraps a writer for one block
(:mod:`twin.ledger.lifecycle`); the rows of one transaction are a
:class:`~twin.ledger._batch.Batch`.
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import random
import socket
import threading
import time
import weakref
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ..documents import stop_doc, validate_document
from ._batch import Batch
from ._buffer import Buffer
from ._bulk import check_entry, first_non_finite
from ._retry import failure_kind
from .alarm_record import alarm_row
from .db import Ledger
from .errors import LedgerError, NonFiniteError
from .spool import Spool, spool_dir

__all__ = ["LedgerWriter"]

log = logging.getLogger("twin.ledger")


class LedgerWriter:
    """Batching, idempotent document subscriber writing to a :class:`~twin.ledger.Ledger`.

    Parameters
    ----------
    ledger
        The open ledger (not closed by the writer).
    flush_interval_s
        Commit when the oldest waiting document is this old, s (wall clock).
    max_lag_s
        The producer waits while the oldest uncommitted document is older than this, s.
    tx_budget_s
        Target duration of one transaction, s: bounds the documents in flight (from the
        measured rate), hence the kill window and the time other writers wait for the lock.
    heartbeat_s
        Refresh the heartbeat of open runs this often, s, even when idle.
    patience_s
        Keep retrying a locked database this long, s, before spooling.
    unavailable_s
        Keep retrying an unreachable database this long, s, before spooling.
    spool_base
        Folder of spool files (default ``$TWIN_SPOOL_DIR`` or beside the per-user ledger).
    validate
        Check every document against ``schemas/documents.schema.json`` first (for untrusted
        input; costs ~50 us per document).
    batch_size
        Initial bound on the documents in flight (adapted from the measured rate).

    Attributes
    ----------
    entries_written, samples_written : rows sent to the database (duplicates included); a
    sample row is one sample document.
    flushes : committed transactions. retries : failed attempts retried.
    waits : times the producer was held back. spooled : documents spooled (``spool_path``).
    """

    def __init__(
        self,
        ledger: Ledger,
        *,
        flush_interval_s: float = 0.05,
        max_lag_s: float = 0.1,
        tx_budget_s: float = 0.1,
        heartbeat_s: float = 5.0,
        patience_s: float = 600.0,
        unavailable_s: float = 10.0,
        spool_base: str | Path | None = None,
        validate: bool = False,
        batch_size: int = 5_000,
    ) -> None:
        positive = {
            "flush_interval_s": flush_interval_s,
            "max_lag_s": max_lag_s,
            "tx_budget_s": tx_budget_s,
            "heartbeat_s": heartbeat_s,
            "patience_s": patience_s,
            "unavailable_s": unavailable_s,
            "batch_size": batch_size,
        }
        for name, value in positive.items():
            if not (math.isfinite(value) and value > 0):
                raise LedgerError(f"{name}: must be a finite number > 0, got {value!r}")
        self.ledger = ledger
        self.flush_interval_s = float(flush_interval_s)
        self.tx_budget_s = float(tx_budget_s)
        self.heartbeat_s = float(heartbeat_s)
        self.patience_s = float(patience_s)
        self.unavailable_s = float(unavailable_s)
        self.validate = validate
        self.entries_written = 0
        self.samples_written = 0
        self.flushes = 0
        self.retries = 0
        self._spool_folder = spool_dir(ledger.url, spool_base)
        self._spool: Spool | None = None
        self._host = socket.gethostname()
        self._pid = os.getpid()
        self._jitter = random.Random(self._pid)
        self._rate = 0.0  # rows/s of recent transactions (exponential average)
        self._buffer = Buffer(max_lag_s=float(max_lag_s), cap_rows=int(batch_size))
        self._error: BaseException | None = None
        self._closed = False
        self._open: dict[str, None] = {}  # runs started and not stopped, as the caller sees them
        self._live: set[str] = set()  # the same, as the writer thread has seen them
        self._starts: dict[str, Mapping[str, Any]] = {}  # start documents of live runs (spool)
        self._last_beat = time.monotonic()
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
        """Queue one document; ``start``, ``stop`` and ``alarm`` documents are committed before
        returning (an alarm is in the ledger at once, whatever happens to the process next).

        Raises
        ------
        NonFiniteError
            An energy entry or a stop summary holds NaN or infinity (the document is refused;
            an ``aborted`` stop for the run is still accepted).
        LedgerError
            An earlier write failed, or the writer is closed.
        """
        if self._error is not None:
            raise self._failure()
        if self._closed:
            raise LedgerError("ledger writer: already closed")
        if self.validate:
            validate_document(doc)
        kind = doc["doc"]
        if kind == "energy":
            if not math.isfinite(doc["energy_j"] + doc["t0_s"] + doc["t1_s"]):
                check_entry(doc)  # raises NonFiniteError naming the field, nothing is queued
        elif kind == "sample":
            if not math.isfinite(doc["t_s"]):
                raise NonFiniteError(
                    f"sample {doc['seq']} of run {doc['run']}: t_s = {doc['t_s']} is not finite"
                )
        elif kind == "stop":
            bad = first_non_finite(doc.get("summary"), "summary")
            if bad is not None:
                raise NonFiniteError(f"run {doc['run']}: {bad} is not a finite number")
            self._open.pop(doc["run"], None)
        elif kind == "start":
            self._open[doc["uid"]] = None
        elif kind == "alarm":
            alarm_row(doc)  # raises NonFiniteError naming the field, nothing is queued
        seq = self._buffer.put(doc, 1, self._thread.is_alive)
        if kind in ("start", "stop", "alarm"):
            self._buffer.wait_done(seq, self._thread.is_alive)
            if self._error is not None:
                raise self._failure()

    @property
    def open_runs(self) -> list[str]:
        """Uids of the runs started and not yet stopped."""
        return list(self._open)

    @property
    def waits(self) -> int:
        """How many times the producer was held back (back-pressure)."""
        return self._buffer.waits

    @property
    def spooled(self) -> int:
        """Documents written to the spool file instead of the database."""
        return self._spool.count if self._spool is not None else 0

    @property
    def spool_path(self) -> Path | None:
        """The spool file, if the database was given up on."""
        return self._spool.path if self._spool is not None else None

    def flush(self) -> None:
        """Block until every document queued so far is committed (or spooled).

        Raises
        ------
        LedgerError
            A write failed (this or an earlier one).
        """
        self._buffer.wait_done(self._buffer.put_seq, self._thread.is_alive)
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
            self._buffer.close()
            self._thread.join()
            atexit.unregister(self._exit_hook)
            if self._spool is not None:
                self._spool.close()
                log.warning(
                    "ledger %s unavailable: %d document(s) spooled to %s; the next open of the "
                    "ledger (or twin energy import) records them",
                    self.ledger.url,
                    self._spool.count,
                    self._spool.path,
                )
        if self._error is not None:
            raise self._failure()

    def __enter__(self) -> LedgerWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _failure(self) -> LedgerError:
        exc = self._error
        if isinstance(exc, LedgerError):
            return exc
        orig = getattr(exc, "orig", None) or exc
        first = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
        err = LedgerError(f"ledger writer: {first}")
        err.__cause__ = exc
        return err

    # ------------------------------------------------------------------ writer thread

    def _beat_due(self, now: float) -> float | None:
        if not self._live or self._error is not None:  # a failed writer beats no more
            return None
        return self._last_beat + self.heartbeat_s - now

    def _loop(self) -> None:
        while True:
            docs, seq, closing = self._buffer.take(self.flush_interval_s, self._beat_due)
            beat = self._live and time.monotonic() - self._last_beat >= self.heartbeat_s
            if docs or beat:
                self._write(docs, beat=bool(beat))
            self._buffer.committed(seq)
            if closing:
                return

    def _write(self, docs: list[Mapping[str, Any]], *, beat: bool) -> None:
        if beat:  # before any early return: a due heartbeat must not stay due (a busy loop)
            self._last_beat = time.monotonic()
        if self._error is not None:
            return  # the caller has been told; later documents are dropped, not half-written
        live = set(self._live)
        try:
            batch = Batch(self._host, self._pid, time.time())
            for doc in docs:
                batch.add(doc)
                if doc["doc"] == "start":
                    live.add(doc["uid"])
                    self._starts[doc["uid"]] = doc
                elif doc["doc"] == "stop":
                    live.discard(doc["run"])
            if self._spool is None:
                self._commit(batch, live if beat else set(), docs)
            else:
                self._to_spool(docs)
        except Exception as exc:  # reported to the caller by the next call, flush or close
            log.error("ledger writer: write of %d documents failed: %s", len(docs), exc)
            self._error = exc
            return
        for uid in self._live - live:
            self._starts.pop(uid, None)
        self._live = live

    def _commit(self, batch: Batch, live: set[str], docs: list[Mapping[str, Any]]) -> None:
        """One transaction, retried on lock or connection failures; spool when out of patience."""
        t0 = time.monotonic()
        delay = 0.005
        while True:
            t_try = time.monotonic()
            try:
                with self.ledger.write() as conn:
                    batch.execute(conn, live)
                break
            except sa.exc.DBAPIError as exc:
                kind = failure_kind(exc)
                if kind is None:
                    raise
                waited = time.monotonic() - t0
                if waited > (self.patience_s if kind == "locked" else self.unavailable_s):
                    log.error("ledger writer: giving up on the database after %.1f s: %s",
                              waited, str(exc.orig or exc).splitlines()[0])  # fmt: skip
                    self._to_spool(docs)
                    return
                self.retries += 1
                log.debug("ledger writer: %s, retrying in %.3f s", kind, delay)
                time.sleep(delay * (0.5 + self._jitter.random()))
                delay = min(delay * 2, 1.0)
        rows = len(batch.entries) + len(batch.samples) + len(batch.runs) + len(batch.stops)
        rows += len(batch.commands)
        self.entries_written += len(batch.entries)
        self.samples_written += len(batch.samples)
        self.flushes += 1
        self._adapt(rows, time.monotonic() - t_try)

    def _adapt(self, rows: int, seconds: float) -> None:
        """Size the rows in flight so one transaction takes about ``tx_budget_s``."""
        if rows < 100 or seconds <= 0:
            return
        rate = rows / seconds
        self._rate = rate if self._rate == 0 else 0.7 * self._rate + 0.3 * rate
        self._buffer.set_cap(int(min(max(self._rate * self.tx_budget_s, 200), 200_000)))

    def _to_spool(self, docs: list[Mapping[str, Any]]) -> None:
        if self._spool is None:
            self._spool = Spool(self._spool_folder, self.ledger.url)
            in_batch = {d["uid"] for d in docs if d["doc"] == "start"}
            for uid, start in self._starts.items():  # the spool file stands alone
                if uid not in in_batch:
                    self._spool.write(start)
        for doc in docs:
            self._spool.write(doc)
        self._spool.sync()
