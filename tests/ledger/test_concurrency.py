"""Many processes recording event-driven runs in one SQLite file at the densest sampling.

Each writer process is forked from the test process after the compiled kernels are warm, runs the
board's twin with a probe every 0.2 ms (three energy entries and ~40 readings per probe) and
records it through its own :class:`~twin.ledger.LedgerWriter`. Every finished run must be
``complete`` with every entry and every sample it emitted: the writers queue for SQLite's one
write lock (retrying with backoff), they never give up on a finished run.
"""

from __future__ import annotations

import json
import multiprocessing
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import simpy

from tests.ledger_support import rows
from twin.documents import Dispatcher
from twin.ledger import open_ledger, recording
from twin.physics.task_spec import build_tasks
from twin.simulation.twin import Twin, TwinConfig

SAMPLE_S = 2e-4  # the densest sampling of the issue (twin simulate --sample-s 0.0002)


def _simulate(url: str, seed: int, duration_s: float, report: str) -> None:
    """Child process: one recorded twin run; writes what it emitted to ``report``."""
    task = build_tasks("allostery", None, seed=2, realizations=1)[0]
    counts: Counter[str] = Counter()

    def count(doc: Mapping[str, Any]) -> None:
        counts[doc["doc"]] += 1

    config = TwinConfig(sample_interval_s=SAMPLE_S)
    with open_ledger(url) as led, recording(led) as writer:
        twin = Twin(
            simpy.Environment(),
            task,
            config,
            np.random.default_rng([seed, 1]),
            emit=Dispatcher([count, writer]),
        )
        result = twin.run(duration_s)
    stats = {"run": result.run_uid, "retries": writer.retries, "spooled": writer.spooled}
    Path(report).write_text(json.dumps(stats | dict(counts)))


def _concurrent_writers(tmp_path: Path, n_writers: int, duration_s: float) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    with open_ledger(url):
        pass  # created once; the children only open it
    _simulate(url, 999, 0.002, str(tmp_path / "warm.json"))  # compile/load kernels before forking
    ctx = multiprocessing.get_context("fork")
    reports = [tmp_path / f"w{i}.json" for i in range(n_writers)]
    procs = [
        ctx.Process(target=_simulate, args=(url, i, duration_s, str(reports[i])))
        for i in range(n_writers)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=240)
    assert [p.exitcode for p in procs] == [0] * n_writers
    with open_ledger(url) as led:
        for report in reports:
            sent = json.loads(report.read_text())
            assert sent["spooled"] == 0
            ((status, n_entries, n_samples),) = rows(
                led,
                "SELECT status, (SELECT COUNT(*) FROM entries WHERE run_uid = :u), "
                "(SELECT COUNT(DISTINCT seq) FROM samples WHERE run_uid = :u) "
                "FROM runs WHERE uid = :u",
                u=sent["run"],
            )
            assert (status, n_entries, n_samples) == ("complete", sent["energy"], sent["sample"])
            assert n_entries >= 3 * (duration_s / SAMPLE_S)


def test_eight_writer_processes_on_one_sqlite_file_lose_nothing(tmp_path: Path) -> None:
    _concurrent_writers(tmp_path, n_writers=8, duration_s=0.04)


@pytest.mark.slow
def test_ten_writer_processes_of_two_seconds_lose_nothing(tmp_path: Path) -> None:
    # the probe: ten `twin simulate --sample-s 0.0002` runs of 30,000 entries each
    _concurrent_writers(tmp_path, n_writers=10, duration_s=2.0)
