"""A sweep recorded in PostgreSQL (own schema per test; see tests/ledger_support.py)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.sweeps.conftest import tiny_spec
from twin.ledger import open_ledger
from twin.sweeps import SerialExecutor, results_frame, run_sweep, sweep_status
from twin.sweeps.metrics import TRAINER_METRICS


@pytest.mark.postgres
def test_a_sweep_on_postgresql_resumes_and_reads_back(pg_url: str) -> None:
    spec = tiny_spec()
    first = run_sweep(spec, db_url=pg_url, executor=SerialExecutor())
    assert (first.computed, first.failed) == (3, 0)
    assert run_sweep(spec, db_url=pg_url, executor=SerialExecutor()).already_done == 3
    assert sweep_status(spec, db_url=pg_url).counts["done"] == 3
    frame = results_frame("tiny", db_url=pg_url)
    assert len(frame) == 6
    assert frame["status"].eq("done").all()
    with open_ledger(pg_url) as led, led.read() as conn:
        n = conn.execute(sa.text("SELECT COUNT(*) FROM sweep_results")).scalar()
        means = conn.execute(
            sa.text(
                "SELECT (params->>'lam')::float AS lam, AVG(value) FROM sweep_results_long "
                "WHERE metric = 'error_final' GROUP BY 1 ORDER BY 1"
            )
        ).all()
    assert n == 3 * 2 * len(TRAINER_METRICS)
    expected = frame.groupby("lam")["error_final"].mean()
    assert [m[0] for m in means] == list(expected.index)
    assert [m[1] for m in means] == pytest.approx(list(expected), rel=1e-12)
