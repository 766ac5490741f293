"""The ledger writer under pressure: back-pressure, the synchronous run row, locks, the spool."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.ledger_support import (
    ledger,
    ledger_url,
    pg_server,
    pg_url,
    scalar,
    sqlite_url,
    wait_for,
)
from twin.documents import energy_doc, sample_doc, start_doc, stop_doc
from twin.ledger import LedgerWriter, NonFiniteError, open_ledger, recording, show_run
from twin.ledger.db import failure_kind

__all__ = ["ledger", "ledger_url", "pg_server", "pg_url", "sqlite_url"]  # fixtures, re-exported


def _stream(uid: str, n: int, quantities: int = 40) -> list[dict[str, Any]]:
    """A simulate-like stream: per step one sample document and three energy entries."""
    docs: list[dict[str, Any]] = [
        dict(start_doc(source="twin", kind="simulate", params={}, uid=uid))
    ]
    for i in range(n):
        data = {f"q{j}": [i + j / 100] for j in range(quantities)}
        docs.append(dict(sample_doc(uid, i, i * 2e-4, data)))
        for c, comp in enumerate(("free_network", "clamped_network", "gate_charging")):
            docs.append(
                dict(energy_doc(uid, 3 * i + c, i * 2e-4, (i + 1) * 2e-4, 1e-9, component=comp))
            )
    docs.append(dict(stop_doc(uid, summary={"n": n})))
    return docs


def test_a_fast_producer_is_held_back_and_nothing_is_lost(ledger) -> None:
    docs = _stream("bp1", 3000)
    with recording(ledger, max_lag_s=0.02, tx_budget_s=0.02) as writer:
        for doc in docs:
            writer(doc)
    assert writer.waits > 0  # the producer (a list) is far faster than any database
    assert scalar(ledger, "SELECT COUNT(*) FROM entries WHERE run_uid = 'bp1'") == 9000
    assert scalar(ledger, "SELECT COUNT(*) FROM samples WHERE run_uid = 'bp1'") == 3000
    assert scalar(ledger, "SELECT status FROM runs WHERE uid = 'bp1'") == "complete"


def test_samples_keep_every_reading_and_store_non_finite_as_null(ledger) -> None:
    uid = "nan1"
    data = {"error": [0.5, float("nan")], "lam": [float("inf"), 2.0], "name NaN": [1.0, 3.0]}
    with recording(ledger) as writer:
        writer(start_doc(source="twin", kind="train", params={}, realizations=2, uid=uid))
        writer(sample_doc(uid, 0, 0.0, data, step=0))
        writer(stop_doc(uid))
    with ledger.read() as conn:
        (stored,) = conn.execute(sa.text("SELECT step, data FROM samples")).all()
    assert stored[0] == 0
    data = json.loads(stored[1]) if isinstance(stored[1], str) else stored[1]
    assert data == {"error": [0.5, None], "lam": [None, 2.0], "name NaN": [1.0, 3.0]}


def test_the_run_row_is_committed_before_start_returns(ledger_url: str) -> None:
    with open_ledger(ledger_url) as led, recording(led, flush_interval_s=60) as writer:
        writer(start_doc(source="twin", kind="train", params={}, uid="sync1"))
        with open_ledger(ledger_url, repair=False) as other:  # another connection sees it
            assert scalar(other, "SELECT status FROM runs WHERE uid = 'sync1'") == "running"
        writer(stop_doc("sync1"))


def _record_an_infinite_entry(ledger_: Any) -> None:
    with recording(ledger_) as writer:
        writer(start_doc(source="twin", kind="train", params={}, uid="inf1"))
        writer(energy_doc("inf1", 0, 0.0, 1.0, 1.0, component="free_network"))
        writer(energy_doc("inf1", 1, 1.0, 2.0, float("inf"), component="free_network"))


def test_non_finite_entries_are_refused_and_the_run_can_still_be_aborted(ledger) -> None:
    with pytest.raises(NonFiniteError, match="energy_j is inf"):
        _record_an_infinite_entry(ledger)
    info = show_run(ledger, "inf1")
    assert info["run"]["status"] == "aborted"
    assert "energy_j is inf" in info["run"]["reason"]
    assert info["energy_j_total"] == 1.0


def test_failure_kinds() -> None:
    locked = sa.exc.OperationalError("BEGIN", {}, sqlite3.OperationalError("database is locked"))
    gone = sa.exc.OperationalError("x", {}, Exception("connection refused"))
    fk = sa.exc.IntegrityError("x", {}, Exception("FOREIGN KEY constraint failed"))
    assert [failure_kind(e) for e in (locked, gone, fk)] == ["locked", "unavailable", None]


class _Lock:
    """Holds SQLite's write lock from another connection until released."""

    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        self.conn.execute("ROLLBACK")
        self.conn.close()


def _db_path(url: str) -> str:
    return url.removeprefix("sqlite:///")


def test_a_locked_database_is_retried_until_free(sqlite_url: str) -> None:
    docs = _stream("lock1", 50)
    with open_ledger(sqlite_url) as led:
        writer = LedgerWriter(led)
        writer(docs[0])  # the run row is in
        lock = _Lock(_db_path(sqlite_url))
        done = threading.Event()

        def produce() -> None:
            for doc in docs[1:]:
                writer(doc)  # the stop waits for its commit
            done.set()

        thread = threading.Thread(target=produce)
        thread.start()
        wait_for(lambda: writer.retries >= 2, what="the writer retrying a locked database")
        assert not done.is_set()
        lock.release()
        thread.join(timeout=60)
        writer.close()
        assert done.is_set()
        assert scalar(led, "SELECT COUNT(*) FROM entries") == 150
        assert scalar(led, "SELECT status FROM runs") == "complete"
        assert writer.spooled == 0


def test_out_of_patience_the_run_is_spooled_and_the_next_open_imports_it(
    sqlite_url: str, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("TWIN_SPOOL_DIR", str(tmp_path / "spool"))
    docs = _stream("spool1", 40)
    with open_ledger(sqlite_url) as led:
        writer = LedgerWriter(led, patience_s=0.3)
        writer(docs[0])
        writer(docs[1])
        writer.flush()
        lock = _Lock(_db_path(sqlite_url))
        try:
            for doc in docs[2:]:
                writer(doc)  # nothing raises: the documents go to the spool
            writer.close()
        finally:
            lock.release()
        assert writer.spool_path is not None
        assert writer.spooled > 0
        assert scalar(led, "SELECT status FROM runs") == "running"
    with open_ledger(sqlite_url) as led:  # the next open imports the spool file
        info = show_run(led, "spool1")
        assert info["run"]["status"] == "complete"
        assert scalar(led, "SELECT COUNT(*) FROM entries") == 120
        assert scalar(led, "SELECT COUNT(*) FROM samples") == 40
    assert not writer.spool_path.exists()  # imported, then deleted


def _emit_and_flush(writer: LedgerWriter, docs: list[dict[str, Any]]) -> None:
    for doc in docs:
        writer(doc)
    writer.flush()


def test_a_failed_writer_with_a_live_run_waits_instead_of_spinning(sqlite_url: str) -> None:
    """Regression: after a failed write, a due heartbeat stayed due and the writer thread spun
    on its condition variable holding the GIL, starving every other thread of the process."""
    docs = _stream("fail1", 3)
    with open_ledger(sqlite_url) as led:
        writer = LedgerWriter(led, heartbeat_s=0.01)
        writer(docs[0])  # the run row is in: the run is live, so heartbeats are due

        def broken(*args: Any) -> None:
            raise RuntimeError("injected failure of the entries insert")

        writer._commit = broken  # type: ignore[method-assign]  # every later write fails
        with pytest.raises(Exception, match="entries"):
            _emit_and_flush(writer, docs[1:])
        calls = 0
        take = writer._buffer.take

        def counting(*args: Any) -> Any:
            nonlocal calls
            calls += 1
            return take(*args)

        writer._buffer.take = counting  # type: ignore[method-assign]
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:  # a measurement window, not synchronisation
            threading.Event().wait(0.05)
        assert calls < 5, f"the writer loop ran {calls} times in 0.5 s"
        with pytest.raises(Exception, match="entries"):
            writer.close()
        assert not writer._thread.is_alive()
