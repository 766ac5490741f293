"""Fixtures and helpers of the energy-ledger tests (SQLite files and PostgreSQL schemas).

PostgreSQL: the shared server at 127.0.0.1:5432 (user postgres, trust auth, database ``test``;
``.ci/run`` starts it). Each test gets its own schema (dropped afterwards) through the URL's
``search_path``. Outside CI an unreachable server skips the PostgreSQL cases with the reason;
in CI (``CI`` set) it fails them.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from twin.documents import energy_doc, sample_doc, start_doc, stop_doc
from twin.ledger import Ledger, open_ledger, recording
from twin.ledger.db import alembic_config

PG_HOST, PG_PORT, PG_USER, PG_DB = "127.0.0.1", 5432, "postgres", "test"
PG_BASE = f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{PG_DB}"


def _pg_admin() -> Any:
    import psycopg

    return psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=PG_DB, connect_timeout=3, autocommit=True
    )


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The server's base URL; skips (outside CI) or fails (in CI) when it cannot be reached."""
    try:
        _pg_admin().close()
    except Exception as exc:
        reason = f"PostgreSQL at {PG_HOST}:{PG_PORT} unreachable: {str(exc).strip()}"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI must test PostgreSQL; .ci/run starts it)")
        pytest.skip(f"{reason} (not in CI; start it to test the PostgreSQL backend)")
    return PG_BASE


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """URL of a fresh, empty schema of the test database (dropped after the test)."""
    schema = f"twin_test_{uuid.uuid4().hex[:12]}"
    with _pg_admin() as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{pg_server}?options=-csearch_path%3D{schema}"
    finally:
        with _pg_admin() as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def sqlite_url(tmp_path: Any) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger_url(request: pytest.FixtureRequest) -> str:
    """Each backend in turn: a fresh SQLite file, then a fresh PostgreSQL schema."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    with open_ledger(ledger_url) as led:
        yield led


def scalar(ledger: Ledger, sql: str, **params: Any) -> Any:
    with ledger.read() as conn:
        return conn.execute(sa.text(sql), params).scalar()


def rows(ledger: Ledger, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with ledger.read() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql), params)]


def record(ledger: Ledger, docs: list[dict[str, Any]], **options: Any) -> None:
    """Write ``docs`` through a :class:`twin.ledger.LedgerWriter` and close it."""
    with recording(ledger, **options) as writer:
        for doc in docs:
            writer(doc)


def wait_for(predicate: Callable[[], Any], *, timeout_s: float = 30.0, what: str = "") -> Any:
    """Poll ``predicate`` until it returns something truthy (never a fixed sleep)."""
    deadline = time.monotonic() + timeout_s
    delay = 0.01
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.2)


def hand_built_run(uid: str = "hand0001") -> list[dict[str, Any]]:
    """A small document stream with known answers (see test_to_tolerance_hand_built).

    Realization 0: samples at t = 0, 1, 2, 3 s with error 1, 0.1, 0.01, 0.001; free-network
    entries over [0,1], [1,2], [2,3] of 1, 2, 4 J and clamped entries of 10, 20, 40 J.
    Realization 1: error 1, 0.5, 0.05, NaN at the same times; free-network entries over
    [0, 1.5] and [1.5, 3] of 3 and 6 J (they straddle the samples).
    """
    start = start_doc(source="twin", kind="train", params={"hand": True}, realizations=2, uid=uid)
    docs: list[dict[str, Any]] = [dict(start)]
    errors = [[1.0, 1.0], [0.1, 0.5], [0.01, 0.05], [0.001, float("nan")]]
    for i, err in enumerate(errors):
        docs.append(dict(sample_doc(uid, i, float(i), {"error": err, "lam": [0.0, 0.0]}, step=i)))
    seq = 0
    for t0, t1, e_free, e_clamped in ((0, 1, 1.0, 10.0), (1, 2, 2.0, 20.0), (2, 3, 4.0, 40.0)):
        docs.append(dict(energy_doc(uid, seq, t0, t1, e_free, component="free_network")))
        docs.append(dict(energy_doc(uid, seq + 1, t0, t1, e_clamped, component="clamped_network")))
        seq += 2
    for t0, t1, e_free in ((0.0, 1.5, 3.0), (1.5, 3.0, 6.0)):
        docs.append(
            dict(energy_doc(uid, seq, t0, t1, e_free, component="free_network", realization=1))
        )
        seq += 1
    docs.append(dict(stop_doc(uid)))
    return docs


def migrate(conn: sa.Connection, revision: str, *, down: bool = False) -> None:
    """Take the database on ``conn`` up (or ``down``) to migration ``revision``."""
    cfg = alembic_config()
    cfg.attributes["connection"] = conn
    (command.downgrade if down else command.upgrade)(cfg, revision)
