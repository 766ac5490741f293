"""Running sweeps: results in the ledger, resume without repeats, failures, tidy table, SQL."""

from __future__ import annotations

import math
import os
import signal
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.sweeps.conftest import tiny_spec
from twin.ledger import open_ledger
from twin.sweeps import (
    LocalExecutor,
    SerialExecutor,
    expand,
    results_frame,
    run_sweep,
    sweep_status,
)
from twin.sweeps.evaluate import evaluate_cell
from twin.sweeps.metrics import TRAINER_METRICS as METRICS


def _count(url: str, sql: str) -> int:
    with open_ledger(url) as led, led.read() as conn:
        return int(conn.execute(sa.text(sql)).scalar())


def test_a_sweep_records_every_cell_and_a_second_run_computes_nothing(db: str) -> None:
    spec = tiny_spec()
    first = run_sweep(spec, db_url=db, executor=SerialExecutor())
    assert (first.cells, first.computed, first.failed, first.already_done) == (3, 3, 0, 0)
    rows = _count(db, "SELECT COUNT(*) FROM sweep_results")
    assert rows == 3 * 2 * len(METRICS)
    second = run_sweep(spec, db_url=db, executor=SerialExecutor())
    assert (second.computed, second.already_done) == (0, 3)
    assert _count(db, "SELECT COUNT(*) FROM sweep_results") == rows
    assert sweep_status(spec, db_url=db).counts == {
        "done": 3,
        "running": 0,
        "failed": 0,
        "missing": 0,
    }


def test_results_are_the_evaluation_of_each_cell(db: str) -> None:
    spec = tiny_spec()
    run_sweep(spec, db_url=db, executor=SerialExecutor())
    frame = results_frame(spec, db_url=db)
    assert len(frame) == 6
    assert list(frame["realization"]) == [0, 1] * 3
    assert set(frame["status"]) == {"done"}
    cell = expand(spec)[1]
    direct = evaluate_cell("trainer", cell.params, cell.seeds)
    got = frame[frame["cell_id"] == cell.cell_id].reset_index()
    for r in range(2):
        for name in METRICS:
            expected = direct[r][name]
            value = got.loc[r, name]
            assert (math.isnan(expected) and math.isnan(value)) or value == expected, name
    assert list(got["lam"]) == [1e-5, 1e-5]
    assert list(got["seed"]) == list(cell.seeds)
    # by name, from the stored spec
    by_name = results_frame("tiny", db_url=db)
    assert by_name.equals(frame)


def test_physics_of_the_metrics(db: str) -> None:
    spec = tiny_spec(base={"steps": 400, "task": "allostery"})
    run_sweep(spec, db_url=db, executor=SerialExecutor())
    frame = results_frame(spec, db_url=db)
    # ratios are the ratios of the stored quantities; learning lowers the error
    assert (frame["error_ratio"] == frame["error_final"] / frame["error_initial"]).all()
    assert (frame["error_ratio"] < 1).all()
    # paired realizations: same network and task in every cell -> same initial state
    for r in (0, 1):
        same = frame[frame["realization"] == r]
        assert same["error_initial"].nunique() == 1
        assert same["free_power_initial_w"].nunique() == 1
    # more lambda, less free power after training (mean over realizations)
    power = frame.groupby("lam")["free_power_final_w"].mean()
    assert power[1e-4] < power[0.0]


def test_time_to_tolerance_is_when_early_stopping_stopped(db: str) -> None:
    spec = tiny_spec(base={"steps": 400, "task": "allostery", "stop_tol": 1e-3}, axes={})
    run_sweep(spec, db_url=db, executor=SerialExecutor())
    frame = results_frame(spec, db_url=db)
    # early stopping at the tolerance: the run stops at the first step under it
    assert (frame["error_final"] <= 1e-3).all()
    assert frame["time_to_tol_s"].tolist() == [s * 1e-4 for s in frame["steps_done"]]
    assert (frame["steps_done"] < 400).all()


def test_a_failing_cell_is_recorded_and_the_sweep_goes_on(db: str, tmp_path) -> None:
    bad = str(tmp_path / "missing-task.json")
    spec = tiny_spec(axes={"task": ["allostery", f"file:{bad}"]}, base={"steps": 20})
    outcome = run_sweep(spec, db_url=db, executor=SerialExecutor())
    assert (outcome.computed, outcome.failed) == (1, 1)
    ((cell_id, error),) = outcome.failures
    assert "TaskError" in error
    assert "missing-task.json" in error
    assert "\n" not in error
    status = sweep_status(spec, db_url=db)
    assert status.counts == {"done": 1, "running": 0, "failed": 1, "missing": 0}
    assert [c["error"] for c in status.cells if c["status"] == "failed"] == [error]
    # failed cells are not retried unless asked
    again = run_sweep(spec, db_url=db, executor=SerialExecutor())
    assert (again.computed, again.failed, again.skipped_failed) == (0, 0, 1)
    retried = run_sweep(spec, db_url=db, executor=SerialExecutor(), retry_failed=True)
    assert (retried.computed, retried.failed) == (0, 1)
    frame = results_frame(spec, db_url=db)
    assert frame.loc[frame["cell_id"] == cell_id, "error_final"].isna().all()


class _Interrupt(Exception):
    pass


def test_an_interrupted_sweep_resumes_without_repeating(db: str) -> None:
    spec = tiny_spec(axes={"lam": [0.0, 1e-6, 1e-5, 1e-4]})
    calls: list[int] = []

    def stop_after_two(done: int, total: int) -> None:
        calls.append(done)
        if done >= 2:
            raise _Interrupt

    with pytest.raises(_Interrupt):
        run_sweep(spec, db_url=db, executor=SerialExecutor(), progress=stop_after_two)
    counts = sweep_status(spec, db_url=db).counts
    assert counts == {"done": 2, "running": 0, "failed": 0, "missing": 2}
    rerun = run_sweep(spec, db_url=db, executor=SerialExecutor())
    assert (rerun.already_done, rerun.computed) == (2, 2)
    assert _count(db, "SELECT COUNT(*) FROM sweep_results") == 4 * 2 * len(METRICS)
    assert _count(db, "SELECT SUM(attempts) FROM sweep_cells") == 4


def test_rerun_recomputes_and_replaces(db: str) -> None:
    spec = tiny_spec()
    run_sweep(spec, db_url=db, executor=SerialExecutor())
    again = run_sweep(spec, db_url=db, executor=SerialExecutor(), rerun=True)
    assert again.computed == 3
    assert _count(db, "SELECT COUNT(*) FROM sweep_results") == 3 * 2 * len(METRICS)


def test_plain_sql_views(db: str) -> None:
    spec = tiny_spec()
    run_sweep(spec, db_url=db, executor=SerialExecutor())
    with open_ledger(db) as led, led.read() as conn:
        lam = conn.execute(
            sa.text(
                "SELECT json_extract(params, '$.lam') AS lam, AVG(value) FROM sweep_results_long "
                "WHERE sweep = 'tiny' AND metric = 'free_power_final_w' GROUP BY 1 ORDER BY 1"
            )
        ).all()
        progress = conn.execute(sa.text("SELECT sweep, status, cells FROM sweep_progress")).all()
    frame = results_frame(spec, db_url=db)
    means = frame.groupby("lam")["free_power_final_w"].mean()
    assert [row[0] for row in lam] == [0.0, 1e-5, 1e-4]
    assert [row[1] for row in lam] == pytest.approx(list(means), rel=1e-12)
    assert progress == [("tiny", "done", 3)]


def test_a_cell_shared_by_two_sweeps_is_computed_once(db: str) -> None:
    run_sweep(tiny_spec(), db_url=db, executor=SerialExecutor())
    other = run_sweep(
        tiny_spec(name="wider", axes={"lam": [0.0, 1e-3]}), db_url=db, executor=SerialExecutor()
    )
    assert (other.already_done, other.computed) == (1, 1)


def test_local_processes_agree_with_the_serial_reference(db: str, tmp_path) -> None:
    spec = tiny_spec()
    ex = LocalExecutor(workers=2)
    try:
        out = run_sweep(spec, db_url=db, executor=ex)
    finally:
        ex.close()
    assert (out.computed, out.failed) == (3, 0)
    ref_db = f"sqlite:///{tmp_path / 'ref.db'}"
    run_sweep(spec, db_url=ref_db, executor=SerialExecutor())
    local, ref = results_frame(spec, db_url=db), results_frame(spec, db_url=ref_db)
    columns = [c for c in local.columns if c != "code_version"]
    assert local[columns].equals(ref[columns])


def _spawned_children() -> list[int]:
    """Pids of this process's multiprocessing (spawn) workers, from /proc."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == os.getpid() and b"spawn_main" in cmd:
            out.append(int(entry.name))
    return out


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_a_local_worker_killed_while_a_cell_is_out_is_resubmitted(db: str) -> None:
    spec = tiny_spec(base={"steps": 200_000, "task": "allostery"}, axes={"lam": [0.0, 1e-5]})
    killed: list[int] = []

    def kill_the_worker(done: int, total: int) -> None:
        if not killed and done == 0:
            for pid in _spawned_children():
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

    ex = LocalExecutor(workers=1)
    try:
        outcome = run_sweep(spec, db_url=db, executor=ex, progress=kill_the_worker)
    finally:
        ex.close()
    assert killed
    assert outcome.resubmitted >= 1
    assert (outcome.computed, outcome.failed) == (2, 0)
    assert _count(db, "SELECT COUNT(*) FROM sweep_results") == 2 * 2 * len(METRICS)
