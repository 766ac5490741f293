"""The bounded hand-over between a run (the producer) and the ledger's writer thread.

Back-pressure instead of an unbounded backlog: :meth:`Buffer.put` waits while

- the documents not yet committed hold more than ``cap_rows`` rows, or
- the oldest document not yet committed is older than ``max_lag_s`` (wall clock).

So a producer faster than the database is slowed to the database's pace, and what a SIGKILL can
lose is bounded by ``max_lag_s`` plus one transaction (the writer sizes its transactions to
``tx_budget_s`` from its measured rate). The writer takes everything waiting in one go.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["Buffer"]


class Buffer:
    """Documents waiting for the writer thread, with back-pressure and commit tracking.

    Parameters
    ----------
    max_lag_s
        The producer waits while the oldest uncommitted document is older than this, s.
    cap_rows
        Initial bound on the uncommitted rows (the writer adapts it with :meth:`set_cap`).
    """

    def __init__(self, *, max_lag_s: float, cap_rows: int) -> None:
        self.cv = threading.Condition()
        self.max_lag_s = max_lag_s
        self.cap_rows = cap_rows
        self.docs: list[Mapping[str, Any]] = []
        self.rows = 0
        self.first_t: float | None = None  # when the oldest waiting document was put
        self.flight_t: float | None = None  # the same for the batch being written
        self.put_seq = 0  # documents put so far
        self.done_seq = 0  # documents committed (or spooled) so far
        self.flush_wanted = False
        self.closed = False
        self.waits = 0  # times the producer had to wait (back-pressure)

    # ------------------------------------------------------------------ producer side

    def _room(self, weight: int, now: float) -> bool:
        if self.rows and self.rows + weight > self.cap_rows:
            return False
        oldest = min(t for t in (self.first_t, self.flight_t, now) if t is not None)
        return now - oldest <= self.max_lag_s

    def put(self, doc: Mapping[str, Any], weight: int, alive: Callable[[], bool]) -> int:
        """Append ``doc`` (waiting for room while the writer is ``alive``); its sequence number."""
        with self.cv:
            now = time.monotonic()
            if not self._room(weight, now):
                self.waits += 1
                self.flush_wanted = True
                self.cv.notify_all()
                while not self._room(weight, now) and alive():
                    self.cv.wait(0.2)
                    now = time.monotonic()
            self.docs.append(doc)
            self.rows += weight
            self.put_seq += 1
            if self.first_t is None:  # wake the writer to time this batch
                self.first_t = now
                self.cv.notify_all()
            elif self.rows >= self.cap_rows:
                self.cv.notify_all()
            return self.put_seq

    def wait_done(self, seq: int, alive: Callable[[], bool]) -> None:
        """Block until document ``seq`` is committed (or the writer is gone)."""
        with self.cv:
            if self.done_seq < seq:
                self.flush_wanted = True
                self.cv.notify_all()
            while self.done_seq < seq and alive():
                self.cv.wait(0.2)

    def close(self) -> None:
        with self.cv:
            self.closed = True
            self.cv.notify_all()

    # ------------------------------------------------------------------ writer side

    def take(
        self, flush_interval_s: float, beat_due: Callable[[float], float | None]
    ) -> tuple[list[Mapping[str, Any]], int, bool]:
        """Wait for a batch to be due; returns (documents, last seq, closing).

        ``beat_due(now)`` gives the seconds until a heartbeat is due (<= 0: now; None: never);
        an empty batch is returned then.
        """
        with self.cv:
            while True:
                now = time.monotonic()
                if self.docs and (
                    self.closed
                    or self.flush_wanted
                    or self.rows >= self.cap_rows
                    or (self.first_t is not None and now - self.first_t >= flush_interval_s)
                ):
                    break
                if self.closed:
                    return [], self.put_seq, True
                beat = beat_due(now)
                if beat is not None and beat <= 0:
                    break
                waits = [beat] if beat is not None else []
                if self.first_t is not None:
                    waits.append(self.first_t + flush_interval_s - now)
                self.cv.wait(max(0.0, min(waits)) if waits else None)
            docs, self.docs = self.docs, []
            self.flight_t, self.first_t = self.first_t, None
            self.rows = 0
            self.flush_wanted = False
            self.cv.notify_all()
            return docs, self.put_seq, self.closed

    def committed(self, seq: int) -> None:
        """The batch up to document ``seq`` is committed (or spooled)."""
        with self.cv:
            self.flight_t = None
            self.done_seq = max(self.done_seq, seq)
            self.cv.notify_all()

    def set_cap(self, cap_rows: int) -> None:
        with self.cv:
            self.cap_rows = cap_rows
            self.cv.notify_all()
