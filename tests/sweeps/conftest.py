"""Fixtures of the sweep tests: ledger databases (SQLite files; PostgreSQL schemas) and specs."""

from __future__ import annotations

from typing import Any

import pytest

from tests.ledger_support import pg_server, pg_url, sqlite_url  # noqa: F401  (fixtures)
from twin.sweeps import SweepSpec, spec_from_dict


def tiny_spec(name: str = "tiny", **over: Any) -> SweepSpec:
    """Three trainer cells of two realizations, ~0.1 s each (allostery, 4x4, 60 steps)."""
    doc: dict[str, Any] = {
        "name": name,
        "kind": "trainer",
        "realizations": 2,
        "seed": 1,
        "base": {"steps": 60, "task": "allostery", "stop_tol": 1e-3},
        "axes": {"lam": [0.0, 1e-5, 1e-4]},
    }
    doc.update(over)
    return spec_from_dict(doc)


@pytest.fixture
def db(sqlite_url: str) -> str:  # noqa: F811
    return sqlite_url
